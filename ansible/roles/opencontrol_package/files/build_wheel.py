"""Build the OpenControl wheel from a source checkout, once per distinct source content.

Runs on the Ansible controller. The wheel lands in `<out>/<source digest>/`, so the
same source always gives the same file (and a re-run copies nothing to the hosts),
and the checkout itself is never written to (the build happens in a temp copy).
Prints the wheel's path.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

INCLUDE = ("pyproject.toml", "README.md", "LICENSE", "edge_agent", "hub")
SKIP_DIRS = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}


def source_files(src: Path) -> Iterator[Path]:
    """The files that make up the package, relative to `src`, in a stable order."""
    for name in INCLUDE:
        top = src / name
        if top.is_file():
            yield Path(name)
        elif top.is_dir():
            for path in sorted(top.rglob("*")):
                rel = path.relative_to(src)
                if (
                    path.is_file()
                    and not SKIP_DIRS.intersection(rel.parts)
                    and path.suffix != ".pyc"
                ):
                    yield rel


def digest(src: Path) -> str:
    """A hash over the package files' names and contents."""
    h = hashlib.sha256()
    for rel in source_files(src):
        h.update(str(rel).encode() + b"\0" + (src / rel).read_bytes() + b"\0")
    return h.hexdigest()[:16]


def build(src: Path, out: Path) -> Path:
    """Return the wheel for this source, building it in a temp copy when not built yet."""
    if not (src / "pyproject.toml").is_file():
        raise SystemExit(f"build_wheel: {src} has no pyproject.toml; set opencontrol_package_src")
    dest = out / digest(src)
    found = sorted(dest.glob("opencontrol-*.whl"))
    if found:
        return found[0]
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out, prefix="tmp-") as tmp:
        copy = Path(tmp) / "src"
        for rel in source_files(src):
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, copy / rel)
        dist = Path(tmp) / "dist"
        env = dict(os.environ, SOURCE_DATE_EPOCH="315532800")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--quiet",
                "-w",
                str(dist),
                str(copy),
            ],
            check=True,
            env=env,
        )
        wheel = next(dist.glob("opencontrol-*.whl"))
        staged = Path(tmp) / "done"
        staged.mkdir()
        shutil.move(str(wheel), staged / wheel.name)
        try:
            staged.rename(dest)  # atomic: a parallel build of the same source wins or loses whole
        except OSError:
            if not dest.is_dir():
                raise
    return next(dest.glob("opencontrol-*.whl"))


def main() -> None:
    """Command line: build_wheel.py SRC OUT."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    print(build(args.src.resolve(), args.out.resolve()))


if __name__ == "__main__":
    main()
