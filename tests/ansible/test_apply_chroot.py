"""site.yml applied for real to a throwaway Debian bookworm (chroot); then the installed
broker, hub and agent run from what the playbook installed.

One host `target` is in both groups (broker + hub on SQLite + agent); a second agent
`other` is in the inventory but not applied (`--limit target`), so the broker's ACL and
password file carry two agents. The rootfs tarball and a wheelhouse of the project's
dependencies are cached under ~/.cache/opencontrol-tests (see rootfs.py, wheelhouse.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from tests.fixtures.net import free_port, wait_for, wait_port

from . import rootfs, wheelhouse
from .runner import REPO, changed_tasks, recap, run

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root"),
]

PASSWORDS = {"hub": "hub-secret", "target": "target-secret", "pi-other": "other-secret"}
WHEELHOUSE_IN_ROOT = "/var/cache/opencontrol-wheelhouse"


@dataclass
class Target:
    """A provisioned chroot and the facts the test needs about it."""

    root: Path
    prefix: str
    mqtt_port: int
    ws_port: int
    first: str
    second: str


def _snapshot(dest: Path) -> Path:
    """A copy of the package source, so edits made in the checkout meanwhile cannot make
    the second run differ from the first."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dest / name)
    for name in ("edge_agent", "hub", "sql"):
        shutil.copytree(REPO / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _inventory(root: Path, src: Path, prefix: str, mqtt_port: int, ws_port: int) -> dict:
    return {
        "all": {
            "vars": {
                "ansible_connection": "community.general.chroot",
                "ansible_python_interpreter": "/usr/bin/python3",
                "ansible_become": False,
                # No init system in a chroot: install and enable units, start nothing.
                "opencontrol_start_services": False,
                "opencontrol_prefix": prefix,
                "opencontrol_mqtt_passwords": PASSWORDS,
                "opencontrol_pip_args": ["--no-index", "--find-links", WHEELHOUSE_IN_ROOT],
                # The cached rootfs has apt lists from when it was built (<= 3 days).
                "opencontrol_apt_cache_valid_time": rootfs.MAX_AGE_S + 3600,
                "opencontrol_package_src": str(src),
                "hub_sql_src": f"{src}/sql/",
            },
            "children": {
                "hub": {
                    "hosts": {"target": {"ansible_host": str(root)}},
                    "vars": {
                        "hub_store_kind": "sqlite",
                        "hub_extras": ["hub"],
                        "hub_websocket_port": ws_port,
                        "mosquitto_port": mqtt_port,
                    },
                },
                "agents": {
                    "hosts": {
                        "target": {
                            "edge_agent_mqtt_host": "127.0.0.1",
                            "edge_agent_mqtt_port": mqtt_port,
                            "edge_agent_settings": {"batch_max_age": 0.1, "status_interval": 1.0},
                            "edge_agent_devices": {
                                "AnsGen": {
                                    "driver": "generator",
                                    "samplerate": 20,
                                    "params": {"gen_freq": 2.0},
                                },
                            },
                        },
                        "other": {
                            "ansible_host": "/nonexistent",
                            "edge_agent_id": "pi-other",
                            "edge_agent_devices": {},
                        },
                    },
                },
            },
        }
    }


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """Restore a pristine rootfs, apply site.yml twice, yield the provisioned tree."""
    missing = rootfs.missing_tools()
    if missing:
        pytest.fail(f"chroot tests need {', '.join(missing)} (apt-get install debootstrap)")
    work = tmp_path_factory.mktemp("chroot")
    (work / "src").mkdir()
    root = rootfs.restore(work / "root")
    try:
        # The dependencies' wheels, where pip in the target finds them (a hard-link copy).
        wheels = wheelhouse.build(["hub"])
        shutil.copytree(wheels, root / WHEELHOUSE_IN_ROOT.lstrip("/"), copy_function=os.link)
        prefix = f"t{os.urandom(4).hex()}"
        mqtt_port, ws_port = free_port(), free_port()
        inventory = work / "inventory.yml"
        src = _snapshot(work / "src")
        inventory.write_text(yaml.safe_dump(_inventory(root, src, prefix, mqtt_port, ws_port)))
        args = ["ansible-playbook", "-i", str(inventory), "--limit", "target", "site.yml"]

        t0 = time.monotonic()
        first = run(args, work)
        first_s = time.monotonic() - t0
        assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-3000:]
        t0 = time.monotonic()
        second = run(args, work)
        second_s = time.monotonic() - t0
        assert second.returncode == 0, second.stdout[-6000:] + second.stderr[-3000:]
        print(f"\nansible: first apply {first_s:.1f}s, second apply {second_s:.1f}s")
        yield Target(root, prefix, mqtt_port, ws_port, first.stdout, second.stdout)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_first_run_changes_and_second_run_changes_nothing(target: Target) -> None:
    """Applying site.yml again to the provisioned host reports changed=0, failed=0."""
    first = recap(target.first)["target"]
    assert first.failed == 0 and first.unreachable == 0
    assert first.changed > 10  # it really installed things
    second = recap(target.second)["target"]
    assert (second.failed, second.unreachable) == (0, 0)
    assert second.changed == 0, changed_tasks(target.second)


