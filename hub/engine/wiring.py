"""Wires the engine into a running Hub (called by hub.bootstrap): the one adapter seam.

The engine itself stays free of I/O; here it is given the hub's event sink, command
sender, parameter reader (agent status), local-data ingest and document store.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_agent.wire import JsonScalar
from hub.agents import AgentDirectory
from hub.engine.engine import Engine

if TYPE_CHECKING:
    from hub.app import Hub

log = logging.getLogger(__name__)


def agent_param_reader(agents: AgentDirectory) -> Callable[[str, str], JsonScalar]:
    """A `param(device, name)` reading the value an agent last announced in its status."""

    def param(device: str, name: str) -> JsonScalar:
        decl = agents.declaration(device)
        found = decl.param(name) if decl is not None else None
        if found is None:
            raise KeyError(f"{device}.{name}")
        return found.value

    return param


def attach_engine(hub: Hub, config: dict[str, Any]) -> Engine:
    """Build the engine for a started hub, attach it to live data and events, load its docs.

    Call from a coroutine on the hub's loop; stop with `await hub.engine.stop()`.
    """
    config_dir = hub.config["hub"].get("config_dir")
    engine = Engine(
        emit_event=hub.add_event,
        send_command=lambda device, op, name, args: hub.send_command(device, op, name, args),
        param=agent_param_reader(hub.agents),
        emit_data=hub.ingest_local,
        device_owner=hub.agents.device_owner,
        docs=hub.store,
        run_store=hub.run_store,
        clock=time.time,
        config_dir=Path(config_dir) if config_dir else None,
    )
    engine.events_active = bool(config.get("events_active", True))
    engine.actions_active = bool(config.get("actions_active", True))
    engine.attach(hub.signals)
    hub.on_event.append(engine.on_event)
    engine.start()
    task = asyncio.get_running_loop().create_task(engine.load(), name="engine-load")
    task.add_done_callback(_log_load)
    return engine


def _log_load(task: asyncio.Task[list[str]]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.warning("automation: loading events/actions failed: %s", exc)
    elif task.result():
        log.warning("automation: %d definitions could not be loaded", len(task.result()))
