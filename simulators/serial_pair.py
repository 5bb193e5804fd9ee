"""A pair of connected pseudo-terminals made by socat: one end for the driver, one for a sim."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .net import wait_for

SOCAT = shutil.which("socat") or "/usr/bin/socat"


class SerialPair:
    """`agent_path` and `sim_path` are symlinks to two ptys wired back to back."""

    def __init__(self, workdir: Path, name: str = "tty") -> None:
        self.agent_path = str(workdir / f"{name}-agent")
        self.sim_path = str(workdir / f"{name}-sim")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SerialPair:
        """Start socat and wait until both ends exist."""
        self.proc = subprocess.Popen(
            [
                SOCAT,
                f"pty,raw,echo=0,link={self.agent_path}",
                f"pty,raw,echo=0,link={self.sim_path}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        proc = self.proc

        def linked() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"socat exited ({proc.returncode}) before linking {self.sim_path}"
                )
            return Path(self.agent_path).exists() and Path(self.sim_path).exists()

        wait_for(linked, timeout=30, what="socat pty links")
        return self

    def stop(self) -> None:
        """Kill socat: both ends vanish, as when a USB adapter is unplugged."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=5)
            self.proc = None
        wait_for(lambda: not Path(self.agent_path).exists(), timeout=30, what="pty link removal")
