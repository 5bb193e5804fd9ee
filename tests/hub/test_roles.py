"""Hub roles in one process: an ingest hub stores and acknowledges, two live hubs see the
whole stream, exactly one of them leads (fires events, runs actions); hub-made data of
any live hub reaches every live hub and is stored once (docs/scale.md)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import psycopg2

from edge_agent.wire import Batch, Series
from hub.bootstrap import running_hub
from hub.config import hub_config
from rigs import procs
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for
from tests.hub.conftest import Peer

EVENTS = {
    "automation.events": {
        "hot": {"cond": "Dev.x.latest > 5", "text": "hot", "id": "hot", "trigger": "rising"}
    },
    "automation.actions": {
        "count": {"listenID": ["hot"], "script": "event('acted', 'x', 'Act', id='acted')"}
    },
}


def _config(tmp: Path, broker: Mosquitto, prefix: str, dsn: str, name: str, role: str) -> dict:
    mqtt: dict[str, Any] = {"host": "127.0.0.1", "port": broker.port, "prefix": prefix}
    if role == "ingest":
        mqtt["shared_group"] = "ingest"
    return hub_config(
        {
            "hub": {
                "data_dir": str(tmp / name),
                "id": f"{name}-{prefix}",
                "role": role,
                "lease_seconds": 1.5,
            },
            "mqtt": mqtt,
            "store": {"kind": "postgres", "dsn": dsn},
            "websocket": {"enabled": False},
        }
    )


def _stored(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    con = psycopg2.connect(dsn)
    try:
        with con.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()
    finally:
        con.close()


def _events(dsn: str, event_id: str) -> list[float]:
    rows = _stored(
        dsn, f"SELECT extract(epoch FROM time)::float8 FROM events WHERE event_id = '{event_id}'"
    )
    return sorted(r[0] for r in rows)


def _batch(seq: int, t0: float, values: list[float]) -> bytes:
    t = [t0 + i * 0.01 for i in range(len(values))]
    return Batch("a1", seq, [Series("Dev", "x", "", t, values)]).encode()


async def test_ingest_and_two_live_hubs(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str, pg_dsn: str
) -> None:
    procs.seed_automation("postgres", tmp_path, pg_dsn, EVENTS)
    names = {"ing": "ingest", "l1": "live", "l2": "live"}
    stacks = {n: contextlib.AsyncExitStack() for n in names}
    peer: Peer | None = None
    try:
        ing, l1, l2 = [
            await stacks[n].enter_async_context(
                running_hub(_config(tmp_path, mosquitto, prefix, pg_dsn, n, role))
            )
            for n, role in names.items()
        ]
        await async_wait_for(
            lambda: all(h.ingest.subscribed for h in (ing, l1, l2)), what="subscriptions"
        )
        await async_wait_for(
            lambda: l1.leadership.leading or l2.leadership.leading, timeout=30, what="a leader"
        )
        assert not (l1.leadership.leading and l2.leadership.leading)
        assert ing.engine is None and ing.leadership is None
        peer = Peer(mosquitto.port, prefix)
        # two crossings of x > 5 (rising): each fired once, one action run each
        for seq, values in enumerate(([1.0, 2.0], [7.0, 8.0], [1.0], [9.0]), start=1):
            await asyncio.to_thread(peer.publish, _batch(seq, 1_000_000.0 + seq, values))
            assert await asyncio.to_thread(peer.acked) == [seq]  # by the ingest hub, once
        for h in (l1, l2):
            await async_wait_for(
                lambda h=h: len(h.signals.get("Dev.x").buffer) == 6, what="live samples"
            )
        await async_wait_for(
            lambda: len(_events(pg_dsn, "hot")) == 2 and len(_events(pg_dsn, "acted")) == 2,
            timeout=30,
            what="two events, two actions stored",
        )
        assert _events(pg_dsn, "hot") == [1_000_002.0, 1_000_004.0]
        for h in (l1, l2):  # every live hub shows the leader's events
            await async_wait_for(
                lambda h=h: sum(e.event_id == "hot" for e in h.recent_events) == 2,
                what="events on each live hub",
            )
        assert peer.acks.empty()  # live hubs never acknowledge agents
        assert _stored(pg_dsn, "SELECT count(*) FROM samples")[0][0] == 6
        # hub-made data on the standby: live on both, stored once
        leader, standby = (l1, l2) if l1.leadership.leading else (l2, l1)
        standby.ingest_local("Made", "y", [2_000_000.0], [3.0])
        await async_wait_for(
            lambda: leader.signals.find("Made", "y") is not None, what="made data on leader"
        )
        await async_wait_for(
            lambda: _stored(pg_dsn, "SELECT count(*) FROM samples")[0][0] == 7,
            what="made data stored",
        )
        # an automation change made on one live hub reaches the others (LISTEN/NOTIFY)
        changed = {**EVENTS["automation.events"], "cold": {"cond": "Dev.x.latest < 0"}}
        await standby.run_store(standby.store.put_doc, "automation.events", changed)
        for h in (leader, standby):
            await async_wait_for(
                lambda h=h: "cold" in h.engine.events.events, what="automation on each hub"
            )
        # the leader stops: the standby leads at once (lease released) and fires
        await stacks["l1" if leader is l1 else "l2"].aclose()
        await async_wait_for(lambda: standby.leadership.leading, timeout=30, what="takeover")
        await asyncio.to_thread(peer.publish, _batch(5, 1_000_005.0, [1.0]))
        await asyncio.to_thread(peer.publish, _batch(6, 1_000_006.0, [6.0]))
        await async_wait_for(
            lambda: len(_events(pg_dsn, "hot")) == 3 and len(_events(pg_dsn, "acted")) == 3,
            timeout=30,
            what="the new leader's event and action",
        )
        assert _events(pg_dsn, "hot") == [1_000_002.0, 1_000_004.0, 1_000_006.0]
        assert _stored(pg_dsn, "SELECT count(*) FROM samples")[0][0] == 9
    finally:
        if peer is not None:
            peer.close()
        for stack in reversed(stacks.values()):
            await stack.aclose()
