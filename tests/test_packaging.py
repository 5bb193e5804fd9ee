"""The wheel carries what an installed hub needs outside its Python modules."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_ships_migrations_and_dashboard(tmp_path: Path) -> None:
    subprocess.run(
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
    )
    (wheel,) = tmp_path.glob("opencontrol-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    migrations = sorted(p.name for p in (REPO / "sql").glob("*.sql"))
    shipped = sorted(n.rsplit("/", 1)[1] for n in names if "/share/opencontrol/sql/" in n)
    assert shipped == migrations and migrations
    assert "hub/ws/static/index.html" in names
    assert not any(n.startswith("tests/") for n in names)
