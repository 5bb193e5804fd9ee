"""Run programs inside the provisioned chroot the way its systemd units would."""

from __future__ import annotations

import contextlib
import json
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path


def start(root: Path, argv: list[str], user: str | None, log: Path) -> subprocess.Popen[bytes]:
    """Start `argv` inside `root` (as `user` when given), output to `log`."""
    spec = [f"--userspec={user}:{user}"] if user else []
    return subprocess.Popen(
        ["chroot", *spec, str(root), *argv], stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def start_unit(root: Path, unit: str, log: Path) -> subprocess.Popen[bytes]:
    """Start what an installed systemd unit runs: its ExecStart, as its User, with its
    Environment, in its WorkingDirectory (the parts of a unit a chroot can honour)."""
    keys: dict[str, list[str]] = {}
    for line in (root / f"etc/systemd/system/{unit}.service").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            keys.setdefault(key.strip(), []).append(value.strip())
    env = [v for vals in keys.get("Environment", []) for v in shlex.split(vals)]
    argv = shlex.split(keys["ExecStart"][0])
    workdir = keys.get("WorkingDirectory", ["/"])[0]
    return start(root, ["env", "-C", workdir, *env, *argv], keys["User"][0], log)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def pip_names(root: Path, venv: str) -> set[str]:
    """Distribution names installed in a venv of the root (normalised: lower case, -)."""
    result = subprocess.run(
        ["chroot", str(root), f"{venv}/bin/pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return {d["name"].lower().replace("_", "-") for d in json.loads(result.stdout)}


def psql(root: Path, port: int, sql: str, database: str = "opencontrol") -> str:
    """Run a query as the postgres user inside the chroot; return its unaligned output."""
    result = subprocess.run(
        [
            "chroot",
            str(root),
            "su",
            "postgres",
            "-s",
            "/bin/sh",
            "-c",
            f"psql -p {port} -d {database} -tAc {shlex.quote(sql)}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise AssertionError(f"psql failed: {result.stderr}")
    return result.stdout.strip()


@contextlib.contextmanager
def bind_device(root: Path, host_path: str, inside: str) -> Iterator[None]:
    """Make a device node of the host (a pty standing in for a USB serial adapter) appear
    at `inside` in the root, by bind mount; unmounted on exit."""
    dest = root / inside.lstrip("/")
    dest.touch()
    subprocess.run(["mount", "--bind", host_path, str(dest)], check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(dest)], capture_output=True, timeout=30)
