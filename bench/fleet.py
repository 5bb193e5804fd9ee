"""Fleet benchmark: many simulated agents into (a) one `all` hub and (b) two `ingest` hubs
plus one `live` hub, on PostgreSQL (docs/scale.md).

    .venv/bin/python bench/fleet.py --agents 50
    .venv/bin/python bench/fleet.py --agents 200 --seconds 30 --setups split

Each agent has its own MQTT connection and a light spool-and-ack: every batch (5 signals
at 10 Hz, one batch per `--batch-s`) is kept in memory until the hub acknowledges it,
sent again after `--ack-timeout`, at most `--window` unacknowledged at a time (beyond,
the agent holds new batches back, as the real agent's spool does). Real processes: a
throwaway PostgreSQL cluster (fsync on), Mosquitto, the hubs (`python -m hub`).

Printed per setup: committed samples/s (acks × samples per batch) against the offered
rate, live latency p50/p99 (sample time → websocket push on the `all`/`live` hub; a
sample waits up to `--batch-s` in its agent's batch first), CPU and RSS of each hub
process, CPU of Mosquitto, PostgreSQL and the agents' process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402
import psutil  # noqa: E402

from rigs.mosquitto import Mosquitto  # noqa: E402
from rigs.postgres import start_cluster  # noqa: E402
from simulators.net import free_port, wait_port  # noqa: E402

SIGNALS = 5
HZ = 10.0
PREFIX = "fleet"


class Agent:
    """One simulated agent: its own MQTT client, batches kept until acknowledged."""

    def __init__(self, name: str, port: int, args: argparse.Namespace, tally: Tally) -> None:
        self.name, self.args, self.tally = name, args, tally
        self.unacked: dict[int, tuple[bytes, float]] = {}
        self.held: list[tuple[int, bytes]] = []
        self.seq = 0
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{PREFIX}-{name}")
        self.client.max_inflight_messages_set(args.window + 5)
        self.client.on_message = self._on_ack
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{PREFIX}/{name}/ack", qos=1)
        self.client.loop_start()

    def _on_ack(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            for seq in json.loads(msg.payload)["seq"]:
                if self.unacked.pop(seq, None) is not None:
                    self.tally.committed(self.args.per_batch)

    def tick(self, now: float) -> None:
        """Make this period's batch; send what the window allows; resend the overdue."""
        n = int(HZ * self.args.batch_s)
        t = [round(now - (n - 1 - i) / HZ, 6) for i in range(n)]
        body = {
            "v": 1,
            "agent": self.name,
            "seq": self.seq,
            "signals": [
                {"device": f"{self.name}_D", "signal": f"S{s}", "unit": "", "t": t, "y": [1.0] * n}
                for s in range(SIGNALS)
            ],
        }
        self.held.append((self.seq, json.dumps(body, separators=(",", ":")).encode()))
        self.seq += 1
        mono = time.monotonic()
        with self.lock:
            due = [s for s, (_p, at) in self.unacked.items() if mono - at > self.args.ack_timeout]
            for seq in due:
                payload = self.unacked[seq][0]
                self.unacked[seq] = (payload, mono)
                self._publish(payload)
                self.tally.resent += 1
            while self.held and len(self.unacked) < self.args.window:
                seq, payload = self.held.pop(0)
                self.unacked[seq] = (payload, mono)
                self._publish(payload)

    def _publish(self, payload: bytes) -> None:
        self.client.publish(f"{PREFIX}/{self.name}/data", payload, qos=1)

    def close(self) -> None:
        """Disconnect (the network thread ends by itself; `join` waits for it)."""
        self.client.disconnect()

    def join(self) -> None:
        self.client.loop_stop()


