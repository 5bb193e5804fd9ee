"""Agent footprint: memory over time and spool (SD card) writes, measured on this machine.

    .venv/bin/python bench/agent_footprint.py                    # 1 hour, 10 devices
    .venv/bin/python bench/agent_footprint.py --duration 600     # 10 min, extrapolated
    .venv/bin/python bench/agent_footprint.py --duration 300 --batch-max-age 5
    .venv/bin/python bench/agent_footprint.py --installed-size   # size of the agent's venv

A real agent process (`python -m edge_agent`) with N generator devices (every waveform,
6 signals each) sends through a real Mosquitto to a real hub (SQLite store) that acks
each batch, as on a Pi. Every `--interval` seconds it reads the agent's resident memory
(VmRSS) and its storage writes (/proc/<pid>/io: write_bytes, the bytes the process sent
towards the disk; syscw, write calls) and the spool's batch counter. It prints the table,
then: RSS at the end and its peak, the growth over the second half of the run (per hour,
and extrapolated to one hour when the run was shorter), batches per minute (stored by the
hub), spool commits per minute (one per batch stored, one per ack deleting it; with
`--spool-memory-age` only batches not acked in time, and one per 1000 batches reserving
sequence numbers, are committed) and bytes written per minute.

The spool lives in `--dir` (default: a temp dir under /var/tmp, a real disk: on tmpfs
write_bytes stays 0).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rigs import procs  # noqa: E402
from rigs.mosquitto import Mosquitto  # noqa: E402
from simulators.net import wait_for  # noqa: E402


def agent_toml(
    *, port: int, prefix: str, spool: Path, devices: int, rate: float, extra: dict[str, str]
) -> str:
    lines = [
        "[agent]",
        'id = "bench"',
        f'spool_path = "{spool}"',
        *(f"{k} = {v}" for k, v in extra.items()),
        "",
        "[mqtt]",
        'host = "127.0.0.1"',
        f"port = {port}",
        f'prefix = "{prefix}"',
        "",
    ]
    for i in range(devices):
        lines += [
            f"[devices.Gen{i}]",
            'driver = "generator"',
            f"samplerate = {rate}",
            f"[devices.Gen{i}.params]",
            'waveform = "all"',
            f"gen_freq = {0.1 + i / 10}",
            "",
        ]
    return "\n".join(lines)


def proc_figures(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (kB) from /proc/<pid>/status, write_bytes and syscw from io."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("write_bytes", "syscw"):
            out[key] = int(value)
    return out


def stored_batches(store: Path) -> int:
    """Batches the hub has stored (its ledger), 0 before it made its schema."""
    return procs.batches_or_zero(lambda: procs.ledger_check(store, "bench"))


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, per hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    den = sum((t - mt) ** 2 for t, _ in points)
    return 0.0 if den == 0 else sum((t - mt) * (v - mv) for t, v in points) / den * 3600


def installed_size(work: Path) -> None:
    """A venv with the agent alone (no extras), as the edge_agent role makes it."""
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    wheel_dir = work / "wheel"
    subprocess.run(
        [str(venv / "bin/pip"), "wheel", "-q", "--no-deps", "-w", str(wheel_dir), str(ROOT)],
        check=True,
    )
    wheel = next(wheel_dir.glob("opencontrol-*.whl"))
    subprocess.run([str(venv / "bin/pip"), "install", "-q", str(wheel)], check=True)

    def du(path: Path) -> int:
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())

    site = next((venv / "lib").glob("python3*/site-packages"))
    total = du(venv)
    tooling = sum(du(p) for p in site.iterdir() if p.name.startswith(("pip", "setuptools")))
    hub_part = du(site / "hub")
    print(f"venv with the agent: {total / 1e6:.1f} MB (pip itself {tooling / 1e6:.1f} MB, ")
    print(f"  the hub's modules, unused by the agent, {hub_part / 1e6:.1f} MB)")
    for name in ("edge_agent", "paho"):
        print(f"  {name}: {du(site / name) / 1e6:.2f} MB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=3600, help="seconds (default 3600)")
    ap.add_argument("--interval", type=float, default=30, help="seconds between readings")
    ap.add_argument("--devices", type=int, default=10)
    ap.add_argument("--rate", type=float, default=2.0, help="samples/s per signal (6 signals)")
    ap.add_argument("--batch-max-age", type=float, default=None, help="[agent] batch_max_age")
    ap.add_argument("--spool-memory-age", type=float, default=None, help="[agent] key")
    ap.add_argument("--dir", type=Path, default=None, help="work dir (on the disk to measure)")
    ap.add_argument("--installed-size", action="store_true", help="only measure the venv")
    args = ap.parse_args()
    # SIGTERM ends the run like Ctrl-C: the finally blocks stop the agent, hub and broker.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    work = Path(tempfile.mkdtemp(prefix="oc-footprint-", dir=args.dir or "/var/tmp"))
    try:
        if args.installed_size:
            installed_size(work)
            return 0
        return run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> int:
    extra: dict[str, str] = {}
    if args.batch_max_age is not None:
        extra["batch_max_age"] = repr(args.batch_max_age)
    if args.spool_memory_age is not None:
        extra["spool_memory_age"] = repr(args.spool_memory_age)
    broker = Mosquitto(work / "mosquitto", persistence=False)
    broker.start()
    prefix = "bench"
    spool = work / "spool.sqlite"
    agent_cfg = work / "agent.toml"
    agent_cfg.write_text(
        agent_toml(
            port=broker.port,
            prefix=prefix,
            spool=spool,
            devices=args.devices,
            rate=args.rate,
            extra=extra,
        )
    )
    hub_cfg = procs.write_hub_config(work / "hub.toml", port=broker.port, prefix=prefix)
    hub = procs.start("hub", hub_cfg, work / "hub.log")
    agent = procs.start("edge_agent", agent_cfg, work / "agent.log")
    rows: list[tuple[float, dict[str, int], int]] = []
    try:
        store = work / "hub-data" / "store.sqlite"
        wait_for(lambda: stored_batches(store) > 0, 60, "the first batch in the hub")
        t0 = time.monotonic()
        seq0 = stored_batches(store)
        print(
            f"{args.devices} generator devices x 6 signals x {args.rate} Hz "
            f"= {args.devices * 6 * args.rate:.0f} samples/s; {extra or 'default batching'}"
        )
        print(f"{'t (s)':>7} {'RSS MB':>7} {'batches':>8} {'write MB':>9} {'write calls':>11}")
        while True:
            elapsed = time.monotonic() - t0
            if agent.poll() is not None:
                print((work / "agent.log").read_text()[-3000:])
                raise SystemExit(f"the agent exited with {agent.returncode}")
            fig = proc_figures(agent.pid)
            batches = stored_batches(store) - seq0
            rows.append((elapsed, fig, batches))
            print(
                f"{elapsed:7.0f} {fig['VmRSS'] / 1024:7.1f} {batches:8d} "
                f"{fig['write_bytes'] / 1e6:9.2f} {fig['syscw']:11d}",
                flush=True,
            )
            if elapsed >= args.duration:
                break
            time.sleep(min(args.interval, max(0.0, args.duration - elapsed)))
    finally:
        procs.stop(agent)
        procs.stop(hub)
        broker.stop()

    (t_end, last, batches), (_, first, _) = rows[-1], rows[0]
    batches = max(batches, 1)
    minutes = t_end / 60
    half = [(t, f["VmRSS"] / 1024) for t, f, _ in rows if t >= t_end / 2]
    growth = slope_per_hour(half)
    rss_end = last["VmRSS"] / 1024
    print(f"\nRSS after {t_end:.0f} s: {rss_end:.1f} MB (peak {last['VmHWM'] / 1024:.1f} MB)")
    print(f"RSS growth over the second half: {growth:+.2f} MB/h", end="")
    if t_end < 3600:
        print(f"; extrapolated RSS at 1 h: {rss_end + growth * (3600 - t_end) / 3600:.1f} MB")
    else:
        print()
    written = last["write_bytes"] - first["write_bytes"]
    commits = "" if extra.get("spool_memory_age") else f", {2 * batches / minutes:.0f} commits"
    print(
        f"spool: {batches / minutes:.1f} batches/min{commits}, "
        f"{written / minutes / 1e3:.1f} kB written/min "
        f"({written / minutes * 60 * 24 / 1e9:.2f} GB/day), "
        f"{(last['syscw'] - first['syscw']) / minutes:.0f} write calls/min"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
