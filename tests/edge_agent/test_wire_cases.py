"""Golden cases of the wire contract (tests/cases/wire/*.json): every message (the data
batch and the control messages) decodes to its type, encodes back to the documented JSON,
and bad input is refused with the reason. Parameter coercion: one rule on the agent
(ParamSpec) and the hub (ParamDecl)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from edge_agent.drivers.base import ParamSpec
from edge_agent.wire import (
    Ack,
    AgentStatus,
    Command,
    CommandRefused,
    CommandResult,
    Event,
    HubState,
    ParamDecl,
    WireError,
    decode_batch,
)

CASES = sorted((Path(__file__).parents[1] / "cases" / "wire").glob("*.json"))
PYTHON_TYPES = {"float": float, "int": int, "bool": bool, "str": str, "list": list}


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _payload(case: dict[str, Any]) -> bytes:
    if "payload_text" in case:
        return case["payload_text"].encode()
    return json.dumps(case["payload"], separators=(",", ":")).encode()


def _decode(case: dict[str, Any], payload: bytes) -> Any:
    kind = case["kind"]
    if kind == "status":
        return AgentStatus.decode(payload, expected_agent=case["topic_agent"])
    if kind == "batch":
        return decode_batch(payload, expected_agent=case["topic_agent"])
    decoders = {
        "command": Command.decode,
        "result": CommandResult.decode,
        "ack": Ack.decode,
        "hub_state": HubState.decode,
        "event": Event.decode,
    }
    return decoders[kind](payload)


def test_every_message_kind_has_golden_cases() -> None:
    kinds = [_load(p)["kind"] for p in CASES]
    for kind in ("batch", "status", "command", "result", "ack", "hub_state", "event", "coerce"):
        assert kinds.count(kind) >= 4, kind
    # each kind has cases of both outcomes
    for kind in set(kinds):
        outcomes = {"error" in _load(p) for p in CASES if _load(p)["kind"] == kind}
        assert outcomes == {True, False}, kind


MESSAGES = [p for p in CASES if _load(p)["kind"] != "coerce"]
COERCIONS = [p for p in CASES if _load(p)["kind"] == "coerce"]


@pytest.mark.parametrize("path", MESSAGES, ids=[p.stem for p in MESSAGES])
def test_message_case(path: Path) -> None:
    case = _load(path)
    payload = _payload(case)
    if "error" in case:
        with pytest.raises(WireError) as refused:
            _decode(case, payload)
        assert re.search(case["error"], str(refused.value)), str(refused.value)
        if case["kind"] == "command":
            assert isinstance(refused.value, CommandRefused)
            assert refused.value.cmd_id == case.get("error_id")
        return
    message = _decode(case, payload)
    encoded = message.encode()
    if "encoded_text" in case:
        assert encoded == case["encoded_text"].encode()
    else:
        expected = case["payload"] if case["encoded"] == "same" else case["encoded"]
        assert json.loads(encoded) == expected
    again = _decode(case, encoded)  # what is sent decodes to the same message
    if hasattr(message, "refused"):  # (what was refused is not sent on)
        assert not again.refused
        again = replace(again, refused=message.refused)
    assert again == message
    if "store_down" in case:
        assert message.store_down is case["store_down"]
    if "refused" in case:
        assert len(message.refused) == len(case["refused"]), message.refused
        for pattern, reason in zip(case["refused"], message.refused, strict=True):
            assert re.search(pattern, reason), reason


@pytest.mark.parametrize("path", COERCIONS, ids=[p.stem for p in COERCIONS])
def test_parameter_coercion_case_on_both_sides(path: Path) -> None:
    case = _load(path)
    raw = {"value": None, **case["param"]}
    hub_side = ParamDecl.from_json(raw, "param")
    agent_side = ParamSpec(
        name=raw["name"],
        type=PYTHON_TYPES[raw["type"]],
        default=None,
        choices=tuple(raw["choices"]) if "choices" in raw else None,
        min=raw.get("min"),
        max=raw.get("max"),
    )
    for coerce in (hub_side.coerce, agent_side.coerce):
        if "error" in case:
            with pytest.raises(ValueError, match=case["error"]):
                coerce(case["value"])
        else:
            got = coerce(case["value"])
            assert got == case["expected"] and type(got) is type(case["expected"])