class Tally:
    """Counters shared by the agents."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples = 0
        self.resent = 0

    def committed(self, n: int) -> None:
        with self.lock:
            self.samples += n


def hub_config(work: Path, name: str, role: str, port: int, dsn: str, ws_port: int | None) -> Path:
    shared = 'shared_group = "ingest"\n' if role == "ingest" else ""
    ws = (
        f'enabled = true\nhost = "127.0.0.1"\nport = {ws_port}\nrequire_login = false\n'
        if ws_port
        else "enabled = false\n"
    )
    path = work / f"{name}.toml"
    path.write_text(
        f'[hub]\nid = "{name}"\ndata_dir = "{work / name}"\nrole = "{role}"\n'
        'log_level = "warning"\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\nprefix = "{PREFIX}"\n{shared}'
        "max_messages_per_s = 5000.0\n"
        f'[store]\nkind = "postgres"\ndsn = "{dsn}"\n[websocket]\n{ws}'
    )
    return path


async def watch_latency(url: str, stop: asyncio.Event, lat: list[float]) -> None:
    """Sample time → push arrival of every pushed sample (one websocket client)."""
    from hub.client import OpenControlClient

    async with OpenControlClient(url) as client:
        await client.request(subscribeAll="signal")
        while not stop.is_set():
            try:
                push = await client.next_push(timeout=0.5)
            except TimeoutError:
                continue
            if "signal" in push:
                now = time.time()
                lat.extend(now - x for x in push["signal"]["x"])


def cpu(proc: psutil.Process | None) -> float:
    if proc is None:
        return 0.0
    try:
        return sum(proc.cpu_times()[:2]) + sum(
            sum(c.cpu_times()[:2]) for c in proc.children(recursive=True)
        )
    except psutil.NoSuchProcess:
        return 0.0


def run_setup(setup: str, args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="oc-fleet-"))
    cluster = start_cluster(fsync=True)
    broker = Mosquitto(work / "mqtt")
    broker.start()
    hubs: dict[str, subprocess.Popen[bytes]] = {}
    agents: list[Agent] = []
    try:
        dsn = cluster.create_database("fleet")
        ws_port = free_port()
        roles = {"all": "all"} if setup == "all" else {"ing1": "ingest", "ing2": "ingest"}
        if setup != "all":
            roles["live"] = "live"
        for name, role in roles.items():
            cfg = hub_config(
                work, name, role, broker.port, dsn, ws_port if role != "ingest" else None
            )
            hubs[name] = subprocess.Popen(
                [sys.executable, "-m", "hub", "-c", str(cfg)],
                cwd=ROOT,
                stdout=(work / f"{name}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        wait_port(ws_port, 60)
        time.sleep(1.0)  # subscriptions in place
        tally = Tally()
        for i in range(args.agents):
            agents.append(Agent(f"a{i}", broker.port, args, tally))
        stop_ticks = threading.Event()

        def ticker() -> None:
            next_at = time.monotonic()
            while not stop_ticks.is_set():
                now = time.time()
                for a in agents:
                    a.tick(now)
                next_at += args.batch_s
                stop_ticks.wait(max(0.0, next_at - time.monotonic()))

        threading.Thread(target=ticker, daemon=True).start()
        time.sleep(args.warmup)
        procs = {n: psutil.Process(h.pid) for n, h in hubs.items()}
        mq = psutil.Process(broker.proc.pid) if broker.proc else None
        pg = psutil.Process(int((cluster.datadir / "postmaster.pid").read_text().split()[0]))
        me = psutil.Process()
        c0 = {n: cpu(p) for n, p in procs.items()}
        mq0, pg0, me0, s0 = cpu(mq), cpu(pg), sum(me.cpu_times()[:2]), tally.samples
        t0 = time.perf_counter()
        lat: list[float] = []

        async def measure() -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(watch_latency(f"ws://127.0.0.1:{ws_port}", stop, lat))
            await asyncio.sleep(args.seconds)
            stop.set()
            await asyncio.wait_for(task, 10)

        asyncio.run(measure())
        elapsed = time.perf_counter() - t0
        committed = (tally.samples - s0) / elapsed
        offered = args.agents * SIGNALS * HZ
        stop_ticks.set()
        arr = np.asarray(lat) * 1000 if lat else np.asarray([np.nan])
        behind = sum(len(a.unacked) + len(a.held) for a in agents)
        print(
            f"[{setup}] {args.agents} agents, offered {offered:,.0f} samples/s: committed "
            f"{committed:,.0f} samples/s; live latency p50 {np.percentile(arr, 50):.0f} ms "
            f"p99 {np.percentile(arr, 99):.0f} ms ({len(lat):,} samples pushed); "
            f"{behind} batches unacknowledged at the end, {tally.resent} resent"
        )
        for n, p in procs.items():
            print(
                f"  hub {n} ({roles[n]}): CPU {(cpu(p) - c0[n]) / elapsed * 100:.0f} %, "
                f"RSS {p.memory_info().rss / 2**20:.0f} MiB"
            )
        print(
            f"  Mosquitto CPU {(cpu(mq) - mq0) / elapsed * 100:.0f} %, PostgreSQL CPU "
            f"{(cpu(pg) - pg0) / elapsed * 100:.0f} %, agents (this process) CPU "
            f"{(sum(me.cpu_times()[:2]) - me0) / elapsed * 100:.0f} %"
        )
    finally:
        for a in agents:
            a.close()  # all at once: each network thread ends within its select timeout
        for a in agents:
            a.join()
        for h in hubs.values():
            h.terminate()
            try:
                h.wait(20)
            except subprocess.TimeoutExpired:
                h.kill()
        broker.stop()
        cluster.stop("fast")
        cluster.remove()
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    """Run the chosen setups and print their figures."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--agents", type=int, default=50, help="simulated agents (1000 in #18)")
    ap.add_argument("--seconds", type=float, default=20.0, help="measured time per setup")
    ap.add_argument("--warmup", type=float, default=5.0, help="seconds before measuring")
    ap.add_argument("--batch-s", type=float, default=1.0, help="seconds of samples per batch")
    ap.add_argument("--window", type=int, default=20, help="unacknowledged batches per agent")
    ap.add_argument("--ack-timeout", type=float, default=10.0, help="resend after (s)")
    ap.add_argument("--setups", choices=("both", "all", "split"), default="both")
    args = ap.parse_args()
    args.per_batch = int(HZ * args.batch_s) * SIGNALS
    for setup in ("all", "split") if args.setups == "both" else (args.setups,):
        run_setup(setup, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
