"""Websocket benchmark: push latency at 10,000 samples/s to 50 clients, getSignal of 100k points.

    .venv/bin/python bench/ws.py                        # defaults below
    .venv/bin/python bench/ws.py --rate 10000 --clients 50 --seconds 5 --push-interval 0.005

The hub (live store + websocket server) runs in this process; the producer appends batches
with `hub.signals.append` exactly as ingest does after a commit, stamping each sample with
its arrival time. The clients run in a second process (so their JSON parsing does not share
the server's loop) and measure, per received frame, now - x of its oldest sample: the time
from a sample's arrival at the hub to its push at a subscriber. Every client checks that it
got every sample once, in order.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))] if s else float("nan")


async def _clients(url: str, n: int, total: int, out: mp.Queue) -> None:
    from websockets.asyncio.client import connect

    try:
        from orjson import loads
    except ImportError:
        loads = json.loads

    conns = [await connect(url, compression=None, max_size=None) for _ in range(n)]
    for ws in conns:
        await ws.send(json.dumps({"subscribe": ["signal", "Bench.Fast"]}))
        while "error" not in json.loads(await ws.recv()):
            pass
    out.put("ready")
    lat: list[float] = []
    ok = [True] * n

    async def read(i: int, ws) -> None:
        got, last = 0, -1.0
        while got < total:
            msg = loads(await ws.recv())
            sig = msg.get("signal")
            if not sig or not sig["x"]:
                continue
            now = time.time()
            xs = sig["x"]
            lat.append(now - sig["y"][0])  # y carries the arrival time
            if xs[0] <= last or any(b <= a for a, b in itertools.pairwise(xs)):
                ok[i] = False
            last = xs[-1]
            got += len(xs)
        if got != total:
            ok[i] = False

    await asyncio.wait_for(asyncio.gather(*(read(i, ws) for i, ws in enumerate(conns))), 120)
    out.put({"latencies": lat, "in_order": all(ok), "client_cpu_s": time.process_time()})
    for ws in conns:
        await ws.close()


def _client_proc(url: str, n: int, total: int, out: mp.Queue) -> None:
    asyncio.run(_clients(url, n, total, out))


async def run(args: argparse.Namespace) -> dict:
    from hub.app import Hub
    from hub.config import hub_config
    from hub.db.sqlite import SQLiteStore
    from hub.ws.server import serve

    tmp = tempfile.mkdtemp(prefix="bench-ws-")
    cfg = hub_config({"hub": {"data_dir": tmp}}, source="bench")
    hub = Hub(config=cfg, store=SQLiteStore(path=Path(tmp) / "s.sqlite"))
    server = await serve(
        hub,
        {
            "host": "127.0.0.1",
            "port": 0,
            "push_interval": args.push_interval,
            "send_queue_frames": 5000,
            "require_login": False,  # open mode: the bench measures pushes, not logins
        },
    )
    result: dict = {}
    try:
        # getSignal of 100,000 points from memory
        from hub.client import OpenControlClient

        n_big = 100_000
        xs = np.arange(n_big, dtype=np.float64) + 1.7e9
        hub.signals.append("Bench", "Big", xs, np.sin(xs))
        async with OpenControlClient(server.url) as c:
            times = []
            for _ in range(args.get_repeats):
                t = time.perf_counter()
                got = await c.request(getSignal=["Bench.Big"])
                times.append(time.perf_counter() - t)
                assert len(got["signals"]["Bench.Big"][0]) == n_big
        from hub.ws.jsonfast import dumps
        from hub.ws.signals_req import get_signal

        server_times = []
        for _ in range(args.get_repeats):
            t = time.perf_counter()
            text = dumps({"error": False, "signals": await get_signal(server.state, ["Bench.Big"])})
            server_times.append(time.perf_counter() - t)
        result["getSignal_100k_server_ms"] = {
            "median": statistics.median(server_times) * 1000,
            "min": min(server_times) * 1000,
            "bytes": len(text),
        }
        result["getSignal_100k_ms"] = {
            "median": statistics.median(times) * 1000,
            "min": min(times) * 1000,
            "max": max(times) * 1000,
        }

        # fan-out latency
        total = int(args.rate * args.seconds)
        hub.signals.append("Bench", "Fast", [0.0], [0.0])
        q: mp.Queue = mp.get_context("spawn").Queue()
        proc = mp.get_context("spawn").Process(
            target=_client_proc, args=(server.url, args.clients, total, q)
        )
        proc.start()
        while True:
            try:
                if q.get_nowait() == "ready":
                    break
            except Exception:
                await asyncio.sleep(0.05)
        append_s: list[float] = []
        cpu0 = time.process_time()
        t0 = time.perf_counter()
        batches = total // args.batch
        for i in range(batches):
            due = t0 + i * args.batch / args.rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            # x: sample number (unique, increasing); y: the arrival time at the hub
            x = np.arange(i * args.batch, (i + 1) * args.batch, dtype=np.float64) + 1
            a = time.perf_counter()
            hub.signals.append("Bench", "Fast", x, np.full(args.batch, time.time()))
            append_s.append(time.perf_counter() - a)
        produce_s = time.perf_counter() - t0
        server_cpu = time.process_time() - cpu0
        res = None
        while res is None:
            try:
                item = q.get_nowait()
                if isinstance(item, dict):
                    res = item
            except Exception:
                await asyncio.sleep(0.05)
        proc.join(10)
        lat = res["latencies"]
        result["fanout"] = {
            "rate": args.rate,
            "clients": args.clients,
            "samples_per_client": total,
            "push_interval": args.push_interval,
            "batch": args.batch,
            "achieved_rate": total / produce_s,
            "frames_measured": len(lat),
            "latency_ms_p50": _pct(lat, 0.50) * 1000,
            "latency_ms_p99": _pct(lat, 0.99) * 1000,
            "latency_ms_max": max(lat) * 1000,
            "append_plus_fanout_ms_p99": _pct(append_s, 0.99) * 1000,
            "every_sample_in_order": res["in_order"],
            "dropped_frames": server.stats["dropped_frames"],
            "server_cpu_share": server_cpu / produce_s,
            "client_process_cpu_s": res["client_cpu_s"],
            "seconds": produce_s,
        }
    finally:
        await server.close()
    return result


def main() -> None:
    """Parse options, run, print JSON."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=10_000)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--batch", type=int, default=50, help="samples per append (ingest batch)")
    p.add_argument("--push-interval", type=float, default=0.005)
    p.add_argument("--get-repeats", type=int, default=5)
    args = p.parse_args()
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
