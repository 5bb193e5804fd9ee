"""Sandbox escape attempts are refused with a clear error and the engine keeps working."""

from __future__ import annotations

import tracemalloc

import pytest

from hub.engine.actions import ActionDef
from hub.engine.events import EventDef
from hub.engine.expr import Frame, compile_expression, evaluate
from hub.engine.limits import EvalError, Limits, SandboxError
from hub.engine.script import compile_script
from tests.hub.engine.helpers import Agents, RecordingHost, make_store

# (source, words the refusal must contain)
ESCAPES = [
    ("__import__('os')", "'__import__'"),
    ("().__class__.__bases__", "__bases__"),
    ("().__class__", "__class__"),
    ("open('/etc/passwd')", "unknown function 'open'"),
    ("exec('import os')", "unknown function 'exec'"),
    ("eval('1')", "unknown function 'eval'"),
    ("compile('1', 'x', 'eval')", "unknown function 'compile'"),
    ("getattr(1, 'real')", "unknown function 'getattr'"),
    ("vars()", "unknown function 'vars'"),
    ("globals()", "unknown function 'globals'"),
    ("type(1)", "unknown function 'type'"),
    ("(lambda: 1)()", "calling the result of an expression"),
    ("max([1], key=lambda v: v.__class__)", "__class__"),
    ("max([1], __key=1)", "__key"),
    ("max([1], key=lambda v: v)", "Lambda"),
    ("[f for f in ()].__class__", "__class__"),
    ("np.load('x')", "np.load is not available"),
    ("np.ctypeslib", "np.ctypeslib is not available"),
    ("math.__dict__", "__dict__"),
    ("mean.__globals__", "__globals__"),
    ("Heat.T.x.ctypes", "unknown name Heat.T.x.ctypes"),
    ("(1).real", "attribute access on a value"),
    ("'a'.join(['b'])", "calling a method of a value"),
    ("9**9**9", "integer result too large"),
    ("2 << 10**9", "integer result too large"),
    ("'a'*10**10", "repeated sequence too large"),
    ("[0]*10**9", "repeated sequence too large"),
    ("list(range(10**10))", "range too large"),
    ("np.zeros(10**10)", "zeros too large"),
    ("np.arange(0, 1e12)", "arange too large"),
    ("np.ones((100000, 100000))", "ones too large"),
    ("'%*d' % (10**9, 1)", "'%' formatting"),
    ("f'{1:>99999999}'", "format spec"),
    ("b'bytes'", "constant of type bytes"),
    ("telegram.send_message_to_all('x')", "not available"),
    ("round(5, -10**9)", "round(): ndigits"),
    ("np.diff(Heat.T.y, 10**9)", "diff(): n"),
    ("np.polyfit(Heat.T.x, Heat.T.y, 10**6)", "polyfit(): deg"),
    ("np.maximum(np.zeros((2000, 1)), np.zeros(1000000))", "result of np.maximum()"),
    ("np.zeros((2000, 1)) + np.zeros(1000000)", "array too large"),
]

SCRIPT_ESCAPES = [
    ("import os", "Import"),
    ("from os import system", "ImportFrom"),
    ("def f():\n    pass", "FunctionDef"),
    ("class A:\n    pass", "ClassDef"),
    ("with open('x') as f:\n    pass", "With"),
    ("try:\n    pass\nexcept Exception:\n    pass", "Try"),
    ("f = print\nf('x')", "unknown name 'print'"),
    ("f = abs\nf(-1)", "calling the variable 'f'"),
    ("x = 1\nx.__class__ = 2", "__class__"),
    ("global y\ny = 1", "plain 'global' statement"),
    ("del x", "Delete"),
]

RUNTIME_REFUSALS = [
    ("while True:\n    pass", "operation budget exhausted"),
    ("n = 0\nwhile True:\n    n += 1", "operation budget exhausted"),
    ("for i in range(10**6):\n    for j in range(10**6):\n        pass", "operation budget"),
    ("x = [0]*1000000\nwhile True:\n    x = x + [0]", "memory budget exhausted"),
    ("x = 'a'\nwhile True:\n    x = x + x", "too large"),
    ("while True:\n    y = np.zeros(1000000)", "memory budget exhausted"),
    ("x = 10**4000\nx = x * x", "integer result too large"),
]


def _frame():
    store = make_store({"Heat.T": {"x": [1.0, 2.0], "y": [60.0, 61.0]}})
    agents = Agents({"Heat.mode": 1})
    return Frame(store=store, param=agents.param, clock=0.0), store, agents


@pytest.mark.parametrize(("src", "words"), ESCAPES, ids=[e[0] for e in ESCAPES])
def test_expression_escape_is_refused(src, words):
    frame, store, _ = _frame()
    with pytest.raises((SandboxError, EvalError)) as info:
        evaluate(compile_expression(src), frame)
    assert words in str(info.value)
    # And the evaluator still works afterwards on the same live data.
    assert evaluate(compile_expression("Heat.T.latest > 60"), frame) is True
    assert len(store.get("Heat.T").buffer) == 2


@pytest.mark.parametrize(("src", "words"), SCRIPT_ESCAPES, ids=[e[0] for e in SCRIPT_ESCAPES])
def test_script_escape_is_refused_at_compile_time(src, words):
    with pytest.raises((SandboxError, EvalError)) as info:
        compile_script(src)
    assert words in str(info.value)


