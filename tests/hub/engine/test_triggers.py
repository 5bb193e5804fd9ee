"""Trigger-mode golden cases (tests/cases/expr/triggers.json), batch and per-sample paths."""

from __future__ import annotations

import numpy as np
import pytest

from hub.engine.events import EventDef, EventEngine
from hub.signals import SignalStore
from tests.hub.engine.helpers import load_cases

DATA = load_cases("expr/triggers.json")


def _run(event: dict, batches: list, scalar: bool) -> tuple[list, EventEngine]:
    store = SignalStore(record_length=100)
    engine = EventEngine(store=store, param=lambda d, n: 0, clock=lambda: 0.0)
    spec = dict(event)
    if scalar:  # reads the signal's buffer, so it cannot be evaluated as one batch
        spec["cond"] = f"({spec['cond']}) and len(T.s.y) > 0"
    engine.set(EventDef(name="e", id="ev", text="t", **spec))
    assert (engine.events["e"].expr.vector("T.s") is None) == scalar
    fired: list = []
    store.on_data.append(lambda sig, x, y: fired.extend(engine.process(sig, x, y)))
    for xs, ys in batches:
        store.append("T", "s", xs, ys)
    return [[r.time, r.value] for r in fired], engine


@pytest.mark.parametrize("scalar", [False, True], ids=["batch", "per-sample"])
@pytest.mark.parametrize("case", DATA["cases"], ids=[c["name"] for c in DATA["cases"]])
def test_trigger_case(case, scalar):
    got, engine = _run(case["event"], case["batches"], scalar)
    assert got == case["expected"]
    n = sum(len(b[0]) for b in case["batches"])
    assert engine.evaluations == n  # every sample evaluated exactly once


def test_events_of_several_conditions_come_out_in_sample_order():
    store = SignalStore(record_length=100)
    engine = EventEngine(store=store, param=lambda d, n: 0, clock=lambda: 0.0)
    engine.set(EventDef(name="hi", cond="T.s.latest > 5", id="hi"))
    engine.set(EventDef(name="lo", cond="T.s.latest < 1 and len(T.s.x) > 0", id="lo"))
    sig = store.append("T", "s", [1.0, 2.0, 3.0, 4.0], [3.0, 9.0, 0.0, 9.0])
    out = engine.process(sig, np.array([1.0, 2.0, 3.0, 4.0]), np.array([3.0, 9.0, 0.0, 9.0]))
    assert [(r.time, r.event_id) for r in out] == [(2.0, "hi"), (3.0, "lo"), (4.0, "hi")]


def test_per_sample_path_sees_the_buffer_as_it_was_at_that_sample():
    store = SignalStore(record_length=100)
    engine = EventEngine(store=store, param=lambda d, n: 0, clock=lambda: 0.0)
    engine.set(EventDef(name="n", cond="len(T.s.y) == 3", id="n", trigger="true"))
    fired: list = []
    store.on_data.append(lambda sig, x, y: fired.extend(engine.process(sig, x, y)))
    store.append("T", "s", [1, 2, 3, 4, 5], [0, 0, 0, 0, 0])
    assert [r.time for r in fired] == [3.0]


def test_dependency_index_only_costs_conditions_that_read_the_signal():
    store = SignalStore(record_length=100)
    engine = EventEngine(store=store, param=lambda d, n: 0, clock=lambda: 0.0)
    for i in range(50):
        engine.set(EventDef(name=f"e{i}", cond=f"D.s{i}.latest > 1", id=str(i)))
    engine.set(EventDef(name="two", cond="D.s3.latest > D.s4.latest", id="two"))
    store.on_data.append(lambda sig, x, y: engine.process(sig, x, y))
    store.append("D", "s4", [1.0], [0.0])
    store.append("D", "s3", [1.0, 2.0, 3.0], [0.0, 5.0, 0.0])
    store.append("Other", "x", [1.0] * 10, [9.0] * 10)
    assert engine.evaluations == 1 * 2 + 3 * 2  # s4: e4 + two; s3: e3 + two; Other: none
    assert engine.events["e3"].state.fired == 1
    assert engine.events["two"].state.fired == 1


def test_a_failing_condition_loses_nothing_else():
    store = SignalStore(record_length=100)
    engine = EventEngine(store=store, param=lambda d, n: 0, clock=lambda: 0.0)
    engine.set(EventDef(name="bad", cond="T.s.latest > Missing.sig.latest", id="bad"))
    engine.set(EventDef(name="good", cond="T.s.latest > 1", id="good"))
    fired: list = []
    store.on_data.append(lambda sig, x, y: fired.extend(engine.process(sig, x, y)))
    store.append("T", "s", [1.0, 2.0], [0.0, 5.0])
    assert [r.event_id for r in fired] == ["good"]
    assert "unknown signal Missing.sig" in engine.events["bad"].state.error
    assert engine.events["bad"].state.errors == 1
    # Once the missing signal exists, the bad event recovers and its error clears.
    store.append("Missing", "sig", [1.0], [1.0])
    store.append("T", "s", [3.0], [5.0])
    assert [r.event_id for r in fired] == ["good", "bad"]
    assert engine.events["bad"].state.error is None


def test_reset_forgets_edge_states_and_inactive_events_are_skipped():
    store = SignalStore(record_length=100)
    engine = EventEngine(store=store, param=lambda d, n: 0, clock=lambda: 0.0)
    engine.set(EventDef(name="e", cond="T.s.latest > 1", id="e"))
    engine.set(EventDef(name="off", cond="T.s.latest > 1", id="off", active=False))
    fired: list = []
    store.on_data.append(lambda sig, x, y: fired.extend(engine.process(sig, x, y)))
    store.append("T", "s", [1.0], [5.0])
    store.append("T", "s", [2.0], [5.0])
    engine.reset()
    store.append("T", "s", [3.0], [5.0])  # first evaluation after reset counts as rising
    assert [(r.event_id, r.time) for r in fired] == [("e", 1.0), ("e", 3.0)]
    assert engine.events["off"].state.evaluations == 0


def test_bad_definitions_are_refused_with_the_field_named():
    engine = EventEngine(store=SignalStore(record_length=10), param=lambda d, n: 0, clock=float)
    for kwargs, msg in [
        ({"trigger": "up"}, "'trigger'"),
        ({"priority": 5}, "'priority'"),
        ({"hysteresis": -1}, "'hysteresis'"),
        ({"hold": float("nan")}, "'hold'"),
        ({"cond": ""}, "'cond'"),
    ]:
        spec = {"name": "x", "cond": "A.b.latest > 1", **kwargs}
        with pytest.raises(ValueError, match=msg):
            engine.set(EventDef(**spec))
    assert engine.events == {}