def test_files_units_and_users_are_in_place(target: Target) -> None:
    """The venvs, configs (owned and moded for the service user), spool dir and units exist."""
    root = target.root
    passwd = (root / "etc/passwd").read_text()
    assert "\nopencontrol:" in "\n" + passwd and "/usr/sbin/nologin" in passwd
    for unit in ("opencontrol-agent", "opencontrol-hub"):
        text = (root / f"etc/systemd/system/{unit}.service").read_text()
        assert "Restart=on-failure" in text and "User=opencontrol" in text
        link = root / f"etc/systemd/system/multi-user.target.wants/{unit}.service"
        assert os.readlink(link) == f"/etc/systemd/system/{unit}.service"
    agent_cfg = root / "etc/opencontrol/agent.toml"
    assert oct(agent_cfg.stat().st_mode & 0o777) == "0o640"  # it holds the MQTT password
    cfg = tomllib.loads(agent_cfg.read_text())
    assert cfg["agent"]["id"] == "target"
    assert cfg["mqtt"] == {
        "host": "127.0.0.1",
        "port": target.mqtt_port,
        "prefix": target.prefix,
        "username": "target",
        "password": PASSWORDS["target"],
    }
    assert cfg["devices"]["AnsGen"]["params"] == {"gen_freq": 2.0}
    hub_cfg = tomllib.loads((root / "etc/opencontrol/hub.toml").read_text())
    assert hub_cfg["store"] == {"kind": "sqlite"}
    assert hub_cfg["mqtt"]["embedded"] is False
    spool = root / "var/lib/opencontrol"
    assert spool.is_dir() and oct(spool.stat().st_mode & 0o777) == "0o750"
    mosq = (root / "etc/mosquitto/mosquitto.conf").read_text()
    for line in ("persistence true", "max_queued_messages 0", "allow_anonymous false"):
        assert line in mosq
    entries = (root / "etc/mosquitto/opencontrol.passwd").read_text().split()
    assert sorted(e.split(":")[0] for e in entries) == ["hub", "pi-other", "target"]
    assert not any(p in "".join(entries) for p in PASSWORDS.values())  # hashed, not plain


