"""One sample's whole way: driver → agent → MQTT → hub → SQLite (and back out)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hub.bootstrap import running_hub
from hub.client import OpenControlClient
from hub.config import hub_config
from hub.mqtt_auth import set_password
from hub.users import Users, save_users
from rigs import procs
from tests.fixtures.mosquitto import AUTH_USERS, Mosquitto
from tests.fixtures.net import async_wait_for, free_port, wait_for


async def _run_agent_into_hub(
    tmp_path: Path,
    config: dict,
    port: int,
    prefix: str,
    mqtt_users: dict[str, str] | None = None,
) -> None:
    ws_port = config["websocket"]["port"]
    async with running_hub(config) as hub:
        await async_wait_for(lambda: hub.ingest.subscribed, what="hub subscribed")
        users = Users()
        users.add("reader", "s3cret-pass", "read")  # login is required by default
        await save_users(hub, users)
        agent_cfg = procs.write_agent_config(
            tmp_path / "agent.toml", port=port, prefix=prefix, rate=20, users=mqtt_users
        )
        agent = procs.start("edge_agent", agent_cfg, tmp_path / "agent.log")
        try:
            await async_wait_for(
                lambda: hub.stats["samples"] >= 120, timeout=30, what="samples stored"
            )
            await async_wait_for(
                lambda: hub.agents.online_count() == 1, timeout=10, what="agent online"
            )
        finally:
            assert procs.stop(agent) == 0, (tmp_path / "agent.log").read_text()[-2000:]
        # Nothing lost: every batch the agent made is stored, or still waits in its spool.
        spool = tmp_path / "agent1-spool.sqlite"
        pending, next_seq = procs.spool_contents(spool)
        figures = procs.ledger_check(Path(config["store"]["path"]), "agent1")
        assert figures["last_seq"] - figures["first_seq"] + 1 == figures["batches"]
        # (a batch may be both: stored, but its ack came after the agent exited)
        made = set(range(figures["first_seq"], next_seq))
        assert made == set(range(figures["first_seq"], figures["last_seq"] + 1)) | set(pending)
        # Drain: the agent with its device disabled sends only what its spool holds. Then
        # every batch made is stored and none is in flight: the store is final.
        await async_wait_for(lambda: hub.agents.online_count() == 0, what="agent offline")
        procs.write_agent_config(
            agent_cfg, port=port, prefix=prefix, enabled=False, users=mqtt_users
        )
        agent = procs.start("edge_agent", agent_cfg, tmp_path / "agent.log")
        try:  # running (online again, so it stops cleanly) and its spool empty
            await async_wait_for(
                lambda: hub.agents.online_count() == 1 and procs.spool_state(spool)[0] == 0,
                timeout=60,
                what="draining agent online, spool drained",
            )
        finally:
            assert procs.stop(agent) == 0, (tmp_path / "agent.log").read_text()[-2000:]
        figures = procs.ledger_check(Path(config["store"]["path"]), "agent1")
        assert set(range(figures["first_seq"], figures["last_seq"] + 1)) == made
        assert figures["stored"] == figures["ledger_samples"] == figures["distinct"]
        info = hub.agents.get("agent1")
        assert info is not None and "Gen" in info.devices
        assert {s["name"] for s in info.devices["Gen"]["signals"]} >= {"Square", "Sinus"}
        async with OpenControlClient(
            f"ws://127.0.0.1:{ws_port}", user="reader", user_password="s3cret-pass"
        ) as client:
            for name in ("Square", "Sawtooth", "Sinus", "DC", "AC", "Random"):
                # Batches go live before they are stored, and the agent's last batch may
                # still be on its way: wait until live view, store and websocket agree.
                views = await async_wait_for(
                    lambda n=name: _views(hub, client, n), what=f"Gen.{name} stored as live"
                )
                live_x, stored, xs, _ys, xmin, xmax = views
                assert np.all(np.diff(stored.x) > 0) and len(xs) == len(live_x) > 0
                assert (xmin, xmax) == (stored.x[0], stored.x[-1])
        dc = hub.signals.get("Gen.DC").buffer.arrays()[1]
        assert np.all(dc == 2.0)  # gen_level + offset, as RTOC's Generator


async def _views(hub: Any, client: OpenControlClient, name: str) -> tuple | None:
    """Live samples, stored samples and the websocket's answers (from the store and from
    memory) of Gen.<name>, when they all hold exactly the same samples; else None."""
    live_x, live_y = hub.signals.get(f"Gen.{name}").buffer.arrays()
    stored = await hub.history("Gen", name, None, None, None)
    xs, ys, _unit, _sid, xmin, xmax = await client.get_signal(f"Gen.{name}")
    mem = (await client.request(getSignal=[f"Gen.{name}"]))["signals"][f"Gen.{name}"]
    same = (
        xs == stored.x.tolist() == live_x.tolist() == mem[0]
        and ys == stored.y.tolist() == live_y.tolist() == mem[1]
    )
    return (live_x, stored, xs, ys, xmin, xmax) if same else None


async def test_agent_to_sqlite_through_mosquitto(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str
) -> None:
    config = hub_config(
        {
            "hub": {"data_dir": str(tmp_path / "hub"), "id": f"hub-{prefix}"},
            "mqtt": {"host": "127.0.0.1", "port": mosquitto.port, "prefix": prefix},
            "websocket": {"port": free_port(), "host": "127.0.0.1"},
        }
    )
    await _run_agent_into_hub(tmp_path, config, mosquitto.port, prefix)


async def test_agent_to_sqlite_through_embedded_broker(tmp_path: Path, prefix: str) -> None:
    port = free_port()
    config = hub_config(
        {
            "hub": {"data_dir": str(tmp_path / "hub")},
            "mqtt": {"port": port, "prefix": prefix},
            "websocket": {"port": free_port(), "host": "127.0.0.1"},
        }
    )
    set_password(config["mqtt"], "agent1", AUTH_USERS["agent1"])  # `opencontrol mqtt add`
    await _run_agent_into_hub(tmp_path, config, port, prefix, mqtt_users=AUTH_USERS)


@pytest.mark.slow
def test_sigterm_of_hub_while_agent_publishes_loses_nothing(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str
) -> None:
    hub_cfg = procs.write_hub_config(tmp_path / "hub.toml", port=mosquitto.port, prefix=prefix)
    store = tmp_path / "hub-data" / "store.sqlite"
    agent_cfg = procs.write_agent_config(
        tmp_path / "agent.toml", port=mosquitto.port, prefix=prefix, rate=50
    )
    spool = tmp_path / "agent1-spool.sqlite"
    hub = procs.start("hub", hub_cfg, tmp_path / "hub.log")
    agent = procs.start("edge_agent", agent_cfg, tmp_path / "agent.log")

    def stored() -> int:
        return procs.batches_or_zero(lambda: procs.ledger_check(store, "agent1"))

    try:
        first = wait_for(lambda: (n := stored()) > 5 and n, timeout=60, what="first batches")
        assert procs.stop(hub, signal.SIGTERM) == 0, (tmp_path / "hub.log").read_text()[-3000:]
        time.sleep(1.5)  # the agent keeps producing (into its spool) while the hub is away
        hub = procs.start("hub", hub_cfg, tmp_path / "hub.log")
        # the restarted hub takes the backlog and new batches (not a fixed sleep)
        wait_for(lambda: stored() > first + 10, timeout=60, what="restarted hub storing")
        assert procs.stop(agent) == 0
        # Drain: the same agent with its device disabled only sends what its spool holds.
        procs.write_agent_config(agent_cfg, port=mosquitto.port, prefix=prefix, enabled=False)
        agent = procs.start("edge_agent", agent_cfg, tmp_path / "agent.log")
        wait_for(lambda: procs.spool_state(spool)[0] == 0, timeout=30, what="spool drained")
    finally:
        procs.stop(agent)
        procs.stop(hub)
    _, next_seq = procs.spool_state(spool)
    figures = procs.ledger_check(store, "agent1")
    # Every batch the agent made is in the ledger once, and every sample is stored once.
    assert figures["last_seq"] - figures["first_seq"] + 1 == figures["batches"]
    assert figures["last_seq"] == next_seq - 1
    assert figures["stored"] == figures["ledger_samples"] == figures["distinct"]
    assert figures["batches"] > first + 10
