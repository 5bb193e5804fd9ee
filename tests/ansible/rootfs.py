"""A throwaway Debian bookworm root filesystem for applying the playbook through chroot.

The pristine rootfs (debootstrap minbase + python3, apt lists fetched) is built once
and kept as a tarball under `$OPENCONTROL_TEST_CACHE` (default
`~/.cache/opencontrol-tests/`); each test restores its own copy in about a second.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

SUITE = "bookworm"
# Bump when what goes into the cached tarball changes, so old caches are not reused.
LAYOUT = 3
MIRROR = os.environ.get("OPENCONTROL_TEST_MIRROR", "http://deb.debian.org/debian")
# Rebuild the cached rootfs after this long so its apt lists do not point at
# package versions the mirror has since removed.
MAX_AGE_S = 3 * 24 * 3600

# A chroot has no init system: refuse service starts from package scripts the way
# Debian's own container images do, so `apt install mosquitto` starts no daemon here.
POLICY_RC_D = "#!/bin/sh\nexit 101\n"
# Packages the roles install in the test's scenario (agent, broker, hub, plain PostgreSQL).
PREFETCH = (
    "mosquitto",
    "python3-venv",
    "postgresql-15",
    "postgresql-client-15",
    "python3-psycopg2",
    "ca-certificates",
    "gnupg",
)


def cache_dir() -> Path:
    """Where the rootfs tarball is cached between test runs."""
    env = os.environ.get("OPENCONTROL_TEST_CACHE")
    base = Path(env) if env else Path.home() / ".cache" / "opencontrol-tests"
    base.mkdir(parents=True, exist_ok=True)
    return base


def tarball_path() -> Path:
    """The cached pristine rootfs tarball."""
    return cache_dir() / f"rootfs-{SUITE}-minbase-v{LAYOUT}.tar"


def missing_tools() -> list[str]:
    """Host tools the chroot tests need that are not installed."""
    return [t for t in ("debootstrap", "chroot", "tar") if shutil.which(t) is None]


def _fresh(path: Path) -> bool:
    return path.exists() and time.time() - path.stat().st_mtime < MAX_AGE_S


def build_tarball() -> Path:
    """Debootstrap a minbase bookworm with python3 and pack it; return the tarball path."""
    target = tarball_path()
    lock = cache_dir() / "rootfs.lock"
    with lock.open("w") as fh:
        import fcntl

        # xdist workers may race to build it: one builds, the others wait and reuse.
        fcntl.flock(fh, fcntl.LOCK_EX)
        if _fresh(target):
            return target
        with tempfile.TemporaryDirectory(dir=cache_dir(), prefix="build-") as tmp:
            root = Path(tmp) / "root"
            subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    "--include=python3",
                    SUITE,
                    str(root),
                    MIRROR,
                ],
                check=True,
                capture_output=True,
            )
            policy = root / "usr/sbin/policy-rc.d"
            policy.write_text(POLICY_RC_D)
            policy.chmod(0o755)
            shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
            (root / "etc/apt/apt.conf.d/99no-translations").write_text(
                'Acquire::Languages "none";\n'
            )
            subprocess.run(
                ["chroot", str(root), "apt-get", "update", "-q"], check=True, capture_output=True
            )
            # Download (not install) what the roles will install, so a warm run needs no mirror.
            subprocess.run(
                [
                    "chroot",
                    str(root),
                    "apt-get",
                    "install",
                    "-q",
                    "-y",
                    "--download-only",
                    *PREFETCH,
                ],
                check=True,
                capture_output=True,
            )
            partial = target.with_suffix(".tar.partial")
            subprocess.run(
                ["tar", "-C", str(root), "--numeric-owner", "-cf", str(partial), "."],
                check=True,
            )
            partial.replace(target)
        for old in cache_dir().glob("rootfs-*.tar"):
            if old != target:
                old.unlink()  # earlier layouts: 300+ MB each
    return target


def restore(dest: Path) -> Path:
    """Unpack a pristine rootfs into `dest` (building the cache when missing); return it."""
    tarball = tarball_path() if _fresh(tarball_path()) else build_tarball()
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-C", str(dest), "--numeric-owner", "-xf", str(tarball)], check=True)
    # The host's resolver, so apt and pip inside reach the mirror and PyPI.
    shutil.copy("/etc/resolv.conf", dest / "etc/resolv.conf")
    return dest


if __name__ == "__main__":
    t0 = time.monotonic()
    print(build_tarball(), f"{time.monotonic() - t0:.1f}s")