def test_the_agent_refuses_a_bad_config_and_the_good_one_stays(target: Target) -> None:
    """The validation the template runs is real: a bad device table fails `--check`."""
    bad = target.root / "tmp/bad-agent.toml"
    good = (target.root / "etc/opencontrol/agent.toml").read_text()
    bad.write_text(good.replace('driver = "generator"', 'driver = "no-such-driver"'))
    python = "/opt/opencontrol/agent/bin/python"
    result = subprocess.run(
        [
            "chroot",
            str(target.root),
            python,
            "-m",
            "edge_agent",
            "-c",
            "/tmp/bad-agent.toml",
            "--check",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no-such-driver" in result.stderr
    ok = subprocess.run(
        [
            "chroot",
            str(target.root),
            python,
            "-m",
            "edge_agent",
            "-c",
            "/etc/opencontrol/agent.toml",
            "--check",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr


class Collector:
    """An MQTT client that records every message it receives."""

    def __init__(self, *, port: int, username: str, password: str, topics: list[str]) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.granted: list[int] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"c-{os.urandom(4).hex()}")
        self.client.username_pw_set(username, password)
        self.topics = topics
        self.client.on_connect = self._on_connect
        self.client.on_message = lambda _c, _u, msg: self.messages.append((msg.topic, msg.payload))
        self.client.on_subscribe = lambda _c, _u, _m, codes, _p: self.granted.extend(
            c.value for c in codes
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        wait_for(lambda: len(self.granted) == len(topics), what=f"{username} subscribed")

    def _on_connect(
        self, client: mqtt.Client, _u: object, _f: object, rc: object, _p: object
    ) -> None:
        if topics := [(t, 1) for t in self.topics]:
            client.subscribe(topics)

    def on(self, topic: str) -> list[bytes]:
        return [p for t, p in self.messages if t == topic]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _start(root: Path, argv: list[str], user: str | None, log: Path) -> subprocess.Popen[bytes]:
    spec = [f"--userspec={user}:{user}"] if user else []
    return subprocess.Popen(
        ["chroot", *spec, str(root), *argv], stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def broker(target: Target, tmp_path: Path) -> Iterator[int]:
    """The Mosquitto the playbook installed, started from its rendered config."""
    proc = _start(
        target.root,
        ["/usr/sbin/mosquitto", "-c", "/etc/mosquitto/mosquitto.conf"],
        None,
        tmp_path / "mosquitto.out",
    )
    try:
        wait_port(target.mqtt_port)
        yield target.mqtt_port
    finally:
        _stop(proc)


def test_installed_agent_publishes_to_the_installed_hub(
    target: Target, broker: int, tmp_path: Path
) -> None:
    """Agent and hub, started as the service user from the installed venvs and configs,
    exchange data through the installed broker: status and data arrive, the hub acks."""
    p = target.prefix
    watcher = Collector(port=broker, username="hub", password=PASSWORDS["hub"], topics=[f"{p}/#"])
    hub = _start(
        target.root,
        ["/opt/opencontrol/hub/bin/opencontrol", "hub", "-c", "/etc/opencontrol/hub.toml"],
        "opencontrol",
        tmp_path / "hub.out",
    )
    agent = _start(
        target.root,
        [
            "/opt/opencontrol/agent/bin/python",
            "-m",
            "edge_agent",
            "-c",
            "/etc/opencontrol/agent.toml",
        ],
        "opencontrol",
        tmp_path / "agent.out",
    )
    try:

        def logs() -> str:
            return "".join(
                f"--- {n}\n{(tmp_path / n).read_text(errors='replace')[-3000:]}\n"
                for n in ("agent.out", "hub.out")
            )

        try:
            status = wait_for(lambda: watcher.on(f"{p}/target/status"), 30, "agent status")
            wait_for(lambda: len(watcher.on(f"{p}/target/data")) >= 3, 30, "agent data")
            wait_for(lambda: watcher.on(f"{p}/target/ack"), 30, "hub acks")
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{logs()}") from None
        birth = json.loads(status[-1])
        assert birth["agent"] == "target" and birth["state"] == "online"
        assert "AnsGen" in birth["devices"]
        batch = json.loads(watcher.on(f"{p}/target/data")[0])
        assert batch["agent"] == "target"
        assert {s["signal"] for s in batch["signals"]} and batch["signals"][0]["device"] == "AnsGen"
        assert watcher.on(f"{p}/hub/state")[-1] == b"online"
        # The agent keeps the spool where the unit says, as the service user.
        spool = target.root / "var/lib/opencontrol/spool.sqlite"
        assert spool.exists() and spool.stat().st_uid != 0
    finally:
        _stop(agent)
        _stop(hub)
        watcher.close()


def test_acl_lets_an_agent_write_only_its_own_topics(target: Target, broker: int) -> None:
    """With the rendered ACL and password file: an agent's write to another agent's
    topics never arrives, its own does; it cannot read another agent's commands;
    a wrong password is refused."""
    p = target.prefix
    hub = Collector(port=broker, username="hub", password=PASSWORDS["hub"], topics=[f"{p}/#"])
    agent = Collector(
        port=broker,
        username="target",
        password=PASSWORDS["target"],
        topics=[f"{p}/+/cmd", f"{p}/hub/state"],
    )
    try:
        for topic in (f"{p}/pi-other/data", f"{p}/pi-other/status", f"{p}/hub/state"):
            agent.client.publish(topic, b"forged", qos=1).wait_for_publish(5)
        agent.client.publish(f"{p}/target/event", b"mine", qos=1).wait_for_publish(5)
        hub.client.publish(f"{p}/pi-other/cmd", b"for-other", qos=1).wait_for_publish(5)
        hub.client.publish(f"{p}/target/cmd", b"for-me", qos=1).wait_for_publish(5)
        # Messages on one connection arrive in order: once the later ones are here, the
        # earlier (refused) ones would have been too.
        wait_for(lambda: hub.on(f"{p}/target/event"), 10, "the agent's own event")
        wait_for(lambda: agent.on(f"{p}/target/cmd"), 10, "the agent's own command")
        assert hub.on(f"{p}/target/event") == [b"mine"]
        assert hub.on(f"{p}/pi-other/data") == []
        assert hub.on(f"{p}/pi-other/status") == []
        assert b"forged" not in hub.on(f"{p}/hub/state")
        assert agent.on(f"{p}/pi-other/cmd") == []
        assert agent.on(f"{p}/target/cmd") == [b"for-me"]
    finally:
        agent.close()
        hub.close()

    bad = mqtt.Client(CallbackAPIVersion.VERSION2)
    bad.username_pw_set("target", "wrong")
    codes: list[object] = []
    bad.on_connect = lambda _c, _u, _f, rc, _p: codes.append(rc)
    bad.connect("127.0.0.1", broker)
    bad.loop_start()
    try:
        wait_for(lambda: codes, 10, "the broker's answer to a wrong password")
        assert codes[0].is_failure  # type: ignore[attr-defined]
    finally:
        bad.loop_stop()
        bad.disconnect()
