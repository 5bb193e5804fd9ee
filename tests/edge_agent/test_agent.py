"""The whole agent in-process against a real Mosquitto and a stand-in hub.

Samples flow driver → batcher → spool → MQTT → hub ack → out of the spool; commands
round-trip over MQTT; on stop the open batch is flushed into the spool, nothing lost.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.agent import Agent
from edge_agent.config import make_agent_config
from edge_agent.spool import Spool
from edge_agent.wire import decode_batch
from tests.edge_agent.standin_hub import StandInHub
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import wait_for

AGENT = "pi-agent"


@pytest.fixture
def agent(mosquitto: Mosquitto, prefix: str, tmp_path: Path) -> Iterator[Agent]:
    cfg = make_agent_config(
        agent_id=AGENT,
        port=mosquitto.port,
        prefix=prefix,
        spool_path=tmp_path / "spool.sqlite",
        devices={
            "Gen": {"driver": "generator", "samplerate": 100, "params": {"waveform": "all"}},
            "Sys": {"driver": "system", "samplerate": 5},
        },
        agent={"batch_max_age": 0.05, "ack_timeout": 2.0, "status_interval": 60.0},
    )
    a = Agent(config=cfg, clock_synced=lambda: True)
    yield a
    a.stop(drain=0)


def test_samples_reach_the_hub_and_leave_the_spool(agent: Agent, hub: StandInHub) -> None:
    agent.start()
    wait_for(lambda: len(hub.samples("Gen.Square")) >= 50, 10, "generator samples at the hub")
    wait_for(lambda: hub.samples("Sys.CPU"), 10, "system samples at the hub")
    status = wait_for(lambda: hub.status.get(AGENT), 10, "birth status")
    assert status["state"] == "online" and set(status["devices"]) == {"Gen", "Sys"}
    wait_for(lambda: agent.spool.stats().batches <= 2, 10, "acked batches leave the spool")
    # both halves of the square wave arrive (a loaded machine may take more than a period)
    wait_for(lambda: {y for _, y in hub.samples("Gen.Square")} == {1.0, 2.0}, 10, "both levels")
    square = hub.samples("Gen.Square")
    ts = [t for t, _ in square]
    assert all(b > a for a, b in itertools.pairwise(ts))
    for batch in hub.received:
        assert batch.agent == AGENT and batch.clock_synced is True


def test_commands_round_trip_and_status_follows(agent: Agent, hub: StandInHub) -> None:
    agent.start()
    wait_for(lambda: hub.status.get(AGENT), 10, "birth status")
    r = hub.command(AGENT, op="set", device="Gen", name="gen_level", args=5)
    assert r["ok"] is True and r["result"] == 5.0
    assert hub.command(AGENT, op="get", device="Gen", name="gen_level")["result"] == 5.0
    bad = hub.command(AGENT, op="set", device="Gen", name="volume", args=1)
    assert bad == {"id": bad["id"], "ok": False, "error": "Gen: no parameter 'volume'"}
    r = hub.command(AGENT, op="call", device="Gen", name="changeType", args=["DC"])
    assert r == {"id": r["id"], "ok": True, "result": "DC"}
    wait_for(lambda: any(y == 6.0 for _, y in hub.samples("Gen.DC")), 10, "DC at level 5 + 1")

    def param(name: str) -> object:
        st = hub.status.get(AGENT) or {}
        params = st.get("devices", {}).get("Gen", {}).get("params", [])
        return next((p["value"] for p in params if p["name"] == name), None)

    wait_for(lambda: param("gen_level") == 5.0, 10, "status republished after set")
    assert hub.command(AGENT, op="stop", device="Gen")["ok"] is True
    wait_for(lambda: hub.status[AGENT]["devices"]["Gen"]["running"] is False, 10, "status: stopped")
    assert hub.command(AGENT, op="samplerate", device="Sys", args=2)["result"] == 2.0
    wait_for(lambda: hub.status[AGENT]["devices"]["Sys"]["samplerate"] == 2.0, 10, "rate")
    assert (
        hub.command(AGENT, op="start", device="Nope")["error"] == "no device 'Nope' on this agent"
    )


def test_stop_flushes_the_open_batch_and_loses_nothing(
    mosquitto: Mosquitto, prefix: str, tmp_path: Path
) -> None:
    # the hub acks nothing: every sample must be in the spool after stop
    h = StandInHub(port=mosquitto.port, prefix=prefix, ack=lambda b: False).start()
    cfg = make_agent_config(
        agent_id=AGENT,
        port=mosquitto.port,
        prefix=prefix,
        spool_path=tmp_path / "spool.sqlite",
        devices={"Gen": {"driver": "generator", "samplerate": 200}},
        agent={"batch_max_samples": 100_000, "batch_max_age": 3600.0},
    )
    a = Agent(config=cfg)
    a.start()
    try:
        wait_for(lambda: a.scheduler.runners["Gen"].stats.samples >= 30, 10, "samples read")
        assert a.spool.stats().batches == 0, "the batch is still open (age 1 h)"
        wait_for(lambda: (h.status.get(AGENT) or {}).get("state") == "online", 10, "birth")
        a.stop(drain=0)
        # a clean stop says offline itself (the will is only for crashes)
        wait_for(lambda: h.status[AGENT]["state"] == "offline", 10, "offline status")
    finally:
        a.stop(drain=0)
        h.clear_retained(AGENT)
        h.stop()
    produced = a.scheduler.runners["Gen"].stats.samples
    with Spool(path=tmp_path / "spool.sqlite", agent=AGENT) as sp:
        batches = [decode_batch(b.payload) for b in sp.pending()]
    assert len(batches) == 1
    assert batches[0].sample_count == produced, "every sample read is in the spool"


def test_spool_bound_drops_are_reported_in_the_status(
    mosquitto: Mosquitto, prefix: str, tmp_path: Path, hub: StandInHub
) -> None:
    hub.set_state("offline")  # nothing is sent: the spool fills and must drop the oldest
    cfg = make_agent_config(
        agent_id=AGENT,
        port=mosquitto.port,
        prefix=prefix,
        spool_path=tmp_path / "spool.sqlite",
        devices={"Gen": {"driver": "generator", "samplerate": 500}},
        agent={"batch_max_samples": 20, "spool_max_bytes": 4000, "status_interval": 0.2},
    )
    a = Agent(config=cfg)
    a.start()
    try:
        wait_for(lambda: a.spool.stats().dropped_batches >= 3, 10, "spool drops")
        assert a.spool.stats().bytes <= 4000
        wait_for(
            lambda: (hub.status.get(AGENT) or {}).get("spool", {}).get("dropped_batches", 0) >= 3,
            10,
            "drops reported in the status",
        )
        assert hub.seqs() == [], "nothing sent while the hub is offline"
    finally:
        a.stop(drain=0)
        hub.clear_retained(AGENT)


def test_driver_events_travel_in_spooled_batches_with_rtoc_ids(
    agent: Agent, hub: StandInHub
) -> None:
    agent.start()
    wait_for(lambda: hub.status.get(AGENT), 10, "birth status")
    driver = agent.scheduler.runners["Gen"].driver
    driver.events("level too high", signal="Square", priority=2, value=float("inf"))
    driver.events("plain note", priority=7)
    wait_for(lambda: len(hub.events) >= 2, 10, "events at the hub")
    first, second = sorted(hub.events, key=lambda e: e["text"])
    assert first["text"] == "level too high" and first["device"] == "Gen"
    assert first["signal"] == "Square" and first["priority"] == 2
    assert first["value"] == "inf", "a non-finite value travels as text, not as bad JSON"
    assert len(first["id"]) == 40 and isinstance(first["t"], float)
    assert second["priority"] == 0 and second["signal"] == "unknownEvent"
    # they came in data batches (spooled, acknowledged), not on a fire-and-forget topic
    assert sum(len(b.events) for b in hub.received) == 2
    # the data path is unaffected
    n = len(hub.samples("Gen.Square"))
    wait_for(lambda: len(hub.samples("Gen.Square")) > n, 10, "data still flowing")


def test_a_stale_offline_status_is_corrected_while_connected(agent: Agent, hub: StandInHub) -> None:
    agent.start()
    wait_for(lambda: (hub.status.get(AGENT) or {}).get("state") == "online", 10, "birth")
    mark = len(hub.status_log)
    # e.g. the late last will of an earlier connection of this agent
    hub.client.publish(
        hub.topics.status(AGENT), b'{"state":"offline","agent":"pi-agent"}', qos=1, retain=True
    )

    def states() -> list[str]:
        with hub.lock:
            return [st.get("state") for st in hub.status_log[mark:]]

    wait_for(lambda: "offline" in states(), 10, "stale offline seen")
    wait_for(lambda: states()[-1] == "online" and "offline" in states(), 10, "corrected")
    assert states().index("offline") < len(states()) - 1
    hub.clear_retained(AGENT)


def test_events_not_yet_acknowledged_stay_in_the_spool(agent: Agent, hub: StandInHub) -> None:
    agent.start()
    wait_for(lambda: hub.status.get(AGENT), 10, "birth status")
    hub.ack_policy = lambda batch: False  # the hub stores nothing for now
    driver = agent.scheduler.runners["Gen"].driver
    driver.events("while nobody listens", priority=1)
    agent.stop(drain=0)  # the agent goes down with the event unacknowledged
    with sqlite3.connect(agent.spool.path) as db:
        pending = [bytes(p) for (p,) in db.execute("SELECT payload FROM batches")]
    # still in the spool: the next start sends it again until the hub acknowledges it
    assert any(b"while nobody listens" in p for p in pending)
