"""Fixtures: an Engine wired to a live SignalStore, an agent stand-in and recording sinks."""

from __future__ import annotations

from typing import Any

import pytest

from hub.db.base import EventRecord
from hub.engine.engine import Engine
from hub.signals import SignalStore
from tests.hub.engine.helpers import Agents


class MemoryDocs:
    """The document half of the Store contract, in memory (JSON round trip like a DB)."""

    def __init__(self) -> None:
        self.docs: dict[str, str] = {}
        self.writes = 0

    def get_doc(self, key: str) -> Any | None:
        import json

        return json.loads(self.docs[key]) if key in self.docs else None

    def put_doc(self, key: str, value: Any) -> None:
        import json

        self.docs[key] = json.dumps(value)
        self.writes += 1


class Hubish:
    """What the hub does around the engine: store events, call on_event, ingest local data."""

    def __init__(self, store: SignalStore) -> None:
        self.store = store
        self.events: list[EventRecord] = []
        self.listeners: list[Any] = []

    def add_event(self, rec: EventRecord) -> None:
        self.events.append(rec)
        for fn in self.listeners:
            fn(rec)

    def ingest_local(
        self, device: str, name: str, x: list[float], y: list[float], unit: str
    ) -> None:
        self.store.append(device, name, x, y, unit)


@pytest.fixture
async def rig():
    """(engine, hub stand-in, agents, docs, clock list) — engine attached and started."""
    store = SignalStore(record_length=1000)
    hub = Hubish(store)
    agents = Agents({"Heat.mode": 1, "Generator.gen_level": 0})
    docs = MemoryDocs()
    now = [1000.0]
    engine = Engine(
        emit_event=hub.add_event,
        send_command=agents.send_command,
        param=agents.param,
        emit_data=hub.ingest_local,
        docs=docs,
        clock=lambda: now[0],
    )
    hub.listeners.append(engine.on_event)
    engine.attach(store)
    engine.start()
    yield engine, hub, agents, docs, now
    await engine.stop()
