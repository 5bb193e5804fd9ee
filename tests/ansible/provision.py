"""What the chroot provisioning tests share: a frozen copy of the source, the inventory
variables that point Ansible at a chroot, and applying site.yml twice with timings."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import rootfs, wheelhouse
from .runner import REPO, changed_tasks, recap, run, slowest_tasks

# Where the test's wheelhouse is copied inside the root; pip installs from it, offline.
WHEELHOUSE_IN_ROOT = "/var/cache/opencontrol-wheelhouse"


@dataclass
class Applied:
    """The output and duration of the first and second application of site.yml."""

    first: str
    second: str
    first_s: float
    second_s: float


def snapshot(dest: Path) -> Path:
    """A copy of the package source, so edits made in the checkout meanwhile cannot make
    the second run differ from the first."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dest / name)
    for name in ("edge_agent", "hub", "sql"):
        shutil.copytree(REPO / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def chroot_vars(src: Path, prefix: str, arch: str | None = None) -> dict[str, Any]:
    """Inventory variables for hosts that are chroots (of `arch`) on this machine."""
    return {
        "ansible_connection": "community.general.chroot",
        "ansible_python_interpreter": "/usr/bin/python3",
        # Minbase has no sudo; su (util-linux) does root -> postgres.
        "ansible_become_method": "su",
        # No init system in a chroot: install and enable units, start nothing.
        "opencontrol_start_services": False,
        "opencontrol_prefix": prefix,
        "opencontrol_pip_args": ["--no-index", "--find-links", WHEELHOUSE_IN_ROOT],
        # The cached rootfs has apt lists from when it was built: no `apt update`.
        "opencontrol_apt_cache_valid_time": rootfs.max_age(arch) + 3600,
        "opencontrol_package_src": str(src),
    }


def apply_twice(inventory: dict[str, Any], work: Path, *, limit: str) -> Applied:
    """Write the inventory, apply site.yml to `limit` twice; assert both runs succeeded."""
    path = work / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    args = ["ansible-playbook", "-i", str(path), "--limit", limit, "site.yml"]
    outputs: list[str] = []
    times: list[float] = []
    for _ in range(2):
        t0 = time.monotonic()
        result = run(args, work, timeout=3000)
        times.append(time.monotonic() - t0)
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
        outputs.append(result.stdout)
    print(f"\nansible ({limit}): first apply {times[0]:.1f}s, second apply {times[1]:.1f}s")
    print("slowest tasks of the first apply:", *slowest_tasks(outputs[0]), sep="\n  ")
    return Applied(outputs[0], outputs[1], times[0], times[1])


def install_wheelhouse(root: Path, extras: list[str]) -> None:
    """Put a wheelhouse of the project's dependencies (with `extras`) where pip in the
    root finds it (a hard-link copy of the cached one)."""
    wheels = wheelhouse.build(extras)
    shutil.copytree(wheels, root / WHEELHOUSE_IN_ROOT.lstrip("/"), copy_function=os.link)


def assert_idempotent(applied: Applied, host: str) -> None:
    """The first run installed things; the second reports changed=0, failed=0."""
    first = recap(applied.first)[host]
    assert (first.failed, first.unreachable) == (0, 0)
    assert first.changed > 10  # it really installed things
    second = recap(applied.second)[host]
    assert (second.failed, second.unreachable) == (0, 0)
    assert second.changed == 0, changed_tasks(applied.second)
