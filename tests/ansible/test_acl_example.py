"""The ACL and password entries the mosquitto role renders for the example inventory,
loaded into a real Mosquitto: each agent writes only its own topics.

Fast and without root: the role's templates are rendered by Ansible on the controller
(tests/ansible/playbooks/render_broker.yml), the passwords hashed with mosquitto_passwd.
The full role is applied for real in test_apply_chroot.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.fixtures.net import free_port, wait_for, wait_port

from .runner import REPO, run

PLAYBOOK = REPO / "tests/ansible/playbooks/render_broker.yml"
# From the example vault (vault.example.yml, password in vault-password.example.txt).
PASSWORDS = {
    "hub": "change-me-hub",
    "pi-kitchen": "change-me-kitchen",
    "workshop": "change-me-workshop",
}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[int]:
    """Mosquitto on a free port with the rendered mosquitto.conf, ACL and password file."""
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(mosquitto).exists():
        pytest.fail("mosquitto is not installed")
    out = tmp_path / "broker"
    out.mkdir()
    port = free_port()
    extra = {
        "out": str(out),
        "mosquitto_config_dir": str(out),
        "mosquitto_persistence_dir": str(out),
        "mosquitto_log_dest": f"file {out}/mosquitto.log",
        "mosquitto_port": port,
        "mosquitto_bind_address": "127.0.0.1",
        "ansible_python_interpreter": sys.executable,
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
        wait_port(port)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Client:
    """A connected MQTT client that records what it receives and whether it was dropped."""

    def __init__(self, port: int, user: str, password: str, topics: list[str]) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.events: list[str] = []
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"x-{os.urandom(4).hex()}")
        self.c.username_pw_set(user, password)
        self.c.reconnect_delay_set(120, 120)  # a dropped client stays dropped
        self.c.on_connect = lambda *_a: self.events.append("connected")
        self.c.on_subscribe = lambda *_a: self.events.append("subscribed")
        self.c.on_publish = lambda *_a: self.events.append("puback")
        self.c.on_disconnect = lambda *_a: self.events.append("disconnected")
        self.c.on_message = lambda _c, _u, m: self.messages.append((m.topic, m.payload))
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        wait_for(lambda: "connected" in self.events, 10, f"{user} connected")
        if topics:
            self.c.subscribe([(t, 1) for t in topics])
            wait_for(lambda: "subscribed" in self.events, 10, f"{user} subscribed")

    def on(self, topic: str) -> list[bytes]:
        return [p for t, p in self.messages if t == topic]

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def test_agent_cannot_write_another_agents_topics(broker: int) -> None:
    """workshop's publish to pi-kitchen/data is dropped; its own data arrives at the hub."""
    hub = Client(broker, "hub", PASSWORDS["hub"], ["opencontrol/#"])
    try:
        forger = Client(broker, "workshop", PASSWORDS["workshop"], [])
        forger.c.publish("opencontrol/pi-kitchen/data", b"forged", qos=1)
        # Dealt with: acknowledged, or (max_queued_messages 0) the client is dropped.
        wait_for(lambda: {"puback", "disconnected"} & set(forger.events), 10, "broker answer")
        forger.close()
        own = Client(broker, "workshop", PASSWORDS["workshop"], [])
        own.c.publish("opencontrol/workshop/data", b"mine", qos=1).wait_for_publish(5)
        own.close()
        wait_for(lambda: hub.on("opencontrol/workshop/data"), 10, "workshop's own data")
        assert hub.on("opencontrol/workshop/data") == [b"mine"]
        # The forged publish was handled before the own one; it never arrived.
        assert hub.on("opencontrol/pi-kitchen/data") == []
    finally:
        hub.close()


def test_agent_reads_only_its_own_commands(broker: int) -> None:
    """A wildcard subscription of pi-kitchen gets its own cmd, never workshop's."""
    kitchen = Client(broker, "pi-kitchen", PASSWORDS["pi-kitchen"], ["opencontrol/+/cmd"])
    hub = Client(broker, "hub", PASSWORDS["hub"], [])
    try:
        hub.c.publish("opencontrol/workshop/cmd", b"not-yours", qos=1).wait_for_publish(5)
        hub.c.publish("opencontrol/pi-kitchen/cmd", b"yours", qos=1).wait_for_publish(5)
        wait_for(lambda: kitchen.on("opencontrol/pi-kitchen/cmd"), 10, "kitchen's command")
        assert kitchen.messages == [("opencontrol/pi-kitchen/cmd", b"yours")]
    finally:
        hub.close()
        kitchen.close()


def test_unknown_user_and_wrong_password_are_refused(broker: int) -> None:
    """allow_anonymous is off and the password file is the one in force."""
    for user, password in (("workshop", "wrong"), ("nobody", "x")):
        codes: list[object] = []
        c = mqtt.Client(CallbackAPIVersion.VERSION2)
        c.username_pw_set(user, password)
        c.reconnect_delay_set(120, 120)
        c.on_connect = lambda _c, _u, _f, rc, _p, codes=codes: codes.append(rc)
        c.connect("127.0.0.1", broker)
        c.loop_start()
        try:
            wait_for(lambda codes=codes: codes, 10, "the broker's answer")
            assert codes[0].is_failure  # type: ignore[attr-defined]
        finally:
            c.disconnect()
            c.loop_stop()