@pytest.mark.parametrize(("src", "words"), RUNTIME_REFUSALS, ids=[e[0] for e in RUNTIME_REFUSALS])
def test_runaway_script_is_stopped_by_its_budget(src, words):
    _, store, agents = _frame()
    host = RecordingHost(agents)
    # the budgets in operations and elements stop these (the clock is not what is tested:
    # a busy machine must not change which budget runs out first)
    limits = Limits(max_ops=200_000, max_seconds=1000.0)
    script = compile_script(src, limits=limits)
    res = script.run(store=store, param=agents.param, host=host, clock=0.0)
    assert not res.ok
    assert words in res.error  # stopped by its operation or memory budget, not by the clock
    assert res.error.startswith("refused")
    # A normal script runs fine right after.
    ok = compile_script("Heat.mode = 2").run(store=store, param=agents.param, host=host, clock=0.0)
    assert ok.ok and agents.commands == [["Heat", "set", "mode", 2]]


def test_time_budget_stops_slow_work_even_below_the_operation_budget():
    _, store, agents = _frame()
    ticks = iter(range(10**9))
    script = compile_script(
        "while True:\n    x = 1", limits=Limits(max_ops=10**9, max_seconds=100.0)
    )
    res = script.run(
        store=store,
        param=agents.param,
        host=RecordingHost(agents),
        clock=0.0,
        now=lambda: float(next(ticks)),  # each budget check sees 1 s pass
    )
    assert not res.ok and "time budget exhausted" in res.error


async def test_engine_refuses_escapes_and_keeps_running(rig):
    engine, hub, agents, _, _ = rig
    with pytest.raises((SandboxError, EvalError)):
        engine.set_action(ActionDef(name="evil", listen_ids=["hot"], script="__import__('os')"))
    with pytest.raises((SandboxError, EvalError)):
        engine.set_event(EventDef(name="evil", cond="open('/etc/passwd')", id="x"))
    engine.set_action(ActionDef(name="loop", listen_ids=["hot"], script="while True:\n    pass"))
    engine.set_action(ActionDef(name="ok", listen_ids=["hot"], script="Heat.mode = 2"))
    engine.set_event(EventDef(name="hot", cond="Heat.T.latest > 60", id="hot"))
    engine.store.append("Heat", "T", [1.0, 2.0], [59.0, 61.0])
    await engine.wait_idle()
    assert [e.event_id for e in hub.events] == ["hot"]
    assert engine.actions.actions["loop"].state.last.error.startswith("refused")
    assert agents.commands == [["Heat", "set", "mode", 2]]
    assert "evil" not in engine.actions.actions and "evil" not in engine.events.events


SHARED_ROWS = [
    "sum([[0]*1000000]*2000000, [])",
    "str([[0]*1000000]*2000000)",
    "f'{[[0]*1000000]*2000000}'",
    "np.mean([[0]*1000000]*2000000)",
    "np.zeros(3) + [[0]*1000000]*2000000",
    "len(sorted([[0]*1000000]*2000000))",
]


@pytest.mark.parametrize("src", SHARED_ROWS)
def test_values_with_shared_rows_cannot_explode_when_walked(src):
    frame, _, _ = _frame()
    tracemalloc.start()
    try:
        with pytest.raises(SandboxError, match="too large"):
            evaluate(compile_expression(src), frame)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A budget in bytes: the two shared rows (8 MB + 16 MB) and the walk's stack of row
    # references (16 MB) are made; the 2e12 elements a walk would touch never are.
    assert peak < 100_000_000, f"{peak:,} bytes"


def test_oversized_condition_is_refused():
    text = " + ".join(["Heat.T.latest"] * 600) + " > 1"
    with pytest.raises(SandboxError, match="condition too complex"):
        compile_expression(text)


def test_slow_condition_skips_its_batch_and_loses_nothing_else():
    from hub.engine.events import EventEngine
    from hub.signals import SignalStore

    store = SignalStore(record_length=200_000)
    store.append("Big", "s", list(range(200_000)), [0.0] * 200_000)
    engine = EventEngine(
        store=store,
        param=lambda d, n: 0,
        clock=lambda: 0.0,
        limits=Limits(max_condition_seconds=0.05),
    )
    slow = " + ".join(["np.sum(Big.s.y)"] * 40)
    engine.set(EventDef(name="slow", cond=f"len(T.s.y) > 0 and {slow} > 0", id="slow"))
    engine.set(EventDef(name="fast", cond="T.s.latest > 1", id="fast", trigger="true"))
    sig = store.append("T", "s", list(range(1, 201)), [5.0] * 200)
    fired = engine.process(sig, sig.buffer.arrays()[0], sig.buffer.arrays()[1])
    assert sum(1 for r in fired if r.event_id == "fast") == 200
    assert "condition too slow" in engine.events["slow"].state.error


def test_python_errors_inside_become_clear_errors_and_lose_nothing():
    from hub.engine.events import EventEngine
    from hub.signals import SignalStore

    frame, store, agents = _frame()
    with pytest.raises(EvalError, match="TypeError"):
        evaluate(compile_expression("-'a'"), frame)
    res = compile_script("x = 1\ny = -'a'").run(
        store=store, param=agents.param, host=RecordingHost(agents), clock=0.0
    )
    assert not res.ok and "line 2" in res.error and "TypeError" in res.error
    s2 = SignalStore(record_length=10)
    engine = EventEngine(store=s2, param=lambda d, n: 0, clock=lambda: 0.0)
    engine.set(EventDef(name="bad", cond="-'a' if T.s.latest > 0 else 1", id="bad"))
    engine.set(EventDef(name="good", cond="T.s.latest > 0", id="good"))
    sig = s2.append("T", "s", [1.0], [1.0])
    fired = engine.process(sig, *sig.buffer.arrays())
    assert [r.event_id for r in fired] == ["good"]
    assert "TypeError" in engine.events["bad"].state.error
