"""The benchmark still runs and counts what it claims (small figures, seconds)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[3] / "bench" / "engine.py"


def test_engine_benchmark_counts_every_sample_condition():
    spec = importlib.util.spec_from_file_location("bench_engine", BENCH)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    args = mod.parser().parse_args(
        ["--conditions", "8", "--signals", "8", "--samples", "8000", "--rate", "4000"]
    )
    r = mod.run(args)
    assert r["samples"] == 8000
    # Conditions 1 and 3 (of the 4 kinds, cycling) read two signals, the others one: each
    # sample of a signal costs exactly the conditions that read it.
    engine, _store, _ = mod.build(args)
    per_signal = {f"S.s{i}": 0 for i in range(8)}
    for ev in engine.events.events.values():
        for key in ev.expr.deps:
            per_signal[key] += 1
    assert r["sample_conditions"] == sum(per_signal.values()) * 1000
    assert r["events_fired"] > 0 and r["conditions_per_s"] > 0
