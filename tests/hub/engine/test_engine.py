"""The Engine wired to a live SignalStore: events raised, actions run, commands sent."""

from __future__ import annotations

import asyncio

import pytest

from hub.engine.actions import ActionDef
from hub.engine.engine import DOC_ACTIONS, DOC_EVENTS, Engine
from hub.engine.events import EventDef
from hub.signals import SignalStore
from tests.fixtures.net import async_wait_for
from tests.hub.engine.helpers import Agents


async def test_heat_pump_scenario_event_action_command(rig):
    engine, hub, agents, _, _ = rig
    engine.set_event(
        EventDef(
            name="buffer hot",
            cond="Heat.T.latest > 60",
            text="Buffer above 60 °C",
            priority=1,
            id="hot",
            trigger="rising",
            hysteresis=1.0,
        )
    )
    engine.set_action(
        ActionDef(
            name="pump mode 2",
            listen_ids=["hot"],
            script="Heat.mode = 2\nprint('mode', Heat.mode)",
        )
    )
    # One batch holding the crossing, noise around the threshold, and a second batch.
    engine.store.append("Heat", "T", [1, 2, 3, 4], [58.0, 60.5, 59.6, 60.2], "°C")
    engine.store.append("Heat", "T", [5, 6], [61.0, 62.0], "°C")
    await engine.wait_idle()
    assert [(e.time, e.text, e.priority, e.event_id, e.device, e.signal) for e in hub.events] == [
        (2.0, "Buffer above 60 °C", 1, "hot", "Heat", "T")
    ]
    assert agents.commands == [["Heat", "set", "mode", 2]]
    assert agents.params[("Heat", "mode")] == 2
    last = engine.actions.actions["pump mode 2"].state.last
    assert last.ok and last.output == "mode 2\n"
    assert engine.stats.events_fired == 1 and engine.stats.actions_run == 1


async def test_actions_only_for_their_ids_and_only_when_active(rig):
    engine, hub, agents, _, _ = rig
    engine.set_event(EventDef(name="a", cond="D.s.latest > 1", id="A"))
    engine.set_event(EventDef(name="b", cond="D.s.latest > 5", id="B"))
    engine.set_action(ActionDef(name="on A", listen_ids=["A"], script="Heat.setMode(1)"))
    engine.set_action(ActionDef(name="on A,B", listen_ids=["A", "B"], script="Heat.beep()"))
    engine.set_action(ActionDef(name="off", listen_ids=["A"], script="Heat.x = 1", active=False))
    engine.store.append("D", "s", [1.0, 2.0], [2.0, 9.0])
    await engine.wait_idle()
    assert agents.commands == [
        ["Heat", "call", "setMode", [1]],
        ["Heat", "call", "beep", []],
        ["Heat", "call", "beep", []],
    ]
    engine.actions_active = False
    engine.reset()
    engine.store.append("D", "s", [3.0], [9.0])
    await engine.wait_idle()
    assert len(hub.events) == 4 and len(agents.commands) == 3
    engine.events_active = False
    engine.reset()
    engine.store.append("D", "s", [4.0], [9.0])
    assert len(hub.events) == 4


async def test_failed_command_is_reported_and_later_actions_still_run(rig):
    engine, _hub, agents, _, _ = rig
    engine.set_event(EventDef(name="e", cond="D.s.latest > 1", id="E", trigger="true"))
    engine.set_action(ActionDef(name="bad", listen_ids=["E"], script="Nowhere.x = 1\nHeat.a = 1"))
    engine.set_action(ActionDef(name="good", listen_ids=["E"], script="Heat.b = 2"))
    engine.store.append("D", "s", [1.0, 2.0], [5.0, 5.0])
    await engine.wait_idle()
    bad = engine.actions.actions["bad"].state
    assert bad.runs == 2 and bad.failures == 2
    assert "Nowhere.x: unknown device" in bad.last.error
    assert agents.commands == [["Heat", "set", "b", 2], ["Heat", "set", "b", 2]]
    assert engine.stats.action_failures == 2


async def test_script_events_run_actions_but_loops_are_cut_at_max_depth(rig):
    engine, hub, _agents, _, _ = rig
    # An action that raises the event it listens to: RTOC would loop forever.
    engine.set_action(
        ActionDef(
            name="echo",
            listen_ids=["ping"],
            script="global n = 0\nglobal.n += 1\nevent('again', 's', 'D', id='ping')\n"
            "return global.n",
        )
    )
    hub.add_event(_rec("ping"))
    await async_wait_for(lambda: engine.stats.depth_refused >= 1, what="depth limit")
    await engine.wait_idle()
    assert engine.stats.actions_run == engine.max_depth + 1
    # its global counted every run (kept in the worker process between runs)
    assert engine.actions.actions["echo"].state.last.value == engine.max_depth + 1
    assert len(hub.events) == engine.max_depth + 2


