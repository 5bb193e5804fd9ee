"""Streaming the RTOC way: one `y` frame per sample from a websocket client with write rights.

Counts, order and queue bytes only (no durations): the speed figures are bench/ws.py's.
"""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import ClientConnection, connect

from hub.app import Hub
from hub.users import Users, save_users
from hub.ws.session import ClientSession
from tests.fixtures.net import async_wait_for

from .test_fanout import _slow_client, _subscribe

T0 = 1_700_000_000.0
WINDOW = 1000  # frames in flight: under the default send queue of 2000 answers


def _frame(i: int, dname: str) -> str:
    return json.dumps({"y": [float(i)], "x": [T0 + i / 1000], "sname": ["v"], "dname": dname})


async def _answers(ws: ClientConnection, n: int, out: list[dict] | None = None) -> list[dict]:
    """The next `n` answers to requests (pushes skipped), also appended to `out`."""
    out = [] if out is None else out
    while len(out) < n:
        msg = json.loads(await asyncio.wait_for(ws.recv(), 60))
        if "error" in msg:
            out.append(msg)
    return out


async def test_a_reader_that_never_reads_slows_nobody(ws_factory, hub: Hub) -> None:
    n, queue_bytes = 3000, 2_000_000
    server = await ws_factory(
        push_interval=0.01,
        send_queue_bytes=queue_bytes,
        slow_client_timeout=600,  # it stays connected (and stuck) for the whole test
        socket_send_buffer=8192,
    )
    producer = await connect(server.url, compression=None)
    await producer.send(_frame(0, "Fan"))  # the signal exists before anyone subscribes
    assert await _answers(producer, 1) == [{"error": False, "sent": True}]
    readers = [await connect(server.url, compression=None) for _ in range(9)]
    stuck = await _slow_client(server.url)
    for ws in [*readers, stuck]:
        await _subscribe(ws, "Fan.v")
    stuck_session = server.state.sessions[max(server.state.sessions)]  # the newest
    got: list[list[float]] = [[] for _ in readers]

    async def read(ws: ClientConnection, out: list[float]) -> None:
        while len(out) < n:
            msg = json.loads(await asyncio.wait_for(ws.recv(), 60))
            out.extend(y for y in msg.get("signal", {}).get("y", []) if y > 0)

    tasks = [asyncio.create_task(read(ws, g)) for ws, g in zip(readers, got, strict=True)]
    peak = 0

    async def watch(s: ClientSession) -> None:
        nonlocal peak
        while True:
            peak = max(peak, s.queued_bytes)
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch(stuck_session))
    answers: list[dict] = []
    answering = asyncio.create_task(_answers(producer, n, answers))
    for i in range(1, n + 1):  # full speed; never more unanswered frames than its queue holds
        while i - len(answers) > WINDOW:
            await asyncio.sleep(0.001)
        await producer.send(_frame(i, "Fan"))
    await answering
    await asyncio.gather(*tasks)
    watcher.cancel()

    assert answers == [{"error": False, "sent": True}] * n  # none refused, none lost
    for g in got:
        assert g == [float(i) for i in range(1, n + 1)]  # every sample, in order, once
    # all that while the stuck reader held the rest back: still connected, its queue bounded
    assert not stuck_session.closed and server.stats["slow_disconnects"] == 0
    # ...and it is still behind: the producer and the readers did not wait for it
    assert stuck_session.queued > 0 or stuck_session.dropped > 0
    assert 0 < peak <= queue_bytes
    assert server.stats["refused_rate"] == 0
    for ws in readers:
        await ws.close()
    stuck.transport.abort()


async def test_logged_in_writer_streams_5000_frames_stored_once(ws_factory, hub: Hub) -> None:
    users = Users()
    users.add("alice", "alice-pass-1")  # first user: admin
    users.add("wally", "wally-pass-1", "write")
    await save_users(hub, users)
    server = await ws_factory(require_login=True)  # every limit at its default
    ws = await connect(server.url, compression=None)
    await ws.send(json.dumps({"authorize": {"user": "wally", "password": "wally-pass-1"}}))
    assert json.loads(await ws.recv()) == {"authorized": True}
    assert (await _answers(ws, 1))[0]["permission"] == "write"
    n = 5000
    answers: list[dict] = []
    answering = asyncio.create_task(_answers(ws, n, answers))  # read aside, as RTOC's client
    for i in range(n):  # full speed; never more unanswered frames than its queue holds
        while i - len(answers) >= WINDOW:
            await asyncio.sleep(0.001)
        await ws.send(_frame(i, "Stream"))
    await answering
    assert answers == [{"error": False, "sent": True}] * n
    _, live_y = hub.signals.get("Stream.v").buffer.arrays()
    assert live_y.tolist() == [float(i) for i in range(n)]  # live at once, in order
    await async_wait_for(lambda: hub.store.sample_count() >= n, what="all stored")
    hist = await hub.run_store(lambda: hub.store.history("Stream", "v", None, None, None))
    assert sorted(hist.y) == [float(i) for i in range(n)]  # each sample stored exactly once
    assert len(set(hist.x)) == n and hub.store.sample_count() == n
    assert server.stats["refused_rate"] == 0
    await ws.close()


async def test_an_idle_sample_is_pushed_at_once(ws_factory, raw) -> None:
    server = await ws_factory(push_interval=3600)  # coalescing would hold pushes for an hour
    sub = await raw(server.url)
    assert (await sub.request({"subscribe": ["signal", "Idle.v"]}))[1] == {"error": False}
    w = await raw(server.url)
    for i in range(3):  # each sample finds every queue empty: pushed at once
        _, resp = await w.request({"y": [float(i)], "x": [T0 + i], "sname": ["v"], "dname": "Idle"})
        assert resp == {"error": False, "sent": True}
        frames = await sub.recv_until(lambda m: bool(m.get("signal", {}).get("y")))
        assert frames[-1]["signal"]["y"] == [float(i)] and frames[-1]["signal"]["x"] == [T0 + i]
    assert server.stats["dropped_frames"] == 0
