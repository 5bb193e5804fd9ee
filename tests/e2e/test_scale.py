"""Scale-out with real processes (docs/scale.md): one Mosquitto, one PostgreSQL, two
`ingest` hubs, two `live` hubs, three agents. A websocket client on each live hub sees
every sample of every agent; an event on a condition over two agents' signals fires once
per crossing; every sample is stored once. kill -9 of an ingest hub loses and doubles
nothing; kill -9 of the leading live hub: the standby leads within the lease and no event
fires twice, no action runs twice."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from hub.client import OpenControlClient
from rigs import procs
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for, free_port

LEASE_S = 3.0
AGENTS = {"agent1": "Gen1", "agent2": "Gen2", "agent3": "Gen3"}
# Gen1's Square is 1 or 2 (1 Hz), Gen2's DC is 2: true while Gen1's Square is high
COND = "Gen1.Square.latest + Gen2.DC.latest > 3.5"
AUTOMATION = {
    "automation.events": {
        "both": {"cond": COND, "text": "both high", "id": "both", "trigger": "rising"}
    },
    "automation.actions": {
        "acted": {"listenID": ["both"], "script": "event('acted', 'Square', 'Gen1', id='acted')"}
    },
}

HUB_TOML = """\
[hub]
id = "{name}-{prefix}"
data_dir = "{data}"
role = "{role}"
lease_seconds = {lease}

[mqtt]
host = "127.0.0.1"
port = {port}
prefix = "{prefix}"
{shared}

[store]
kind = "postgres"
dsn = "{dsn}"

[websocket]
enabled = {ws}
host = "127.0.0.1"
port = {ws_port}
require_login = false
"""


def _hub_config(tmp: Path, name: str, role: str, port: int, prefix: str, dsn: str) -> Path:
    ws_port = free_port()
    path = tmp / f"{name}.toml"
    path.write_text(
        HUB_TOML.format(
            name=name,
            prefix=prefix,
            data=tmp / name,
            role=role,
            lease=LEASE_S,
            port=port,
            shared='shared_group = "ingest"' if role == "ingest" else "",
            dsn=dsn,
            ws="true" if role == "live" else "false",
            ws_port=ws_port,
        )
    )
    return path


def _query(dsn: str, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    con = psycopg2.connect(dsn)
    try:
        with con.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        con.close()


def _lease(dsn: str) -> tuple[str, bool] | None:
    try:
        rows = _query(dsn, "SELECT holder, expires_at > now() FROM hub_lease")
    except psycopg2.Error:
        return None  # not made yet
    return (rows[0][0], rows[0][1]) if rows else None


def _event_times(dsn: str, event_id: str) -> list[float]:
    rows = _query(
        dsn, "SELECT extract(epoch FROM time)::float8 FROM events WHERE event_id = %s", (event_id,)
    )
    return sorted(r[0] for r in rows)


def _samples(dsn: str) -> dict[str, list[float]]:
    rows = _query(
        dsn,
        "SELECT device || '.' || name, extract(epoch FROM time)::float8 FROM samples "
        "JOIN signals ON signals.id = signal_id WHERE agent <> 'hub'",
    )
    out: dict[str, list[float]] = defaultdict(list)
    for key, t in rows:
        out[key].append(t)
    return out


def _rising_edges(dsn: str) -> list[float]:
    """Times of Gen1.Square's stored samples where it went from low to high."""
    rows = _query(
        dsn,
        "SELECT extract(epoch FROM time)::float8, value FROM samples JOIN signals "
        "ON signals.id = signal_id WHERE device = 'Gen1' AND name = 'Square' ORDER BY time",
    )
    return [t for (t, v), (_tp, vp) in zip(rows[1:], rows, strict=False) if v > 1.5 >= vp]


def _ms(t: float) -> int:
    """A sample time in ms (stored times are µs; a neighbour ms is the same sample)."""
    return int(t * 1000)


def _near(t: float, times: list[float]) -> bool:
    """`t` is one of `times` (stored and pushed times may differ by their rounding)."""
    return any(abs(t - u) < 0.002 for u in times)


