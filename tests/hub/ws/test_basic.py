"""The minimal RTOC session over a real socket: authorize, y, lists, latest, getSignal,
subscribe with pushes (SPEC §2.4, §2.5, Appendix A)."""

from __future__ import annotations

import numpy as np

from hub.app import Hub
from hub.ws.server import WebsocketServer
from tests.fixtures.net import async_wait_for


async def test_authorize_gives_two_frames(server: WebsocketServer, raw) -> None:
    r = await raw(server.url)
    await r.send({"authorize": True})
    assert await r.recv() == {"authorized": True}
    assert await r.recv() == {"error": False}


async def test_stream_values_then_query(server: WebsocketServer, hub: Hub, raw) -> None:
    r = await raw(server.url, authorize=True)
    pushes, resp = await r.request(
        {"y": [1.5, 2.5], "sname": ["T", "H"], "dname": "Room", "unit": ["°C", "%"], "x": [10, 11]}
    )
    assert resp == {"error": False, "sent": True}
    # the new-signal pushes come before the response, buffers empty as in RTOC
    news = [p["signal"] for p in pushes if "signal" in p]
    assert {(n["dname"], n["sname"]) for n in news} <= {("Room", "T"), ("Room", "H")}
    await async_wait_for(lambda: "Room.H" in hub.signals and hub.signals.get("Room.H").latest())

    _, resp = await r.request({"getSignalList": True})
    assert sorted(resp["signalList"]) == [["Room", "H"], ["Room", "T"]]
    _, resp = await r.request({"getLatest": True})
    assert resp["latest"]["Room.T"] == [10.0, 1.5, "°C", hub.signals.get("Room.T").id, 10.0, 10.0]
    _, resp = await r.request({"getLatest": ["Room.H"]})
    assert resp == {"error": False, "latest": {"Room.H": [11.0, 2.5, "%"]}}
    _, resp = await r.request({"getSignal": ["Room.T"]})
    sid = hub.signals.get("Room.T").id
    assert resp == {"error": False, "signals": {"Room.T": [[10.0], [1.5], "°C", sid, 10.0, 10.0]}}


async def test_unicode_unit_arrives_ascii_escaped(server: WebsocketServer, hub: Hub, raw) -> None:
    hub.signals.append("Dev", "T", [1.0], [2.0], "°C")
    r = await raw(server.url, authorize=True)
    await r.send({"getLatest": ["Dev.T"]})
    assert await r.recv_raw() == '{"error": false, "latest": {"Dev.T": [1.0, 2.0, "\\u00b0C"]}}'


async def test_get_signal_window_and_max_n_from_memory(
    server: WebsocketServer, hub: Hub, raw
) -> None:
    hub.signals.append("D", "S", np.arange(100.0), np.arange(100.0) * 2)
    r = await raw(server.url, authorize=True)
    q = {"dname": "D", "sname": "S", "xmin": 10, "xmax": 49, "maxN": 10, "database": False}
    _, resp = await r.request({"getSignal": q})
    xs, ys, _unit, _sid, xmin, xmax = resp["signals"]["D.S"]
    assert xs == [10.0 + 4 * i for i in range(10)]
    assert ys == [2 * x for x in xs]
    assert (xmin, xmax) == (0.0, 99.0)  # bounds of the whole signal, as RTOC
    assert len(xs) <= 10


async def test_get_signal_from_store(server: WebsocketServer, hub: Hub, raw) -> None:
    r = await raw(server.url, authorize=True)
    xs = [1000.0 + i for i in range(50)]
    await r.request({"y": [0.0], "sname": ["Z"], "dname": "St", "x": [999.0]})
    for x in xs:
        hub.ingest_local("St", "Z", [x], [x / 10], "")
    await async_wait_for(lambda: hub.store.sample_count() >= 51, what="samples stored")
    q = {"dname": "St", "sname": "Z", "xmin": 1010, "xmax": 1019}
    _, resp = await r.request({"getSignal": q})
    got_x, got_y = resp["signals"]["St.Z"][:2]
    assert got_x == xs[10:20]
    assert got_y == [x / 10 for x in xs[10:20]]


