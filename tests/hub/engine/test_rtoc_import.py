"""RTOC's globalEvents.json / globalActions.json: import, export, round trip."""

from __future__ import annotations

import json

import pytest

from hub.engine.actions import ActionDefError
from hub.engine.engine import Engine
from hub.engine.events import EventDefError
from hub.engine.rtoc_import import (
    RTOC_DEFAULT_ACTIONS,
    RTOC_DEFAULT_EVENTS,
    dump,
    parse_actions,
    parse_events,
)
from tests.hub.engine.helpers import Agents

# As RTOC 3.0 writes them after a run: its runtime keys `errors` and `latest` included.
RTOC_EVENTS = {
    "myevent1": {
        "cond": "Generator.Square.latest >= 2",
        "text": "Square high",
        "return": " ",
        "priority": 0,
        "id": "testID",
        "trigger": "rising",
        "sname": "Square",
        "dname": "Generator",
        "active": True,
        "errors": False,
        "latest": True,
    },
    "Puffer zu heiß": {
        "cond": "Heliotherm.Puffertemperatur.latest > 60 and Heliotherm.Betriebsart == 2",
        "text": "Puffer über 60 °C",
        "return": 61.5,
        "priority": 2,
        "id": "puffer",
        "trigger": "both",
        "sname": "Puffertemperatur",
        "dname": "Heliotherm",
        "active": False,
        "errors": False,
        "latest": False,
    },
}
RTOC_ACTIONS = {
    "action2": {
        "listenID": ["testID"],
        "parameters": "",
        "script": "Generator.gen_level = 1",
        "active": False,
        "errors": True,
    },
    "Puffer": {
        "listenID": ["puffer", "testID"],
        "parameters": "x",
        "script": "global c = 0\nglobal.c += 1\nHeliotherm.Betriebsart = 2\nprint(global.c)",
        "active": True,
        "errors": True,
    },
}


def _engine() -> Engine:
    agents = Agents({})
    return Engine(emit_event=lambda r: None, send_command=agents.send_command, param=agents.param)


def test_round_trip_is_identical():
    engine = _engine()
    for d in parse_events(dump(RTOC_EVENTS)):
        engine.set_event(d)
    for a in parse_actions(json.dumps(RTOC_ACTIONS)):
        engine.set_action(a)
    assert engine.events_doc() == RTOC_EVENTS
    assert engine.actions_doc() == RTOC_ACTIONS
    assert json.loads(dump(engine.events_doc())) == RTOC_EVENTS
    # Key order as RTOC writes it: its keys first, runtime keys after.
    assert list(engine.events_doc()["myevent1"])[:9] == [
        "cond", "text", "return", "priority", "id", "trigger", "sname", "dname", "active"
    ]  # fmt: skip


def test_defaults_import_and_listen_id_as_a_string():
    events = parse_events(json.dumps(RTOC_DEFAULT_EVENTS))
    actions = parse_actions(
        json.dumps({**RTOC_DEFAULT_ACTIONS, "one": {"listenID": "x", "script": ""}})
    )
    assert events[0].cond == "Generator.Square.latest >= 2" and events[0].trigger == "rising"
    assert actions[0].active is False and actions[1].listen_ids == ["x"]


def test_our_extras_are_written_only_when_set_and_read_back():
    engine = _engine()
    doc = {"h": {**RTOC_EVENTS["myevent1"], "hysteresis": 1.5, "hold": 10}}
    for d in parse_events(json.dumps(doc)):
        engine.set_event(d)
    assert engine.events_doc() == doc
    assert "hysteresis" not in _export_one(RTOC_EVENTS)


def _export_one(doc):
    engine = _engine()
    for d in parse_events(json.dumps(doc)):
        engine.set_event(d)
    return engine.events_doc()["myevent1"]


@pytest.mark.parametrize(
    ("text", "err", "words"),
    [
        ("not json", EventDefError, "not valid JSON"),
        ("[1, 2]", EventDefError, "JSON object"),
        ('{"e": {"text": "no cond"}}', EventDefError, "'cond' is missing"),
        ('{"e": {"cond": "A.b.latest", "trigger": "sideways"}}', EventDefError, "'trigger'"),
        ('{"e": {"cond": "A.b.latest", "priority": 7}}', EventDefError, "'priority'"),
    ],
)
def test_bad_event_files_are_refused_with_a_clear_error(text, err, words):
    with pytest.raises(err, match=words):
        parse_events(text)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"a": {"listenID": ["x"]}}', "'script' is missing"),
        ('{"a": {"listenID": 5, "script": ""}}', "listenID"),
        ('{"a": {"script": "", "active": "yes"}}', "'active'"),
    ],
)
def test_bad_action_files_are_refused_with_a_clear_error(text, words):
    with pytest.raises(ActionDefError, match=words):
        parse_actions(text)


def test_latest_is_updated_from_the_live_state():
    from hub.signals import SignalStore

    engine = _engine()
    store = SignalStore(record_length=10)
    engine.attach(store)
    for d in parse_events(json.dumps(RTOC_EVENTS)):
        engine.set_event(d)
    store.append("Generator", "Square", [1.0], [0.0])
    assert engine.events_doc()["myevent1"]["latest"] is False


async def test_telegram_actions_import_and_run(rig):
    from hub.engine.rtoc_import import parse_user_actions
    from hub.permission import Actor, Permission
    from hub.service import AutomationService

    engine, *_ = rig
    text = json.dumps({"Status": "x = 21 * 2\nreturn ('text', 'answer ' + str(x))"})
    for label, script in parse_user_actions(text).items():
        engine.set_user_action(label, script)
    res = await AutomationService(engine).user_action(Actor("w", Permission.WRITE), "Status")
    assert (res.name, res.success, res.kind, res.data) == ("Status", True, "text", "answer 42")
    with pytest.raises(ActionDefError, match="must map to script text"):
        parse_user_actions('{"a": 1}')
