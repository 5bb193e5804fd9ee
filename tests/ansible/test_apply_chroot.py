"""site.yml applied for real to a throwaway Debian bookworm (chroot); then the installed
broker, hub and agent run from what the playbook installed.

One host `target` is in both groups (broker, plain PostgreSQL, hub, agent); a second agent
`other` is in the inventory but not applied (`--limit target`), so the broker's ACL and
password file carry two agents. The rootfs tarball and a wheelhouse of the project's
dependencies are cached under ~/.cache/opencontrol-tests (see rootfs.py, wheelhouse.py);
test_pi_arch.py does the same for the Pis' CPUs, emulated.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.net import free_port, wait_for, wait_port

from . import chroot_procs, rootfs
from .mqttc import Collector, forge, login_refused
from .provision import (
    Applied,
    apply_twice,
    assert_idempotent,
    chroot_vars,
    install_wheelhouse,
    snapshot,
)

pytestmark = [
    pytest.mark.slow,
    # a safety net against a hung playbook, not a speed budget: about 4 minutes on a quiet
    # machine, past 10 when the machine runs two suites and the emulated Pi tests at once
    pytest.mark.timeout(1800),
]

PASSWORDS = {"hub": "hub-secret", "target": "target-secret", "pi-other": "other-secret"}
DB_PASSWORD = "db-secret"
PG_VERSION = "15"  # bookworm's


@dataclass
class Target:
    """A provisioned chroot and the facts the test needs about it."""

    root: Path
    prefix: str
    mqtt_port: int
    ws_port: int
    pg_port: int
    applied: Applied


def _inventory(root: Path, src: Path, prefix: str, ports: dict[str, int]) -> dict:
    return {
        "all": {
            "vars": {
                **chroot_vars(src, prefix),
                "opencontrol_mqtt_passwords": PASSWORDS,
                "hub_sql_src": f"{src}/sql/",
            },
            "children": {
                "hub": {
                    "hosts": {"target": {"ansible_host": str(root)}},
                    "vars": {
                        "hub_store_kind": "postgres",
                        "hub_extras": ["hub", "postgres"],
                        "hub_websocket_port": ports["ws"],
                        "mosquitto_port": ports["mqtt"],
                        # Debian's PostgreSQL (Timescale's repository is for real hosts),
                        # started with pg_ctlcluster since nothing else would start it.
                        "postgresql_timescaledb": False,
                        "postgresql_run_without_init": True,
                        "postgresql_port": ports["pg"],
                        "vault_postgresql_hub_password": DB_PASSWORD,
                    },
                },
                "agents": {
                    "hosts": {
                        "target": {
                            "edge_agent_mqtt_host": "127.0.0.1",
                            "edge_agent_mqtt_port": ports["mqtt"],
                            "edge_agent_settings": {"batch_max_age": 0.1, "status_interval": 1.0},
                            # As if an I2C driver were configured: group, udev rule.
                            "edge_agent_i2c": True,
                            # A USB serial adapter: udev rule and dialout membership.
                            "edge_agent_udev_rules": [
                                {"symlink": "psu0", "vendor": "1a86", "product": "7523"}
                            ],
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


@pytest.fixture
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    """Restore a pristine rootfs, apply site.yml twice, yield the provisioned tree."""
    if os.geteuid() != 0:
        pytest.fail("applying the playbook to a chroot needs root; deselect with -m 'not slow'")
    missing = rootfs.missing_tools()
    if missing:
        pytest.fail(f"chroot tests need {', '.join(missing)} (apt-get install debootstrap)")
    work = tmp_path_factory.mktemp("chroot")
    root = rootfs.restore(work / "root")
    try:
        install_wheelhouse(root, ["hub", "postgres"])
        prefix = f"t{os.urandom(4).hex()}"
        ports = {"mqtt": free_port(), "ws": free_port(), "pg": free_port()}
        src = snapshot(work / "src")
        applied = apply_twice(_inventory(root, src, prefix, ports), work, limit="target")
        yield Target(root, prefix, ports["mqtt"], ports["ws"], ports["pg"], applied)
    finally:
        # The playbook started the cluster inside the chroot: stop it before deleting.
        if (root / "usr/bin/pg_ctlcluster").exists():
            subprocess.run(
                ["chroot", str(root), "pg_ctlcluster", PG_VERSION, "main", "stop", "-m", "fast"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(work, ignore_errors=True)


def _psql(target: Target, sql: str) -> str:
    return chroot_procs.psql(target.root, target.pg_port, sql)


def _check_files_units_and_users(target: Target) -> None:
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
    assert hub_cfg["store"]["kind"] == "postgres"
    assert f"port={target.pg_port}" in hub_cfg["store"]["dsn"]
    assert hub_cfg["mqtt"]["embedded"] is False
    rules = (root / "etc/udev/rules.d/99-opencontrol.rules").read_text()
    assert 'ATTRS{idVendor}=="1a86", ATTRS{idProduct}=="7523", SYMLINK+="psu0"' in rules
    assert 'SUBSYSTEM=="i2c-dev", GROUP="i2c", MODE="0660"' in rules
    i2c = next(g for g in (root / "etc/group").read_text().splitlines() if g.startswith("i2c:"))
    assert "opencontrol" in i2c.split(":")[3].split(",")
    dialout = next(
        g for g in (root / "etc/group").read_text().splitlines() if g.startswith("dialout:")
    )
    assert "opencontrol" in dialout.split(":")[3].split(",")
    # The agent's venv holds only what its drivers need (generator: the base deps).
    agent_pkgs = chroot_procs.pip_names(root, "/opt/opencontrol/agent")
    assert {"opencontrol", "paho-mqtt"} <= agent_pkgs
    assert not {"psutil", "minimalmodbus", "pymodbus", "numpy"} & agent_pkgs
    assert {"opencontrol", "numpy", "psycopg2-binary", "amqtt"} <= chroot_procs.pip_names(
        root, "/opt/opencontrol/hub"
    )
    spool = root / "var/lib/opencontrol"
    assert spool.is_dir() and oct(spool.stat().st_mode & 0o777) == "0o750"
    mosq = (root / "etc/mosquitto/mosquitto.conf").read_text()
    for line in ("persistence true", "max_queued_messages 0", "allow_anonymous false"):
        assert line in mosq
    entries = (root / "etc/mosquitto/opencontrol.passwd").read_text().split()
    assert sorted(e.split(":")[0] for e in entries) == ["hub", "pi-other", "target"]
    assert not any(p in "".join(entries) for p in PASSWORDS.values())  # hashed, not plain


def _check_database_role_and_migrations(target: Target) -> None:
    """The hub's role owns its database and `opencontrol db migrate` applied every file."""
    assert (
        _psql(
            target,
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()",
        )
        == "opencontrol"
    )
    applied = _psql(target, "SELECT count(*) FROM schema_migrations")
    files = len(list((target.root / "opt/opencontrol/sql").glob("*.sql")))
    assert files >= 1 and int(applied) == files
    assert _psql(target, "SELECT to_regclass('public.samples') IS NOT NULL") == "t"


