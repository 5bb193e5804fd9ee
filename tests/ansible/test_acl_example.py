"""The ACL and password entries the mosquitto role renders for the example inventory,
loaded into a real Mosquitto: each agent writes only its own topics.

Fast and without root: the role's templates are rendered by Ansible on the controller
(tests/ansible/playbooks/render_broker.yml), the passwords hashed with mosquitto_passwd.
The full role is applied for real in test_apply_chroot.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.net import free_port, wait_for, wait_port

from .mqttc import Collector, forge, login_refused
from .runner import REPO, run

PLAYBOOK = REPO / "tests/ansible/playbooks/render_broker.yml"
# From the example vault (vault.example.yml, password in vault-password.example.txt).
PASSWORDS = {
    "hub": "change-me-hub",
    "pi-kitchen": "change-me-kitchen",
    "workshop": "change-me-workshop",
}


@contextlib.contextmanager
def rendered_broker(
    tmp_path: Path, certs: Path | None = None, **overrides: object
) -> Iterator[Path]:
    """Render the broker files for the example inventory's hub (role defaults, `overrides`
    as extra vars), hash the passwords, run Mosquitto on them; yield the files' dir.
    `certs` (ca.crt, server.crt, server.key) is copied to where the role would put it."""
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(mosquitto).exists():
        pytest.fail("mosquitto is not installed")
    out = tmp_path / "broker"
    out.mkdir()
    if certs is not None:
        shutil.copytree(certs, out / "certs")
    extra = {
        "out": str(out),
        "mosquitto_config_dir": str(out),
        "mosquitto_persistence_dir": str(out),
        "mosquitto_log_dest": f"file {out}/mosquitto.log",
        "mosquitto_bind_address": "127.0.0.1",
        "ansible_python_interpreter": sys.executable,
        **overrides,
    }
    result = run(
        [
            "ansible-playbook",
            "-i",
            "inventory.example.yml",
            "--vault-password-file",
            "vault-password.example.txt",
            "-e",
            "@vault.example.yml",
            "-e",
            json.dumps(extra),
            str(PLAYBOOK),
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    subprocess.run(["mosquitto_passwd", "-U", str(out / "opencontrol.passwd")], check=True)
    # Started as root, Mosquitto would drop to its own user, which cannot enter pytest's
    # private temp dirs; on a real host the role installs the files where it can.
    if os.geteuid() == 0:
        with (out / "mosquitto.conf").open("a") as fh:
            fh.write("user root\n")
    proc = subprocess.Popen(
        [mosquitto, "-c", str(out / "mosquitto.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(int(extra["mosquitto_port"]))  # type: ignore[call-overload]
        yield out
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[int]:
    """Mosquitto on a free port with the rendered mosquitto.conf, ACL and password file."""
    port = free_port()
    with rendered_broker(tmp_path, mosquitto_port=port):
        yield port


def test_agent_cannot_write_another_agents_topics(broker: int) -> None:
    """workshop's publish to pi-kitchen/data is dropped; its own data arrives at the hub."""
    hub = Collector(
        port=broker, username="hub", password=PASSWORDS["hub"], topics=["opencontrol/#"]
    )
    try:
        forge(broker, "workshop", PASSWORDS["workshop"], "opencontrol/pi-kitchen/data")
        own = Collector(port=broker, username="workshop", password=PASSWORDS["workshop"], topics=[])
        own.client.publish("opencontrol/workshop/data", b"mine", qos=1).wait_for_publish(5)
        own.close()
        wait_for(lambda: hub.on("opencontrol/workshop/data"), 10, "workshop's own data")
        assert hub.on("opencontrol/workshop/data") == [b"mine"]
        # The broker dealt with the forged publish before the own one: it never arrived.
        assert hub.on("opencontrol/pi-kitchen/data") == []
    finally:
        hub.close()


def test_agent_reads_only_its_own_commands(broker: int) -> None:
    """A wildcard subscription of pi-kitchen gets its own cmd, never workshop's."""
    kitchen = Collector(
        port=broker,
        username="pi-kitchen",
        password=PASSWORDS["pi-kitchen"],
        topics=["opencontrol/+/cmd"],
    )
    hub = Collector(port=broker, username="hub", password=PASSWORDS["hub"], topics=[])
    try:
        hub.client.publish("opencontrol/workshop/cmd", b"not-yours", qos=1).wait_for_publish(5)
        hub.client.publish("opencontrol/pi-kitchen/cmd", b"yours", qos=1).wait_for_publish(5)
        wait_for(lambda: kitchen.on("opencontrol/pi-kitchen/cmd"), 10, "kitchen's command")
        assert kitchen.messages == [("opencontrol/pi-kitchen/cmd", b"yours")]
    finally:
        hub.close()
        kitchen.close()


def test_unknown_user_and_wrong_password_are_refused(broker: int) -> None:
    """allow_anonymous is off and the rendered password file is the one in force."""
    assert login_refused(broker, "workshop", "wrong")
    assert login_refused(broker, "nobody", "x")
    assert not login_refused(broker, "workshop", PASSWORDS["workshop"])


def _certificates(certs: Path) -> None:
    """A CA and a server certificate for 127.0.0.1 (EC keys: quick to make)."""
    certs.mkdir()
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    signing = ["-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext"]
    (certs / "san.ext").write_text("subjectAltName = IP:127.0.0.1\n")
    for args in (
        ["req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=test-ca"],
        ["req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", *signing],
    ):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=certs)


def test_tls_listener_when_certificates_are_given(tmp_path: Path) -> None:
    """With the three TLS paths set, clients connect with TLS on the TLS port (the CA
    verifies the server), plain MQTT is bound to localhost, and the ACL still applies."""
    plain, tls = free_port(), free_port()
    certs = tmp_path / "certs"
    _certificates(certs)
    ca = str(certs / "ca.crt")
    # The role copies the three files into <config dir>/certs; the render playbook does not.
    with rendered_broker(
        tmp_path, certs=certs, mosquitto_port=plain, mosquitto_tls_port=tls, mosquitto_tls=True
    ) as out:
        conf = (out / "mosquitto.conf").read_text()
        assert f"listener {plain} 127.0.0.1" in conf and f"listener {tls} 127.0.0.1" in conf
        hub = Collector(
            port=tls, username="hub", password=PASSWORDS["hub"], topics=["opencontrol/#"], ca=ca
        )
        try:
            forge(tls, "workshop", PASSWORDS["workshop"], "opencontrol/pi-kitchen/data", ca=ca)
            forge(tls, "workshop", PASSWORDS["workshop"], "opencontrol/workshop/data", ca=ca)
            wait_for(lambda: hub.on("opencontrol/workshop/data"), 10, "workshop's data over TLS")
            assert hub.on("opencontrol/pi-kitchen/data") == []
        finally:
            hub.close()
        # Plain MQTT on the TLS port gets no session.
        with pytest.raises(TimeoutError):
            Collector(port=tls, username="hub", password=PASSWORDS["hub"], topics=[], timeout=2)
