"""The hub on PostgreSQL: batches through a real Mosquitto are stored once and acked after
the commit; with PostgreSQL stopped nothing is acked, and everything lands once it is back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import psycopg2
import pytest

from edge_agent.wire import Batch, Series
from hub.bootstrap import running_hub
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for
from tests.fixtures.postgres import PgCluster
from tests.hub.conftest import Peer, make_hub_config

T0 = 1_764_028_800.0


def payload(seq: int, n: int = 20) -> bytes:
    """A data batch of agent a1 with n samples of Lab.Volt."""
    t = [T0 + seq * 100 + i for i in range(n)]
    return Batch("a1", seq, [Series("Lab", "Volt", "V", t, [float(seq)] * n)]).encode()


def stored(dsn: str) -> tuple[int, int]:
    """(samples, ledger rows) as PostgreSQL has them, on a connection of the test's own."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT (SELECT count(*) FROM samples), (SELECT count(*) FROM ingest_batches)"
            )
            return cur.fetchone()
    finally:
        conn.close()


async def acks(peer: Peer, count: int) -> list[int]:
    """The next `count` acknowledged sequence numbers (the hub's loop runs meanwhile)."""
    out: list[int] = []
    while len(out) < count:
        out += await asyncio.to_thread(peer.acked, 15)
    return out


@pytest.mark.slow
async def test_hub_stores_once_and_acks_after_commit(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str, pg_dsn: str
) -> None:
    cfg = make_hub_config(tmp_path, mosquitto, prefix, store={"kind": "postgres", "dsn": pg_dsn})
    async with running_hub(cfg) as hub:
        await async_wait_for(lambda: hub.ingest.subscribed, what="hub subscribed")
        peer = Peer(mosquitto.port, prefix)
        try:
            for seq in (1, 2, 3):
                peer.publish(payload(seq))
            assert sorted(await acks(peer, 3)) == [1, 2, 3]
            peer.publish(payload(2))  # a replay after the ack
            assert await acks(peer, 1) == [2], "a duplicate is acknowledged again"
            assert stored(pg_dsn) == (60, 3)
            h = await hub.history("Lab", "Volt", None, None, None)
            assert len(h.x) == 60 and h.y[0] == 1.0 and h.y[-1] == 3.0
        finally:
            peer.close()


@pytest.mark.slow
async def test_postgres_down_holds_acks_and_the_hub_catches_up(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str, own_pg: PgCluster
) -> None:
    dsn = own_pg.create_database()
    cfg = make_hub_config(tmp_path, mosquitto, prefix, store={"kind": "postgres", "dsn": dsn})
    async with running_hub(cfg) as hub:
        await async_wait_for(lambda: hub.ingest.subscribed, what="hub subscribed")
        peer = Peer(mosquitto.port, prefix)
        try:
            peer.publish(payload(1))
            assert await acks(peer, 1) == [1]
            own_pg.stop("immediate")
            for seq in range(2, 7):
                peer.publish(payload(seq))
            await async_wait_for(
                lambda: not hub.status()["store_ok"], 15, "the hub to report the store down"
            )
            assert "PostgreSQL" in (hub.status()["store_error"] or "")
            assert peer.acks.empty(), "nothing may be acknowledged while PostgreSQL is down"
            # The live side did not wait: the newest sample is there already.
            await async_wait_for(
                lambda: hub.signals.get("Lab.Volt").latest() == (T0 + 619, 6.0), what="live"
            )
            own_pg.start()
            assert sorted(await acks(peer, 5)) == [2, 3, 4, 5, 6]
            await async_wait_for(lambda: hub.status()["store_ok"], 15, "store ok again")
            assert stored(dsn) == (120, 6), "every sample once, none twice"
        finally:
            peer.close()