class Watcher:
    """A websocket client on one live hub: every pushed sample time per signal, events."""

    def __init__(self, url: str) -> None:
        self.client = OpenControlClient(url)
        self.samples: dict[str, set[int]] = defaultdict(set)
        self.events: list[dict[str, Any]] = []
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.client.connect()
        await self.client.request(subscribeAll="signal")
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for push in self.client.pushes():
            if "signal" in push:
                s = push["signal"]
                self.samples[f"{s['dname']}.{s['sname']}"].update(_ms(x) for x in s["x"])
            elif "event" in push:
                self.events.append(push["event"])
            elif "dropped" in push:
                self.dropped += 1

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.client.close()

    def missing(self, stored: dict[str, list[float]], before: float = float("inf")) -> int:
        return sum(
            1
            for key, times in stored.items()
            for t in times
            if t < before and not {_ms(t) - 1, _ms(t), _ms(t) + 1} & self.samples[key]
        )


@pytest.mark.timeout(300)
async def test_two_ingest_two_live_hubs_three_agents(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str, pg_dsn: str
) -> None:
    procs.seed_automation("postgres", tmp_path, pg_dsn, AUTOMATION)
    port = mosquitto.port
    roles = {"ing1": "ingest", "ing2": "ingest", "live1": "live", "live2": "live"}
    cfgs = {n: _hub_config(tmp_path, n, r, port, prefix, pg_dsn) for n, r in roles.items()}
    hubs: dict[str, subprocess.Popen[bytes]] = {}
    agents: dict[str, subprocess.Popen[bytes]] = {}
    watchers: dict[str, Watcher] = {}
    try:
        for name, cfg in cfgs.items():
            hubs[name] = procs.start("hub", cfg, tmp_path / f"{name}.log")
        for name in ("live1", "live2"):
            ws_port = int(cfgs[name].read_text().split("port = ")[-1].split()[0])
            url = f"ws://127.0.0.1:{ws_port}"

            async def up(url: str = url) -> bool:
                with contextlib.suppress(OSError):
                    _r, w = await asyncio.open_connection("127.0.0.1", int(url.rsplit(":", 1)[1]))
                    w.close()
                    return True
                return False

            deadline = time.monotonic() + 60
            while not await up():
                assert time.monotonic() < deadline, f"{name}'s websocket did not open"
                await asyncio.sleep(0.2)
            watchers[name] = Watcher(url)
            await watchers[name].start()
        await async_wait_for(lambda: (_lease(pg_dsn) or ("", False))[1], timeout=60, what="leader")
        agent_cfgs = {}
        for agent, device in AGENTS.items():
            agent_cfgs[agent] = procs.write_agent_config(
                tmp_path / f"{agent}.toml",
                port=port,
                prefix=prefix,
                agent=agent,
                device=device,
                rate=20,
                batch=10,
            )
            agents[agent] = procs.start("edge_agent", agent_cfgs[agent], tmp_path / f"{agent}.log")

        def ledger_batches() -> int:
            return int(_query(pg_dsn, "SELECT count(*) FROM ingest_batches")[0][0])

        def events_after(t: float) -> int:
            return sum(x > t for x in _event_times(pg_dsn, "both"))

        await async_wait_for(lambda: events_after(0) >= 3, timeout=60, what="three crossings")

        # kill -9 of one ingest hub: the other takes the whole stream
        hubs["ing1"].kill()
        hubs["ing1"].wait(10)
        after_ingest_kill = ledger_batches()
        await async_wait_for(
            lambda: ledger_batches() >= after_ingest_kill + 30,
            timeout=60,
            what="batches stored by the other ingest hub",
        )

        # kill -9 of the leading live hub: the standby leads within the lease
        holder = (_lease(pg_dsn) or ("", False))[0]
        leader = next(n for n in ("live1", "live2") if holder.startswith(f"{n}-"))
        standby = "live2" if leader == "live1" else "live1"
        killed_at = time.time()
        hubs[leader].kill()
        hubs[leader].wait(10)
        await async_wait_for(
            lambda: (_lease(pg_dsn) or ("", False))[0].startswith(f"{standby}-"),
            timeout=4 * LEASE_S + 30,
            what="the standby leading",
        )
        takeover = time.time() - killed_at
        print(f"takeover after kill -9 of the leader: {takeover:.2f} s (lease {LEASE_S} s)")
        assert takeover < 2 * LEASE_S + 10  # lease + a renewal step, on a busy machine
        await async_wait_for(
            lambda: events_after(killed_at + LEASE_S) >= 3,
            timeout=60,
            what="the new leader firing",
        )

        # stop the agents, then let them send what their spools still hold
        for agent, proc in agents.items():
            assert procs.stop(proc) == 0
            procs.write_agent_config(
                agent_cfgs[agent],
                port=port,
                prefix=prefix,
                agent=agent,
                device=AGENTS[agent],
                enabled=False,
            )
            agents[agent] = procs.start("edge_agent", agent_cfgs[agent], tmp_path / f"{agent}.log")
        await async_wait_for(
            lambda: all(procs.spool_state(tmp_path / f"{a}-spool.sqlite")[0] == 0 for a in AGENTS),
            timeout=60,
            what="spools drained",
        )

        # every sample stored once, every batch of every agent in the ledger
        for agent in AGENTS:
            seqs = [
                r[0]
                for r in _query(
                    pg_dsn, "SELECT seq FROM ingest_batches WHERE agent = %s ORDER BY seq", (agent,)
                )
            ]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"{agent}: gap in seqs"
        ledger, stored, distinct = _query(
            pg_dsn,
            "SELECT (SELECT sum(samples) FROM ingest_batches WHERE agent <> 'hub'), "
            "(SELECT count(*) FROM samples s JOIN signals g ON g.id = s.signal_id "
            " WHERE g.agent <> 'hub'), "
            "(SELECT count(*) FROM (SELECT DISTINCT signal_id, time FROM samples) d)",
        )[0]
        assert ledger == stored == distinct, (ledger, stored, distinct)

        # the websocket clients saw every sample: the standby's all, the killed leader's
        # those before it died
        stored_samples = _samples(pg_dsn)
        assert len(stored_samples) == 3 * 6
        await async_wait_for(
            lambda: watchers[standby].missing(stored_samples) == 0,
            timeout=30,
            what=f"every stored sample pushed by {standby}",
        )
        assert watchers[leader].missing(stored_samples, before=killed_at - 2.0) == 0

        async def explain(extra: list[float]) -> str:
            w = watchers[standby]
            info = (await w.client.request(logger={"info": True}))["logger"]["info"]["hub"]
            out = [f"{extra}; takeover {takeover:.2f}"]
            for eid in ("both", "acted"):
                pushed = sorted(round(e["x"] - killed_at, 2) for e in w.events if e["id"] == eid)
                stored = [round(t - killed_at, 2) for t in _event_times(pg_dsn, eid)]
                out.append(f"{eid}: pushed {pushed} stored {stored}")
            keys = ("events", "made", "leading", "live_batches")
            out.append(str({k: v for k, v in info.items() if k.startswith(keys)}))
            return "; ".join(out)

        # once per crossing; each event stored once; no action ran twice
        times = _event_times(pg_dsn, "both")
        assert max(Counter(_ms(t) for t in times).values()) == 1, "an event was fired twice"
        edges = _rising_edges(pg_dsn)
        assert all(_near(t, edges) for t in times), "an event without its crossing"
        no_event = [t - killed_at for t in edges if t > times[0] and not _near(t, times)]
        assert not no_event, f"crossings without their event: {await explain(no_event)}"
        try:
            await async_wait_for(
                lambda: len(_event_times(pg_dsn, "acted")) >= len(times) - 1,
                timeout=30,
                what="the actions' events stored",
            )
        except TimeoutError:
            raise AssertionError(f"actions missing: {await explain([])}") from None
        acted = _event_times(pg_dsn, "acted")
        # announced only once the broker had it: a leader killed between that and the
        # action's run loses at most that one action; none runs twice
        assert len(times) - 1 <= len(acted) <= len(times), (len(acted), len(times))
        seen_live = [e["x"] for e in watchers[standby].events if e["id"] == "both"]
        assert max(Counter(_ms(t) for t in seen_live).values()) == 1
        assert all(_near(t, times) for t in seen_live) and all(_near(t, seen_live) for t in times)
        print(
            f"{len(times)} crossings, {len(acted)} actions, {stored} samples stored once, "
            f"{len(edges)} edges"
        )
    finally:
        for w in watchers.values():
            await w.close()
        for proc in [*agents.values(), *hubs.values()]:
            with contextlib.suppress(Exception):
                procs.stop(proc, signal.SIGTERM, timeout=20)
