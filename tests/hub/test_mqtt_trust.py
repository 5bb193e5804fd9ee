"""Nobody but an agent speaks for that agent (issue 13): each finding of the black-box
attack, replayed against a running hub on the real embedded broker (with the users that
`opencontrol mqtt` writes) and on a real Mosquitto with the Ansible role's ACL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edge_agent.wire import Batch, Command, Event, Series
from hub.app import Hub
from hub.bootstrap import running_hub
from hub.config import hub_config
from hub.engine.actions import ActionDef
from hub.mqtt_auth import set_password
from tests.ansible.mqttc import Collector, forge, login_refused
from tests.fixtures.mosquitto import AUTH_USERS, Mosquitto
from tests.fixtures.net import async_wait_for, free_port

T0 = 1_700_000_000.0


@dataclass
class Rig:
    """A running hub, its broker's port, the topic prefix and the agents' passwords."""

    kind: str
    hub: Hub
    port: int
    prefix: str
    hub_login: tuple[str, str]

    def login(self, user: str, **kw: Any) -> Collector:
        return Collector(port=self.port, username=user, password=AUTH_USERS[user], **kw)

    async def agent(self, user: str, topics: list[str] | None = None) -> Collector:
        p = self.prefix
        return await asyncio.to_thread(
            self.login, user, topics=topics or [f"{p}/{user}/ack", f"{p}/{user}/cmd"]
        )

    async def forge(self, user: str, topic: str, payload: bytes, retain: bool = False) -> None:
        """Publish as `user` on a fresh connection and wait until the broker dealt with it."""
        await asyncio.to_thread(
            forge, self.port, user, AUTH_USERS[user], topic, payload=payload, retain=retain
        )

    async def publish(self, who: Collector, topic: str, payload: bytes) -> None:
        await asyncio.to_thread(
            lambda: who.client.publish(topic, payload, qos=1).wait_for_publish(10)
        )

    async def rejected(self, limit: int = 100) -> list[tuple[float, str, bytes, str]]:
        return await self.hub.run_store(self.hub.store.rejected, limit)


def batch(agent: str, seq: int, value: float = 1.0, device: str | None = None, **kw: Any) -> bytes:
    s = Series(device or f"Dev-{agent}", "Sig", "V", [T0 + seq % 1000], [value])
    return Batch(agent=agent, seq=seq, signals=[s], **kw).encode()


def acks(who: Collector, rig: Rig, agent: str) -> list[int]:
    return [s for p in who.on(f"{rig.prefix}/{agent}/ack") for s in json.loads(p)["seq"]]


async def wait_ack(who: Collector, rig: Rig, agent: str, seq: int) -> None:
    await async_wait_for(lambda: seq in acks(who, rig, agent), 15, f"ack of {agent}/{seq}")


RigFactory = Callable[..., contextlib.AbstractAsyncContextManager[Rig]]


@pytest.fixture(params=["embedded", "mosquitto"])
def make_rig(request: pytest.FixtureRequest, tmp_path: Path, prefix: str) -> RigFactory:
    """A factory of running hubs on the broker kind of the test's parameter; keyword
    arguments are `[mqtt]` (or, with a `store_` prefix, `[store]`) settings."""

    @contextlib.asynccontextmanager
    async def make(**settings: Any) -> AsyncIterator[Rig]:
        mqtt: dict[str, Any] = {"prefix": prefix, "heartbeat": 0.5}
        store: dict[str, Any] = {}
        for key, value in settings.items():
            if key.startswith("store_"):
                store[key[6:]] = value
            else:
                mqtt[key] = value
        if request.param == "embedded":
            mqtt["port"] = free_port()
        else:
            broker: Mosquitto = request.getfixturevalue("auth_mosquitto")
            mqtt.update(host="127.0.0.1", port=broker.port, username="hub")
            mqtt["password"] = AUTH_USERS["hub"]
        cfg = hub_config(
            {
                "hub": {"data_dir": str(tmp_path / "hub"), "id": f"hub-{prefix}"},
                "mqtt": mqtt,
                "store": store,
                "websocket": {"enabled": False},
            },
            source="test",
        )
        if request.param == "embedded":  # what `opencontrol mqtt add a1` does
            for user in ("a1", "a2"):
                set_password(cfg["mqtt"], user, AUTH_USERS[user])
        async with running_hub(cfg) as hub:
            await async_wait_for(lambda: hub.stats["mqtt_ok"], 15, "hub's heartbeat back")
            login = hub.ingest.credentials or ("hub", AUTH_USERS["hub"])
            yield Rig(request.param, hub, mqtt["port"], prefix, login)

    return make


# -- 1. the broker takes anyone ------------------------------------------------------------
async def test_1_strangers_are_refused_and_agents_keep_to_their_own_topics(
    make_rig: RigFactory,
) -> None:
    async with make_rig() as rig:
        p = rig.prefix
        assert await asyncio.to_thread(login_refused, rig.port, None, None)
        assert await asyncio.to_thread(login_refused, rig.port, "a1", "wrong")
        a1 = await rig.agent("a1")
        a2 = await rig.agent("a2", [f"{p}/#"])
        # a2 publishes as a1, as a made-up agent with a retained status, and commands a1.
        await rig.forge("a2", f"{p}/a1/data", batch("a1", 1))
        fake = {"state": "online", "devices": {"Fake": {"driver": "x"}}}
        await rig.forge("a2", f"{p}/fake/status", json.dumps(fake).encode(), retain=True)
        await rig.forge("a2", f"{p}/a1/cmd", json.dumps({"id": "x", "op": "stop"}).encode())
        await rig.publish(a1, f"{p}/a1/data", batch("a1", 2))
        await wait_ack(a1, rig, "a1", 2)
        # (the loop counts a batch after the writer thread acked it)
        await async_wait_for(lambda: rig.hub.stats["batches"] >= 1, what="batch counted")
        # Only a1's own batch got in; a1 heard no command; nothing of a1 reached a2.
        assert rig.hub.stats["batches"] == 1 and rig.hub.stats["rejected"] == 0
        assert acks(a1, rig, "a1") == [2]
        assert a1.on(f"{p}/a1/cmd") == []
        assert rig.hub.agents.get("fake") is None
        assert not [t for t, _ in a2.messages if t.startswith(f"{p}/a1/")]
        # The hub still commands a1 (its cmd gets through; a1 here does not answer).
        await rig.hub.ingest.send_command("a1", Command(op="start", device="Pump"), 0.5)
        await async_wait_for(lambda: a1.on(f"{p}/a1/cmd"), 10, "the hub's command")
        a1.close()
        a2.close()


# -- 2. sequence pre-emption and replays with other content ---------------------------------
async def test_2_same_seq_with_other_content_is_refused_and_recorded(
    make_rig: RigFactory,
) -> None:
    async with make_rig() as rig:
        p, hub = rig.prefix, rig.hub
        a1 = await rig.agent("a1")
        await rig.publish(a1, f"{p}/a1/data", batch("a1", 10, value=1.0))
        await wait_ack(a1, rig, "a1", 10)
        # The same seq with other content (a1's password used elsewhere, a reset spool).
        await rig.publish(a1, f"{p}/a1/data", batch("a1", 10, value=666.0))
        await async_wait_for(lambda: hub.stats["seq_conflicts"] == 1, 10, "conflict seen")
        # A true replay is a duplicate; a far jump is flagged and stored.
        await rig.publish(a1, f"{p}/a1/data", batch("a1", 10, value=1.0))
        await async_wait_for(lambda: hub.stats["duplicates"] == 1, 10, "replay seen")
        await rig.publish(a1, f"{p}/a1/data", batch("a1", 10 + 10**6))
        await wait_ack(a1, rig, "a1", 10 + 10**6)
        assert hub.stats["seq_jumps"] == 1
        assert hub.stats["rejected"] == 1 and hub.stats["duplicates"] == 1
        (row,) = await rig.rejected()
        assert row[1] == "(batch a1/10)" and "stored before with other content" in row[3]
        history = await hub.history("Dev-a1", "Sig")
        assert list(history.y) == [1.0, 1.0]  # seq 10's first content and the jumped batch
        a1.close()


# -- 3. forged acks ------------------------------------------------------------------------
async def test_3_only_the_hub_acknowledges_an_agents_batches(make_rig: RigFactory) -> None:
    async with make_rig() as rig:
        p = rig.prefix
        a1 = await rig.agent("a1")
        await rig.forge("a2", f"{p}/a1/ack", b'{"seq":[1,2,3]}')
        await rig.forge("a1", f"{p}/a1/ack", b'{"seq":[4]}')  # not even a1 itself
        await rig.publish(a1, f"{p}/a1/data", batch("a1", 5))
        await wait_ack(a1, rig, "a1", 5)
        assert acks(a1, rig, "a1") == [5]
        a1.close()


# -- 4. seq of 2^63 and more ---------------------------------------------------------------
async def test_4_a_seq_beyond_64_bits_is_refused_at_the_door(make_rig: RigFactory) -> None:
    async with make_rig() as rig:
        p, hub = rig.prefix, rig.hub
        a1, a2 = await rig.agent("a1"), await rig.agent("a2")
        await rig.publish(a1, f"{p}/a1/data", batch("a1", 2**63))
        await rig.publish(a1, f"{p}/a1/data", batch("a1", 2**64 + 5))
        await rig.publish(a2, f"{p}/a2/data", batch("a2", 2**63 - 1))
        await wait_ack(a2, rig, "a2", 2**63 - 1)
        await async_wait_for(lambda: hub.stats["rejected"] == 2, 10, "both refused")
        assert {r[3][:30] for r in await rig.rejected()} == {"seq must be an integer from 0 "}
        assert hub.stats["write_errors"] == 0 and hub.status()["store_ok"]
        await rig.publish(a1, f"{p}/a1/data", batch("a1", 3))
        await wait_ack(a1, rig, "a1", 3)
        assert acks(a1, rig, "a1") == [3]  # the refused ones were never acknowledged to a1
        a1.close()
        a2.close()


# -- 5. taking the hub's client id ---------------------------------------------------------
async def test_5_the_hubs_session_cannot_be_taken_over_quietly(
    make_rig: RigFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with make_rig() as rig:
        p, hub = rig.prefix, rig.hub
        hub_id = f"hub-{p}"
        for i in range(4):  # strangers and an agent, clean session on and off
            kw = {"client_id": hub_id, "clean_session": bool(i % 2)}
            refused = await asyncio.to_thread(login_refused, rig.port, None, None, **kw)
            assert refused
            refused = await asyncio.to_thread(login_refused, rig.port, "a2", AUTH_USERS["a2"], **kw)
            # The embedded broker binds a client id to its user; Mosquitto lets any
            # authenticated user take it over, and the hub is thrown out and comes back.
            assert refused == (rig.kind == "embedded")
        # Someone with the hub's own login takes its session with a clean start: the broker
        # forgets the hub's subscriptions. The heartbeat notices; the hub subscribes again.
        lost_before = hub.stats["mqtt_lost"] + hub.stats["mqtt_reconnects"]
        thief = await asyncio.to_thread(
            Collector,
            port=rig.port,
            username=rig.hub_login[0],
            password=rig.hub_login[1],
            topics=[],
            client_id=hub_id,
        )
        thief.close()
        await async_wait_for(
            lambda: hub.stats["mqtt_lost"] + hub.stats["mqtt_reconnects"] > lost_before,
            20,
            "the hub noticing",
        )
        await async_wait_for(lambda: hub.stats["mqtt_ok"], 20, "the hub's heartbeat back")
        assert "reconnected to MQTT broker" in caplog.text or "no heartbeat back" in caplog.text
        a1 = await rig.agent("a1")
        await rig.publish(a1, f"{p}/a1/data", batch("a1", 1))
        await wait_ack(a1, rig, "a1", 1)
        if rig.kind == "embedded":
            assert hub.broker.refused >= 8
            refusals = [r for r in caplog.records if "MQTT connection from" in r.getMessage()]
            assert 1 <= len(refusals) <= 5  # logged, but a few lines a minute per address
        a1.close()


# -- 6. the event topic --------------------------------------------------------------------
async def test_6_events_get_the_checks_data_gets(make_rig: RigFactory) -> None:
    async with make_rig() as rig:
        p, hub = rig.prefix, rig.hub
        ran: list[str] = []
        hub.engine.set_action(ActionDef(name="admin", listen_ids=["alarm"], script="pass"))
        hub.engine.set_action(ActionDef(name="said so", listen_ids=["a1/ok"], script="pass"))
        hub.on_event.append(lambda e: ran.append(e.event_id))
        a1, a2 = await rig.agent("a1"), await rig.agent("a2")
        await rig.publish(a1, f"{p}/a1/data", batch("a1", 1, device="Pump"))
        await rig.publish(a2, f"{p}/a2/data", batch("a2", 1, device="Valve"))
        await wait_ack(a2, rig, "a2", 1)
        await wait_ack(a1, rig, "a1", 1)

        def event(**kw: Any) -> bytes:
            body = {"t": T0, "device": "Pump", "signal": "Sig", "text": "hi", "id": "x", **kw}
            return json.dumps(body).encode()

        bad = [
            event().replace(str(T0).encode(), b"Infinity"),
            event().replace(str(T0).encode(), b"NaN"),
            event(t=1e20),
            event(text="x" * 1_000_000),
            event(text="x" * 5000),
            event(device="Valve"),  # a2's device
            event(priority=2**70),
        ]
        for payload in bad:
            await rig.publish(a1, f"{p}/a1/event", payload)
        await rig.publish(a1, f"{p}/a1/event", event(id="alarm", text="spoof"))
        await rig.publish(a1, f"{p}/a1/event", event(id="ok", text="fine"))
        await async_wait_for(lambda: "a1/ok" in ran, 10, "the good events")
        await hub.engine.wait_idle()
        assert ran == ["a1/alarm", "a1/ok"]  # in a1's id space: the admin's action did not run
        assert hub.engine.stats.actions_run == 1  # the action listening to "a1/ok" did
        await async_wait_for(lambda: hub.stats["rejected"] == len(bad), 10, "refusals kept")
        reasons = " | ".join(r[3] for r in await rig.rejected())
        for words in (
            "not JSON",
            "1900..3000",
            "exceeds",
            "at most 4000",
            "agent 'a2' owns",
            "priority must be",
        ):
            assert words in reasons, words

        async def stored() -> list[str]:
            return [e.text for e in await hub.run_store(hub.store.events)]

        await async_wait_for(lambda: stored(), 10, "events stored")
        assert await stored() == ["spoof", "fine"]
        # A batch's events are put in the sender's id space too.
        b = Batch(
            agent="a1",
            seq=2,
            signals=[],
            events=[Event(T0, "Pump", "Sig", "edge", 0, "alarm")],
        )
        await rig.publish(a1, f"{p}/a1/data", b.encode())
        await wait_ack(a1, rig, "a1", 2)
        await async_wait_for(lambda: len(ran) == 3, 10, "the batch's event")
        assert ran[-1] == "a1/alarm" and hub.engine.stats.actions_run == 1
        a1.close()
        a2.close()


async def test_6_an_operator_may_trust_an_agents_event_ids(make_rig: RigFactory) -> None:
    async with make_rig(trusted_event_agents=["a1"]) as rig:
        p, hub = rig.prefix, rig.hub
        hub.engine.set_action(ActionDef(name="admin", listen_ids=["alarm"], script="pass"))
        a1 = await rig.agent("a1")
        await rig.publish(a1, f"{p}/a1/data", batch("a1", 1, device="Pump"))
        await wait_ack(a1, rig, "a1", 1)
        body = {"t": T0, "device": "Pump", "signal": "Sig", "text": "hot", "id": "alarm"}
        await rig.publish(a1, f"{p}/a1/event", json.dumps(body).encode())
        await async_wait_for(lambda: hub.engine.stats.actions_run == 1, 10, "the action")
        a1.close()


# -- 7. bounds -----------------------------------------------------------------------------
async def test_7_signals_and_devices_per_agent_are_bounded(make_rig: RigFactory) -> None:
    async with make_rig(max_signals_per_agent=3, max_devices_per_agent=2) as rig:
        p, hub = rig.prefix, rig.hub
        a1 = await rig.agent("a1")

        def many(seq: int, device: str, n: int) -> bytes:
            signals = [Series(device, f"S{i}", "", [T0], [1.0]) for i in range(n)]
            return Batch(agent="a1", seq=seq, signals=signals).encode()

        await rig.publish(a1, f"{p}/a1/data", many(1, "D1", 2))
        await rig.publish(a1, f"{p}/a1/data", many(2, "D1", 4))  # a 4th signal: refused
        await rig.publish(a1, f"{p}/a1/data", many(3, "D2", 1))
        await rig.publish(a1, f"{p}/a1/data", many(4, "D3", 1))  # a 3rd device: refused
        await wait_ack(a1, rig, "a1", 3)
        await async_wait_for(lambda: hub.stats["rejected"] == 2, 10, "two refused")
        await async_wait_for(lambda: hub.stats["batches"] == 2, 10, "two stored")
        assert hub.stats["over_bounds"] == 2 and len(hub.signals) == 3
        reasons = sorted(r[3] for r in await rig.rejected())
        assert "more than 2 devices" in reasons[0] and "more than 3 signals" in reasons[1]
        a1.close()


async def test_7_a_flood_is_rate_limited_and_nothing_of_the_agent_is_lost(
    make_rig: RigFactory,
) -> None:
    async with make_rig(max_messages_per_s=1.0, max_burst=3) as rig:
        p, hub = rig.prefix, rig.hub
        a1 = await rig.agent("a1")
        for seq in range(1, 31):
            a1.client.publish(f"{p}/a1/data", batch("a1", seq), qos=1)
        await async_wait_for(lambda: hub.stats["rate_limited"] > 0, 10, "the limit")
        await async_wait_for(lambda: len(acks(a1, rig, "a1")) >= 3, 10, "the burst stored")
        # What was over the rate was not acknowledged to a1 and so stays in its spool;
        # resent as an agent does (again after its ack timeout) it gets in.
        missing = sorted(set(range(1, 31)) - set(acks(a1, rig, "a1")))
        assert missing
        for seq in missing[:3]:
            for _ in range(30):
                await rig.publish(a1, f"{p}/a1/data", batch("a1", seq))
                with contextlib.suppress(TimeoutError):
                    await async_wait_for(lambda s=seq: s in acks(a1, rig, "a1"), 2.0)
                    break
            assert seq in acks(a1, rig, "a1")
        await async_wait_for(
            lambda: hub.stats["batches"] == len(set(acks(a1, rig, "a1"))), 10, "counted"
        )
        a1.close()


async def test_7_rejected_messages_are_bounded_and_logged_sparingly(
    make_rig: RigFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hub.ingest")
    async with make_rig(store_rejected_max_rows=20, store_rejected_max_bytes=300_000) as rig:
        p, hub = rig.prefix, rig.hub
        a1 = await rig.agent("a1")
        for _ in range(10):  # 1 MB of non-JSON each
            a1.client.publish(f"{p}/a1/data", b"x" * 1_000_000, qos=1)
        for i in range(40):
            a1.client.publish(f"{p}/a1/data", b"junk %d" % i, qos=1)
        await rig.publish(a1, f"{p}/a1/data", batch("a1", 1))
        await wait_ack(a1, rig, "a1", 1)
        await async_wait_for(lambda: hub.stats["rejected"] == 50, 20, "all refused")
        kept = await rig.rejected(limit=1000)
        assert len(kept) <= 20 and kept[0][2] == b"junk 39"  # the newest stay
        assert sum(len(r[2]) + len(r[3]) for r in kept) <= 300_000
        assert hub.store.rejected_pruned == 50 - len(kept)
        lines = [r for r in caplog.records if "refused message" in r.getMessage()]
        assert len(lines) <= 5  # one agent's refusals: a few lines a minute
        a1.close()


# -- 8. deeply nested JSON -----------------------------------------------------------------
async def test_8_deep_nesting_on_every_topic_is_recorded_without_a_traceback(
    make_rig: RigFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with make_rig() as rig:
        p, hub = rig.prefix, rig.hub
        a1 = await rig.agent("a1")
        deep = b'{"a":' * 10_000 + b"1" + b"}" * 10_000  # beyond any JSON parser's depth
        just_too_deep = json.dumps({"v": json.loads("[" * 40 + "1" + "]" * 40)}).encode()
        for kind in ("status", "event", "cmd/result"):
            await rig.publish(a1, f"{p}/a1/{kind}", deep)
            await rig.publish(a1, f"{p}/a1/{kind}", just_too_deep)
        await async_wait_for(lambda: hub.stats["rejected"] == 6, 10, "six recorded")
        assert not [r for r in caplog.records if r.exc_info]
        topics = sorted(r[1].rsplit("/", 2)[-1] for r in await rig.rejected())
        assert topics == ["event", "event", "result", "result", "status", "status"]
        await rig.publish(a1, f"{p}/a1/data", batch("a1", 1))
        await wait_ack(a1, rig, "a1", 1)
        a1.close()
