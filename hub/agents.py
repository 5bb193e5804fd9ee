"""What the hub knows about each agent: its retained status (birth) message.

Core without I/O: ingest feeds decoded statuses (`edge_agent.wire.AgentStatus`) in;
adapters read and listen. Each device is kept as its typed declaration (`DeviceDecl`,
`declaration(device)`) and as that declaration's JSON form (`devices`, `device(device)`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edge_agent.wire import AgentStatus, DeviceDecl, WireError

from .loglimit import LogLimiter

log = logging.getLogger(__name__)
_limited = LogLimiter(log)  # an agent decides how often it sends its status


@dataclass
class AgentInfo:
    """One agent as last announced."""

    agent: str
    online: bool = False
    version: str = ""
    # The JSON form of `declarations` (what is stored for the next start, the engine's reads).
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    declarations: dict[str, DeviceDecl] = field(default_factory=dict)
    spool: dict[str, Any] = field(default_factory=dict)
    clock_synced: bool = True
    last_status: float = 0.0
    last_data: float = 0.0
    conflicts: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


class AgentDirectory:
    """Agents by id, device ownership, and change listeners (called with the agent id)."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._agents: dict[str, AgentInfo] = {}
        self._owner: dict[str, str] = {}
        self.clock = clock
        self.on_change: list[Callable[[str], None]] = []

    def all(self) -> dict[str, AgentInfo]:
        return dict(self._agents)

    def get(self, agent: str) -> AgentInfo | None:
        return self._agents.get(agent)

    def online_count(self) -> int:
        return sum(1 for a in self._agents.values() if a.online)

    def device_owner(self, device: str) -> str | None:
        """The agent that owns a device name, or None."""
        return self._owner.get(device)

    def device(self, device: str) -> dict[str, Any] | None:
        """The device's announced description (driver, params, functions, status)."""
        owner = self._owner.get(device)
        if owner is None:
            return None
        return self._agents[owner].devices.get(device)

    def declaration(self, device: str) -> DeviceDecl | None:
        """The device's typed declaration (parameters coerce values: `ParamDecl.coerce`)."""
        owner = self._owner.get(device)
        if owner is None:
            return None
        return self._agents[owner].declarations.get(device)

    def claim(self, agent: str, device: str) -> bool:
        """Record `agent` as owner of `device`; False if another agent owns it already."""
        owner = self._owner.get(device)
        if owner is None:
            self._owner[device] = agent
            return True
        return owner == agent

    def update_status(self, agent: str, status: AgentStatus) -> None:
        """Apply a status message; refuses devices another agent owns (recorded in conflicts,
        like the declarations the wire refused)."""
        info = self._agents.setdefault(agent, AgentInfo(agent=agent))
        info.raw = status.to_json()
        info.online = status.state == "online"
        info.version = status.version or info.version
        info.clock_synced = status.clock_synced
        info.last_status = self.clock()
        if status.spool is not None:
            info.spool = status.spool.to_json()
        if status.state == "online" or status.devices:  # the will keeps the devices known
            info.devices, info.declarations = {}, {}
            info.conflicts = [f"refused: {reason}" for reason in status.refused]
            for reason in status.refused:
                _limited.log(logging.ERROR, agent, "agent %s: %s", agent, reason)
            for name, decl in status.devices.items():
                if self.claim(agent, name):
                    info.declarations[name] = decl
                    info.devices[name] = decl.to_json()
                else:
                    msg = f"device {name!r} is owned by agent {self._owner[name]!r}"
                    info.conflicts.append(msg)
                    _limited.log(
                        logging.ERROR,
                        agent,
                        "agent %s: %s; its data for that device is refused",
                        agent,
                        msg,
                    )
        self._changed(agent)

    def restore(self, agent: str, devices: dict[str, dict[str, Any]]) -> None:
        """An agent's last known devices (from the store on start), offline until it speaks.
        A stored declaration that no longer decodes is left out (logged)."""
        info = self._agents.setdefault(agent, AgentInfo(agent=agent))
        if info.last_status:
            return  # it spoke already: what it said is newer
        info.devices, info.declarations = {}, {}
        for name, raw in devices.items():
            try:
                decl = DeviceDecl.from_json(raw, f"stored device {name!r}")
            except WireError as exc:
                log.warning("agent %s: %s; left out", agent, exc)
                continue
            if self.claim(agent, name):
                info.declarations[name] = decl
                info.devices[name] = _without_counters(decl.to_json())
        self._changed(agent)

    def known_devices(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Each agent's devices without their counters: what is kept for the next start."""
        return {
            a: {n: _without_counters(d) for n, d in info.devices.items()}
            for a, info in self._agents.items()
            if info.devices
        }

    def mark_offline(self, agent: str) -> None:
        info = self._agents.get(agent)
        if info is not None and info.online:
            info.online = False
            self._changed(agent)

    def saw_data(self, agent: str) -> None:
        info = self._agents.setdefault(agent, AgentInfo(agent=agent))
        info.last_data = self.clock()

    def _changed(self, agent: str) -> None:
        for listener in list(self.on_change):
            try:
                listener(agent)
            except Exception:
                log.exception("agent change listener failed")


def _without_counters(device: dict[str, Any]) -> dict[str, Any]:
    """A device's JSON form without its counters (they are not kept across a restart)."""
    return {k: v for k, v in device.items() if k != "stats"}