async def test_stream_from_a_script_is_live_data_and_can_raise_events(rig):
    engine, hub, _agents, _, now = rig
    engine.set_event(EventDef(name="calc", cond="Calc.P.latest > 100", id="P"))
    engine.set_action(
        ActionDef(
            name="calc", listen_ids=["go"], script="stream(Heat.T.latest * 2, 'P', 'Calc', 'W')"
        )
    )
    engine.store.append("Heat", "T", [1.0], [60.0])
    hub.add_event(_rec("go"))
    await engine.wait_idle()
    await async_wait_for(lambda: "Calc.P" in engine.store, what="streamed signal")
    sig = engine.store.get("Calc.P")
    assert sig.latest() == (now[0], 120.0) and sig.unit == "W"
    assert [e.event_id for e in hub.events] == ["go", "P"]


async def test_test_action_and_test_event(rig):
    engine, hub, _agents, _, _ = rig
    engine.set_event(EventDef(name="e", cond="D.s.latest > 100", id="E", text="t"))
    engine.set_action(ActionDef(name="a", listen_ids=[], script="print('hi', D.s.latest)"))
    engine.store.append("D", "s", [1.0], [3.0])
    res = await engine.test_action("a")
    assert res.ok and res.output == "hi 3.0\n"
    ok, value = await engine.test_event("e")
    # RTOC: the event is created whenever the condition ran, whatever its value.
    assert ok is True and value is False
    assert [e.event_id for e in hub.events] == ["E"]


async def test_definitions_persist_in_the_document_store_and_reload(rig):
    engine, hub, agents, docs, _ = rig
    engine.set_event(EventDef(name="e", cond="D.s.latest > 1", id="E", hold=2.0))
    engine.set_action(ActionDef(name="a", listen_ids=["E"], script="Heat.mode = 3"))
    engine.set_user_action("hello", "return ('text', 'hi')")
    engine.actions_active = False
    await engine.save()
    assert docs.get_doc(DOC_EVENTS)["e"]["hold"] == 2.0
    assert docs.get_doc(DOC_ACTIONS)["a"]["listenID"] == ["E"]
    fresh = Engine(
        emit_event=hub.add_event,
        send_command=agents.send_command,
        param=agents.param,
        docs=docs,
    )
    assert await fresh.load() == []
    assert fresh.events_doc() == engine.events_doc()
    assert fresh.actions_doc() == engine.actions_doc()
    assert fresh.user_actions == {"hello": "return ('text', 'hi')"}
    assert fresh.actions_active is False


async def test_bad_saved_definitions_are_reported_and_the_rest_loads(rig):
    _engine, hub, agents, docs, _ = rig
    docs.put_doc(
        DOC_EVENTS,
        {
            "ok": {"cond": "D.s.latest > 1", "id": "x"},
            "evil": {"cond": "__import__('os')", "id": "y"},
            "broken": {"text": "no cond"},
        },
    )
    fresh = Engine(
        emit_event=hub.add_event, send_command=agents.send_command, param=agents.param, docs=docs
    )
    errors = await fresh.load()
    assert len(errors) == 2 and any("evil" in e and "__import__" in e for e in errors)
    assert list(fresh.events.events) == ["ok"]


async def test_slow_script_does_not_block_the_event_loop():
    store = SignalStore(record_length=100)
    agents = Agents({})
    gate = asyncio.Event()
    calls: list[str] = []

    async def slow_send(device, op, name, args):
        calls.append(name)
        await gate.wait()
        return {"ok": True, "result": None}

    engine = Engine(
        emit_event=lambda r: engine.on_event(r), send_command=slow_send, param=agents.param
    )
    engine.attach(store)
    engine.start()
    try:
        engine.set_event(EventDef(name="e", cond="D.s.latest > 1", id="E"))
        engine.set_action(ActionDef(name="a", listen_ids=["E"], script="Dev.slow()"))
        store.append("D", "s", [1.0], [5.0])
        await async_wait_for(lambda: calls == ["slow"], what="command sent")
        # Ingest goes on while the action waits for its command's answer.
        store.append("D", "s", [2.0, 3.0], [0.0, 7.0])
        assert engine.events.events["e"].state.fired == 2
        gate.set()
        await engine.wait_idle()
        assert calls == ["slow", "slow"]
    finally:
        await engine.stop()


def _rec(event_id: str):
    from hub.db.base import EventRecord

    return EventRecord(time=1.0, device="D", signal="s", text="x", event_id=event_id)


@pytest.mark.parametrize("n", [3])
async def test_queue_overflow_is_counted_not_blocking(n):
    store = SignalStore(record_length=100)
    engine = Engine(
        emit_event=lambda r: None,
        send_command=Agents({}).send_command,
        param=lambda d, p: 0,
        max_queue=n,
    )
    engine.attach(store)
    engine.start()
    try:
        engine.set_action(ActionDef(name="a", listen_ids=["E"], script="x = 1"))
        for _ in range(n + 5):
            engine.on_event(_rec("E"))
        assert engine.stats.actions_dropped == 5
        await engine.wait_idle()
    finally:
        await engine.stop()
