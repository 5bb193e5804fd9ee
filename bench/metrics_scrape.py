"""What one /metrics scrape costs as an installation grows (bytes, series, time on the loop).

    .venv/bin/python bench/metrics_scrape.py

A Hub (not started: no I/O) is given N agents with 5 devices of 6 signals each, as their
status messages and live samples would make them; the scrape is built with the same
collector `/metrics` uses, with the default `[metrics] max_devices = 200`. The time is what
the event loop spends on one scrape (it runs there); the bytes and series are what
Prometheus stores per scrape, bounded by max_devices whatever N is.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_agent.wire import AgentStatus
from hub.config import hub_config
from hub.db.sqlite import SQLiteStore
from hub.integrations.metrics import registry_of
from hub.process import HubProcess


def hub_with(agents: int, tmp: Path) -> HubProcess:
    cfg = hub_config({"hub": {"data_dir": str(tmp)}, "metrics": {"enabled": True}})
    hub = HubProcess(config=cfg, store=SQLiteStore(path=str(tmp / "s.sqlite")))
    for a in range(agents):
        devices = {
            f"D{a}_{d}": {
                "driver": "generator",
                "running": True,
                "signals": [{"name": f"S{s}", "unit": "V"} for s in range(6)],
                "stats": {"reads": 1000, "failures": 3},
            }
            for d in range(5)
        }
        body = {"state": "online", "spool": {"bytes": 4096}, "devices": devices}
        hub.agents.update_status(f"pi{a}", AgentStatus.from_json(body, expected_agent=f"pi{a}"))
        for dev in devices:
            for s in range(6):
                hub.signals.append(dev, f"S{s}", [1.0], [2.0], "V", f"pi{a}")
    return hub


def main() -> None:
    print(f"{'agents':>7} {'devices':>8} {'signals':>8} {'series':>7} {'bytes':>8} {'ms':>7}")
    for agents in (1, 10, 40, 200):
        with tempfile.TemporaryDirectory() as tmp:
            hub = hub_with(agents, Path(tmp))
            registry = registry_of(hub)
            generate_latest(registry)  # warm
            runs = 20
            t0 = time.perf_counter()
            for _ in range(runs):
                body = generate_latest(registry)
            ms = (time.perf_counter() - t0) / runs * 1000
            series = sum(len(f.samples) for f in text_string_to_metric_families(body.decode()))
            print(
                f"{agents:7d} {agents * 5:8d} {len(hub.signals):8d} {series:7d} "
                f"{len(body):8d} {ms:7.2f}"
            )


if __name__ == "__main__":
    main()
