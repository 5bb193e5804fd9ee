"""Ingest benchmark: samples/s committed to PostgreSQL (and SQLite), against the raw COPY ceiling.

    .venv/bin/python bench/ingest.py                 # store path + COPY ceiling + end to end
    .venv/bin/python bench/ingest.py --phases store --batches 800

Phases (each against its own throwaway PostgreSQL 15 cluster, fsync on):
- store: Store.write_batch from the hub's writer thread (hub/db/writer.py), 1,000 signals,
  batches of ~5,000 samples, each committed with its ledger row; alternated in rounds with
  the ceiling: the same rows, pre-encoded, COPY'd in the same batch size with a commit
  each, into the same database. The ratio store/COPY is printed.
- e2e:   simulated agents publish through a real Mosquitto into a hub process
  (`python -m hub`) storing to PostgreSQL; committed samples/s from the hub's acks, latency
  (sample time to the agent receiving the ack) p50/p99, hub CPU and RSS.
- sqlite: the e2e phase with the hub's SQLite store.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from edge_agent.wire import Batch, HubState, Series, WireError  # noqa: E402  # noqa: E402
from rigs.postgres import start_cluster  # noqa: E402


def make_batches(n_batches: int, signals: int, per_signal: int, t0: float) -> list[Batch]:
    """Batches of `signals` series with `per_signal` samples each (1 kHz-ish spacing)."""
    out = []
    rng = np.random.default_rng(1)
    for k in range(n_batches):
        base = t0 + k * per_signal * 0.001
        t = (base + np.arange(per_signal) * 0.001).tolist()
        series = [
            Series(f"Dev{s // 50}", f"S{s}", "V", t, rng.normal(size=per_signal).tolist())
            for s in range(signals)
        ]
        out.append(Batch(agent=f"bench{k % 4}", seq=k, signals=series))
    return out


class StorePath:
    """The hub's writer thread in front of a PostgresStore; `run` times a list of batches."""

    def __init__(self, dsn: str, signals: list[Series]) -> None:
        from hub.db.postgres import PostgresStore
        from hub.db.writer import BatchWriter

        self.store = PostgresStore(dsn=dsn)
        self.store.open()
        # Signals registered first (a running hub has them): the steady state is measured.
        empty = [Series(s.device, s.signal, s.unit, [], []) for s in signals]
        self.store.write_batch(Batch("warmup", 0, empty), time.time())
        self.done = threading.Event()
        self.expected = 0
        self.count = [0, 0]
        self.writer = BatchWriter(store=self.store, on_done=self._on_done, max_queue=64)
        self.writer.start()

    def _on_done(self, outcome) -> None:  # type: ignore[no-untyped-def]
        if outcome.error:
            print("write failed:", outcome.error, file=sys.stderr)
        self.count[0] += 1
        self.count[1] += outcome.job.batch.sample_count if outcome.stored else 0
        if self.count[0] == self.expected:
            self.done.set()

    def run(self, batches: list[Batch]) -> tuple[int, float]:
        """Submit and wait for all commits; return (samples stored, seconds)."""
        from hub.db.writer import Job

        self.count[:] = [0, 0]
        self.expected = len(batches)
        self.done.clear()
        start = time.perf_counter()
        for b in batches:
            self.writer.submit(Job(kind="batch", batch=b, received_at=time.time()), wait=60.0)
        self.done.wait()
        return self.count[1], time.perf_counter() - start

    def close(self) -> None:
        self.writer.stop()
        self.store.close()


class CopyPath:
    """The raw COPY ceiling: the same rows pre-encoded, COPY and commit per batch."""

    def __init__(self, dsn: str) -> None:
        import psycopg2

        self.conn = psycopg2.connect(dsn)

    def run(self, batches: list[Batch]) -> tuple[int, float]:
        """COPY the batches' rows (encoding not timed); return (rows, seconds)."""
        from hub.db.pgcopy import encode_samples, seconds_to_us

        payloads = []
        for b in batches:
            t = np.concatenate([np.asarray(s.t) for s in b.signals])
            y = np.concatenate([np.asarray(s.y) for s in b.signals])
            sid = np.concatenate(
                [np.full(len(s.t), i + 1, dtype=np.int32) for i, s in enumerate(b.signals)]
            )
            payloads.append(encode_samples(seconds_to_us(t), sid, y))
        start = time.perf_counter()
        with self.conn.cursor() as cur:
            for p in payloads:
                cur.copy_expert(
                    "COPY samples (time, signal_id, value) FROM STDIN (FORMAT binary)",
                    io.BytesIO(p),
                )
                self.conn.commit()
        return sum(b.sample_count for b in batches), time.perf_counter() - start

    def close(self) -> None:
        self.conn.close()