async def test_subscribe_gets_pushes_in_order(server: WebsocketServer, hub: Hub, raw) -> None:
    r = await raw(server.url, authorize=True)
    hub.signals.append("G", "Sq", [0.0], [0.0])
    _, resp = await r.request({"subscribe": ["signal", "G.Sq"]})
    assert resp == {"error": False}
    for i in range(1, 6):
        hub.signals.append("G", "Sq", [float(i)], [float(i * i)])
    got: list[float] = []
    while len(got) < 5:
        msg = await r.recv()
        assert msg["signal"]["dname"] == "G" and msg["signal"]["sname"] == "Sq"
        got += msg["signal"]["x"]
    assert got == [1.0, 2.0, 3.0, 4.0, 5.0]
    _, resp = await r.request({"unsubscribe": ["signal", "G.Sq"]})
    hub.signals.append("G", "Sq", [9.0], [9.0])
    assert await r.silent(0.2)


async def test_unknown_signal_is_an_error_with_reason(server: WebsocketServer, raw) -> None:
    r = await raw(server.url, authorize=True)
    _, resp = await r.request({"getLatest": ["No.Such"]})
    assert resp == {"error": True, "reason": "unknown signal 'No.Such'"}
    _, resp = await r.request({"getSignalList": True})  # the connection still works
    assert resp["error"] is False


async def test_get_signal_merges_the_live_tail_the_store_lacks(
    server: WebsocketServer, hub: Hub, raw
) -> None:
    # live-only samples (as if the writer had not committed them yet) come after stored ones
    r = await raw(server.url, authorize=True)
    for x in (1.0, 2.0, 3.0):
        hub.ingest_local("M", "s", [x], [x * 10], "")
    await async_wait_for(lambda: hub.store.sample_count() >= 3, what="stored")
    hub.signals.append("M", "s", [4.0, 5.0], [40.0, 50.0])  # live only
    _, resp = await r.request({"getSignal": {"dname": "M", "sname": "s", "xmin": 2}})
    xs, ys = resp["signals"]["M.s"][:2]
    assert xs == [2.0, 3.0, 4.0, 5.0] and ys == [20.0, 30.0, 40.0, 50.0]
    _, resp = await r.request({"getSignal": {"dname": "M", "sname": "s", "xmax": 4}})
    assert resp["signals"]["M.s"][0] == [1.0, 2.0, 3.0, 4.0]


async def test_client_connected_push(server: WebsocketServer, raw) -> None:
    a = await raw(server.url, authorize=True)
    b = await raw(server.url)
    assert await a.recv() == {"client": "newconnected"}
    assert await b.silent(0.1)  # the new client itself is told nothing


async def test_unauthorized_clients_get_no_pushes(ws_factory, hub: Hub, raw) -> None:
    server = await ws_factory(password="geheim", push_interval=0.0)
    from hub.ws.crypto import password_hash

    waiting = await raw(server.url, password="geheim")  # connected, never authorized
    ok = await raw(server.url, password="geheim", authorize=password_hash("geheim"))
    hub.signals.append("P", "s", [1.0], [1.0])
    assert (await ok.recv())["signal"]["sname"] == "s"
    # not even RTOC's {"authorized": false} on another's connect: a client logging in
    # would take it for its own answer
    assert await waiting.silent(0.2)


async def test_login_answer_is_not_confused_by_other_connections(ws_factory, raw) -> None:
    server = await ws_factory(password="geheim", push_interval=0.0)
    from hub.ws.crypto import password_hash

    logging_in = await raw(server.url, password="geheim")
    await raw(server.url, password="geheim")  # someone else connects meanwhile
    await raw(server.url, password="geheim")
    await logging_in.send({"authorize": password_hash("geheim")})
    assert await logging_in.recv() == {"authorized": True}  # its own answer comes first
    assert await logging_in.recv() == {"error": False}
