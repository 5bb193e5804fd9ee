"""Stream-mode `y` frames a client has in flight go live together (hub/ws/stream.py).

Each frame is still read and checked on its own: a refused frame in the middle of a run gets
its own error, the others count; any other request in between sees every sample sent before
it; answers keep the order of the frames. Counts and order only: speed is bench/ws.py's.
"""

from __future__ import annotations

import asyncio
import json
import math
import time

from websockets.asyncio.client import ClientConnection, connect

from hub.app import Hub
from hub.ws.push import PUSH_BURST
from tests.fixtures.net import async_wait_for

T0 = 1_700_000_000.0


async def _open(url: str) -> ClientConnection:
    """A client in RTOC's open mode, its authorize answered (`authorized`, then the answer)."""
    ws = await connect(url, compression=None, max_queue=None)
    await ws.send(json.dumps({"authorize": True}))
    assert json.loads(await ws.recv()) == {"authorized": True}
    assert json.loads(await ws.recv()) == {"error": False}
    return ws


async def _answer(ws: ClientConnection) -> dict:
    """The next answer to a request (pushes such as `client` skipped)."""
    while "error" not in (msg := json.loads(await asyncio.wait_for(ws.recv(), 60))):
        pass
    return msg


def _y(i: int, value: object = None, sname: str = "v") -> str:
    y = float(i) if value is None else value
    return json.dumps({"y": [y], "x": [T0 + i], "sname": [sname], "dname": "Run"})


async def test_a_refused_frame_in_a_run_sinks_nothing_else(ws_factory, hub: Hub) -> None:
    server = await ws_factory(push_interval=0.0)
    ws = await _open(server.url)
    await ws.send(json.dumps({"subscribe": ["signal", "Run.v"]}))
    assert await _answer(ws) == {"error": False}
    n, bad_value, bad_name, asks = 300, 50, 120, 100
    frames = [_y(i) for i in range(n)]
    frames[bad_value] = _y(bad_value, value="fifty")
    frames[bad_name] = _y(bad_name, sname="x" * 101)
    frames[asks] = json.dumps({"getLatest": ["Run.v"]})
    # one socket write: the server receives them together and takes them as runs
    for f in frames:
        ws.protocol.send_text(f.encode())
    ws.transport.write(b"".join(ws.protocol.data_to_send()))

    answers: list[dict] = []
    pushed: list[float] = []
    while len(answers) < n:
        msg = json.loads(await asyncio.wait_for(ws.recv(), 60))
        if "signal" in msg:
            pushed += msg["signal"]["y"]
        else:
            answers.append(msg)

    good = [i for i in range(n) if i not in (bad_value, bad_name, asks)]
    for i, a in enumerate(answers):
        if i == bad_value:
            assert a["error"] is True and "y must be a number" in a["reason"]
        elif i == bad_name:
            assert a["error"] is True and "sname longer than" in a["reason"]
        elif i == asks:  # everything sent before it is live when it is answered
            assert a == {"error": False, "latest": {"Run.v": [T0 + asks - 1, asks - 1.0, ""]}}
        else:
            assert a == {"error": False, "sent": True}, (i, a)
    # the good samples: live in order, pushed in order, stored once each
    _, live_y = hub.signals.get("Run.v").buffer.arrays()
    assert live_y.tolist() == [float(i) for i in good]
    await async_wait_for(lambda: len(pushed) >= len(good), what="every good sample pushed")
    assert pushed == [float(i) for i in good]
    await async_wait_for(lambda: hub.store.sample_count() >= len(good), what="all stored")
    hist = await hub.run_store(lambda: hub.store.history("Run", "v", None, None, None))
    assert sorted(hist.y) == [float(i) for i in good] and hub.store.sample_count() == len(good)
    # the runs were taken: fewer ingest calls than frames, every frame counted as a request
    assert 0 < server.stats["stream_runs"] < len(good)
    assert server.stats["requests"] >= n + 2
    await ws.close()


async def test_pushes_faster_than_push_interval_are_coalesced_in_order(ws_factory) -> None:
    interval = 0.05
    server = await ws_factory(push_interval=interval)
    sub, prod = await _open(server.url), await _open(server.url)
    await sub.send(json.dumps({"subscribe": ["signal", "Run.v"]}))
    assert await _answer(sub) == {"error": False}
    n = 2000
    got: list[float] = []
    push_frames = 0

    async def read() -> None:
        nonlocal push_frames
        while len(got) < n:
            msg = json.loads(await asyncio.wait_for(sub.recv(), 60))
            if msg.get("signal", {}).get("y"):
                push_frames += 1
                got.extend(msg["signal"]["y"])

    reader = asyncio.create_task(read())
    started = time.monotonic()
    answered = 0
    for i in range(n):  # full speed, 200 frames in flight at most
        while i - answered >= 200:
            answered += "error" in json.loads(await asyncio.wait_for(prod.recv(), 60))
        await prod.send(_y(i))
    while answered < n:
        answered += "error" in json.loads(await asyncio.wait_for(prod.recv(), 60))
    await reader
    elapsed = time.monotonic() - started
    assert got == [float(i) for i in range(n)]  # every sample, in order, once
    # at most a burst, then one push per interval: counted against the time it really took
    assert push_frames <= PUSH_BURST + math.ceil(elapsed / interval) + 1
    await sub.close()
    await prod.close()
