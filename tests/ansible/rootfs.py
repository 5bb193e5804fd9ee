"""Throwaway Debian bookworm root filesystems for applying the playbook through chroot.

The pristine rootfs (debootstrap minbase + python3, apt lists fetched, the roles' packages
downloaded) is built once per CPU architecture and kept as a tarball under
`$OPENCONTROL_TEST_CACHE` (default `~/.cache/opencontrol-tests/`); each test restores its
own copy in seconds. The host's own architecture is bootstrapped directly; a foreign one
(arm64, armhf: the Raspberry Pis) in two stages, the second run under qemu-user through
binfmt_misc (see binfmt.py), which is what makes building it slow (minutes).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
import time
from functools import cache
from pathlib import Path

SUITE = "bookworm"
# Bump when what goes into the cached tarball changes, so old caches are not reused.
LAYOUT = 3
MIRROR = os.environ.get("OPENCONTROL_TEST_MIRROR", "http://deb.debian.org/debian")
# Rebuild the cached rootfs after this long so its apt lists do not point at
# package versions the mirror has since removed.
MAX_AGE_S = 3 * 24 * 3600
# A Pi's root: everything the edge_agent role installs is downloaded into it, so its
# lists can be older; rebuilding it costs tens of emulated minutes.
FOREIGN_MAX_AGE_S = 30 * 24 * 3600

# A chroot has no init system: refuse service starts from package scripts the way
# Debian's own container images do, so `apt install mosquitto` starts no daemon here.
POLICY_RC_D = "#!/bin/sh\nexit 101\n"
# Packages the roles install in the host-architecture scenario (agent, broker, hub,
# plain PostgreSQL).
PREFETCH = (
    "mosquitto",
    "python3-venv",
    "postgresql-15",
    "postgresql-client-15",
    "python3-psycopg2",
    "ca-certificates",
    "gnupg",
)
# A Pi's root (agent only): what the edge_agent role installs, plus what compiling a
# C extension needs (tests/ansible/wheelhouse.py builds the Pi's wheels with it).
PI_PREFETCH = ("python3-venv", "python3-dev", "gcc")
# Already on Raspberry Pi OS (python3-apt: Ansible's apt module needs it): installed in
# the tarball so no test run spends emulated minutes on them (ca-certificates' set-up
# alone takes minutes under qemu).
PI_INCLUDE = ("python3", "python3-apt", "ca-certificates")


@cache
def host_arch() -> str:
    """The host's Debian architecture (amd64 here)."""
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


def _foreign(arch: str | None) -> bool:
    return arch is not None and arch != host_arch()


def cache_dir() -> Path:
    """Where the rootfs tarball is cached between test runs."""
    env = os.environ.get("OPENCONTROL_TEST_CACHE")
    base = Path(env) if env else Path.home() / ".cache" / "opencontrol-tests"
    base.mkdir(parents=True, exist_ok=True)
    return base


def tarball_path(arch: str | None = None) -> Path:
    """The cached pristine rootfs tarball of `arch` (default: the host's)."""
    if _foreign(arch):
        return cache_dir() / f"rootfs-{SUITE}-{arch}-minbase-v{LAYOUT}.tar"
    return cache_dir() / f"rootfs-{SUITE}-minbase-v{LAYOUT}.tar"


def missing_tools() -> list[str]:
    """Host tools the chroot tests need that are not installed."""
    return [t for t in ("debootstrap", "chroot", "tar") if shutil.which(t) is None]


def max_age(arch: str | None = None) -> int:
    """Seconds after which the cached root of `arch` is rebuilt."""
    return FOREIGN_MAX_AGE_S if _foreign(arch) else MAX_AGE_S


def _fresh(path: Path, arch: str | None) -> bool:
    return path.exists() and time.time() - path.stat().st_mtime < max_age(arch)


def _in_root(root: Path, *argv: str) -> None:
    subprocess.run(["chroot", str(root), *argv], check=True, capture_output=True)


