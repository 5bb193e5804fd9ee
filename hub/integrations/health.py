"""The hub's health figures, computed in one place for the self-signals and for /metrics.

`HealthProbe` listens to the writer's outcomes (in the writer thread: it only stores a few
numbers) and answers on the loop with a snapshot of plain numbers: what the hub stored,
how far the store lags behind, the writer queue, and each agent's spool and read failures
as its last status message announced them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from hub.app import LOCAL_AGENT, Hub
from hub.db.writer import Outcome

if TYPE_CHECKING:
    from hub.process import HubProcess


@dataclass(frozen=True)
class AgentHealth:
    """One agent's figures from its last status message."""

    online: bool
    spool_bytes: float
    dropped_samples: float
    read_failures: float
    reads: float
    devices: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class HubHealth:
    """A snapshot of the hub's figures (counters are totals since the hub started)."""

    time: float
    agent_samples: int  # samples from agents committed by the store
    store_lag_s: float
    queue_depth: int
    store_up: bool
    rejected: int
    agents_online: int
    agents: dict[str, AgentHealth]
    counters: dict[str, int]


def _num(value: Any) -> float:
    """A finite float from an announced figure, or 0 (status messages are agents' words)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return 0.0
    return v if math.isfinite(v) else 0.0


def agent_health(info: Any) -> AgentHealth:
    """The health figures of one `AgentInfo`."""
    devices: dict[str, dict[str, float]] = {}
    for name, desc in info.devices.items():
        stats = desc.get("stats") if isinstance(desc.get("stats"), dict) else {}
        devices[name] = {
            "reads": _num(stats.get("reads")),
            "failures": _num(stats.get("failures")),
            "running": 1.0 if desc.get("running") else 0.0,
            "available": 1.0 if desc.get("available", True) else 0.0,
        }
    return AgentHealth(
        online=info.online,
        spool_bytes=_num(info.spool.get("bytes")),
        dropped_samples=_num(info.spool.get("dropped_samples")),
        read_failures=sum(d["failures"] for d in devices.values()),
        reads=sum(d["reads"] for d in devices.values()),
        devices=devices,
    )


class HealthProbe:
    """Tracks store lag from the writer's outcomes; `snapshot()` gives every figure."""

    def __init__(self, *, hub: Hub, clock: Callable[[], float] = time.time) -> None:
        self.hub = hub
        self.clock = clock
        self._agent_samples = 0  # only the writer thread adds
        self._last_commit = clock()
        self._last_wait = 0.0  # how long the last committed job waited for its commit
        self._behind_since: float | None = None

    def start(self) -> None:
        """Listen to the writer's outcomes."""
        self.hub.on_committed.append(self._committed)

    def stop(self) -> None:
        """Stop listening."""
        if self._committed in self.hub.on_committed:
            self.hub.on_committed.remove(self._committed)

    def _committed(self, outcome: Outcome) -> None:
        """Writer thread: note the commit time, the job's wait and agents' samples."""
        if outcome.error is not None:
            return
        now = self.clock()
        job = outcome.job
        self._last_commit = now
        if job.received_at:
            self._last_wait = max(0.0, now - job.received_at)
        batch = job.batch
        if outcome.stored and batch is not None and batch.agent != LOCAL_AGENT:
            self._agent_samples += batch.sample_count

    def store_lag(self) -> float:
        """Seconds the store is behind: the last commit's wait, or the stall while it is down.

        While the store refuses writes (or a backlog waits) the lag is the time since the
        later of the last commit and the moment the hub first saw it fall behind.
        """
        writer = self.hub.writer
        now = self.clock()
        behind = writer is None or not writer.store_ok or writer.backlog > 0
        if not behind:
            self._behind_since = None
            return self._last_wait
        if self._behind_since is None:
            self._behind_since = now
        return max(self._last_wait, now - max(self._behind_since, self._last_commit))

    def snapshot(self) -> HubHealth:
        """Every figure now (cheap: reads counters and the agent directory)."""
        writer = self.hub.writer
        agents = {name: agent_health(info) for name, info in self.hub.agents.all().items()}
        return HubHealth(
            time=self.clock(),
            agent_samples=self._agent_samples,
            store_lag_s=self.store_lag(),
            queue_depth=writer.backlog if writer is not None else 0,
            store_up=bool(writer is not None and writer.store_ok),
            rejected=int(self.hub.stats.get("rejected", 0)),
            agents_online=sum(1 for a in agents.values() if a.online),
            agents=agents,
            counters=dict(self.hub.stats),
        )


def probe_of(hub: HubProcess) -> HealthProbe:
    """The hub's one HealthProbe, made and started on first use."""
    probe = hub.health
    if probe is None:
        probe = HealthProbe(hub=hub)
        probe.start()
        hub.health = probe
    return probe
