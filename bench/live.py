"""Live latency while the store is down: sample time → websocket push, PostgreSQL up and stopped.

    .venv/bin/python bench/live.py                      # 10 s up, 30 s down, 10 s back
    .venv/bin/python bench/live.py --down 60 --rate 50

Real processes: a throwaway PostgreSQL cluster, Mosquitto, a hub (`python -m hub`, websocket
in open mode) and an agent (`python -m edge_agent`, generator, all six waveforms at
`--rate` Hz, batches closed after 0.1 s). A websocket client in this process subscribes to
Gen.Square and measures, for every sample pushed, receive time minus the sample's time
(the agent's clock, the same machine). The phases: store up, PostgreSQL stopped
(`pg_ctl stop -m immediate`), started again. Per phase it prints p50/p99/max latency and
how many samples were pushed per second; after the run, how many samples the agent made
and how many are stored (each once).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from rigs import procs  # noqa: E402
from rigs.mosquitto import Mosquitto  # noqa: E402
from rigs.postgres import start_cluster  # noqa: E402
from simulators.net import free_port, wait_for  # noqa: E402


async def measure(url: str, phases: list[tuple[str, float, object]]) -> dict[str, list[float]]:
    """Latencies per phase; each phase's action (a callable or None) runs at its start."""
    from hub.client import OpenControlClient

    out: dict[str, list[float]] = {}
    async with OpenControlClient(url) as client:
        await client.subscribe("Gen.Square")
        tasks = []
        for name, seconds, action in phases:
            if callable(action):  # in the background: pushes are read (and timed) meanwhile
                tasks.append(asyncio.create_task(asyncio.to_thread(action)))
            lat: list[float] = out.setdefault(name, [])
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                try:
                    push = await client.next_push(timeout=1.0)
                except TimeoutError:
                    continue
                now = time.time()
                sig = push.get("signal")
                if sig and sig.get("sname") == "Square" and sig.get("x"):
                    lat.extend(now - x for x in sig["x"])
        await asyncio.gather(*tasks)
    return out


def main() -> int:
    """Run the phases and print one line per phase."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--up", type=float, default=10.0, help="seconds with the store up")
    ap.add_argument("--down", type=float, default=30.0, help="seconds with PostgreSQL stopped")
    ap.add_argument("--back", type=float, default=10.0, help="seconds after it is back")
    ap.add_argument("--rate", type=float, default=50.0, help="agent samples/s per signal")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="oc-bench-live-"))
    cluster = start_cluster(fsync=True)
    broker = Mosquitto(work / "mqtt")
    broker.start()
    hub = agent = None
    try:
        dsn = cluster.create_database("live")
        ws_port, prefix = free_port(), "benchlive"
        cfg = procs.write_hub_config(
            work / "hub.toml", port=broker.port, prefix=prefix, kind="postgres", dsn=dsn
        )
        text = cfg.read_text().replace(
            "[websocket]\nenabled = false",
            f'[websocket]\nenabled = true\nhost = "127.0.0.1"\nport = {ws_port}\n'
            "require_login = false",
        )
        cfg.write_text(text.replace('log_level = "info"', 'log_level = "warning"'))
        agent_cfg = procs.write_agent_config(
            work / "agent.toml", port=broker.port, prefix=prefix, rate=args.rate, batch=6
        )
        hub = procs.start("hub", cfg, work / "hub.log")
        agent = procs.start("edge_agent", agent_cfg, work / "agent.log")
        url = f"ws://127.0.0.1:{ws_port}"
        wait_for(
            lambda: procs.batches_or_zero(lambda: procs.pg_ledger_check(dsn, "agent1")) > 5,
            60,
            "data stored",
        )
        phases = [
            ("store up", args.up, None),
            ("PostgreSQL stopped", args.down, lambda: cluster.stop("immediate")),
            ("PostgreSQL back", args.back, cluster.start),
        ]
        lat = asyncio.run(measure(url, phases))
        for name, seconds, _ in phases:
            arr = np.asarray(lat[name]) * 1000
            if not len(arr):
                print(f"{name}: no pushes")
                continue
            print(
                f"{name} ({seconds:.0f} s): live latency sample→push p50 "
                f"{np.percentile(arr, 50):.0f} ms, p99 {np.percentile(arr, 99):.0f} ms, "
                f"max {arr.max():.0f} ms; {len(arr) / seconds:.1f} Square samples/s pushed"
            )
        # Everything the agent made during the run ends up stored once.
        procs.stop(agent)
        procs.write_agent_config(
            agent_cfg, port=broker.port, prefix=prefix, rate=args.rate, batch=6, enabled=False
        )
        agent = procs.start("edge_agent", agent_cfg, work / "agent.log")
        spool = work / "agent1-spool.sqlite"
        wait_for(lambda: procs.spool_state(spool)[0] == 0, 120, "agent spool drained")
        f = procs.pg_ledger_check(dsn, "agent1")
        _, next_seq = procs.spool_state(spool)
        gapless = f["last_seq"] - f["first_seq"] + 1 == f["batches"]
        print(
            f"after the outage: {f['batches']} batches in the ledger, "
            f"{'no gap' if gapless else 'GAPS'}, newest made stored: "
            f"{f['last_seq'] == next_seq - 1}; {f['stored']} samples stored, "
            f"{f['distinct']} distinct"
        )
    finally:
        for p in (agent, hub):
            if p is not None and p.poll() is None:
                procs.stop(p)
        broker.stop()
        cluster.stop("fast")
        cluster.remove()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
