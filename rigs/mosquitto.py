"""A throwaway Mosquitto broker on a free port, with persistence, restartable; optionally
with passwords and the Ansible role's ACL (authentication on)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from simulators.net import free_port, wait_port

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"

CONFIG = """\
listener {port} 127.0.0.1
{user}{auth}
persistence {persistence}
persistence_location {dir}/
autosave_interval 1
max_queued_messages 0
max_queued_bytes 512000000
max_inflight_messages 100
log_dest file {dir}/mosquitto.log
log_type error
log_type warning
log_type notice
"""


class Mosquitto:
    """A real Mosquitto process the test owns; `restart()` keeps its port and persistence."""

    def __init__(
        self,
        workdir: Path,
        *,
        persistence: bool = True,
        tls: tuple[Path, Path] | None = None,
        users: dict[str, str] | None = None,
    ) -> None:
        """`tls` (certificate, key): the one listener speaks TLS with that certificate.
        `users` (name: password): passwords and the Ansible role's ACL, no anonymous."""
        self.workdir = workdir
        self.port = free_port()
        self.persistence = persistence
        self.users = users
        self.proc: subprocess.Popen[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf = workdir / "mosquitto.conf"
        auth = "allow_anonymous true"
        if users is not None:
            auth = _auth_files(workdir, users)
        self.conf.write_text(
            CONFIG.format(
                port=self.port,
                dir=workdir,
                persistence="true" if persistence else "false",
                # as root, mosquitto drops to user 'mosquitto', which cannot write the
                # test's temp dir: persistence and the log would silently be lost
                user="user root\n" if os.geteuid() == 0 else "",
                auth=auth,
            )
        )
        if tls is not None:
            cert, key = tls
            with self.conf.open("a") as f:
                f.write(f"cafile {cert}\ncertfile {cert}\nkeyfile {key}\n")

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        wait_port(self.port)

    def stop(self) -> None:
        """SIGTERM: mosquitto writes its persistence file and exits."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        p = self.workdir / "mosquitto.log"
        return p.read_text() if p.exists() else ""


# Users of the authenticated brokers: the hub, and the agent ids the tests use.
AUTH_USERS = {u: f"pw-{u}" for u in ("hub", "agent1", "a1", "a2")}


def role_acl(prefix: str, agents: list[str]) -> str:
    """The Ansible mosquitto role's ACL template rendered for the hub user `hub`."""
    import jinja2

    repo = Path(__file__).resolve().parents[1]
    template = (repo / "ansible/roles/mosquitto/templates/acl.j2").read_text()
    return jinja2.Template(template).render(
        ansible_managed="rendered by rigs/mosquitto.py",
        mosquitto_hub_username="hub",
        mosquitto_prefix=prefix,
        mosquitto_agent_ids=agents,
    )


def _auth_files(workdir: Path, users: dict[str, str]) -> str:
    """Password file (hashed the way `opencontrol mqtt` does) and the role's ACL with the
    prefix `+` (any one-level prefix: tests use their own)."""
    from hub.mqtt_auth import hash_password, write_passwords

    (workdir / "acl").write_text(role_acl("+", sorted(set(users) - {"hub"})))
    write_passwords(workdir / "passwd", {u: hash_password(p) for u, p in users.items()})
    return f"allow_anonymous false\npassword_file {workdir}/passwd\nacl_file {workdir}/acl"
