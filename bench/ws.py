"""Websocket benchmark: RTOC 3.0 and the hub side by side in one run, measured by the same client.

    .venv/bin/python bench/ws.py                 # RTOC 3.0, then the hub; figures and ratios
    .venv/bin/python bench/ws.py --only hub      # the hub alone (no RTOC set-up needed)

RTOC 3.0 is set up once by bench/rtoc_peer/setup.sh (a Python 3.8 venv under
~/.cache/opencontrol-rtoc; needs PyPI and a Python 3.8, e.g. from pyenv) and started headless
by bench/rtoc_peer/start.py in its open mode. The hub is `opencontrol hub` from this checkout's
.venv with an embedded broker, SQLite in a temporary folder and the websocket in RTOC's open
mode (`require_login = false`) with every other setting at its default but two: the
fan-out's 51 connections all come from 127.0.0.1 (`max_connections_per_address = 64`), and
the points allowance (`max_points_per_second`, RTOC has none) is raised so that getSignal of
the ingest's signal (360,000 points after three rounds) is answered seven times a round.

The client is the same for both servers: RawClient (frames built as bytes, answers cut out
of the byte stream), so that the bench process does not cap both servers at its own rate:
for the ingest, latency and round-trip figures and the fan-out's 50 subscribers (49 of them
in this one process); the fan-out's producer is a `websockets` client in its own process.

Both servers run at once; each figure is taken on one right after the other, in rounds that
alternate which goes first, so both meet the same moments of a shared machine (its load
moves absolute figures; compare ratios, and run it when the machine is quiet). Rates are the
best round's, latency percentiles are over all rounds' samples. Figures:
- `y` ingest, one value a frame, 50 frames in flight; and 100 signals a frame (samples/s,
  counted by the `sent` answers); each round sends both servers the same samples (--samples,
  --samples-100), so that the memory figure compares the same data held; with the server's
  CPU time per sample (all its threads), which the machine's other work moves far less
- idle push latency p50/p99: one client sends a sample, another subscribed to it receives it
  (300 samples a round, 5 ms apart: the p99 of 900 is the 9th slowest, not the 3rd)
- getLatest p99 (round trip); getSignal of the ingest bench's signal (median round trip)
- RSS of the server process after the above
- fan-out: a producer (own process) offers one frame per sample at --fanout-rate for
  --fanout-seconds; 50 subscribers, one of which never reads. Reported: the producer's
  achieved rate, the share of samples the reading subscribers got, whether each got every
  sample in order, and the sample latency p99 (sent by the producer → parsed by a subscriber).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import multiprocessing as mp
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parents[1]
PEER = ROOT / "bench" / "rtoc_peer"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p * (len(s) - 1)))] if s else math.nan


# -- the client (the same for both servers) -------------------------------------------------
class RawClient:
    """A websocket client that costs next to nothing per frame, so that the figures measure
    the server, not the bench: requests are framed as bytes (mask key 0, so the payload
    goes as it is; RFC 6455 lets the client pick any key), answers are cut out of the byte
    stream by their headers. A `websockets` client spends as much per frame as a server
    does: it capped both servers at the same rate."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buf = b""

    @classmethod
    async def open(cls, url: str) -> RawClient:
        """Connect, upgrade, authorize (open mode: `{"authorize": true}`)."""
        u = urlsplit(url)
        host, port = u.hostname or "127.0.0.1", u.port or 80
        reader, writer = await asyncio.open_connection(host, port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise ConnectionError(head.decode(errors="replace"))
        c = cls(reader, writer)
        c.send(b'{"authorize": true}')
        while not any(b"authorized" in m for m in await c.messages(60)):
            pass
        return c

    @staticmethod
    def frame(payload: bytes) -> bytes:
        """A masked text frame (mask key 0)."""
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        return head + b"\0\0\0\0" + payload

    def send(self, *payloads: bytes) -> None:
        """Text frames, in one write (not awaited: the socket buffers)."""
        self.writer.write(b"".join(self.frame(p) for p in payloads))

    async def messages(self, timeout: float) -> list[bytes]:
        """The complete messages that arrived (waits up to `timeout` for at least one)."""
        out: list[bytes] = []
        end = time.monotonic() + timeout
        while not out:
            data = await asyncio.wait_for(self.reader.read(1 << 20), end - time.monotonic())
            if not data:
                raise ConnectionError("the server closed the connection")
            buf, i = self.buf + data, 0
            while len(buf) - i >= 2:
                n, h = buf[i + 1] & 0x7F, 2
                if n == 126:
                    if len(buf) - i < 4:
                        break
                    n, h = struct.unpack_from("!H", buf, i + 2)[0], 4
                elif n == 127:
                    if len(buf) - i < 10:
                        break
                    n, h = struct.unpack_from("!Q", buf, i + 2)[0], 10
                if len(buf) - i < h + n:
                    break
                out.append(buf[i + h : i + h + n])
                i += h + n
            self.buf = buf[i:]
        return out

    async def wait_for(self, key: bytes, timeout: float) -> list[bytes]:
        """Messages up to the first that holds `key` (TimeoutError after `timeout`)."""
        end, got = time.monotonic() + timeout, []
        while True:
            got += await self.messages(end - time.monotonic())
            if any(key in m for m in got):
                return got
            for m in got:
                if b'"error": true' in m:
                    raise RuntimeError(f"refused: {m[:300]!r}")

    def close(self) -> None:
        """Drop the connection (no closing handshake: nothing waits for it)."""
        self.writer.transport.abort()


async def _open(url: str) -> ClientConnection:
    """A `websockets` client (the fan-out's producer and subscribers)."""
    # no keepalive pings: an overloaded server must not end the measuring connection
    ws = await connect(url, max_size=None, compression=None, open_timeout=60, ping_interval=None)
    await ws.send(json.dumps({"authorize": True}))
    while "authorized" not in json.loads(await ws.recv()):
        pass
    return ws


async def _count(ws: ClientConnection, key: str, n: int, timeout: float) -> int:
    got, end = 0, time.monotonic() + timeout
    while got < n:
        try:
            msg = json.loads(await asyncio.wait_for(ws.recv(), end - time.monotonic()))
        except (TimeoutError, ValueError):
            break
        if key in msg:
            got += 1
    return got


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def ingest(
    url: str, signals: int, samples: int, pid: int, window: int = 50
) -> tuple[float, float]:
    """Samples/s of `y` frames (one value per signal), `window` frames in flight, until
    `samples` samples are answered (the same work for every server, so that memory
    afterwards compares like with like); and the server's CPU time per sample (µs), which
    the machine's other load moves much less."""
    c = await RawClient.open(url)
    cpu0 = _cpu_s(pid)
    names = json.dumps([f"s{i}" for i in range(signals)])
    dname = "Bench" if signals == 1 else "BenchB"
    frames_due = max(1, samples // signals)
    acked = sent = stored = 0
    t0 = time.monotonic()
    while acked < frames_due:
        frames = []  # what the window has room for, in one write
        while sent + len(frames) - acked < window and sent + len(frames) < frames_due:
            y, x = repr(float(sent + len(frames))), repr(time.time())
            frames.append(
                f'{{"y": [{", ".join([y] * signals)}], "x": [{", ".join([x] * signals)}], '
                f'"sname": {names}, "dname": "{dname}"}}'.encode()
            )
        c.send(*frames)
        sent += len(frames)
        try:
            msgs = await c.messages(30)
        except (TimeoutError, ConnectionError):
            break
        acked += sum(1 for m in msgs if b'"error"' in m)  # every answer frees a place
        stored += sum(1 for m in msgs if b'"sent": true' in m)  # the samples that counted
    dt = time.monotonic() - t0
    cpu = _cpu_s(pid) - cpu0
    c.close()
    return stored * signals / dt, cpu / max(1, stored * signals) * 1e6


async def round_trips(url: str, req: dict, key: str, n: int) -> list[float]:
    """Round-trip times (ms) of `n` requests, one after the other."""
    c = await RawClient.open(url)
    out = []
    body = json.dumps(req).encode()
    for _ in range(n):
        t = time.perf_counter()
        c.send(body)
        try:
            got = await c.wait_for(f'"{key}"'.encode(), 30)
        except TimeoutError:
            raise TimeoutError(f"{url}: no answer to {req} within 30 s: {c.buf[:300]!r}") from None
        del got
        out.append((time.perf_counter() - t) * 1000)
    c.close()
    return out


async def push_latency(url: str, n: int = 300) -> list[float]:
    """Sample sent by one client → received by a subscriber (ms), one sample at a time."""
    a, b = await RawClient.open(url), await RawClient.open(url)
    b.send(b'{"subscribe": ["signal", "Push.p"]}')
    frame = '{{"y": [{y}], "x": [{x}], "sname": ["p"], "dname": "Push"}}'
    a.send(frame.format(y=0.0, x=time.time()).encode())
    await asyncio.sleep(0.5)
    for c in (a, b):  # answers and the first push: not measured
        while True:
            try:
                await c.messages(0.3)
            except TimeoutError:
                break
    lat = []
    for i in range(1, n + 1):
        t = time.time()
        a.send(frame.format(y=float(i), x=t).encode())
        end = time.monotonic() + 5
        while time.monotonic() < end:
            for m in await b.messages(end - time.monotonic()):
                sig = json.loads(m).get("signal")
                if sig and float(i) in [float(v) for v in sig["y"]]:
                    lat.append((time.time() - t) * 1000)
                    end = 0
        await a.wait_for(b'"sent"', 5)  # its answer
        await asyncio.sleep(0.005)
    a.close()
    b.close()
    return lat


def _producer(url: str, rate: float, seconds: float, base: float, out: Any) -> None:
    """Fan-out producer (own process): one frame per sample, x = base + n/1e4, y = send time."""

    async def run() -> None:
        ws = await _open(url)
        total = int(rate * seconds)
        acks = 0

        async def answers() -> None:
            nonlocal acks
            async for m in ws:
                if '"sent"' in m:
                    acks += 1

        reader = asyncio.create_task(answers())
        out.put("ready")
        t0 = time.monotonic()
        give_up = t0 + 2 * seconds + 5  # a server that stops reading: stop offering
        sent = 0
        for i in range(total):
            due = t0 + i / rate
            if due - time.monotonic() > 0.001:
                await asyncio.sleep(due - time.monotonic())
            x = base + i / 1e4
            frame = {"y": [time.time()], "x": [x], "sname": ["f"], "dname": "Fan"}
            try:
                await asyncio.wait_for(ws.send(json.dumps(frame)), give_up - time.monotonic())
            except (TimeoutError, ConnectionClosed):
                break
            sent += 1
        took = time.monotonic() - t0
        end = time.monotonic() + 10
        while acks < total and time.monotonic() < end:
            await asyncio.sleep(0.05)
        reader.cancel()
        ws.transport.abort()
        out.put({"offered": total, "sent": sent, "send_s": took, "acked": acks})

    asyncio.run(run())


async def fanout(url: str, rate: float, seconds: float, clients: int) -> dict[str, Any]:
    """The fan-out figures (see the module's doc)."""
    total = int(rate * seconds)
    base = float(int(time.time()))
    # the signal exists before anyone subscribes
    w = await _open(url)
    await w.send(json.dumps({"y": [0.0], "x": [base - 1], "sname": ["f"], "dname": "Fan"}))
    await _count(w, "sent", 1, 30)
    await w.close()
    subs = [await RawClient.open(url) for _ in range(clients)]
    for c in subs:
        c.send(b'{"subscribe": ["signal", "Fan.f"]}')
    lat: list[float] = []
    got = [0] * (clients - 1)
    ordered = [True] * (clients - 1)
    closed = [False] * (clients - 1)
    stop = asyncio.Event()

    async def read(i: int, c: RawClient) -> None:
        nxt = 0  # the sample number expected next
        while got[i] < total and not stop.is_set():
            try:
                msgs = await c.messages(0.5)
            except TimeoutError:
                continue
            except ConnectionError:
                closed[i] = True
                return
            now = time.time()
            for m in msgs:
                if b'"signal"' not in m:
                    continue
                sig = json.loads(m)["signal"]
                for x, y in zip(sig["x"], sig["y"], strict=False):
                    if x < base:
                        continue
                    n = round((x - base) * 1e4)
                    ordered[i] = ordered[i] and n == nxt
                    nxt = n + 1
                    got[i] += 1
                    if i % 7 == 0:  # every 7th reader's samples: enough for the percentiles
                        lat.append((now - y) * 1000)

    # subscriber 0 never reads
    readers = [asyncio.create_task(read(i, c)) for i, c in enumerate(subs[1:])]
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    prod = ctx.Process(target=_producer, args=(url, rate, seconds, base, q))
    prod.start()
    while True:
        try:
            if q.get_nowait() == "ready":
                break
        except Exception:
            await asyncio.sleep(0.05)
    res = None
    end = time.monotonic() + 3 * seconds + 30
    while res is None and time.monotonic() < end:
        try:
            res = q.get_nowait()
        except Exception:
            await asyncio.sleep(0.05)
    if res is None:
        prod.kill()
        res = {"offered": total, "sent": 0, "send_s": math.inf, "acked": 0}
    deadline = time.monotonic() + 15
    while min(got) < total and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(*readers)
    prod.join(10)
    for c in subs:
        c.close()
    return {
        "offered_per_s": rate,
        "producer_per_s": res["sent"] / res["send_s"],
        "answered": res["acked"] / res["offered"],
        "received": sum(got) / (total * len(got)),
        "all_in_order": all(ordered) and min(got) == total,
        "readers_cut_off": sum(closed),
        "latency_p50": _pct(lat, 0.5),
        "latency_p99": _pct(lat, 0.99),
    }


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return math.nan


async def measure(
    servers: dict[str, tuple[str, int]], args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    """Every figure of each server ({name: (url, pid)}, all running).

    The quick figures run in `args.rounds` rounds, each figure on one server right after
    the other, and which server goes first alternates: both meet the same moments of a
    shared machine. Rates: the best round (the least disturbed); latencies: percentiles of
    all rounds' samples together. Then RSS, then the fan-out, one server after the other.
    """
    names = list(servers)
    got: dict[str, dict[str, list[float]]] = {n: {} for n in names}

    def add(name: str, key: str, values: list[float]) -> None:
        got[name].setdefault(key, []).extend(values)

    for r in range(args.rounds):
        order = names if r % 2 == 0 else names[::-1]
        for signals in (1, 100):
            for n in order:
                samples = args.samples if signals == 1 else args.samples_100
                rate, cpu = await ingest(servers[n][0], signals, samples, servers[n][1])
                add(n, f"ingest_{signals}", [rate])
                add(n, f"cpu_{signals}", [cpu])
        for n in order:
            add(n, "push", await push_latency(servers[n][0], 300))
        for n in order:
            add(n, "latest", await round_trips(servers[n][0], {"getLatest": True}, "latest", 100))
        for n in order:
            req = {"getSignal": ["Bench.s0"]}
            add(n, "signal", await round_trips(servers[n][0], req, "signals", 7))
    out: dict[str, dict[str, Any]] = {}
    for n in names:
        g = got[n]
        out[n] = {
            "ingest_1": max(g["ingest_1"]),
            "ingest_100": max(g["ingest_100"]),
            "cpu_1": statistics.median(g["cpu_1"]),
            "cpu_100": statistics.median(g["cpu_100"]),
            "push_p50": _pct(g["push"], 0.5),
            "push_p99": _pct(g["push"], 0.99),
            "getLatest_p99": _pct(g["latest"], 0.99),
            "getSignal": statistics.median(g["signal"]),
            "rss": _rss_mb(servers[n][1]),
            "rounds": {k: [round(v, 1) for v in g[k]] for k in ("ingest_1", "ingest_100")},
        }
    for n in names:
        fan = await fanout(servers[n][0], args.fanout_rate, args.fanout_seconds, 50)
        out[n].update({f"fanout_{k}": v for k, v in fan.items()})
    return out


# -- the two servers -------------------------------------------------------------------------
async def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            _r, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.2)
    raise SystemExit(f"nothing listens on port {port} after {timeout} s")


def start_rtoc(port: int) -> subprocess.Popen:
    """RTOC 3.0 in open mode (set up first when needed)."""
    venv = subprocess.run(
        ["sh", str(PEER / "setup.sh")], check=True, capture_output=True, text=True
    ).stdout.strip()
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.Popen(
        [f"{venv}/bin/python", str(PEER / "start.py"), str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def start_hub(port: int, folder: str) -> subprocess.Popen:
    """`opencontrol hub`: embedded broker, SQLite, websocket in RTOC's open mode."""
    conf = Path(folder) / "hub.toml"
    conf.write_text(
        f'[hub]\ndata_dir = "{folder}"\nlog_level = "warning"\n'
        f"[mqtt]\nport = {_free_port()}\n"
        f'[websocket]\nhost = "127.0.0.1"\nport = {port}\nrequire_login = false\n'
        "max_connections_per_address = 64\n"  # the fan-out's 51 clients share 127.0.0.1
        # getSignal of the ingest's signal, 7 times a round: RTOC has no such allowance
        "max_points_per_second = 100000000\nmax_points_per_second_all = 100000000\n"
    )
    exe = Path(sys.executable).parent / "opencontrol"
    return subprocess.Popen([str(exe), "hub", "--config", str(conf)], stdout=subprocess.DEVNULL)


async def run_all(names: list[str], args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Start the servers side by side, measure, stop them."""
    procs: dict[str, subprocess.Popen] = {}
    servers: dict[str, tuple[str, int]] = {}
    try:
        for name in names:
            port = _free_port()
            folder = tempfile.mkdtemp(prefix=f"bench-ws-{name}-")
            procs[name] = start_rtoc(port) if name == "rtoc" else start_hub(port, folder)
            await _wait_port(port, procs[name])
            servers["RTOC 3.0" if name == "rtoc" else "hub"] = (
                f"ws://127.0.0.1:{port}",
                procs[name].pid,
            )
        await asyncio.sleep(1.0)
        return await measure(servers, args)
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


ROWS = [
    ("ingest_1", "`y` ingest, one value a frame, 50 in flight (samples/s)", True),
    ("ingest_100", "`y` ingest, 100 signals a frame (samples/s)", True),
    ("cpu_1", "server CPU per sample, one value a frame (µs, median)", False),
    ("cpu_100", "server CPU per sample, 100 signals a frame (µs, median)", False),
    ("push_p50", "idle push latency p50 (ms)", False),
    ("push_p99", "idle push latency p99 (ms)", False),
    ("getLatest_p99", "getLatest p99 (ms)", False),
    ("getSignal", "getSignal of Bench.s0, median (ms)", False),
    ("rss", "RSS after the above (MB)", False),
    ("fanout_producer_per_s", "fan-out: producer's achieved rate (samples/s)", True),
    ("fanout_answered", "fan-out: producer's frames answered (share)", True),
    ("fanout_received", "fan-out: samples the 49 readers got (share)", True),
    ("fanout_all_in_order", "fan-out: every reader got every sample in order", True),
    ("fanout_readers_cut_off", "fan-out: readers whose connection the server ended", False),
    ("fanout_latency_p50", "fan-out: sample latency p50 (ms)", False),
    ("fanout_latency_p99", "fan-out: sample latency p99 (ms)", False),
]


def table(results: dict[str, dict[str, Any]]) -> str:
    """Markdown table; the last column is how many times better the hub does (>1 = better)."""
    names = list(results)
    head = "| figure | " + " | ".join(names)
    lines = [head + (" | hub vs RTOC |" if len(names) == 2 else " |")]
    lines.append("|---" * (len(names) + 1 + (len(names) == 2)) + "|")
    for key, label, higher_better in ROWS:
        vals = [results[n].get(key, math.nan) for n in names]
        cells = [f"{float(v):,.4g}" for v in vals]
        row = f"| {label} | " + " | ".join(cells)
        if len(names) == 2:
            r, h = (float(v) for v in vals)
            ratio = (h / r if higher_better else r / h) if r and h else math.nan
            row += f" | {ratio:.2f}×"
        lines.append(row + " |")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> None:
    load = os.getloadavg()
    results = await run_all(["rtoc", "hub"] if args.only is None else [args.only], args)
    print(table(results))
    after = os.getloadavg()
    print(
        f"\nload average (1 min) before {load[0]:.2f}, after {after[0]:.2f}; "
        f"{os.cpu_count()} CPUs; {args.rounds} rounds of {args.samples:,} samples "
        f"(one value a frame) and {args.samples_100:,} (100 a frame) per ingest "
        "figure (rates: best round; latencies: all rounds' samples)"
    )
    for name, r in results.items():
        print(f"{name} ingest rounds: {r['rounds']}")
    if args.json:
        print(json.dumps(results, indent=2))


def main() -> None:
    """Parse options, run, print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=("rtoc", "hub"))
    p.add_argument("--samples", type=int, default=120_000, help="per ingest run, one value a frame")
    p.add_argument("--samples-100", type=int, default=400_000, help="per run, 100 a frame")
    p.add_argument("--rounds", type=int, default=3, help="rounds of the quick figures")
    p.add_argument("--fanout-rate", type=float, default=10_000)
    p.add_argument("--fanout-seconds", type=float, default=10.0)
    p.add_argument("--json", action="store_true", help="also print every figure as JSON")
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
