"""Health as signals: stored, live, and usable in events (the store-lag rule fires when the
store is stopped)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from edge_agent.wire import Batch, Series
from hub.bootstrap import running_hub
from hub.db.base import StoreError
from hub.engine.events import EventDef
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for
from tests.fixtures.postgres import PgCluster
from tests.hub.conftest import Peer, make_hub_config

FAST = {"enabled": True, "interval": 0.1}


def status(agent: str, spool_bytes: int, failures: int) -> bytes:
    """An agent's status message with a spool and one device's read statistics."""
    return json.dumps(
        {
            "state": "online",
            "agent": agent,
            "spool": {"batches": 3, "bytes": spool_bytes, "dropped_samples": 7},
            "devices": {
                "Gen": {"driver": "generator", "stats": {"reads": 10, "failures": failures}}
            },
        }
    ).encode()


def latest(hub, key: str) -> float | None:
    sig = hub.signals.find(*key.split(".", 1))
    last = sig.latest() if sig is not None else None
    return None if last is None else last[1]


async def test_health_signals_are_live_stored_and_drive_an_event(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str
) -> None:
    cfg = make_hub_config(tmp_path, mosquitto, prefix, selfsignals=FAST)
    async with running_hub(cfg) as hub:
        await async_wait_for(lambda: hub.ingest.subscribed, what="hub subscribed")
        hub.engine.set_event(
            EventDef(name="spool", cond="a1.spool_bytes.latest > 1000", id="SPOOL", priority=1)
        )
        peer = Peer(mosquitto.port, prefix)
        try:
            peer.publish(status("a1", 10, 0), kind="status")
            await async_wait_for(lambda: latest(hub, "a1.spool_bytes") == 10, what="spool 10")
            batch = Batch("a1", 1, [Series("Gen", "Sine", "V", [1.0, 2.0, 3.0], [1.0, 2.0, 3.0])])
            peer.publish(batch.encode())
            assert await asyncio.to_thread(peer.acked) == [1]  # the hub's loop runs meanwhile
            await async_wait_for(
                lambda: (latest(hub, "hub.ingest_rate") or 0) > 0, what="ingest rate seen"
            )
            assert not [e for e in hub.recent_events if e.event_id == "SPOOL"]
            peer.publish(status("a1", 5000, 4), kind="status")
            await async_wait_for(
                lambda: [e for e in hub.recent_events if e.event_id == "SPOOL"], what="event"
            )
            assert latest(hub, "a1.read_failures") == 4
            assert latest(hub, "a1.dropped_samples") == 7
            assert latest(hub, "a1.online") == 1
            assert latest(hub, "hub.agents_online") == 1
            assert latest(hub, "hub.queue_depth") is not None
            assert latest(hub, "hub.rejected") == 0
            # stored like any data: the history comes from the store
            await async_wait_for(
                lambda: len(hub.store.history("hub", "store_lag_s", None, None, None).x) >= 3,
                what="store_lag_s stored",
            )

            def stored_spool() -> set[float]:
                return set(hub.store.history("a1", "spool_bytes", None, None, None).y)

            await async_wait_for(lambda: {10, 5000} <= stored_spool(), what="spool stored")
            assert hub.signals.find("hub", "store_lag_s").unit == "s"
            assert latest(hub, "Gen.Sine") == 3.0  # the agent's own data is untouched
        finally:
            peer.close()
    assert hub.selfsignals.not_stored == 0


async def test_store_lag_rule_fires_when_the_store_is_stopped(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str, own_pg: PgCluster
) -> None:
    dsn = own_pg.create_database()
    cfg = make_hub_config(
        tmp_path, mosquitto, prefix, selfsignals=FAST, store={"kind": "postgres", "dsn": dsn}
    )
    async with running_hub(cfg) as hub:
        hub.engine.set_event(
            EventDef(name="lag", cond="hub.store_lag_s.latest > 1.5", id="LAG", priority=2)
        )
        await async_wait_for(
            lambda: len(hub.store.history("hub", "store_lag_s", None, None, None).x) >= 5,
            what="lag samples stored while the store is up",
        )
        assert (latest(hub, "hub.store_lag_s") or 0) < 1.5
        assert not [e for e in hub.recent_events if e.event_id == "LAG"]

        own_pg.stop("immediate")
        await async_wait_for(lambda: not hub.writer.store_ok, timeout=30, what="store down")
        fired = await async_wait_for(
            lambda: [e for e in hub.recent_events if e.event_id == "LAG"],
            timeout=30,
            what="the store-lag event",
        )
        assert fired[0].priority == 2 and fired[0].device == "hub"

        own_pg.start()
        await async_wait_for(lambda: hub.writer.store_ok, timeout=60, what="store back")

        # Afterwards: the samples taken while it was down and the event itself are stored.
        def stored_lags() -> list[float]:
            try:  # the test's first read after the restart may meet the dropped connection
                return list(hub.store.history("hub", "store_lag_s", None, None, None).y)
            except StoreError:
                return []

        await async_wait_for(
            lambda: max(stored_lags(), default=0) > 1.5, timeout=60, what="lag stored"
        )
        await async_wait_for(
            lambda: hub.writer.backlog == 0 and (latest(hub, "hub.store_lag_s") or 9) < 1.5,
            timeout=60,
            what="lag back to normal",
        )
        await async_wait_for(
            lambda: any(e.event_id == "LAG" for e in hub.store.events()),
            timeout=30,
            what="the event stored",
        )
