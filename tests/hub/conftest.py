"""Hub fixtures: a running in-process hub on the shared test broker, and an MQTT peer."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from hub.app import Hub
from hub.bootstrap import running_hub
from hub.config import hub_config
from hub.service import AutomationService, HubService
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for, free_port


def run_opencontrol(*args: str) -> subprocess.CompletedProcess[str]:
    """The `opencontrol` console script of this environment, run as a process."""
    exe = str(Path(sys.executable).with_name("opencontrol"))
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=300, check=False)


def make_hub_config(tmp_path: Path, broker: Mosquitto, prefix: str, **sections: Any) -> dict:
    """A hub config on the given broker with SQLite in tmp_path and websocket off."""
    data: dict[str, Any] = {
        "hub": {"data_dir": str(tmp_path / "hub"), "id": f"hub-{prefix}"},
        "mqtt": {"host": "127.0.0.1", "port": broker.port, "prefix": prefix},
        "websocket": {
            "enabled": False,
            "port": free_port(),
            "host": "127.0.0.1",
            "require_login": False,
        },
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return hub_config(data, source="test")


@pytest.fixture
async def hub(tmp_path: Path, mosquitto: Mosquitto, prefix: str) -> AsyncIterator[Hub]:
    """A running hub (ingest + SQLite) on the shared broker, websocket off."""
    async with running_hub(make_hub_config(tmp_path, mosquitto, prefix)) as h:
        await async_wait_for(lambda: h.ingest.subscribed, what="hub subscribed")
        yield h


def service_of(hub: Hub) -> HubService:
    """The service bootstrap hands the adapters, for a hub the test started."""
    return HubService(hub=hub, automation=AutomationService(hub.engine))


@pytest.fixture
def service(hub: Hub) -> HubService:
    """The hub's service, as the websocket server and the bot get it."""
    return service_of(hub)


class Peer:
    """A plain MQTT client acting as an agent: publishes raw payloads, collects acks."""

    def __init__(self, port: int, prefix: str, agent: str = "a1") -> None:
        self.prefix, self.agent = prefix, agent
        self.acks: queue.Queue[list[int]] = queue.Queue()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"peer-{prefix}-{agent}"
        )
        self.client.on_message = self._on_message
        ready = threading.Event()
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{prefix}/{agent}/ack", qos=1)
        self.client.loop_start()
        assert ready.wait(30), "the peer's subscription was not confirmed"

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.acks.put(json.loads(msg.payload)["seq"])

    def publish(self, payload: bytes, kind: str = "data") -> None:
        self.client.publish(f"{self.prefix}/{self.agent}/{kind}", payload, qos=1).wait_for_publish(
            5
        )

    def acked(self, timeout: float = 30.0) -> list[int]:
        return self.acks.get(timeout=timeout)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def peer(mosquitto: Mosquitto, prefix: str) -> Iterator[Peer]:
    p = Peer(mosquitto.port, prefix)
    yield p
    p.close()
