"""Commands against real drivers: only declared params/functions reachable, clear errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from edge_agent.drivers.generator import GeneratorDriver
from edge_agent.drivers.system import SystemDriver
from edge_agent.scheduler import DriverRunner, Scheduler
from edge_agent.spool import SpoolStats
from edge_agent.status import build_status
from edge_agent.wire import AgentStatus, CommandResult


@pytest.fixture
def setup() -> Iterator[tuple[Any, Scheduler, list[str]]]:
    from edge_agent.commands import CommandHandler

    sched = Scheduler(sink=lambda samples: None)
    sched.add(DriverRunner(driver=GeneratorDriver(device="Generator"), samplerate=10.0))
    sched.add(DriverRunner(driver=SystemDriver(device="System"), samplerate=1.0))
    changes: list[str] = []
    yield CommandHandler(scheduler=sched, on_change=changes.append), sched, changes
    sched.stop()


def run(handler: Any, **body: Any) -> dict[str, Any]:
    return handle(handler, json.dumps({"id": "c1", **body}).encode())


def handle(handler: Any, payload: bytes) -> dict[str, Any]:
    """The cmd/result body, as it goes on the wire (and decodes back to the same result)."""
    result = handler.handle(payload)
    assert CommandResult.decode(result.encode()) == result
    return result.to_json()


def test_set_get_call_samplerate(setup: tuple[Any, Scheduler, list[str]]) -> None:
    h, sched, changes = setup
    assert run(h, op="set", device="Generator", name="gen_freq", args=2) == {
        "id": "c1",
        "ok": True,
        "result": 2.0,
    }
    assert run(h, op="get", device="Generator", name="gen_freq")["result"] == 2.0
    assert run(h, op="call", device="Generator", name="setFrequency", args=[0.5, True]) == {
        "id": "c1",
        "ok": True,
        "result": 2.0,
    }
    assert run(h, op="samplerate", device="Generator", args=50)["result"] == 50.0
    assert sched.runners["Generator"].samplerate == 50.0
    assert changes == ["Generator"] * 3


def test_start_and_stop(setup: tuple[Any, Scheduler, list[str]]) -> None:
    h, sched, changes = setup
    assert run(h, op="start", device="Generator")["ok"] is True
    assert sched.runners["Generator"].running
    assert run(h, op="stop", device="Generator")["ok"] is True
    assert not sched.runners["Generator"].running
    assert changes == ["Generator", "Generator"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"op": "set", "device": "Nope", "name": "x", "args": 1}, "no device 'Nope'"),
        ({"op": "set", "device": "Generator", "name": "x", "args": 1}, "no parameter 'x'"),
        ({"op": "set", "device": "Generator", "name": "gen_freq", "args": "fast"}, "number"),
        ({"op": "set", "device": "Generator", "name": "waveform", "args": "Tri"}, "one of"),
        ({"op": "get", "device": "Generator", "name": "_t0"}, "no parameter '_t0'"),
        ({"op": "call", "device": "Generator", "name": "read"}, "no function 'read'"),
        ({"op": "call", "device": "Generator", "name": "open"}, "no function 'open'"),
        ({"op": "call", "device": "Generator", "name": "setFrequency"}, "missing argument"),
        ({"op": "call", "device": "Generator", "name": "setFrequency", "args": [1, 2, 3]}, "takes"),
        ({"op": "samplerate", "device": "Generator", "args": 1e6}, "at most 1000"),
        ({"op": "samplerate", "device": "Generator", "args": "x"}, "takes a number"),
        ({"op": "explode", "device": "Generator"}, "unknown op 'explode'"),
        ({"op": "get", "device": "Generator"}, "needs a name"),
        ({"op": "get", "device": 3, "name": "x"}, "device must be a string"),
    ],
)
def test_bad_commands_get_clear_errors_and_change_nothing(
    setup: tuple[Any, Scheduler, list[str]], body: dict[str, Any], error: str
) -> None:
    h, sched, changes = setup
    before = dict(sched.runners["Generator"].driver.params)
    result = run(h, **body)
    assert result["ok"] is False and result["id"] == "c1"
    assert error in result["error"]
    assert sched.runners["Generator"].driver.params == before
    assert sched.runners["Generator"].samplerate == 10.0
    assert changes == []
    # the handler still works afterwards
    assert run(h, op="get", device="Generator", name="gen_level")["ok"] is True


def test_payload_that_is_not_a_command(setup: tuple[Any, Scheduler, list[str]]) -> None:
    h, _, _ = setup
    assert handle(h, b"\xff{") == {"id": None, "ok": False, "error": handle(h, b"\xff{")["error"]}
    assert "not JSON" in handle(h, b"{nope")["error"]
    assert "JSON object" in handle(h, b"[1]")["error"]
    assert "id must be" in handle(h, b'{"id": [1], "op": "get"}')["error"]


def test_status_describes_specs_and_live_state(setup: tuple[Any, Scheduler, list[str]]) -> None:
    h, sched, _ = setup
    run(h, op="set", device="Generator", name="gen_level", args=3)
    stats = SpoolStats(
        batches=2, bytes=100, samples=7, dropped_batches=1, dropped_samples=5, next_seq=9
    )
    status = build_status(
        agent="pi-1",
        runners=sched.runners.values(),
        spool=stats,
        clock_synced=False,
        now=1.5,
    )
    assert AgentStatus.decode(status.encode()) == status  # what goes out decodes back
    body = status.to_json()
    json.dumps(body, allow_nan=False)  # must be valid JSON
    assert body["state"] == "online" and body["agent"] == "pi-1" and body["time"] == 1.5
    assert body["clock_synced"] is False
    assert body["spool"] == {
        "batches": 2,
        "bytes": 100,
        "samples": 7,
        "dropped_batches": 1,
        "dropped_samples": 5,
    }
    gen = body["devices"]["Generator"]
    assert gen["driver"] == "generator" and gen["samplerate"] == 10.0
    assert gen["max_samplerate"] == 1000.0 and gen["available"] is True
    assert {"name": "Square", "unit": ""} in gen["signals"]
    level = next(p for p in gen["params"] if p["name"] == "gen_level")
    assert level["value"] == 3.0 and level["default"] == 1.0 and level["type"] == "float"
    fn = next(f for f in gen["functions"] if f["name"] == "setFrequency")
    assert [a["name"] for a in fn["args"]] == ["freq", "inverse"]
    sysdev = body["devices"]["System"]
    assert {"name": "CPU", "unit": "%"} in sysdev["signals"]
