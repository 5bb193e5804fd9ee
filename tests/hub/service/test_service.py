"""HubService on a real core (SQLite store, no broker): history with the live tail, the
event range of store and memory, commands through the wire contract, the sample rate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from hub.app import Hub
from hub.bootstrap import make_store
from hub.config import hub_config
from hub.db.base import EventRecord
from hub.service import AutomationService, HubService, QueryError
from hub.service.service import merge_live_tail
from tests.fixtures.net import async_wait_for


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    config = hub_config(
        {"hub": {"data_dir": str(tmp_path / "hub")}, "websocket": {"enabled": False}},
        source="test",
    )
    h = Hub(config=config, store=make_store(config))
    await h.start()
    yield h
    await h.stop()


@pytest.fixture
def service(hub: Hub) -> HubService:
    return HubService(hub=hub, automation=AutomationService(None))


async def stored_events(hub: Hub) -> int:
    return len(await asyncio.to_thread(hub.store.events))


async def test_history_thins_the_live_tail_to_max_n_and_knows_no_stranger(
    service: HubService, hub: Hub
) -> None:
    now = time.time()
    hub.ingest_local(
        "Room", "T", [now - 100 + i for i in range(100)], [float(i) for i in range(100)]
    )
    h = await service.history("Room", "T", max_n=10)
    assert 1 <= len(h.x) <= 10 and h.unit == "" and h.signal_id == hub.signals.get("Room.T").id
    assert h.first == pytest.approx(now - 100) and h.last == pytest.approx(now - 1)
    memory = await service.history("Room", "T", now - 10, None, None, stored=False)
    assert list(memory.y) == [float(i) for i in range(90, 100)]
    with pytest.raises(QueryError, match=r"unknown signal 'Room\.Nope'"):
        await service.history("Room", "Nope")


async def test_the_live_tail_keeps_an_answer_within_max_n(hub: Hub) -> None:
    now = time.time()
    hub.ingest_local(
        "Room", "T", [now - 100 + i for i in range(100)], [float(i) for i in range(100)]
    )
    sig = hub.signals.find("Room", "T")
    assert sig is not None
    # a store answer that already holds max_n points, older than what is live
    sx = np.array([now - 200 + i for i in range(10)])
    x, y = merge_live_tail(sig, sx, sx * 0, None, None, 10)
    assert len(x) == 10 and x[-1] == pytest.approx(now - 1) and y[-1] == 99.0
    assert list(x[:9]) == list(sx[:9]), "the store's older points are kept"
    # room left: the tail is thinned into it, never past it
    x, y = merge_live_tail(sig, sx[:4], sx[:4] * 0, None, None, 10)
    assert len(x) == 10 and x[-1] == pytest.approx(now - 1)


async def test_events_merge_store_and_memory_once_each_in_time_order(
    service: HubService, hub: Hub
) -> None:
    first = EventRecord(time=100.0, device="Room", signal="T", text="warm", priority=1)
    hub.add_event(first)
    await async_wait_for(lambda: stored_events(hub), what="the first event stored")
    second = EventRecord(time=200.0, device="Room", signal="T", text="hot", priority=2)
    hub.add_event(second)  # in memory at once; stored in the next coalesced job
    found = await service.events(50.0, 250.0, limit=10)
    assert [e.text for e in found.events] == ["warm", "hot"] and found.store_error is None
    assert [e.text for e in (await service.events(150.0, None)).events] == ["hot"]
    assert [e.text for e in (await service.events(limit=1)).events] == ["hot"]  # the newest
    with pytest.raises(QueryError, match="limit must be at least 1"):
        await service.events(limit=0)


async def test_commands_are_checked_by_the_wire_contract_and_never_raise(
    service: HubService,
) -> None:
    refused = await service.command("Gen", "explode")
    assert not refused.ok and "unknown op 'explode'" in refused.error
    unknown = await service.command("Gen", "start")
    assert not unknown.ok and "no MQTT connection to agents" in unknown.error
    assert await service.set_samplerate(5.0) == {}  # no devices known: nothing asked
    for bad in (0, -1.0, float("nan"), True):
        with pytest.raises(ValueError, match="sample rate"):
            await service.set_samplerate(bad)


async def test_clear_remove_and_resize_act_on_the_live_view(service: HubService, hub: Hub) -> None:
    hub.ingest_local("A", "x", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    hub.ingest_local("A", "y", [1.0], [1.0])
    service.resize(2)
    assert len(hub.signals.get("A.x").buffer) == 2
    assert service.remove_signal("A.y") and not service.remove_signal("A.y")
    service.clear_signals()
    assert len(hub.signals) == 0