class GroupedPath:
    """Group commits: write_batches over `group` queued batches per transaction."""

    def __init__(self, dsn: str, group: int) -> None:
        from hub.db.postgres import PostgresStore

        self.store = PostgresStore(dsn=dsn)
        self.store.open()
        self.group = group

    def run(self, batches: list[Batch]) -> tuple[int, float]:
        """Write groups from a thread of its own, as a writer would; return (samples, s)."""
        stored = [0]

        def work() -> None:
            for i in range(0, len(batches), self.group):
                items = [(b, time.time()) for b in batches[i : i + self.group]]
                for (b, _), ok in zip(items, self.store.write_batches(items), strict=True):
                    stored[0] += b.sample_count if ok else 0

        start = time.perf_counter()
        th = threading.Thread(target=work)
        th.start()
        th.join()
        return stored[0], time.perf_counter() - start

    def close(self) -> None:
        self.store.close()


def store_vs_copy(dsn: str, batches: list[Batch], rounds: int = 4) -> tuple[float, float]:
    """Alternate store and COPY rounds into one database (same table growth for both)."""
    store = StorePath(dsn, batches[0].signals)
    copy = CopyPath(dsn)
    totals = {"store": [0, 0.0], "copy": [0, 0.0]}
    size = -(-len(batches) // rounds)
    try:
        for r in range(rounds):
            part = batches[r * size : (r + 1) * size]
            for name, path in (
                (("store", store), ("copy", copy))
                if r % 2 == 0
                else (
                    ("copy", copy),
                    ("store", store),
                )
            ):
                n, sec = path.run(part)
                totals[name][0] += n
                totals[name][1] += sec
    finally:
        store.close()
        copy.close()
    return totals["store"][0] / totals["store"][1], totals["copy"][0] / totals["copy"][1]


def pg_cpu(datadir: Path | None) -> float:
    """CPU seconds used so far by the PostgreSQL cluster's processes (0 without one)."""
    import psutil

    if datadir is None:
        return 0.0
    pid = int((datadir / "postmaster.pid").read_text().split()[0])
    master = psutil.Process(pid)
    total = 0.0
    for p in [master, *master.children()]:
        try:
            total += sum(p.cpu_times()[:2])
        except psutil.NoSuchProcess:
            pass
    return total


def phase_e2e(
    store_cfg: str,
    pg_datadir: Path | None,
    *,
    agents: int,
    signals: int,
    per_signal: int,
    seconds: float,
    window: int,
    rate: float = 0.0,
) -> dict[str, float]:
    """Agents → Mosquitto → hub process → store; committed samples/s, latency, hub CPU/RSS."""
    import subprocess

    import paho.mqtt.client as mqtt
    import psutil

    from rigs.mosquitto import Mosquitto
    from simulators.net import free_port, wait_for

    work = Path(tempfile.mkdtemp(prefix="oc-bench-"))
    broker = Mosquitto(work / "mqtt")
    broker.start()
    prefix = "bench"
    cfg = work / "hub.toml"
    cfg.write_text(
        f'[hub]\ndata_dir = "{work / "hub"}"\nid = "bench-hub"\nlog_level = "warning"\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\nprefix = "{prefix}"\n'
        f"[websocket]\nenabled = false\nport = {free_port()}\n{store_cfg}"
    )
    hub = subprocess.Popen(
        [sys.executable, "-m", "hub", "-c", str(cfg)],
        cwd=ROOT,
        stderr=(work / "hub.log").open("wb"),
    )
    proc = psutil.Process(hub.pid)
    sent: dict[tuple[str, int], float] = {}
    lat: list[float] = []
    committed = [0]
    lock = threading.Lock()
    stop = threading.Event()
    per_batch = signals // agents * per_signal

    def agent(idx: int) -> None:
        name = f"agent{idx}"
        inflight = threading.Semaphore(window)
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{prefix}-{name}")
        client.max_inflight_messages_set(window)

        def on_message(_c, _u, msg) -> None:
            now = time.time()
            for seq in json.loads(msg.payload)["seq"]:
                with lock:
                    t = sent.pop((name, seq), None)
                    if t is not None:
                        lat.append(now - t)
                        committed[0] += per_batch
                        inflight.release()

        client.on_message = on_message
        client.connect("127.0.0.1", broker.port)
        client.subscribe(f"{prefix}/{name}/ack", qos=1)
        client.loop_start()
        rng = np.random.default_rng(idx)
        values = rng.normal(size=per_signal).round(4).tolist()
        seq = 0
        period = per_batch / (rate / agents) if rate else 0.0
        next_at = time.monotonic()
        while not stop.is_set():
            if period:
                # Paced: one batch per period (samples/s = rate over all agents).
                next_at += period
                pause = next_at - time.monotonic()
                if pause > 0:
                    stop.wait(pause)
            if not inflight.acquire(timeout=0.5):
                continue
            now = time.time()
            t = [round(now - (per_signal - 1 - i) * 0.001, 6) for i in range(per_signal)]
            body = {
                "v": 1,
                "agent": name,
                "seq": seq,
                "signals": [
                    {
                        "device": f"{name}_D{s // 50}",
                        "signal": f"S{s}",
                        "unit": "V",
                        "t": t,
                        "y": values,
                    }
                    for s in range(signals // agents)
                ],
            }
            payload = json.dumps(body, separators=(",", ":")).encode()
            with lock:
                # Latency runs from the oldest sample of the batch.
                sent[(name, seq)] = t[0]
            client.publish(f"{prefix}/{name}/data", payload, qos=1)
            seq += 1
        client.loop_stop()
        client.disconnect()

    try:
        # The hub publishes a retained state (online) on <p>/hub/state once it is subscribed.
        state: list[bytes] = []
        watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{prefix}-watch")
        watcher.on_message = lambda _c, _u, m: state.append(bytes(m.payload))
        watcher.connect("127.0.0.1", broker.port)
        watcher.subscribe(f"{prefix}/hub/state", qos=1)
        watcher.loop_start()
        online = lambda: any(_hub_online(s) for s in state)  # noqa: E731
        wait_for(lambda: online() or hub.poll() is not None, 30, "hub online")
        watcher.loop_stop()
        watcher.disconnect()
        if hub.poll() is not None:
            raise RuntimeError((work / "hub.log").read_text()[-3000:])
        threads = [threading.Thread(target=agent, args=(i,), daemon=True) for i in range(agents)]
        for th in threads:
            th.start()
        time.sleep(2.0)  # warm-up: signals registered, caches filled
        with lock:
            c0, lat[:] = committed[0], []
        cpu0 = sum(proc.cpu_times()[:2])
        me = psutil.Process()
        mq = psutil.Process(broker.proc.pid) if broker.proc else None
        me0 = sum(me.cpu_times()[:2])
        pg0 = pg_cpu(pg_datadir)
        mq0 = sum(mq.cpu_times()[:2]) if mq else 0.0
        t_start = time.perf_counter()
        time.sleep(seconds)
        with lock:
            c1, lats = committed[0], list(lat)
        elapsed = time.perf_counter() - t_start
        cpu1 = sum(proc.cpu_times()[:2])
        me1 = sum(me.cpu_times()[:2])
        pg1 = pg_cpu(pg_datadir)
        mq1 = sum(mq.cpu_times()[:2]) if mq else 0.0
        rss = proc.memory_info().rss
        stop.set()
        for th in threads:
            th.join(5)
    finally:
        hub.terminate()
        try:
            hub.wait(20)
        except subprocess.TimeoutExpired:
            hub.kill()
        broker.stop()
    if hub.returncode not in (0, -15, None):
        print((work / "hub.log").read_text()[-3000:], file=sys.stderr)
    shutil.rmtree(work, ignore_errors=True)
    arr = np.array(lats) if lats else np.array([np.nan])
    return {
        "samples_per_s": (c1 - c0) / elapsed,
        "latency_p50_ms": float(np.percentile(arr, 50) * 1000),
        "latency_p99_ms": float(np.percentile(arr, 99) * 1000),
        "hub_cpu_percent": (cpu1 - cpu0) / elapsed * 100,
        "hub_rss_mb": rss / 2**20,
        "agents_cpu_percent": (me1 - me0) / elapsed * 100,
        "broker_cpu_percent": (mq1 - mq0) / elapsed * 100,
        "postgres_cpu_percent": (pg1 - pg0) / elapsed * 100,
    }


def main() -> int:
    """Run the chosen phases and print one line of figures per phase."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--phases",
        default="store,grouped,e2e,sqlite",
        help="store (with the COPY ceiling), grouped, e2e, sqlite",
    )
    ap.add_argument("--signals", type=int, default=1000)
    ap.add_argument("--per-signal", type=int, default=5, help="samples per signal per batch")
    ap.add_argument("--batches", type=int, default=400, help="store/copy phases: batches")
    ap.add_argument("--seconds", type=float, default=10.0, help="e2e phases: measured time")
    ap.add_argument("--agents", type=int, default=4)
    ap.add_argument("--group", type=int, default=8, help="grouped phase: batches per commit")
    ap.add_argument(
        "--rate", type=float, default=0.0, help="e2e: samples/s offered (0 = as fast as acked)"
    )
    ap.add_argument("--window", type=int, default=16, help="unacknowledged batches per agent")
    args = ap.parse_args()
    phases = set(args.phases.split(","))
    cluster = start_cluster(fsync=True)
    results: dict[str, float] = {}
    try:
        if "store" in phases:
            batches = make_batches(args.batches, args.signals, args.per_signal, time.time() - 3600)
            n = sum(b.sample_count for b in batches)
            dsn = cluster.create_database("bench")
            results["store"], results["copy"] = store_vs_copy(dsn, batches)
            print(
                f"store path (writer thread, Store.write_batch): {n:,} samples in batches of "
                f"{batches[0].sample_count:,}: {results['store']:,.0f} samples/s committed"
            )
            print(f"raw COPY ceiling, same rows, same database: {results['copy']:,.0f} rows/s")
            print(f"ratio store/COPY: {results['store'] / results['copy']:.0%}")
        common = dict(
            agents=args.agents,
            signals=args.signals,
            per_signal=args.per_signal,
            seconds=args.seconds,
            window=args.window,
            rate=args.rate,
        )
        if "grouped" in phases:
            batches = make_batches(args.batches, args.signals, args.per_signal, time.time() - 7200)
            for k, b in enumerate(batches):
                b.seq += 1_000_000 + k
            path = GroupedPath(cluster.create_database("grouped"), args.group)
            n, sec = path.run(batches)
            path.close()
            print(f"group commit, {args.group} batches per transaction: {n / sec:,.0f} samples/s")
        if "e2e" in phases:
            dsn = cluster.create_database("e2e")
            r = phase_e2e(f'[store]\nkind = "postgres"\ndsn = "{dsn}"\n', cluster.datadir, **common)
            print("end to end, PostgreSQL: " + ", ".join(f"{k}={v:,.1f}" for k, v in r.items()))
            if "copy" in results:
                print(f"ratio end-to-end/COPY: {r['samples_per_s'] / results['copy']:.0%}")
        if "sqlite" in phases:
            r = phase_e2e('[store]\nkind = "sqlite"\n', None, **common)
            print("end to end, SQLite: " + ", ".join(f"{k}={v:,.1f}" for k, v in r.items()))
    finally:
        cluster.stop("fast")
        cluster.remove()
    return 0


def _hub_online(payload: bytes) -> bool:
    try:
        return HubState.decode(payload).state == "online"
    except WireError:
        return False


if __name__ == "__main__":
    sys.exit(main())
