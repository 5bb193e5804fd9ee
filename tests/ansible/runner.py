"""Run the real `ansible-playbook`/`ansible-lint` from the venv and read their results."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPO / "ansible"
BIN = Path(sys.executable).parent

_RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.M,
)


@dataclass(frozen=True)
class Recap:
    """One host's line of the PLAY RECAP."""

    ok: int
    changed: int
    unreachable: int
    failed: int


def ansible_env(tmp: Path) -> dict[str, str]:
    """Environment for Ansible: the repo's ansible.cfg, a private temp dir, no colour."""
    env = dict(os.environ)
    env.update(
        ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"),
        ANSIBLE_LOCAL_TEMP=str(tmp / "ansible-local"),
        ANSIBLE_REMOTE_TEMP="/tmp/.ansible-remote",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        # Per-task timings at the end of each run: the tests print the slowest.
        ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
        PATH=f"{BIN}:{env.get('PATH', '')}",
    )
    return env


def run(args: list[str], tmp: Path, *, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run an Ansible tool (by bare name, from the venv) in the ansible/ directory."""
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]],
        cwd=ANSIBLE_DIR,
        env=ansible_env(tmp),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def recap(output: str) -> dict[str, Recap]:
    """Parse the PLAY RECAP of an ansible-playbook run, by host."""
    found = {
        m["host"]: Recap(int(m["ok"]), int(m["changed"]), int(m["unreachable"]), int(m["failed"]))
        for m in _RECAP.finditer(output)
    }
    if not found:
        raise AssertionError(f"no PLAY RECAP in ansible-playbook output:\n{output[-3000:]}")
    return found


def changed_tasks(output: str) -> list[str]:
    """Names of the tasks that reported `changed` (to explain a failed idempotence check)."""
    names: list[str] = []
    current = ""
    for line in output.splitlines():
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            current = line
        elif line.startswith("changed:"):
            names.append(current)
    return names


def slowest_tasks(output: str, n: int = 5) -> list[str]:
    """The profile_tasks summary lines (slowest first) of an ansible-playbook run."""
    lines = [ln for ln in output.splitlines() if re.search(r" -+ \d+\.\d+s$", ln)]
    return lines[:n]
