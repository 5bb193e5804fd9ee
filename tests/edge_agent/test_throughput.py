"""How many samples/s the agent can batch, spool and publish (acked end to end).

Pushes samples through Batcher → Spool → Publisher → real Mosquitto → stand-in hub
(acking) as fast as they are taken, and prints the rate. The floor asserted is far below
what this machine does, so the test only fails on a real regression.
"""

from __future__ import annotations

import time
from pathlib import Path

from edge_agent.batcher import Batcher
from edge_agent.publisher import Publisher
from edge_agent.spool import Spool
from edge_agent.wire import Topics, encode_json
from tests.edge_agent.standin_hub import StandInHub
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import wait_for

AGENT = "pi-speed"
TOTAL = 100_000


def test_spool_and_publish_rate(mosquitto: Mosquitto, prefix: str, tmp_path: Path) -> None:
    hub = StandInHub(port=mosquitto.port, prefix=prefix).start()
    spool = Spool(path=tmp_path / "spool.sqlite", agent=AGENT).open()
    pub = Publisher(
        agent=AGENT,
        topics=Topics(prefix),
        spool=spool,
        port=mosquitto.port,
        birth=lambda: encode_json({"state": "online", "agent": AGENT}),
        will=encode_json({"state": "offline", "agent": AGENT}),
    )

    def store(series: list) -> None:  # type: ignore[type-arg]
        spool.append(series)
        pub.wake()

    batcher = Batcher(sink=store, max_samples=500, max_age=0.2)
    pub.start()
    try:
        wait_for(lambda: pub.connected, 10, "connected")
        t0 = time.perf_counter()
        base = 1_700_000_000.0
        for i in range(0, TOTAL, 10):
            batcher.add(
                [("Gen", f"S{k}", "V", base + (i + k) * 1e-3, float(i + k)) for k in range(10)]
            )
        batcher.flush()
        spooled = time.perf_counter() - t0
        wait_for(lambda: spool.stats().batches == 0, 60, "all batches acked")
        total = time.perf_counter() - t0
    finally:
        pub.stop()
        spool.close()
        hub.stop()
    got = sum(b.sample_count for b in hub.received)
    assert got >= TOTAL
    rate_spool = TOTAL / spooled
    rate_total = TOTAL / total
    print(
        f"\nagent throughput: batch+spool {rate_spool:,.0f} samples/s; "
        f"batch+spool+publish+hub ack {rate_total:,.0f} samples/s "
        f"({TOTAL} samples, {TOTAL // 500} batches)"
    )
