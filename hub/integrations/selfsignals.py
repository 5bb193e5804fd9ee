"""The hub's and the agents' health as ordinary signals: stored, plotted, used in events.

Every `interval` seconds the hub samples its `HealthProbe` into signals of the reserved
device `hub` (`hub.ingest_rate`, `hub.store_lag_s`, `hub.queue_depth`, `hub.rejected`,
`hub.agents_online`) and, for each agent, of a device named after the agent
(`<agent>.spool_bytes`, `<agent>.dropped_samples`, `<agent>.read_failures`,
`<agent>.online`). They go through `Hub.ingest_local` like any data made on the hub, so
events, the dashboard, the websocket and the store see them; when the writer queue is
full (the store is down) they stay live only and are counted, never waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from hub.app import LOCAL_AGENT
from hub.process import HubProcess

from .health import HealthProbe, HubHealth, probe_of

log = logging.getLogger(__name__)

HUB_DEVICE = LOCAL_AGENT  # the reserved device of the hub's own figures


def figures(health: HubHealth, ingest_rate: float) -> list[tuple[str, str, float, str]]:
    """(device, signal, value, unit) of one sampling."""
    rows = [
        (HUB_DEVICE, "ingest_rate", ingest_rate, "1/s"),
        (HUB_DEVICE, "store_lag_s", health.store_lag_s, "s"),
        (HUB_DEVICE, "queue_depth", float(health.queue_depth), ""),
        (HUB_DEVICE, "rejected", float(health.rejected), ""),
        (HUB_DEVICE, "agents_online", float(health.agents_online), ""),
    ]
    for agent, a in sorted(health.agents.items()):
        if agent == HUB_DEVICE:
            continue
        rows += [
            (agent, "spool_bytes", a.spool_bytes, "B"),
            (agent, "dropped_samples", a.dropped_samples, ""),
            (agent, "read_failures", a.read_failures, ""),
            (agent, "online", 1.0 if a.online else 0.0, ""),
        ]
    return rows


class SelfSignals:
    """Samples the hub's health into signals at a fixed interval (a task on the loop)."""

    def __init__(
        self, *, hub: HubProcess, interval: float, probe: HealthProbe | None = None
    ) -> None:
        self.hub = hub
        self.interval = interval
        self.probe = probe or probe_of(hub)
        self.not_stored = 0  # samples kept live only because the writer queue was full
        self.refused = 0  # figures the hub refused (a device name an agent owns)
        self._task: asyncio.Task[None] | None = None
        self._last: tuple[float, int] | None = None

    async def start(self) -> None:
        """Reserve the device `hub` and start sampling."""
        if not self.hub.agents.claim(LOCAL_AGENT, HUB_DEVICE):
            owner = self.hub.agents.device_owner(HUB_DEVICE)
            log.error("device %r is taken by agent %r: hub health not recorded", HUB_DEVICE, owner)
            return
        self._task = asyncio.get_running_loop().create_task(self._run(), name="self-signals")

    async def stop(self) -> None:
        """Stop sampling."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                self.sample()
            except Exception:
                log.exception("self-signals: sampling failed")
            await asyncio.sleep(self.interval)

    def sample(self) -> None:
        """Take one sampling of every figure and record it."""
        health = self.probe.snapshot()
        rate = 0.0
        if self._last is not None and health.time > self._last[0]:
            rate = (health.agent_samples - self._last[1]) / (health.time - self._last[0])
        self._last = (health.time, health.agent_samples)
        for device, name, value, unit in figures(health, max(rate, 0.0)):
            try:
                kept = self.hub.ingest_local(device, name, [health.time], [value], unit)
            except ValueError as exc:  # an agent's device of that name: skip that figure
                self.refused += 1
                log.debug("self-signals: %s", exc)
                continue
            if not kept:
                self.not_stored += 1
