"""Ingest: good batches are stored once and acknowledged; bad ones are refused, kept raw."""

from __future__ import annotations

import asyncio
import json

import pytest

from edge_agent.wire import Batch, Event, Series
from hub.app import Hub
from hub.db.base import REJECTED_KEEP_BYTES
from tests.fixtures.net import async_wait_for

from .conftest import Peer


def good(seq: int, agent: str = "a1", t0: float = 1_700_000_000.0) -> bytes:
    s = Series("Dev", "Sig", "V", [t0 + seq, t0 + seq + 0.5], [float(seq), seq + 0.5])
    return Batch(agent=agent, seq=seq, signals=[s]).encode()


async def acked(peer: Peer) -> list[int]:
    return await asyncio.to_thread(peer.acked)


async def test_good_batch_stored_acked_and_live(hub: Hub, peer: Peer) -> None:
    peer.publish(good(1))
    assert await acked(peer) == [1]
    assert await hub.run_store(hub.store.sample_count) == 2
    # The hub's loop applies a committed batch after the writer thread acked it: wait.
    await async_wait_for(lambda: hub.stats["samples"] == 2, what="batch live")
    sig = hub.signals.get("Dev.Sig")
    _x, y = sig.buffer.arrays()
    assert list(y) == [1.0, 1.5] and sig.unit == "V"
    assert hub.agents.device_owner("Dev") == "a1"


async def test_duplicate_batch_is_stored_once_and_acknowledged_again(hub: Hub, peer: Peer) -> None:
    peer.publish(good(7))
    assert await acked(peer) == [7]
    peer.publish(good(7))
    assert await acked(peer) == [7]
    assert await hub.run_store(hub.store.sample_count) == 2
    await async_wait_for(lambda: hub.stats["duplicates"] == 1, what="duplicate counted")
    assert len(hub.signals.get("Dev.Sig").buffer) == 2


BAD = [
    (b"not json at all", "not JSON"),
    (json.dumps({"v": 99, "agent": "a1", "seq": 1, "signals": []}).encode(), "version"),
    (json.dumps({"v": 1, "agent": "a1", "seq": "x", "signals": []}).encode(), "seq"),
    (
        b'{"v":1,"agent":"a1","seq":3,"signals":[{"device":"D","signal":"S","unit":"",'
        b'"t":[1.0],"y":[NaN]}]}',
        "not JSON",  # NaN is not JSON; the parser refuses it
    ),
    (json.dumps({"v": 1, "agent": "other", "seq": 5, "signals": []}).encode(), "does not match"),
    (
        b'{"v":1,"agent":"a1","seq":7,"signals":[{"device":"D","signal":"S","unit":"",'
        b'"t":[1.0],"y":[1e400]}]}',
        "JSON",  # overflows to infinity: refused by the parser or as non-finite
    ),
    (b"[" + b"1," * (5 * 1024 * 1024) + b"1]", "exceeds"),
]


@pytest.mark.parametrize(("payload", "reason"), BAD, ids=[r for _, r in BAD])
async def test_bad_payload_refused_kept_raw_and_next_good_batch_stored(
    hub: Hub, peer: Peer, payload: bytes, reason: str
) -> None:
    peer.publish(payload)
    await async_wait_for(lambda: hub.stats["rejected"] == 1, what="rejection counted")
    rows = await hub.run_store(hub.store.rejected)
    assert len(rows) == 1
    _, topic, raw, why = rows[0]
    assert topic.endswith("/a1/data") and reason in why
    assert bytes(raw) == payload[:REJECTED_KEEP_BYTES]
    # The hub keeps running: the next good batch is stored and acknowledged.
    peer.publish(good(10))
    assert await acked(peer) == [10]
    assert await hub.run_store(hub.store.sample_count) == 2
    await async_wait_for(lambda: hub.stats["samples"] == 2, what="batch live (after its ack)")


BAD_SERIES = [
    ({"signal": "Ruecklauf/Speichersolltemperatur"}, "reserved by MQTT"),
    ({"y": ["1"]}, "non-number"),
    ({"t": [1e12]}, "outside the years"),
    ({"device": "D#1"}, "reserved by MQTT"),
]


