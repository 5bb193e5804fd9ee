"""Prometheus `/metrics` on the websocket server's HTTP port (prometheus_client's exposition).

The figures are read at scrape time from the hub's `HealthProbe` by a custom collector in a
registry of the hub's own (no global state). Labels are only agent ids and device names,
and at most `[metrics] max_devices` devices (and as many agents) get series of their own;
the rest are left out and counted, so one scrape stays bounded whatever the installation.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from hub.app import Hub
from hub.process import HubProcess

from .health import HealthProbe, probe_of

PATH = "/metrics"

COUNTERS = {  # hub.stats key -> (metric name without _total, help)
    "batches": ("opencontrol_batches_stored", "Data batches committed by the store"),
    "samples": ("opencontrol_samples_stored", "Samples committed by the store (agents and hub)"),
    "duplicates": ("opencontrol_duplicate_batches", "Replayed batches dropped by the ledger"),
    "rejected": ("opencontrol_rejected_messages", "Messages refused and kept raw"),
    "events": ("opencontrol_events", "Events announced"),
    "write_errors": ("opencontrol_write_errors", "Store writes that failed with a bug"),
}


class HubCollector:
    """Reads the hub's figures at each scrape."""

    def __init__(self, *, hub: Hub, probe: HealthProbe, max_devices: int) -> None:
        self.hub = hub
        self.probe = probe
        self.max_devices = max_devices

    def collect(self) -> Iterator[Metric]:
        """Every series of one scrape."""
        h = self.probe.snapshot()
        for key, (name, doc) in COUNTERS.items():
            yield CounterMetricFamily(name, doc, value=h.counters.get(key, 0))
        yield CounterMetricFamily(
            "opencontrol_agent_samples_stored", "Samples from agents committed", h.agent_samples
        )
        yield GaugeMetricFamily(
            "opencontrol_store_lag_seconds", "How far the store is behind", h.store_lag_s
        )
        yield GaugeMetricFamily("opencontrol_write_queue_depth", "Jobs waiting", h.queue_depth)
        yield GaugeMetricFamily(
            "opencontrol_store_up", "1 while the store takes writes", 1 if h.store_up else 0
        )
        yield GaugeMetricFamily("opencontrol_agents_online", "Agents online", h.agents_online)
        yield GaugeMetricFamily("opencontrol_signals", "Live signals", len(self.hub.signals))
        yield from self._per_agent(h.agents)

    def _per_agent(self, agents: dict[str, Any]) -> Iterator[Metric]:
        online = GaugeMetricFamily("opencontrol_agent_online", "1 while online", labels=["agent"])
        spool = GaugeMetricFamily(
            "opencontrol_agent_spool_bytes", "Bytes in the agent's spool", labels=["agent"]
        )
        dropped = GaugeMetricFamily(
            "opencontrol_agent_dropped_samples",
            "Samples the agent's full spool dropped",
            labels=["agent"],
        )
        reads = CounterMetricFamily(
            "opencontrol_device_reads", "Driver reads", labels=["agent", "device"]
        )
        failures = CounterMetricFamily(
            "opencontrol_device_read_failures", "Failed driver reads", labels=["agent", "device"]
        )
        running = GaugeMetricFamily(
            "opencontrol_device_running", "1 while the driver runs", labels=["agent", "device"]
        )
        signals = GaugeMetricFamily(
            "opencontrol_device_signals", "Live signals of the device", labels=["device"]
        )
        per_device: dict[str, int] = {}
        for sig in self.hub.signals:
            per_device[sig.device] = per_device.get(sig.device, 0) + 1
        budget = self.max_devices
        omitted = 0
        for agent in sorted(agents)[: self.max_devices]:
            a = agents[agent]
            online.add_metric([agent], 1 if a.online else 0)
            spool.add_metric([agent], a.spool_bytes)
            dropped.add_metric([agent], a.dropped_samples)
            for device in sorted(a.devices):
                if budget <= 0:
                    omitted += 1
                    continue
                budget -= 1
                d = a.devices[device]
                reads.add_metric([agent, device], d["reads"])
                failures.add_metric([agent, device], d["failures"])
                running.add_metric([agent, device], d["running"])
        omitted += max(0, len(agents) - self.max_devices)
        for device in sorted(per_device)[: self.max_devices]:
            signals.add_metric([device], per_device[device])
        omitted += max(0, len(per_device) - self.max_devices)
        yield from (online, spool, dropped, reads, failures, running, signals)
        yield GaugeMetricFamily(
            "opencontrol_metrics_series_omitted",
            "Agents or devices left out of per-label series ([metrics] max_devices)",
            omitted,
        )


def registry_of(hub: HubProcess) -> CollectorRegistry:
    """The hub's own registry with its collector (made on first use)."""
    reg = hub.metrics_registry
    if reg is None:
        reg = CollectorRegistry(auto_describe=False)
        reg.register(
            HubCollector(
                hub=hub, probe=probe_of(hub), max_devices=hub.config["metrics"]["max_devices"]
            )
        )
        hub.metrics_registry = reg
    return reg


def metrics_enabled(hub: Hub) -> bool:
    """The `[metrics] enabled` key of the hub's config."""
    return bool(hub.config["metrics"]["enabled"])


def _response(status: int, reason: str, ctype: str, body: bytes, **extra: str) -> Response:
    h = Headers()
    h["Content-Type"] = ctype
    h["Content-Length"] = str(len(body))
    h["Cache-Control"] = "no-store"
    h["Connection"] = "close"
    for k, v in extra.items():
        h[k.replace("_", "-")] = v
    return Response(status, reason, h, body)


def metrics_response(hub: HubProcess, request: Request) -> Response | None:
    """Answer GET /metrics when it is turned on (None: not ours, let the dashboard answer)."""
    if request.path.split("?", 1)[0] != PATH or not metrics_enabled(hub):
        return None
    token = hub.config["metrics"]["token"]
    if token:
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            return _response(
                401,
                "Unauthorized",
                "text/plain; charset=utf-8",
                b"bearer token required\n",
                WWW_Authenticate="Bearer",
            )
    body = generate_latest(registry_of(hub))
    return _response(200, "OK", CONTENT_TYPE_LATEST, body)
