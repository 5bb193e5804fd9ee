"""Small real collaborators for engine tests: an agent stand-in, recording sinks, case loading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hub.db.base import EventRecord
from hub.engine.limits import EvalError
from hub.signals import SignalStore

CASES = Path(__file__).resolve().parents[2] / "cases"


def load_cases(rel: str) -> dict[str, Any]:
    """Read a golden case file under tests/cases."""
    return json.loads((CASES / rel).read_text(encoding="utf-8"))


def make_store(
    signals: dict[str, dict[str, list[float]]], record_length: int = 1000
) -> SignalStore:
    """A live signal store filled with the given signals."""
    store = SignalStore(record_length=record_length)
    for key, xy in signals.items():
        dev, name = key.split(".", 1)
        store.append(dev, name, xy["x"], xy["y"])
    return store


class Agents:
    """Stands in for the agents: holds device parameters, applies set/call, records commands.

    It answers like the hub's send_command does ({ok, result|error}); unknown devices and
    parameters fail the way an agent would say it.
    """

    def __init__(self, params: dict[str, Any]) -> None:
        self.params: dict[tuple[str, str], Any] = {
            tuple(k.split(".", 1)): v  # type: ignore[misc]
            for k, v in params.items()
        }
        self.devices = {d for d, _ in self.params}
        self.commands: list[list[Any]] = []

    def param(self, device: str, name: str) -> Any:
        """The parameter reader the engine is given."""
        return self.params[(device, name)]

    def answer(self, device: str, op: str, name: str | None, args: Any) -> dict[str, Any]:
        """Apply one command and answer like an agent's cmd/result."""
        if device not in self.devices:
            return {"ok": False, "error": "unknown device"}
        self.commands.append([device, op, name, args])
        if op == "set":
            self.params[(device, str(name))] = args
            return {"ok": True, "result": args}
        return {"ok": True, "result": None}

    async def send_command(
        self, device: str, op: str, name: str | None, args: Any
    ) -> dict[str, Any]:
        """The async command sender the engine is given."""
        return self.answer(device, op, name, args)


class RecordingHost:
    """A ScriptHost for running scripts directly (no event loop): commands go to Agents."""

    def __init__(self, agents: Agents) -> None:
        self.agents = agents
        self.events: list[EventRecord] = []
        self.data: list[list[Any]] = []
        self.telegrams: list[dict[str, Any]] = []

    def command(self, device: str, op: str, name: str, args: Any) -> Any:
        res = self.agents.answer(device, op, name, args)
        if not res["ok"]:
            raise EvalError(f"{device}.{name}: {res['error']}")
        return res["result"]

    def emit_event(self, record: EventRecord) -> None:
        self.events.append(record)

    def emit_data(self, device: str, name: str, x: list[float], y: list[float], unit: str) -> None:
        self.data.append([device, name, list(x), list(y), unit])

    def telegram(self, message: dict[str, Any]) -> int:
        self.telegrams.append(message)
        return 1
