"""A wheelhouse of the project's dependencies, built once on the host and cached.

The playbook installs into the target's venvs with `pip --no-index --find-links` from
it, so a warm test run needs no PyPI; the chroot has the host's architecture and
Python minor version (bookworm: 3.11), so the host's wheels fit.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from .rootfs import cache_dir

REPO = Path(__file__).resolve().parents[2]


def requirements(extras: list[str]) -> list[str]:
    """The project's base dependencies plus those of the given extras (and of the extras
    they name, `opencontrol[a,b]`), from pyproject.toml."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for req in project["optional-dependencies"][extra]:
            named = re.fullmatch(r"opencontrol\[(.*)\]", req)
            if named:
                todo += [e.strip() for e in named[1].split(",")]
            else:
                reqs.append(req)
    return sorted(set(reqs))


def build(extras: list[str]) -> Path:
    """Return a directory of wheels for the requirements (built when missing)."""
    reqs = requirements(extras)
    key = hashlib.sha256("\n".join(reqs).encode()).hexdigest()[:12]
    dest = cache_dir() / f"wheelhouse-{key}"
    done = dest / ".complete"
    with (cache_dir() / "wheelhouse.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        if not done.exists():
            dest.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                [sys.executable, "-m", "pip", "wheel", "--quiet", "-w", str(dest), *reqs],
                check=True,
                capture_output=True,
            )
            done.write_text("\n".join(reqs) + "\n")
    return dest