def _bootstrap(root: Path, arch: str | None) -> None:
    if not _foreign(arch):
        cmd = ["debootstrap", "--variant=minbase", "--include=python3", SUITE, str(root), MIRROR]
        subprocess.run(cmd, check=True, capture_output=True)
        return
    assert arch is not None
    subprocess.run(
        [
            "debootstrap",
            "--foreign",
            f"--arch={arch}",
            "--variant=minbase",
            f"--include={','.join(PI_INCLUDE)}",
            SUITE,
            str(root),
            MIRROR,
        ],
        check=True,
        capture_output=True,
    )
    # No fsync per unpacked file (as Debian's container images): a throwaway root, and
    # the emulated second stage is slow enough already.
    (root / "etc/dpkg/dpkg.cfg.d").mkdir(parents=True, exist_ok=True)
    (root / "etc/dpkg/dpkg.cfg.d/unsafe-io").write_text("force-unsafe-io\n")
    # The target's own binaries unpack and configure the packages, emulated.
    _in_root(root, "/debootstrap/debootstrap", "--second-stage")


def unmount_under(root: Path) -> None:
    """Unmount whatever is still mounted inside `root` (debootstrap's second stage mounts
    /proc and /sys there, and unmounts them itself unless it fails)."""
    prefix = str(root.resolve()) + "/"
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for point in sorted((m for m in mounts if m.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, timeout=60)


def build_tarball(arch: str | None = None) -> Path:
    """Debootstrap a minbase bookworm of `arch` with python3 and pack it; return the path."""
    target = tarball_path(arch)
    lock = cache_dir() / (f"rootfs-{arch}.lock" if _foreign(arch) else "rootfs.lock")
    with lock.open("w") as fh:
        # xdist workers may race to build it: one builds, the others wait and reuse.
        fcntl.flock(fh, fcntl.LOCK_EX)
        if _fresh(target, arch):
            return target
        with tempfile.TemporaryDirectory(dir=cache_dir(), prefix="build-") as tmp:
            root = Path(tmp) / "root"
            t0 = time.monotonic()
            try:
                _bootstrap(root, arch)
            finally:
                unmount_under(root)
            policy = root / "usr/sbin/policy-rc.d"
            policy.write_text(POLICY_RC_D)
            policy.chmod(0o755)
            shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
            (root / "etc/apt/apt.conf.d/99no-translations").write_text(
                'Acquire::Languages "none";\n'
            )
            _in_root(root, "apt-get", "update", "-q")
            # Download (not install) what the roles will install, so a warm run needs no mirror.
            prefetch = PI_PREFETCH if _foreign(arch) else PREFETCH
            _in_root(root, "apt-get", "install", "-q", "-y", "--download-only", *prefetch)
            partial = target.with_suffix(".tar.partial")
            subprocess.run(
                [
                    "tar",
                    "-C",
                    str(root),
                    "--numeric-owner",
                    "--one-file-system",
                    "-cf",
                    str(partial),
                    ".",
                ],
                check=True,
            )
            partial.replace(target)
            print(f"rootfs {target.name} built in {time.monotonic() - t0:.0f}s")
        # Earlier layouts of this architecture: 300+ MB each.
        for old in cache_dir().glob(target.name.replace(f"-v{LAYOUT}.tar", "-v*.tar")):
            if old != target:
                old.unlink()
    return target


def restore(dest: Path, arch: str | None = None) -> Path:
    """Unpack a pristine rootfs into `dest` (building the cache when missing); return it."""
    tarball = tarball_path(arch) if _fresh(tarball_path(arch), arch) else build_tarball(arch)
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-C", str(dest), "--numeric-owner", "-xf", str(tarball)], check=True)
    # The host's resolver, so apt and pip inside reach the mirror and PyPI.
    shutil.copy("/etc/resolv.conf", dest / "etc/resolv.conf")
    return dest


if __name__ == "__main__":
    import sys

    for name in sys.argv[1:] or [None]:
        t0 = time.monotonic()
        print(build_tarball(name), f"{time.monotonic() - t0:.1f}s")
