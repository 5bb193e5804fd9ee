"""Issue 14's attacks against a running hub: another client's getLatest latency meanwhile.

    .venv/bin/python bench/attacks.py                 # every attack, 3 s of watching each
    .venv/bin/python bench/attacks.py --seconds 5

The hub (embedded broker, SQLite, websocket, engine) runs in this process, with a local
producer storing 100 samples/s through `hub.ingest_local` (the agents' stand-in). A second
process asks `getLatest` in a loop over its own connection and records each round trip;
a third runs the attack: a script (CPU in one C call, numpy memory, huge strings) through
websocket `automation`, or three clients asking `getSession` 50 times a second. Printed
per attack: getLatest p50/p99/max, answers, and the samples stored meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCRIPTS = {
    "sum of lists (one C call)": "x = sum([[0]]*60000, [])",
    "np.ones U1000000": "a = np.ones(300, 'U1000000')",
    "np.full huge strings": "a = np.full(150, 'a'*2000000)",
    "str of a shared list": "s = 'a'*2000000\nt = str([s]*600)",
    "print of a shared list": "s = 'a'*2000000\nprint([s]*600)",
    "broadcast with a list": "a = np.maximum(np.zeros([12000, 1]), list(range(12000)))",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * p))] if s else float("nan")


async def _watch(url: str, seconds: float, out: mp.Queue) -> None:
    from websockets.asyncio.client import connect

    async with connect(url, compression=None, max_size=None) as ws:
        lat: list[float] = []
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            t0 = time.perf_counter()
            await ws.send('{"getLatest": true}')
            while "latest" not in json.loads(await ws.recv()):
                pass
            lat.append(time.perf_counter() - t0)
            await asyncio.sleep(0.02)  # 50 requests/s: the per-client rate limit
        out.put(lat)


def _watch_proc(url: str, seconds: float, out: mp.Queue) -> None:
    asyncio.run(_watch(url, seconds, out))


async def _attack(url: str, kind: str, seconds: float) -> None:
    from websockets.asyncio.client import connect

    if kind in SCRIPTS:
        async with connect(url, compression=None, max_size=None) as ws:
            req = {"setScript": {"name": "evil", "script": SCRIPTS[kind]}, "runScript": "evil"}
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:  # again and again while the watcher watches
                await ws.send(json.dumps({"automation": req}))
                while "error" not in (msg := json.loads(await ws.recv())):
                    pass
                run = (msg.get("automation") or {}).get("runScript") or {}
                if run.get("ok"):
                    print(f"  {kind}: NOT refused: {str(run)[:200]}", flush=True)
                await asyncio.sleep(0.05)  # within the client's request rate
        return

    async def greedy() -> None:
        async with connect(url, compression=None, max_size=None) as ws:
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                await ws.send('{"getSession": true}')
                await ws.recv()
                await asyncio.sleep(0.02)

    await asyncio.gather(*(greedy() for _ in range(3)))


def _attack_proc(url: str, kind: str, seconds: float) -> None:
    asyncio.run(_attack(url, kind, seconds))


async def _produce(hub: object, stop: asyncio.Event) -> None:
    i = 0
    while not stop.is_set():
        i += 1
        hub.ingest_local("Bench", "p", [time.time()], [float(i)])  # type: ignore[attr-defined]
        await asyncio.sleep(0.01)


async def main(seconds: float, only: str | None) -> None:
    from hub.bootstrap import running_hub
    from hub.config import hub_config

    tmp = tempfile.mkdtemp(prefix="oc-attacks-")
    ws_port = _free_port()
    cfg = hub_config(
        {
            "hub": {"data_dir": tmp, "log_level": "error"},
            "mqtt": {"port": _free_port()},
            "websocket": {"port": ws_port, "host": "127.0.0.1", "require_login": False},
        }
    )
    url = f"ws://127.0.0.1:{ws_port}"
    ctx = mp.get_context("spawn")
    async with running_hub(cfg) as hub:
        # signals worth asking for: 20 signals of 10,000 points for getSession
        for k in range(20):
            hub.signals.append("Big", f"s{k}", list(range(10_000)), [1.0] * 10_000)
        stop = asyncio.Event()
        producer = asyncio.get_running_loop().create_task(_produce(hub, stop))
        kinds = ["(none: baseline)", *SCRIPTS, "getSession x3 clients at 50/s"]
        print(
            f"{'attack':34} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'answers':>8} {'stored':>7}"
        )
        for kind in kinds:
            if only and only not in kind:
                continue
            out: mp.Queue = ctx.Queue()
            watcher = ctx.Process(target=_watch_proc, args=(url, seconds, out))
            attacker = None
            if not kind.startswith("(none"):
                attacker = ctx.Process(target=_attack_proc, args=(url, kind, seconds))
            stored = hub.store.sample_count()
            watcher.start()
            if attacker is not None:
                attacker.start()
            lat = await asyncio.to_thread(out.get, True, seconds + 120)
            await asyncio.to_thread(watcher.join)
            if attacker is not None:
                await asyncio.to_thread(attacker.join)
            grown = hub.store.sample_count() - stored
            print(
                f"{kind:34} {_pct(lat, 0.5) * 1e3:8.1f} {_pct(lat, 0.99) * 1e3:8.1f} "
                f"{max(lat) * 1e3:8.1f} {len(lat):8d} {grown:7d}"
            )
        stop.set()
        await producer


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0, help="watching time per attack")
    ap.add_argument("--only", help="run only attacks whose name contains this")
    args = ap.parse_args()
    asyncio.run(main(args.seconds, args.only))
