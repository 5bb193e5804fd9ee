"""Running another CPU's binaries: binfmt_misc hands them to Debian's qemu-user-static.

The handlers come from `/usr/lib/binfmt.d/qemu-*.conf` (package qemu-user-static); their
`F` flag makes the kernel open the emulator once, so it also runs inside a chroot that
does not contain it. The package registers them at install time; after a reboot (or in a
container that has not) they are registered here from the same files.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

BINFMT = Path("/proc/sys/fs/binfmt_misc")
CONF_DIR = Path("/usr/lib/binfmt.d")
# Debian architecture -> qemu's name for it.
QEMU_NAMES = {"arm64": "aarch64", "armhf": "arm", "armel": "arm"}


class Unsupported(RuntimeError):
    """binfmt_misc is not there and cannot be mounted (a restricted container)."""


def _mounted() -> bool:
    return (BINFMT / "register").exists()


def ensure(arch: str) -> None:
    """Make `arch` binaries runnable; raise Unsupported if binfmt_misc cannot be mounted,
    RuntimeError if the emulator is not installed (apt-get install qemu-user-static)."""
    if not _mounted():
        result = subprocess.run(
            ["mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT)],
            capture_output=True,
            text=True,
        )
        if not _mounted():
            raise Unsupported(
                f"binfmt_misc is not mounted at {BINFMT} and cannot be: "
                f"{(result.stderr or result.stdout).strip() or 'mount failed'}"
            )
    name = f"qemu-{QEMU_NAMES[arch]}"
    entry = BINFMT / name
    if entry.exists():
        if entry.read_text().splitlines()[0] != "enabled":
            entry.write_text("1")
        return
    conf = CONF_DIR / f"{name}.conf"
    if not conf.exists():
        raise RuntimeError(
            f"no {conf}: running {arch} code needs qemu-user-static "
            "(apt-get install qemu-user-static binfmt-support)"
        )
    (BINFMT / "register").write_text(conf.read_text().strip())
    if not entry.exists():
        raise RuntimeError(f"registering {conf} with binfmt_misc failed")
