"""`python -m edge_agent` as a real process: retained birth, last will on kill -9, clean
SIGTERM (open batch flushed to the spool, offline status, exit code 0)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.spool import Spool
from edge_agent.wire import decode_batch
from tests.edge_agent.standin_hub import StandInHub
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import wait_for

ROOT = Path(__file__).resolve().parents[2]
AGENT = "pi-proc"

CONFIG = """\
[agent]
id = "{agent}"
spool_path = "{spool}"
batch_max_samples = 100000
batch_max_age = {age}

[mqtt]
port = {port}
prefix = "{prefix}"
reconnect_max = 1.0

[devices.Generator]
driver = "generator"
samplerate = 50
"""


def start_agent(
    tmp_path: Path, port: int, prefix: str, age: float, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    cfg = tmp_path / "agent.toml"
    cfg.write_text(
        CONFIG.format(
            agent=AGENT, spool=tmp_path / "spool.sqlite", port=port, prefix=prefix, age=age
        )
    )
    return subprocess.Popen(
        [sys.executable, "-m", "edge_agent", "-c", str(cfg)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )


@pytest.fixture
def hub_no_ack(mosquitto: Mosquitto, prefix: str) -> Iterator[StandInHub]:
    h = StandInHub(port=mosquitto.port, prefix=prefix, ack=lambda b: False).start()
    yield h
    h.clear_retained(AGENT)
    h.stop()


def state(hub: StandInHub) -> str | None:
    return (hub.status.get(AGENT) or {}).get("state")


def test_kill_9_publishes_the_last_will_offline(
    mosquitto: Mosquitto, prefix: str, tmp_path: Path, hub_no_ack: StandInHub
) -> None:
    proc = start_agent(tmp_path, mosquitto.port, prefix, age=0.1)
    try:
        wait_for(lambda: state(hub_no_ack) == "online", 20, "retained birth online")
        birth = hub_no_ack.status[AGENT]
        assert birth["devices"]["Generator"]["driver"] == "generator"
        wait_for(lambda: hub_no_ack.seqs(), 10, "data from the process")
    finally:
        proc.kill()
        proc.wait(10)
    wait_for(lambda: state(hub_no_ack) == "offline", 10, "last will offline")
    # retained: a client that comes later sees offline too
    late = StandInHub(port=mosquitto.port, prefix=prefix).start()
    try:
        wait_for(lambda: state(late) == "offline", 10, "retained offline for a late client")
    finally:
        late.stop()
    # killed: the spool still holds every batch the hub did not ack
    with Spool(path=tmp_path / "spool.sqlite", agent=AGENT) as sp:
        assert {b.seq for b in sp.pending()} >= set(hub_no_ack.seqs())


def test_sigterm_flushes_the_open_batch_and_says_offline(
    mosquitto: Mosquitto, prefix: str, tmp_path: Path, hub_no_ack: StandInHub
) -> None:
    proc = start_agent(tmp_path, mosquitto.port, prefix, age=3600.0)
    try:
        wait_for(lambda: state(hub_no_ack) == "online", 20, "retained birth online")
        spool = tmp_path / "spool.sqlite"
        with Spool(path=spool, agent=AGENT) as sp:
            assert sp.stats().batches == 0, "the open batch is not closed yet (age 1 h)"
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, out.decode()
    assert b"stopped" in out
    wait_for(lambda: state(hub_no_ack) == "offline", 10, "offline status after SIGTERM")
    with Spool(path=spool, agent=AGENT) as sp:
        batches = [decode_batch(b.payload) for b in sp.pending()]
    assert len(batches) == 1 and batches[0].sample_count >= 1
    t = batches[0].signals[0].t
    assert t == sorted(t)


def test_check_flag_in_a_real_process(tmp_path: Path) -> None:
    cfg = tmp_path / "agent.toml"
    cfg.write_text(
        CONFIG.format(agent=AGENT, spool=tmp_path / "s.sqlite", port=1883, prefix="p", age=0.2)
    )
    ok = subprocess.run(
        [sys.executable, "-m", "edge_agent", "-c", str(cfg), "--check"],
        cwd=ROOT,
        capture_output=True,
        timeout=30,
    )
    assert ok.returncode == 0 and b"OK" in ok.stdout
    cfg.write_text(cfg.read_text().replace("samplerate = 50", "samplerate = 50\nspeed = 1"))
    bad = subprocess.run(
        [sys.executable, "-m", "edge_agent", "-c", str(cfg), "--check"],
        cwd=ROOT,
        capture_output=True,
        timeout=30,
    )
    assert bad.returncode == 2
    assert str(cfg).encode() in bad.stderr and b"devices.Generator.speed" in bad.stderr
    assert not (tmp_path / "s.sqlite").exists(), "--check touches nothing"


def test_systemd_notify_ready_watchdog_and_stopping(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str
) -> None:
    sock_path = tmp_path / "notify.sock"
    received: list[str] = []
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(sock_path))
        sock.settimeout(0.2)
        env = {"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "200000"}  # ping every 0.1 s
        proc = start_agent(tmp_path, mosquitto.port, prefix, 0.1, env=env)

        def collect(predicate) -> bool:
            try:
                received.append(sock.recv(256).decode())
            except TimeoutError:
                pass
            return predicate()

        try:
            wait_for(lambda: collect(lambda: "READY=1" in received), 20, "READY=1")
            wait_for(lambda: collect(lambda: received.count("WATCHDOG=1") >= 3), 10, "pings")
        finally:
            proc.send_signal(signal.SIGTERM)
        wait_for(lambda: collect(lambda: "STOPPING=1" in received), 10, "STOPPING=1")
        assert proc.wait(20) == 0
