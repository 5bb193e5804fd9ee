"""Live before stored: batches go live at once whatever the store does, once each."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from edge_agent.wire import Batch, Series
from hub.app import Hub
from hub.db.base import EventRecord
from hub.engine.events import EventDef
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for

from .conftest import Peer


def square(seq: int, agent: str = "a1", t0: float = 1_700_000_000.0) -> bytes:
    """Ten samples 0.1 s apart: low then high, one rising crossing of 0.5 per batch."""
    t = [t0 + seq + i / 10 for i in range(10)]
    y = [0.0] * 5 + [1.0] * 5
    return Batch(agent=agent, seq=seq, signals=[Series("Dev", "Sq", "V", t, y)]).encode()


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Another process's write lock on the SQLite file: the hub cannot write meanwhile."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        con.execute("ROLLBACK")
        con.close()


class StateWatcher:
    """Collects the retained `<p>/hub/state` messages."""

    def __init__(self, port: int, prefix: str) -> None:
        self.states: list[dict] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        ready = threading.Event()
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{prefix}/hub/state", qos=1)
        self.client.loop_start()
        ready.wait(5)

    def _on_message(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        if msg.payload.startswith(b"{"):
            self.states.append(json.loads(msg.payload))

    def store(self) -> str | None:
        return self.states[-1]["store"] if self.states else None

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def crossing_event(hub: Hub) -> None:
    hub.engine.set_event(
        EventDef(name="up", cond="Dev.Sq.latest > 0.5", id="up", trigger="rising", text="up")
    )


async def stored_events(hub: Hub) -> list[EventRecord]:
    return await hub.run_store(hub.store.events)


async def test_batches_go_live_and_fire_events_while_the_store_is_locked(
    hub: Hub, peer: Peer, mosquitto: Mosquitto, prefix: str
) -> None:
    crossing_event(hub)
    watcher = StateWatcher(mosquitto.port, prefix)
    try:
        await async_wait_for(lambda: watcher.store() == "up", what="hub state: store up")
        assert watcher.states[-1]["state"] == "online" and watcher.states[-1]["queue"] == 0
        peer.publish(square(1))
        assert await asyncio.to_thread(peer.acked) == [1]
        path = Path(hub.config["store"]["path"])
        with locked(path):
            for seq in range(2, 8):
                peer.publish(square(seq))
            # Live at once: the newest sample and every crossing, with nothing committed.
            await async_wait_for(
                lambda: hub.signals.get("Dev.Sq").latest()[0] == 1_700_000_007.9, what="live"
            )
            assert hub.engine.stats.events_fired == 7
            assert hub.stats["live_batches"] == 7 and hub.stats["batches"] == 1
            await async_wait_for(lambda: watcher.store() == "down", 30, "agents told: down")
            assert peer.acks.empty(), "nothing is acknowledged before it is stored"
        got: list[int] = []
        while len(got) < 6:
            got += await asyncio.to_thread(peer.acked, 60)
        assert sorted(got) == [2, 3, 4, 5, 6, 7]
        await async_wait_for(lambda: watcher.store() == "up", 30, "agents told: up again")
    finally:
        watcher.close()
    # Every sample and every event of the outage stored once.
    assert await hub.run_store(hub.store.sample_count) == 70
    events = await stored_events(hub)
    assert sorted(e.time for e in events) == [1_700_000_000.5 + s for s in range(1, 8)]


async def test_a_batch_arriving_again_goes_live_once(hub: Hub, peer: Peer) -> None:
    crossing_event(hub)
    path = Path(hub.config["store"]["path"])
    with locked(path):
        peer.publish(square(1))
        await async_wait_for(lambda: hub.stats["live_batches"] == 1, what="live")
        peer.publish(square(1))  # the agent resends before its ack: not live again
        await async_wait_for(lambda: hub.stats["redelivered"] == 1, what="seen again")
        assert len(hub.signals.get("Dev.Sq").buffer) == 10
        assert hub.engine.stats.events_fired == 1
    assert await asyncio.to_thread(peer.acked, 60) == [1]
    peer.publish(square(1))  # and after the ack (a lost ack): a duplicate, acked again
    assert await asyncio.to_thread(peer.acked) == [1]
    assert hub.engine.stats.events_fired == 1 and hub.stats["redelivered"] == 2
    assert [e.time for e in await stored_events(hub)] == [1_700_000_001.5]
    assert await hub.run_store(hub.store.sample_count) == 10


async def test_hub_made_data_is_written_in_batches_not_one_job_per_call(hub: Hub) -> None:
    for i in range(200):
        hub.ingest_local("Local", "Val", [1_700_000_000.0 + i], [float(i)], "V")
    assert len(hub.signals.get("Local.Val").buffer) == 200  # live at once
    await async_wait_for(lambda: hub.status()["local_pending"] == 0, what="flushed")

    def ledger() -> tuple[int, int]:
        con = sqlite3.connect(hub.config["store"]["path"])
        try:
            return con.execute(
                "SELECT count(*), sum(samples) FROM ingest_batches WHERE agent = 'hub'"
            ).fetchone()
        finally:
            con.close()

    batches, _ = await async_wait_for(
        lambda: ledger() if ledger()[1] == 200 else None, what="stored"
    )
    assert batches <= 2, "200 calls in one go are one or two writes, not 200"


@pytest.mark.parametrize("n", [1, 5, 40])  # the small-frame and the numpy checks
async def test_one_sample_per_signal_frame_goes_live_and_is_stored_once(hub: Hub, n: int) -> None:
    names = [f"s{i}" for i in range(n)]
    units = ["V"] * n
    for k in range(3):
        t = [1_700_000_000.0 + k] * n
        y = [float(k * 100 + i) for i in range(n)]
        assert hub.ingest_local_samples("Frame", names, units, t, y) == []
    for i, name in enumerate(names):
        _, y = hub.signals.get(f"Frame.{name}").buffer.arrays()  # live at once
        assert y.tolist() == [float(i), float(100 + i), float(200 + i)]
        assert hub.signals.get(f"Frame.{name}").unit == "V"
    await async_wait_for(lambda: hub.store.sample_count() == 3 * n, what="stored")
    hist = await hub.run_store(lambda: hub.store.history("Frame", "s0", None, None, None))
    assert list(hist.y) == [0.0, 100.0, 200.0]
    assert hub.store.sample_count() == 3 * n  # once each


@pytest.mark.parametrize("n", [2, 40])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
async def test_a_frame_with_a_non_finite_sample_is_refused_whole(
    hub: Hub, n: int, bad: float
) -> None:
    names = [f"s{i}" for i in range(n)]
    y = [1.0] * (n - 1) + [bad]
    with pytest.raises(ValueError, match=rf"Frame\.s{n - 1} value: .* not a finite number"):
        hub.ingest_local_samples("Frame", names, [""] * n, [1.0] * n, y)
    with pytest.raises(ValueError, match=r"Frame\.s0 time: .* not a finite number"):
        hub.ingest_local_samples("Frame", names, [""] * n, [bad] + [1.0] * (n - 1), [1.0] * n)
    assert not any(f"Frame.{name}" in hub.signals for name in names)  # nothing got in
    assert hub.status()["local_pending"] == 0


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
async def test_non_finite_hub_data_and_events_are_refused_with_the_reason(
    hub: Hub, bad: float
) -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        hub.ingest_local("Local", "Val", [1.0, 2.0], [1.0, bad])
    with pytest.raises(ValueError, match="not a finite number"):
        hub.add_event(EventRecord(time=bad, device="D", signal="S", text="x"))
    with pytest.raises(ValueError, match="non-finite"):
        hub.add_event(EventRecord(time=1.0, device="D", signal="S", text="x", value=[1, bad]))
    # Nothing of the refused calls got in; the next good ones do.
    assert "Local.Val" not in hub.signals
    hub.ingest_local("Local", "Val", [1.0], [1.0])
    hub.add_event(EventRecord(time=1.0, device="D", signal="S", text="fine", value=2.0))
    await async_wait_for(lambda: hub.status()["local_pending"] == 0, what="flushed")
    await async_wait_for(
        lambda: hub.store.sample_count() == 1 and len(hub.store.events()) == 1, what="stored"
    )
    assert hub.store.events()[0].text == "fine"
