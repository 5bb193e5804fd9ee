"""The store goes away for a while: the live side does not notice, and nothing is lost.

A hub (in this process, so its live view can be read directly) on PostgreSQL or SQLite,
a real Mosquitto, an agent process (generator, 10 Hz). An engine event fires on each
rising edge of the Square signal and its action writes a parameter of the agent's device.
Then PostgreSQL is stopped for 60 s (or the SQLite file is locked by another process for
20 s): the live view keeps every sample the agent publishes, the event fires on every
edge, the action's writes reach the device; once the store is back every sample and every
event of the outage is stored exactly once.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import pytest

from hub.bootstrap import running_hub
from hub.engine.actions import ActionDef
from hub.engine.events import EventDef
from rigs import procs
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for
from tests.hub.conftest import make_hub_config
from tests.hub.test_live import locked

pytestmark = pytest.mark.slow

AGENT = "agent1"


class DataWatcher:
    """Records the newest Square sample time of every data message the agent publishes."""

    def __init__(self, port: int, prefix: str) -> None:
        self.newest = 0.0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        ready = threading.Event()
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{prefix}/{AGENT}/data", qos=0)
        self.client.loop_start()
        ready.wait(5)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        for s in json.loads(msg.payload)["signals"]:
            if s["signal"] == "Square" and s["t"]:
                self.newest = max(self.newest, max(s["t"]))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def same(a: list[float], b: list[float]) -> bool:
    """Equal sample times (the store keeps microseconds)."""
    return len(a) == len(b) and bool(np.all(np.abs(np.subtract(a, b)) < 2e-6))


def rising_edges(x: np.ndarray, y: np.ndarray) -> list[float]:
    """Times of the samples where Square goes from ≤ 1.5 to > 1.5."""
    high = y > 1.5
    return [float(t) for t in x[1:][high[1:] & ~high[:-1]]]


@pytest.mark.parametrize("kind", ["postgres", "sqlite"])
async def test_live_side_keeps_going_while_the_store_is_away(
    kind: str, tmp_path: Path, mosquitto: Mosquitto, prefix: str, request: pytest.FixtureRequest
) -> None:
    if kind == "postgres":
        pg = request.getfixturevalue("own_pg")
        store_cfg: dict[str, Any] = {"kind": "postgres", "dsn": pg.create_database()}
        outage_s = 60.0
    else:
        store_cfg = {"kind": "sqlite"}
        outage_s = 20.0
    # A small writer queue: most of the outage's batches find it full and are resent.
    store_cfg["queue_batches"] = 100
    cfg = make_hub_config(tmp_path, mosquitto, prefix, store=store_cfg)
    agent_cfg = procs.write_agent_config(
        tmp_path / "agent.toml", port=mosquitto.port, prefix=prefix, rate=10, batch=6
    )
    spool = tmp_path / f"{AGENT}-spool.sqlite"
    watcher = DataWatcher(mosquitto.port, prefix)
    async with running_hub(cfg) as hub:
        await async_wait_for(lambda: hub.ingest.subscribed, what="hub subscribed")
        engine = hub.engine
        engine.set_event(EventDef(name="high", **_event()))
        engine.set_action(ActionDef(name="nudge", listen_ids=["sq-high"], script="Gen.phase = 2.0"))
        agent = procs.start("edge_agent", agent_cfg, tmp_path / "agent.log")
        try:
            await async_wait_for(lambda: engine.stats.actions_run >= 2, 30, "actions running")
            outage = await _outage(
                hub, kind, cfg, pg if kind == "postgres" else None, watcher, outage_s
            )
            # Back: the agents are told, resend, and everything lands.
            await async_wait_for(lambda: hub.store_state()["store"] == "up", 60, "store up")
        finally:
            assert procs.stop(agent) == 0, (tmp_path / "agent.log").read_text()[-2000:]
            watcher.close()
        procs.write_agent_config(
            agent_cfg, port=mosquitto.port, prefix=prefix, rate=10, batch=6, enabled=False
        )
        agent = procs.start("edge_agent", agent_cfg, tmp_path / "agent.log")
        try:
            await async_wait_for(
                lambda: procs.spool_state(spool)[0] == 0, 90, "agent spool drained"
            )
        finally:
            assert procs.stop(agent) == 0
        await engine.wait_idle()
        fired = engine.stats.events_fired
        stored = await hub.history("Gen", "Square", None, None, None)
    # Every sample once: the ledger has every batch the agent made, no gap, no double.
    _, next_seq = procs.spool_state(spool)
    f = (
        procs.pg_ledger_check(store_cfg["dsn"], AGENT)
        if kind == "postgres"
        else procs.ledger_check(Path(cfg["store"]["path"]), AGENT)
    )
    assert f["last_seq"] - f["first_seq"] + 1 == f["batches"] and f["last_seq"] == next_seq - 1, f
    assert f["stored"] == f["ledger_samples"] == f["distinct"], f
    # Every edge fired one event, stored once, during the outage as before and after it.
    times = procs.event_times(kind, Path(cfg["store"]["path"]), store_cfg.get("dsn", ""), "sq-high")
    assert max(times.values()) == 1, {t: n for t, n in times.items() if n > 1}
    assert sum(times.values()) == fired
    edges = rising_edges(stored.x, stored.y)
    first_event = min(times)
    assert same(sorted(times), [t for t in edges if t >= first_event - 1e-5])
    start, end = outage["window"]
    end -= 0.01  # clear of the last live sample (the store rounds to microseconds)
    in_outage = sorted(t for t in times if start < t < end)
    fired_in = [t for t in outage["fired"] if t < end]
    assert same(in_outage, fired_in), "each event fired live in the outage is stored once"
    assert same(in_outage, [t for t in edges if start < t < end])
    assert len(in_outage) >= outage_s * 0.5, outage  # a 1 Hz Square: about one a second
    print(
        f"\n{kind}: store away {outage_s:.0f} s; live view age max {outage['max_age']:.2f} s,"
        f" {len(outage['fired'])} events fired and {outage['actions']} device writes meanwhile"
    )


def _event() -> dict[str, Any]:
    e = procs.SQUARE_EVENT
    return {k: e[k] for k in ("cond", "text", "id", "trigger", "sname", "dname")}


async def _outage(
    hub: Any, kind: str, cfg: dict[str, Any], pg: Any, watcher: DataWatcher, seconds: float
) -> dict[str, Any]:
    """Take the store away for `seconds`, watching the live side; what it saw meanwhile."""
    engine = hub.engine
    square = hub.signals.get("Gen.Square")
    lock: Any = None
    if kind == "postgres":
        pg.stop("immediate")
    else:
        lock = locked(Path(cfg["store"]["path"]))
        lock.__enter__()
    try:
        t_start = time.time()
        actions0 = engine.stats.actions_run
        failures0 = engine.stats.action_failures
        await async_wait_for(lambda: hub.store_state()["store"] == "down", 60, "store down")
        max_age, published = 0.0, watcher.newest
        while time.time() - t_start < seconds:
            await asyncio.sleep(0.5)
            # What the agent had published half a second ago is live now.
            await async_wait_for(
                lambda p=published: square.latest()[0] >= p, 30, "published data live"
            )
            published = watcher.newest
            max_age = max(max_age, time.time() - square.latest()[0])
        t_end = square.latest()[0]
        assert hub.store_state()["store"] == "down" and hub.stats["write_deferred"] > 0
        fired = sorted(
            e.time
            for e in hub.recent_events
            if e.event_id == "sq-high" and t_start < e.time < t_end
        )
        await engine.wait_idle()
        seen = {
            "window": (t_start, t_end),
            "fired": fired,
            "actions": engine.stats.actions_run - actions0,
            "max_age": max_age,
        }
        # Every event's action ran and its write reached the device (the agent said ok).
        assert engine.stats.action_failures == failures0, engine.stats.errors[-3:]
        assert seen["actions"] >= len(fired) > 0, seen
    finally:
        if kind == "postgres":
            pg.start()
        else:
            lock.__exit__(None, None, None)
    return seen
