"""Benchmark of the event engine: conditions evaluated per second, cost, and lag.

    .venv/bin/python bench/engine.py                      # 100 events, 100 signals, 1 M samples
    .venv/bin/python bench/engine.py --signals 1000 --rate 100000 --seconds 10

Samples arrive as agent batches (one batch per signal per `--batch-age` seconds of data)
through the live SignalStore, exactly as ingest delivers them; the engine evaluates every
condition that reads the signal on every sample. The lag is simulated in real time:
batches arrive at their data time, each takes its measured processing time on one core.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.engine.engine import Engine
from hub.engine.events import EventDef
from hub.signals import SignalStore

KINDS = (
    "S.s{a}.latest > 0.9",  # plain threshold
    "S.s{a}.latest > 0.8 and S.s{b}.latest < 0.5",  # two signals
    "abs(S.s{a}.latest - 0.5) > 0.45",  # element-wise function
    "S.s{a}.latest > S.s{b}.latest + 0.5",  # signal vs signal
)
PER_SAMPLE = "S.s{a}.latest > np.max(S.s{a}.y[-20:-1])"  # reads the buffer: per sample


def build(args: argparse.Namespace) -> tuple[Engine, SignalStore, list[int]]:
    """An engine with `conditions` events over `signals` signals; returns counters."""
    store = SignalStore(record_length=args.record_length)
    fired = [0]

    def sink(rec: object) -> None:
        fired[0] += 1

    async def no_send(*a: object) -> dict[str, object]:
        return {"ok": True}

    engine = Engine(emit_event=sink, send_command=no_send, param=lambda d, n: 0.0)
    engine.attach(store)
    rng = np.random.default_rng(1)
    n_per_sample = round(args.conditions * args.per_sample)
    for i in range(args.conditions):
        a = i % args.signals
        b = int(rng.integers(args.signals))
        text = (PER_SAMPLE if i < n_per_sample else KINDS[i % len(KINDS)]).format(a=a, b=b)
        engine.set_event(
            EventDef(
                name=f"e{i}",
                cond=text,
                id=f"id{i}",
                trigger=("rising", "falling", "both", "true")[i % 4] if i % 7 else "rising",
                hysteresis=0.05 if i % 5 == 0 else 0.0,
                hold=0.05 if i % 6 == 0 else 0.0,
            )
        )
    for s in range(args.signals):  # every signal exists before the clock starts
        store.append("S", f"s{s}", [0.0], [0.5])
    return engine, store, fired


def run(args: argparse.Namespace) -> dict[str, float]:
    """Feed the samples with and without the engine; return the figures."""
    base = _feed(args, with_engine=False)
    r = _feed(args, with_engine=True)
    engine_s = max(r["cpu_s"] - base["cpu_s"], 1e-9)
    r["store_cpu_s"] = base["cpu_s"]
    r["engine_cpu_s"] = engine_s
    r["conditions_per_s"] = r["sample_conditions"] / engine_s
    r["ns_per_sample_condition"] = engine_s / max(r["sample_conditions"], 1) * 1e9
    return r


def _feed(args: argparse.Namespace, *, with_engine: bool) -> dict[str, float]:
    engine, store, fired = build(args)
    if not with_engine:
        engine.detach()
    rng = np.random.default_rng(2)
    per_batch = max(1, round(args.rate / args.signals * args.batch_age))
    rounds = max(1, round(args.samples / (per_batch * args.signals)))
    dt = args.batch_age / per_batch
    base_evals = engine.events.evaluations
    busy = 0.0
    finish = 0.0
    lags: list[float] = []
    t_data = 1.0
    for _ in range(rounds):
        xs = t_data + dt * np.arange(per_batch)
        ys = rng.random((args.signals, per_batch))
        t0 = time.perf_counter()
        for s in range(args.signals):
            store.append("S", f"s{s}", xs, ys[s])
        spent = time.perf_counter() - t0
        busy += spent
        arrival = (t_data - 1.0) + args.batch_age  # a batch is closed when its age is reached
        finish = max(arrival, finish) + spent
        lags.append(finish - arrival)
        t_data += args.batch_age
    samples = rounds * per_batch * args.signals
    evals = engine.events.evaluations - base_evals
    data_seconds = rounds * args.batch_age
    return {
        "samples": samples,
        "sample_conditions": evals,
        "events_fired": fired[0],
        "cpu_s": busy,
        "data_s": data_seconds,
        "samples_per_s": samples / busy,
        "load": busy / data_seconds,
        "lag_max_s": max(lags),
        "lag_mean_s": float(np.mean(lags)),
    }


def parser() -> argparse.ArgumentParser:
    """Command line options."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--conditions", type=int, default=100)
    p.add_argument("--signals", type=int, default=100)
    p.add_argument("--samples", type=int, default=1_000_000, help="samples in all")
    p.add_argument("--rate", type=float, default=100_000, help="samples/s over all signals")
    p.add_argument("--batch-age", type=float, default=0.2, help="seconds of data per batch")
    p.add_argument("--per-sample", type=float, default=0.0, help="fraction of conditions "
                   "that read the buffer and are evaluated sample by sample")  # fmt: skip
    p.add_argument("--record-length", type=int, default=2000)
    return p


def report(args: argparse.Namespace, r: dict[str, float]) -> None:
    """Print the figures."""
    print(
        f"{args.conditions} conditions over {args.signals} signals, "
        f"{r['samples']:,} samples at {args.rate:,.0f}/s in {args.batch_age}s batches "
        f"({args.per_sample:.0%} per-sample conditions)"
    )
    print(
        f"  sample-conditions evaluated  {r['sample_conditions']:,} ({r['events_fired']:,} events)"
    )
    print(f"  store+engine CPU time        {r['cpu_s']:.3f} s for {r['data_s']:.1f} s of data "
          f"(load {r['load']:.1%} of one core)")  # fmt: skip
    print(f"    of which the engine        {r['engine_cpu_s']:.3f} s "
          f"(live store alone {r['store_cpu_s']:.3f} s)")  # fmt: skip
    print(f"  conditions evaluated / s     {r['conditions_per_s']:,.0f} (engine time)")
    print(f"  samples ingested / s         {r['samples_per_s']:,.0f}")
    print(f"  cost per sample-condition    {r['ns_per_sample_condition']:,.0f} ns (engine time)")
    print(f"  lag (batch closed → done)    max {r['lag_max_s'] * 1e3:.1f} ms, "
          f"mean {r['lag_mean_s'] * 1e3:.1f} ms")  # fmt: skip
    print(f"  keeps up: {'yes' if r['load'] < 1.0 else 'NO'}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    args = parser().parse_args(argv)
    report(args, run(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