@pytest.mark.parametrize(("change", "reason"), BAD_SERIES, ids=[r for _, r in BAD_SERIES])
async def test_a_bad_series_is_refused_alone_and_its_batch_stored(
    hub: Hub, peer: Peer, change: dict, reason: str
) -> None:
    body = json.loads(good(4))
    body["signals"].append({"device": "D", "signal": "S", "t": [1.0], "y": [1.0], **change})
    body["signals"].append({"device": "Other", "signal": "Sig", "t": [2.0], "y": [9.0]})
    payload = json.dumps(body).encode()
    peer.publish(payload)
    assert await acked(peer) == [4]  # acknowledged once its good series are committed
    await async_wait_for(lambda: hub.stats["rejected"] == 1, what="refused series kept")
    ((_, topic, raw, why),) = await hub.run_store(hub.store.rejected)
    assert topic.endswith("/a1/data") and bytes(raw) == payload
    assert "signals[1]" in why and reason in why and "refused 1 series" in why
    # The good series around it are stored and live; the ledger has the batch once.
    assert await hub.run_store(hub.store.sample_count) == 3
    await async_wait_for(lambda: hub.stats["samples"] == 3, what="live")
    assert list(hub.signals.get("Other.Sig").buffer.arrays()[1]) == [9.0]
    names = {s.key for s in await hub.run_store(hub.store.signals)}
    assert names == {"Dev.Sig", "Other.Sig"}
    peer.publish(good(5))
    assert await acked(peer) == [5]


async def test_second_agent_claiming_a_device_is_refused(hub: Hub, peer: Peer, mosquitto) -> None:
    peer.publish(good(1))
    assert await acked(peer) == [1]
    other = Peer(mosquitto.port, peer.prefix, agent="a2")
    try:
        other.publish(good(1, agent="a2"))
        await async_wait_for(lambda: hub.stats["rejected"] == 1, what="conflict refused")
        rows = await hub.run_store(hub.store.rejected)
        assert "owned by agent 'a1'" in rows[0][3]
    finally:
        other.close()
    assert await hub.run_store(hub.store.sample_count) == 2
    assert hub.agents.device_owner("Dev") == "a1"


async def test_bad_status_and_event_messages_do_not_stop_ingest(hub: Hub, peer: Peer) -> None:
    peer.publish(good(1))  # a1's data makes it the owner of device Dev
    assert await acked(peer) == [1]
    peer.publish(b"{broken", kind="status")
    peer.publish(b'{"no_text": 1}', kind="event")
    peer.publish(
        json.dumps(
            {"text": "hot", "priority": 2, "device": "Dev", "signal": "Sig", "t": 5.0}
        ).encode(),
        kind="event",
    )
    await async_wait_for(lambda: hub.stats["events"] == 1, what="good event")
    assert hub.recent_events[-1].text == "hot"
    peer.publish(good(2))
    assert await acked(peer) == [2]
    # Both bad messages are kept with their reasons, not only logged.
    await async_wait_for(lambda: hub.stats["rejected"] == 2, what="both recorded")
    reasons = sorted(r[3] for r in await hub.run_store(hub.store.rejected))
    assert "event.text must be a string" in reasons[0] and "status is not JSON" in reasons[1]


async def test_edge_events_in_a_batch_are_stored_and_announced_once(hub: Hub, peer: Peer) -> None:
    heard = []
    hub.on_event.append(heard.append)
    b = Batch(
        agent="a1",
        seq=3,
        signals=[Series("Dev", "Sig", "V", [1.0], [2.0])],
        events=[Event(1.5, "Dev", "Sig", "overcurrent", 2, "ev1", None)],
    )
    peer.publish(b.encode())
    assert await acked(peer) == [3]
    peer.publish(b.encode())  # a replay after a lost ack
    assert await acked(peer) == [3]
    await async_wait_for(lambda: hub.stats["duplicates"] == 1, what="replay seen")
    assert [e.text for e in heard] == ["overcurrent"]
    assert [e.text for e in await hub.run_store(hub.store.events)] == ["overcurrent"]


async def test_a_bad_edge_event_refuses_its_batch_with_the_reason(hub: Hub, peer: Peer) -> None:
    body = json.loads(good(4))
    body["events"] = [{"t": 1.0, "device": "Dev", "signal": "Sig", "text": 5}]
    peer.publish(json.dumps(body).encode())
    await async_wait_for(lambda: hub.stats["rejected"] == 1, what="refused")
    rows = await hub.run_store(hub.store.rejected)
    assert "events[0].text" in rows[0][3]
    peer.publish(good(5))
    assert await acked(peer) == [5]
