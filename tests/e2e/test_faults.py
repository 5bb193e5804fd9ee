"""Fault tests with real processes: kill anything at any moment, every sample stored once.

Each test runs a hub process and an agent process (generator at 50 Hz, six signals), both
logged in to a Mosquitto with passwords and the Ansible role's ACL, does something nasty
in the middle of the stream, then drains the agent's spool and checks the
exactly-once figures: the ledger holds every batch the agent made once, without gaps, and
the samples table holds exactly the ledger's samples, no (signal, time) twice. An engine
event fires on each rising edge of the Square signal: no edge's event is stored twice by
one hub process (a second process may take a batch the first never committed live again).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rigs import procs
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import wait_for

pytestmark = pytest.mark.slow

AGENT = "agent1"


class Rig:
    """A hub process, an agent process, their configs and the store to check."""

    def __init__(self, tmp: Path, broker: Mosquitto, prefix: str, kind: str, dsn: str) -> None:
        self.tmp, self.broker, self.prefix, self.kind, self.dsn = tmp, broker, prefix, kind, dsn
        self.hub_cfg = procs.write_hub_config(
            tmp / "hub.toml",
            port=broker.port,
            prefix=prefix,
            kind=kind,
            dsn=dsn,
            users=broker.users,
        )
        self.agent_cfg = procs.write_agent_config(
            tmp / "agent.toml",
            port=broker.port,
            prefix=prefix,
            rate=50,
            batch=30,
            users=broker.users,
        )
        self.spool = tmp / f"{AGENT}-spool.sqlite"
        self.store = tmp / "hub-data" / "store.sqlite"
        events = {"automation.events": {"square high": procs.SQUARE_EVENT}}
        procs.seed_automation(kind, self.store, dsn, events)
        self.uncommitted_after: list[float] = []  # per hub restart: newest stored Square
        self.hub = procs.start("hub", self.hub_cfg, tmp / "hub.log")
        self.agent = procs.start("edge_agent", self.agent_cfg, tmp / "agent.log")

    def ledger(self) -> dict[str, int]:
        if self.kind == "sqlite":
            if not self.store.exists():
                return {"batches": 0}
            return procs.ledger_check(self.store, AGENT)
        return procs.pg_ledger_check(self.dsn, AGENT)

    def wait_batches(self, more_than: int, timeout: float = 90) -> None:
        wait_for(lambda: self._safe_batches() > more_than, timeout=timeout, what="batches stored")

    def _safe_batches(self) -> int:
        try:
            return self.ledger()["batches"]
        except Exception:
            return 0

    def restart_hub(self, sig: int = signal.SIGTERM, pause: float = 0.0) -> None:
        procs.stop(self.hub, sig)
        self.uncommitted_after.append(
            procs.newest_sample(self.kind, self.store, self.dsn, "Gen", "Square")
        )
        time.sleep(pause)
        self.hub = procs.start("hub", self.hub_cfg, self.tmp / "hub.log")

    def drain_and_check(self) -> dict[str, int]:
        """Stop producing, send what the spool holds, stop everything, check exactly-once."""
        procs.stop(self.agent)
        procs.write_agent_config(
            self.agent_cfg,
            port=self.broker.port,
            prefix=self.prefix,
            enabled=False,
            users=self.broker.users,
        )
        self.agent = procs.start("edge_agent", self.agent_cfg, self.tmp / "agent.log")
        try:
            wait_for(
                lambda: procs.spool_state(self.spool)[0] == 0,
                timeout=60,
                what="agent spool drained",
            )
        finally:
            procs.stop(self.agent)
            assert procs.stop(self.hub) == 0, self.log("hub")
        _, next_seq = procs.spool_state(self.spool)
        f = self.ledger()
        assert f["last_seq"] - f["first_seq"] + 1 == f["batches"], f  # no gap
        assert f["last_seq"] == next_seq - 1, f  # the newest batch made is stored
        assert f["stored"] == f["ledger_samples"] == f["distinct"], f  # each sample once
        self.check_events()
        return f

    def check_events(self) -> None:
        """Each edge's event stored once per hub process that took its batch live."""
        times = procs.event_times(self.kind, self.store, self.dsn, "sq-high")
        assert sum(times.values()) > 0, "the engine fired no event"
        twice = {t: n for t, n in times.items() if n > 1}
        processes = 1 + len(self.uncommitted_after)
        assert all(n <= processes for n in twice.values()), twice
        # Only a batch never committed before a restart can go live (and fire) again.
        floor = min(self.uncommitted_after, default=float("inf"))
        assert all(t > floor for t in twice), (twice, self.uncommitted_after)

    def log(self, which: str) -> str:
        p = self.tmp / f"{which}.log"
        return p.read_text()[-3000:] if p.exists() else ""

    def close(self) -> None:
        for p in (self.agent, self.hub):
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.fixture(params=["sqlite", "postgres"])
def rig_factory(
    request: pytest.FixtureRequest, tmp_path: Path, prefix: str
) -> Iterator[Callable[[Mosquitto, str | None], Rig]]:
    rigs: list[Rig] = []

    def make(broker: Mosquitto, dsn: str | None = None) -> Rig:
        kind = request.param
        if kind == "postgres" and dsn is None:
            dsn = request.getfixturevalue("pg_dsn")
        rig = Rig(tmp_path, broker, prefix, kind, dsn or "")
        rigs.append(rig)
        return rig

    make.kind = request.param  # type: ignore[attr-defined]
    yield make
    for rig in rigs:
        rig.close()


