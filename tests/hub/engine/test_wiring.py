"""The hub seam: parameters read from the agents' status, as the wiring gives them."""

from __future__ import annotations

import pytest

from edge_agent.wire import AgentStatus
from hub.agents import AgentDirectory
from hub.engine.expr import Frame, compile_expression, evaluate
from hub.engine.limits import EvalError
from hub.engine.wiring import agent_param_reader
from hub.signals import SignalStore

STATUS = {
    "state": "online",
    "devices": {
        "Heat": {
            "driver": "heliotherm",
            "signals": [{"name": "T", "unit": "°C"}],
            "params": [{"name": "mode", "type": "int", "value": 2, "writable": True}],
        }
    },
}


def test_conditions_read_parameters_from_agent_status():
    agents = AgentDirectory()
    agents.update_status("pi-1", AgentStatus.from_json(STATUS, expected_agent="pi-1"))
    param = agent_param_reader(agents)
    store = SignalStore(record_length=10)
    store.append("Heat", "T", [1.0], [61.0])
    frame = Frame(store=store, param=param, clock=0.0)
    assert evaluate(compile_expression("Heat.T.latest > 60 and Heat.mode == 2"), frame) is True
    for text, words in [("Heat.nope", "Heat.nope"), ("Other.mode", "Other.mode")]:
        with pytest.raises(EvalError, match=words):
            evaluate(compile_expression(text), frame)
    # A new status (mode changed by a command) is seen at once.
    changed = {"Heat": {**STATUS["devices"]["Heat"], "params": [
        {"name": "mode", "type": "int", "value": 3}
    ]}}  # fmt: skip
    agents.update_status(
        "pi-1", AgentStatus.from_json({**STATUS, "devices": changed}, expected_agent="pi-1")
    )
    assert evaluate(compile_expression("Heat.mode"), frame) == 3
