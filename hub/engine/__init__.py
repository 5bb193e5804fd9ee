"""Automation: global events, actions, RTOC's script language and scripts, sandboxed.

Core without I/O — see docs/automation.md. Wire it with `Engine(...)`, `attach(store)`,
`await start()`, and register `Engine.on_event` on the hub's event listeners.
"""

from hub.engine.actions import ActionDef
from hub.engine.engine import Engine
from hub.engine.events import EventDef
from hub.engine.limits import EvalError, Limits, SandboxError
from hub.engine.scripts import ScriptManager

__all__ = [
    "ActionDef",
    "Engine",
    "EvalError",
    "EventDef",
    "Limits",
    "SandboxError",
    "ScriptManager",
]