def _check_agent_refuses_a_bad_config(target: Target) -> None:
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


def _check_agent_publishes_to_the_hub(target: Target, broker: int, tmp_path: Path) -> None:
    """Agent and hub, started as their installed systemd units say (command, user,
    environment), exchange data through the installed broker: status and data arrive,
    the hub stores the batches in PostgreSQL and acks them."""
    p = target.prefix
    watcher = Collector(port=broker, username="hub", password=PASSWORDS["hub"], topics=[f"{p}/#"])
    hub = chroot_procs.start_unit(target.root, "opencontrol-hub", tmp_path / "hub.out")
    agent = chroot_procs.start_unit(target.root, "opencontrol-agent", tmp_path / "agent.out")
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
        assert json.loads(watcher.on(f"{p}/hub/state")[-1])["state"] == "online"
        # What the hub acknowledged is in PostgreSQL.
        stored = _psql(
            target,
            "SELECT count(*) FROM samples s JOIN signals g ON g.id = s.signal_id "
            "WHERE g.device = 'AnsGen'",
        )
        assert int(stored) > 0
        # The agent keeps the spool where the unit says, as the service user.
        spool = target.root / "var/lib/opencontrol/spool.sqlite"
        assert spool.exists() and spool.stat().st_uid != 0
    finally:
        chroot_procs.stop(agent)
        chroot_procs.stop(hub)
        watcher.close()


def _check_acl(target: Target, broker: int) -> None:
    """With the rendered ACL and password file: an agent's write to another agent's
    topics (or the hub's state) never arrives, its own does; it cannot read another
    agent's commands; a wrong password is refused."""
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
            forge(broker, "target", PASSWORDS["target"], topic)
        # The broker handles one message at a time: the forged ones were dealt with
        # before these, so had any been forwarded the hub would have it by now.
        agent.client.publish(f"{p}/target/event", b"mine", qos=1).wait_for_publish(5)
        hub.client.publish(f"{p}/pi-other/cmd", b"for-other", qos=1).wait_for_publish(5)
        hub.client.publish(f"{p}/target/cmd", b"for-me", qos=1).wait_for_publish(5)
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

    assert login_refused(broker, "target", "wrong")
    assert login_refused(broker, "nobody", "x")


@pytest.fixture
def broker(target: Target, tmp_path: Path) -> Iterator[int]:
    """The Mosquitto the playbook installed, started from its rendered config."""
    proc = chroot_procs.start(
        target.root,
        ["/usr/sbin/mosquitto", "-c", "/etc/mosquitto/mosquitto.conf"],
        None,
        tmp_path / "mosquitto.out",
    )
    try:
        wait_port(target.mqtt_port)
        yield target.mqtt_port
    finally:
        chroot_procs.stop(proc)


def test_site_yml_provisions_a_fresh_debian(target: Target, broker: int, tmp_path: Path) -> None:
    """One provisioned chroot, every property checked in turn. One test, not six: pytest-xdist
    would give each worker its own (2-minute) provisioning of the module's fixture."""
    assert_idempotent(target.applied, "target")
    _check_files_units_and_users(target)
    _check_database_role_and_migrations(target)
    _check_agent_refuses_a_bad_config(target)
    _check_agent_publishes_to_the_hub(target, broker, tmp_path)
    _check_acl(target, broker)
