"""Global actions: scripts run when an event with one of their ids is raised."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.engine.limits import Limits
from hub.engine.script import Script, ScriptResult, compile_script


class ActionDefError(ValueError):
    """An action definition is invalid; the message names the field."""


@dataclass
class ActionDef:
    """A global action as RTOC defines it: the event ids it listens to and its script."""

    name: str
    listen_ids: list[str]
    script: str
    active: bool = True
    parameters: str = ""  # RTOC keeps it; unused there and here
    extras: dict[str, Any] = field(default_factory=dict)  # other keys of RTOC's file, kept

    def validate(self) -> None:
        """Raise ActionDefError naming the first invalid field."""
        if not isinstance(self.name, str) or not self.name:
            raise ActionDefError("action: 'name' must be a non-empty string")
        if not isinstance(self.listen_ids, list) or not all(
            isinstance(i, str) for i in self.listen_ids
        ):
            raise ActionDefError(f"action {self.name}: 'listenID' must be a list of strings")
        if not isinstance(self.script, str):
            raise ActionDefError(f"action {self.name}: 'script' must be a string")
        if not isinstance(self.active, bool):
            raise ActionDefError(f"action {self.name}: 'active' must be true or false")
        if not isinstance(self.parameters, str):
            raise ActionDefError(f"action {self.name}: 'parameters' must be a string")


def listen_ids(value: object) -> list[str]:
    """RTOC accepts one id as a string or several as a list."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    raise ActionDefError("'listenID' must be a string or a list of strings")


@dataclass
class ActionState:
    """Counters and the last outcome of an action's runs."""

    runs: int = 0
    failures: int = 0
    last: ScriptResult | None = None


@dataclass(eq=False)
class CompiledAction:
    """An action with its compiled script (globals and trig states live in the Script)."""

    defn: ActionDef
    script: Script
    state: ActionState = field(default_factory=ActionState)


class ActionTable:
    """All global actions, looked up by the event id they listen to."""

    def __init__(self, *, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.actions: dict[str, CompiledAction] = {}

    def set(self, defn: ActionDef) -> CompiledAction:
        """Add or replace an action; raises ActionDefError/EvalError/SandboxError if invalid."""
        defn.validate()
        old = self.actions.get(defn.name)
        if old is not None and old.defn.script == defn.script:
            script = old.script  # keep globals and trig edges when only ids/active change
        else:
            script = compile_script(defn.script, limits=self.limits)
        act = CompiledAction(defn=defn, script=script)
        if old is not None:
            act.state = old.state
        self.actions[defn.name] = act
        return act

    def remove(self, name: str) -> bool:
        """Delete an action; False when there was none."""
        return self.actions.pop(name, None) is not None

    def listening(self, event_id: str) -> list[CompiledAction]:
        """Active actions whose listenID contains the event id, in definition order."""
        return [a for a in self.actions.values() if a.defn.active and event_id in a.defn.listen_ids]

    def reset(self) -> None:
        """Forget every action script's globals and trig states."""
        for a in self.actions.values():
            a.script.reset()
