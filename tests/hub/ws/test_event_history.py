"""getEventList with a time range (extension): events come from the store, not only memory."""

from __future__ import annotations

from hub.app import Hub
from hub.db.base import EventRecord
from hub.ws.server import WebsocketServer
from tests.fixtures.net import async_wait_for

T0 = 1_790_000_000.0


async def test_range_is_answered_from_the_store(server: WebsocketServer, hub: Hub, raw) -> None:
    for i, text in enumerate(("cold", "warm", "hot")):
        hub.add_event(EventRecord(T0 + 10 * i, "Tank", "Temp", text, priority=i, event_id=text))
    await async_wait_for(
        lambda: len(hub.store.events(since=T0, until=T0 + 30)) == 3, what="events stored"
    )
    in_memory = {ev.text: eid for eid, ev in server.state.events.items()}
    server.state.events.remove(in_memory["warm"])  # as if it had aged out of memory
    r = await raw(server.url, authorize=True)
    _, resp = await r.request({"getEventList": {"xmin": T0 + 5, "xmax": T0 + 25}})
    rows = sorted(resp["events"].values(), key=lambda row: row[4])
    assert [row[3] for row in rows] == ["warm", "hot"]
    ids = {row[3]: row[2] for row in rows}
    assert ids["hot"] == in_memory["hot"]  # still in memory: the same evID
    assert ids["warm"] < 0  # stored only
    assert rows[1] == ["Tank", "Temp", ids["hot"], "hot", T0 + 20, None, 2, "hot"]


async def test_bad_range_is_refused_with_a_reason(server: WebsocketServer, raw) -> None:
    r = await raw(server.url, authorize=True)
    _, resp = await r.request({"getEventList": {"xmin": "yesterday"}})
    assert resp["error"] is True and "xmin" in resp["reason"]
    _, resp = await r.request({"getEventList": {"since": 1}})
    assert resp["error"] is True and "since" in resp["reason"]
    _, resp = await r.request({"getEventList": True})  # RTOC's form still works
    assert resp["error"] is False and resp["events"] == {}
