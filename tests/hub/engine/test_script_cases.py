"""Golden script-language cases (tests/cases/script/*.json) run in the sandbox."""

from __future__ import annotations

import pytest

from hub.engine.limits import EvalError, SandboxError
from hub.engine.script import compile_script
from tests.hub.engine.helpers import CASES, Agents, RecordingHost, load_cases, make_store

DATA = load_cases("script/basics.json")
FILES = sorted((CASES / "script").glob("*.json"))
ALL = [
    (load_cases(f"script/{f.name}"), c)
    for f in FILES
    for c in load_cases(f"script/{f.name}")["cases"]
]


@pytest.mark.parametrize(("data", "case"), ALL, ids=[c["name"] for _, c in ALL])
def test_script_case(data, case):
    store = make_store(data["signals"])
    agents = Agents(data["params"])
    host = RecordingHost(agents)
    if "compile_error" in case:
        with pytest.raises((EvalError, SandboxError)) as info:
            compile_script(case["script"])
        assert case["compile_error"] in str(info.value)
        return
    script = compile_script(case["script"])
    results = [
        script.run(store=store, param=agents.param, host=host, clock=data["clock"])
        for _ in range(case["runs"])
    ]
    if "error" in case:
        assert not results[-1].ok
        assert case["error"] in results[-1].error
    else:
        assert all(r.ok for r in results), [r.error for r in results]
    if "output" in case:
        assert [r.output for r in results] == case["output"]
    assert agents.commands == case.get("commands", [])
    events = [
        [e.time, e.device, e.signal, e.text, e.priority, e.event_id, e.value] for e in host.events
    ]
    assert events == case.get("events", [])
    assert host.data == case.get("data", [])
    if "value" in case:
        assert list(results[-1].value) == case["value"]
    # The store is never written by a script directly: data goes through the host only.
    assert sorted(store.keys()) == sorted(data["signals"])


def test_reset_initialises_globals_and_trig_again():
    store = make_store(DATA["signals"])
    agents = Agents(DATA["params"])
    host = RecordingHost(agents)
    script = compile_script("global n = 0\nglobal.n += 1\ntrig Heat.T.latest > 60:\n    print(n)")
    run = lambda: script.run(store=store, param=agents.param, host=host, clock=0.0)  # noqa: E731
    assert run().output == "1\n"
    assert run().output == ""
    script.reset()
    assert run().output == "1\n"
