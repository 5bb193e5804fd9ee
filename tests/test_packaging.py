"""The wheel carries what an installed hub needs outside its Python modules."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_ships_migrations_and_dashboard(tmp_path: Path) -> None:
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    # No deprecation wall from the build backend (e.g. a `license = {text = ...}` table).
    assert "deprecat" not in (built.stdout + built.stderr).lower(), built.stderr
    (wheel,) = tmp_path.glob("opencontrol-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    migrations = sorted(p.name for p in (REPO / "sql").glob("*.sql"))
    shipped = sorted(n.rsplit("/", 1)[1] for n in names if "/share/opencontrol/sql/" in n)
    assert shipped == migrations and migrations
    assert "hub/ws/static/index.html" in names
    # The demo's instrument simulators are a package of their own, not the tests'.
    assert "simulators/run.py" in names and "simulators/modbus_server.py" in names
    assert not any(n.startswith("tests/") for n in names)


def test_dev_script_prints_no_terminal_escapes_into_a_log(tmp_path: Path) -> None:
    # A Python too old: scripts/dev says so through its `say` and stops, installing nothing.
    old = tmp_path / "python3"
    old.write_text("#!/bin/sh\nexit 1\n")
    old.chmod(0o755)
    out = subprocess.run(
        [str(REPO / "scripts" / "dev"), "lint"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHON": str(old)},
        timeout=60,
    )
    assert out.returncode == 1
    assert out.stdout.startswith("[opencontrol] Python 3.11 or newer is needed"), out.stdout
    assert "\x1b" not in out.stdout + out.stderr


def test_nothing_outside_tests_imports_the_tests() -> None:
    # The package, the simulators, the service rigs and the benchmarks stand on their own;
    # only tests import tests (bench uses rigs/ and simulators/ instead).
    import re

    imports_tests = re.compile(r"^\s*(from\s+tests(\.|\s)|import\s+tests\b)", re.M)
    offenders = [
        str(path.relative_to(REPO))
        for top in ("edge_agent", "hub", "simulators", "rigs", "bench")
        for path in sorted((REPO / top).rglob("*.py"))
        if imports_tests.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
