"""A real hub (ingest, SQLite, websocket with the dashboard) with a demo agent process.

Users are written into the SQLite store before the hub opens it; the demo agent is a real
`python -m edge_agent` with the generator driver; history comes as a real MQTT batch from
a second agent, stamped hours ago, so only the store can answer for it (the live ring of
every signal is kept short).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import websockets

from edge_agent.wire import Batch, Series
from hub.app import Hub
from hub.bootstrap import running_hub
from hub.config import hub_config
from hub.db.sqlite import SQLiteStore
from hub.users import DOC_KEY, Users
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for, free_port

REPO = Path(__file__).resolve().parents[3]
RECORD_LENGTH = 300  # live ring per signal: 30 s of the 10 Hz generator
PASSWORDS = {
    "admin": "admin-secret-1",
    "viewer": "viewer-secret-1",
    "shortcuts": "shortcuts-secret-1",
    "blocked": "blocked-secret-1",
}

AGENT_TOML = """\
[agent]
id = "demo-agent"
spool_path = "{spool}"
batch_max_samples = 50
batch_max_age = 0.1
status_interval = 1.0

[mqtt]
host = "127.0.0.1"
port = {port}
prefix = "{prefix}"

[devices.Generator]
driver = "generator"
samplerate = 10
[devices.Generator.params]
waveform = "Square"
gen_freq = 0.5
gen_level = 1.0
offset = 1.0
"""


def archive_value(t: float) -> float:
    """The archived signal's value at time t: recognisable, so a test can check what it got."""
    return 20.0 + 5.0 * math.sin(t / 600.0)


@dataclass
class Dashboard:
    """What a dashboard test gets: the running hub, its URL and the history it holds."""

    hub: Hub
    url: str
    ws_url: str
    archive_from: float
    archive_to: float
    archive_points: int


def _write_users(path: Path) -> None:
    store = SQLiteStore(path=path)
    store.open()
    try:
        users = Users()
        users.add("admin", PASSWORDS["admin"])  # the first user is admin
        users.add("viewer", PASSWORDS["viewer"], "read")
        users.add("shortcuts", PASSWORDS["shortcuts"], "custom")
        users.add("blocked", PASSWORDS["blocked"], "blocked")
        store.put_doc(DOC_KEY, users.to_doc())
    finally:
        store.close()


def _preload_year(path: Path, end: float) -> int:
    """Write a year of one-minute samples of `Archive.Year` straight into the store file."""
    ts = [end - 365 * 86400 + 60 * i for i in range(365 * 24 * 60)]
    batch = Batch(
        agent="archive-year",
        seq=1,
        signals=[Series("Archive", "Year", "kWh", ts, [archive_value(t) for t in ts])],
    )
    store = SQLiteStore(path=path)
    store.open()
    try:
        store.write_batch(batch, received_at=end)
    finally:
        store.close()
    return len(ts)


def _publish_archive(port: int, prefix: str, t0: float, t1: float, step: float) -> int:
    """Send one batch of old samples as agent `archive` and wait for the hub's ack."""
    n = int((t1 - t0) / step) + 1
    ts = [t0 + i * step for i in range(n)]
    batch = Batch(
        agent="archive",
        seq=1,
        signals=[Series("Archive", "Temperature", "°C", ts, [archive_value(t) for t in ts])],
    )
    acked: list[Any] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"archive-{prefix}")
    client.on_message = lambda _c, _u, m: acked.append(json.loads(m.payload))
    client.connect("127.0.0.1", port)
    client.subscribe(f"{prefix}/archive/ack", qos=1)
    client.loop_start()
    try:
        client.publish(f"{prefix}/archive/data", batch.encode(), qos=1).wait_for_publish(5)
        deadline = time.monotonic() + 15
        while not acked:
            if time.monotonic() > deadline:
                raise TimeoutError("the hub did not acknowledge the archive batch")
            time.sleep(0.02)
    finally:
        client.loop_stop()
        client.disconnect()
    return n


def make_config(tmp_path: Path, broker: Mosquitto, prefix: str, **websocket: Any) -> dict[str, Any]:
    """Hub config: shared test broker, SQLite in tmp_path, websocket on a free port."""
    data_dir = tmp_path / "hub"
    data_dir.mkdir(parents=True, exist_ok=True)
    return hub_config(
        {
            "hub": {
                "data_dir": str(data_dir),
                "id": f"hub-{prefix}",
                "record_length": RECORD_LENGTH,
            },
            "mqtt": {"host": "127.0.0.1", "port": broker.port, "prefix": prefix},
            "store": {"path": str(data_dir / "store.sqlite")},
            "websocket": {
                "port": free_port(),
                "host": "127.0.0.1",
                "require_login": False,
                **websocket,
            },
        },
        source="dashboard test",
    )


@pytest.fixture
def agent_proc(tmp_path: Path, mosquitto: Mosquitto, prefix: str) -> Iterator[subprocess.Popen]:
    """The demo agent: a real edge_agent process with a 10 Hz square-wave generator."""
    cfg = tmp_path / "agent.toml"
    cfg.write_text(
        AGENT_TOML.format(spool=tmp_path / "spool.sqlite", port=mosquitto.port, prefix=prefix)
    )
    log = (tmp_path / "agent.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "edge_agent", "-c", str(cfg)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=REPO,
    )
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()


async def start_dashboard(
    tmp_path: Path, broker: Mosquitto, prefix: str, *, year: bool = False, **websocket: Any
) -> AsyncIterator[Dashboard]:
    """Run a hub with users and archived history (a year of it on request); yield its URL."""
    config = make_config(tmp_path, broker, prefix, **websocket)
    _write_users(Path(config["store"]["path"]))
    if year:
        _preload_year(Path(config["store"]["path"]), time.time() - 86400)
    async with running_hub(config) as hub:
        await async_wait_for(lambda: hub.ingest.subscribed, what="hub subscribed")
        now = time.time()
        t0, t1 = now - 3 * 3600, now - 3600
        n = await _to_thread(_publish_archive, broker.port, prefix, t0, t1, 2.0)
        port = hub.ws_server.port if hasattr(hub.ws_server, "port") else config["websocket"]["port"]
        yield Dashboard(
            hub=hub,
            url=f"http://127.0.0.1:{port}/",
            ws_url=f"ws://127.0.0.1:{port}/",
            archive_from=t0,
            archive_to=t1,
            archive_points=n,
        )


async def _to_thread(fn: Any, *args: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(fn, *args)


@pytest.fixture
async def dashboard(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str, agent_proc: subprocess.Popen
) -> AsyncIterator[Dashboard]:
    """Login required (nothing visible without it); a demo agent streaming live."""
    async for d in start_dashboard(tmp_path, mosquitto, prefix, require_login=True):
        yield d


async def ws_request(url: str, user: str, request: dict[str, Any]) -> dict[str, Any]:
    """Log in as `user` over the websocket protocol and send one request; its response."""
    async with websockets.connect(url, origin=url.replace("ws://", "http://").rstrip("/")) as ws:
        await ws.send(json.dumps({"authorize": {"user": user, "password": PASSWORDS[user]}}))
        while True:
            reply = json.loads(await ws.recv())
            if "error" in reply:
                break
            if reply.get("authorized") is False:
                raise AssertionError(f"login of {user} refused")
        await ws.send(json.dumps(request))
        while True:
            reply = json.loads(await ws.recv())
            if "error" in reply:
                return reply