def test_kill_9_of_hub_mid_stream(rig_factory, auth_mosquitto: Mosquitto) -> None:
    rig = rig_factory(auth_mosquitto)
    rig.wait_batches(5)
    rig.restart_hub(signal.SIGKILL, pause=0.5)
    rig.wait_batches(rig.ledger()["batches"] + 5)
    assert rig.drain_and_check()["stored"] > 0


def test_hub_down_for_a_while_then_back(rig_factory, auth_mosquitto: Mosquitto) -> None:
    rig = rig_factory(auth_mosquitto)
    rig.wait_batches(5)
    before = rig.ledger()["batches"]
    rig.restart_hub(signal.SIGTERM, pause=3.0)  # the agent keeps producing meanwhile
    rig.wait_batches(before + 20)
    rig.drain_and_check()


def test_mosquitto_restarted_while_agent_publishes(
    rig_factory, own_auth_mosquitto: Mosquitto
) -> None:
    rig = rig_factory(own_auth_mosquitto)
    rig.wait_batches(5)
    own_auth_mosquitto.restart()
    before = rig.ledger()["batches"]
    rig.wait_batches(before + 10)
    rig.drain_and_check()


def test_agent_killed_and_restarted_replays_its_spool(rig_factory, auth_mosquitto) -> None:
    rig = rig_factory(auth_mosquitto)
    rig.wait_batches(5)
    procs.stop(rig.agent, signal.SIGKILL)
    rig.agent = procs.start("edge_agent", rig.agent_cfg, rig.tmp / "agent.log")
    rig.wait_batches(rig.ledger()["batches"] + 5)
    rig.drain_and_check()


def test_postgres_stopped_for_a_while(
    tmp_path: Path, auth_mosquitto: Mosquitto, prefix: str, own_pg
) -> None:
    dsn = own_pg.create_database()
    rig = Rig(tmp_path, auth_mosquitto, prefix, "postgres", dsn)
    try:
        rig.wait_batches(5)
        own_pg.stop("immediate")
        time.sleep(3.0)  # the hub holds acknowledgements; broker and spool keep the data
        assert rig.hub.poll() is None, rig.log("hub")
        own_pg.start()
        before = rig.ledger()["batches"]
        rig.wait_batches(before + 20, timeout=60)
        rig.drain_and_check()
    finally:
        rig.close()
