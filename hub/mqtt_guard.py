"""Checks on what arrives over MQTT, whoever sent it: sizes, JSON shape, ownership, bounds.

An agent's password can leak and an operator can turn anonymous access on, so nothing an
MQTT client sends is trusted: every check here answers with a reason (the message is then
kept in `rejected_messages`) or lets it through. It runs in ingest's network thread; the
counters it keeps are plain ints read by the hub's status.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterable
from typing import Any

from edge_agent.wire import AgentStatus, Batch, CommandResult, Event, WireError

from .ratelimit import KeyedBuckets

SEQ_JUMP = 100_000  # a seq this far beyond the agent's last one is flagged


class Guard:
    """What ingest asks before it lets a message in; the counters it reports."""

    COUNTERS = ("rate_limited", "over_bounds", "seq_jumps", "seq_conflicts")

    def __init__(
        self,
        config: dict[str, Any],
        *,
        owner_of: Callable[[str], str | None],
        claim: Callable[[str, str], bool] | None = None,
        stats: dict[str, int] | None = None,
    ) -> None:
        mqtt = config["mqtt"]
        self.max_signals = mqtt["max_signals_per_agent"]
        self.max_devices = mqtt["max_devices_per_agent"]
        self.trusted_event_agents = frozenset(mqtt["trusted_event_agents"])
        self.rate = KeyedBuckets(rate=mqtt["max_messages_per_s"], burst=mqtt["max_burst"])
        self.owner_of = owner_of
        self.claim = claim or (lambda _agent, _device: True)
        self.stats = stats if stats is not None else {}
        for name in self.COUNTERS:
            self.stats.setdefault(name, 0)
        self._signals: dict[str, set[tuple[str, str]]] = {}
        self._devices: dict[str, set[str]] = {}
        self._last_seq: dict[str, int] = {}
        self._lock = threading.Lock()

    def seed(self, signals: Iterable[tuple[str | None, str, str]]) -> None:
        """Count signals already stored, as (agent, device, name)."""
        with self._lock:
            for agent, device, name in signals:
                if agent:
                    self._signals.setdefault(agent, set()).add((device, name))
                    self._devices.setdefault(agent, set()).add(device)

    # -- every message ---------------------------------------------------------------------
    def allow_message(self, agent: str) -> bool:
        """False when the agent sends faster than its rate (counted)."""
        if self.rate.take(agent):
            return True
        self.stats["rate_limited"] += 1
        return False

    # -- data ------------------------------------------------------------------------------
    def check_batch(self, agent: str, batch: Batch) -> str | None:
        """Why a decoded batch is refused (another agent's device, bounds), or None; a batch
        let through makes the agent the owner of its devices."""
        devices = {s.device for s in batch.signals} | {e.device for e in batch.events}
        for device in sorted(devices):
            if (reason := self._foreign(agent, device)) is not None:
                return reason
        keys = {(s.device, s.signal) for s in batch.signals}
        with self._lock:
            reason = self._over_bounds(agent, devices, keys)
            if reason is None:
                self._signals.setdefault(agent, set()).update(keys)
                self._devices.setdefault(agent, set()).update(devices)
        if reason is not None:
            self.stats["over_bounds"] += 1
            return reason
        for device in sorted(devices):  # claimed only now: a refused batch claims nothing
            if not self.claim(agent, device):
                return self._foreign(agent, device)
        return None

    def _foreign(self, agent: str, device: str) -> str | None:
        owner = self.owner_of(device)
        if owner is None or owner == agent:
            return None
        return f"device {device!r} is owned by agent {owner!r}"

    def _over_bounds(self, agent: str, devices: set[str], keys: set[tuple[str, str]]) -> str | None:
        known_devices = self._devices.get(agent, set())
        if len(known_devices | devices) > self.max_devices:
            return f"agent {agent!r} would have more than {self.max_devices} devices"
        known = self._signals.get(agent, set())
        if len(known) + len(keys - known) > self.max_signals:
            return f"agent {agent!r} would have more than {self.max_signals} signals"
        return None

    def seq_jump(self, agent: str, seq: int) -> int:
        """How far beyond the agent's last seq this one is, if that is suspiciously far."""
        last = self._last_seq.get(agent)
        if last is None or seq > last:
            self._last_seq[agent] = seq
        if last is not None and seq - last > SEQ_JUMP:
            self.stats["seq_jumps"] += 1
            return seq - last
        return 0

    def own_events(self, agent: str, batch: Batch) -> Batch:
        """The batch with its events' ids in the agent's id space."""
        if not batch.events or agent in self.trusted_event_agents:
            return batch
        return dataclasses.replace(batch, events=[self._own_id(agent, e) for e in batch.events])

    def _own_id(self, agent: str, event: Event) -> Event:
        if agent in self.trusted_event_agents or not event.event_id:
            return event
        return dataclasses.replace(event, event_id=f"{agent}/{event.event_id}")

    # -- the small topics ------------------------------------------------------------------
    def event(self, agent: str, payload: bytes | bytearray, received: float) -> Event:
        """A checked event from `<p>/<agent>/event`; WireError says why not."""
        event = Event.decode(payload, default_time=received)
        owner = self.owner_of(event.device)
        if owner != agent:
            raise WireError(
                f"event for device {event.device!r}, which "
                + ("no agent has announced" if owner is None else f"agent {owner!r} owns")
            )
        return self._own_id(agent, event)

    def status(self, agent: str, payload: bytes | bytearray) -> AgentStatus:
        """A checked status (bounded size, nesting, devices; the topic's agent)."""
        status = AgentStatus.decode(payload, expected_agent=agent)
        with self._lock:
            known = self._devices.get(agent, set())
            if len(known | set(status.devices)) > self.max_devices:
                self.stats["over_bounds"] += 1
                raise WireError(f"status announces more than {self.max_devices} devices")
            self._devices.setdefault(agent, set()).update(status.devices)
        return status

    @staticmethod
    def cmd_result(payload: bytes | bytearray) -> CommandResult:
        """A checked command result."""
        return CommandResult.decode(payload)
