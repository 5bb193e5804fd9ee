"""RTOC's `automation` dialect (hub/ws/automation.py) over the service's automation calls,
on a real engine: RTOC's shapes and permissions; user actions through the service."""

from __future__ import annotations

from typing import Any

import pytest

from hub.engine.engine import DOC_EVENTS, Engine
from hub.permission import Actor, Permission
from hub.service import AutomationService
from hub.ws.automation import rtoc_automation

ADMIN = Actor("admin", Permission.ADMIN)
WRITE = Actor("writer", Permission.WRITE)
READ = Actor("reader", Permission.READ)
CUSTOM = Actor("custom", Permission.CUSTOM)


async def handle_automation(engine: Engine, request: Any, actor: Actor) -> dict[str, Any]:
    return await rtoc_automation(AutomationService(engine), actor, request)


async def handle_user_action(engine: Engine, name: str, actor: Actor) -> dict[str, Any]:
    res = await AutomationService(engine).user_action(actor, name)
    return {"name": res.name, "success": res.success, "type": res.kind, "data": res.data}


SET_EVENT = {
    "name": "hot",
    "cond": "Heat.T.latest > 60",
    "text": "hot!",
    "priority": 2,
    "retur": "r",
    "id": "HOT",
    "trigger": "rising",
    "sname": "T",
    "dname": "Heat",
    "active": True,
}
SET_ACTION = {
    "name": "cool",
    "listenID": "HOT",
    "script": "Heat.mode = 2",
    "parameters": "",
    "active": True,
}


async def test_set_and_list_return_rtoc_shapes(rig):
    engine, hub, agents, docs, _ = rig
    res = await handle_automation(engine, {"setEvent": SET_EVENT, "setAction": SET_ACTION}, WRITE)
    assert res["setEvent"] is True and res["setAction"] is True
    assert res["events"]["hot"]["return"] == "r"  # `retur` in, `return` stored (RTOC)
    assert res["actions"]["cool"]["listenID"] == ["HOT"]
    assert res["active"] == {"events": True, "actions": True}
    assert "errors" not in res
    assert docs.get_doc(DOC_EVENTS)["hot"]["cond"] == "Heat.T.latest > 60"
    # The definitions work: data in → event → action → command.
    engine.store.append("Heat", "T", [1.0], [61.0])
    await engine.wait_idle()
    assert agents.commands == [["Heat", "set", "mode", 2]]
    assert hub.events[0].value == "r"


async def test_remove_active_reset(rig):
    engine, *_ = rig
    await handle_automation(engine, {"setEvent": SET_EVENT, "setAction": SET_ACTION}, WRITE)
    res = await handle_automation(
        engine, {"removeEvent": "hot", "removeAction": "nope", "active": {"actions": False}}, WRITE
    )
    assert res["removeEvent"] is True and res["removeAction"] is False
    assert res["events"] == {} and list(res["actions"]) == ["cool"]
    assert res["active"] == {"events": True, "actions": False}
    assert (await handle_automation(engine, {"reset": True}, WRITE))["reset"] is True


async def test_test_action_and_test_event_shapes(rig):
    engine, _hub, *_ = rig
    await handle_automation(
        engine,
        {"setEvent": SET_EVENT, "setAction": {**SET_ACTION, "script": "print('x', 1)"}},
        WRITE,
    )
    engine.store.append("Heat", "T", [1.0], [20.0])
    res = await handle_automation(engine, {"testAction": "cool", "testEvent": "hot"}, WRITE)
    assert res["testAction"] == {"ok": True, "value": "x 1\n"}
    assert res["testEvent"] == {"ok": True, "value": False}
    missing = await handle_automation(engine, {"testAction": "nope"}, WRITE)
    assert missing["testAction"]["ok"] is False


async def test_invalid_and_hostile_definitions_are_refused_and_nothing_else_changes(rig):
    engine, *_ = rig
    await handle_automation(engine, {"setEvent": SET_EVENT}, WRITE)
    res = await handle_automation(
        engine,
        {
            "setEvent": {**SET_EVENT, "name": "x", "cond": "__import__('os').system('id')"},
            "setAction": {**SET_ACTION, "script": "import os"},
        },
        WRITE,
    )
    assert res["setEvent"] is False and "__import__" in res["errors"]["setEvent"]
    assert res["setAction"] is False and "Import" in res["errors"]["setAction"]
    assert list(res["events"]) == ["hot"] and res["actions"] == {}
    bad = await handle_automation(engine, {"setEvent": {"name": "y"}}, WRITE)
    assert "'cond' is missing" in bad["errors"]["setEvent"]


@pytest.mark.parametrize("access", [READ, CUSTOM])
async def test_writes_need_write_permission(rig, access):
    engine, _hub, agents, docs, _ = rig
    res = await handle_automation(
        engine,
        {"setEvent": SET_EVENT, "setAction": SET_ACTION, "testAction": "cool", "reset": 1},
        access,
    )
    if not access.may(Permission.READ):
        assert "permission denied" in res["errors"]["automation"]
        assert "events" not in res
    else:
        assert res["setEvent"] is False and "permission denied" in res["errors"]["setEvent"]
        assert res["events"] == {} and res["actions"] == {}
    assert engine.events.events == {} and docs.writes == 0 and agents.commands == []


async def test_user_actions_text_permissions_and_admin_only_names(rig):
    engine, *_ = rig
    engine.set_user_action("status", "print('all fine')")
    engine.set_user_action("greet", "return ('text', 'hello ' + str(1 + 1))")
    engine.set_user_action("_reboot", "return ('text', 'admin only')")
    engine.set_user_action("photo", "return ('picture', '/etc/passwd')")
    assert await handle_user_action(engine, "status", WRITE) == {
        "name": "status",
        "success": True,
        "type": "text",
        "data": "all fine\n",
    }
    assert (await handle_user_action(engine, "greet", WRITE))["data"] == "hello 2"
    denied = await handle_user_action(engine, "_reboot", WRITE)
    assert denied["success"] is False and denied["data"] == "permission denied"
    assert (await handle_user_action(engine, "_reboot", ADMIN))["data"] == "admin only"
    assert (await handle_user_action(engine, "status", READ))["success"] is False
    photo = await handle_user_action(engine, "photo", ADMIN)
    assert photo["success"] is False and "not a file name in the hub's pictures" in photo["data"]
    assert (await handle_user_action(engine, "nope", ADMIN))["success"] is False


async def test_scripts_over_the_automation_request_persist_and_restart(rig):
    engine, hub, agents, docs, _ = rig
    res = await handle_automation(
        engine,
        {
            "setScript": {
                "name": "follow",
                "script": "Heat.copy = Heat.T.latest",
                "mode": "signal",
                "signals": ["Heat.T"],
                "start": True,
            }
        },
        WRITE,
    )
    assert res["setScript"] is True and res["scripts"]["follow"]["running"] is True
    engine.store.append("Heat", "T", [1.0], [42.0])
    from tests.fixtures.net import async_wait_for

    await async_wait_for(lambda: ["Heat", "set", "copy", 42.0] in agents.commands, what="run")
    run = await handle_automation(engine, {"runScript": "follow"}, WRITE)
    assert run["runScript"]["ok"] is True
    # Saved: a fresh engine on the same documents has the job, running again.
    from hub.engine.engine import Engine

    fresh = Engine(
        emit_event=hub.add_event, send_command=agents.send_command, param=agents.param, docs=docs
    )
    fresh.start()
    try:
        assert await fresh.load() == []
        assert fresh.scripts.jobs["follow"].running
        assert fresh.scripts.describe()["follow"]["signals"] == ["Heat.T"]
    finally:
        await fresh.stop()
    res = await handle_automation(engine, {"stopScript": "follow", "removeScript": "x"}, WRITE)
    assert res["stopScript"] is True and res["removeScript"] is False
    assert res["scripts"]["follow"]["running"] is False
    bad = await handle_automation(
        engine, {"setScript": {"name": "e", "script": "import os"}}, WRITE
    )
    assert bad["setScript"] is False and "Import" in bad["errors"]["setScript"]
    denied = await handle_automation(engine, {"startScript": "follow"}, READ)
    assert denied["startScript"] is False and "permission denied" in denied["errors"]["startScript"]
    assert not engine.scripts.jobs["follow"].running


async def test_operator_file_scripts_need_admin_over_the_request(rig, tmp_path):
    engine, *_ = rig
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "op.py").write_text("def run(ctx):\n    ctx.print('op')\n")
    engine.scripts.config_dir = tmp_path
    engine.scripts.add_file("op", "op.py")
    res = await handle_automation(engine, {"runScript": "op", "startScript": "op"}, WRITE)
    assert res["runScript"]["ok"] is False and res["startScript"] is False
    over = await handle_automation(
        engine, {"setScript": {"name": "op", "script": "print(1)"}}, ADMIN
    )
    assert over["setScript"] is False and "operator's file" in over["errors"]["setScript"]
    res = await handle_automation(engine, {"runScript": "op"}, ADMIN)
    assert res["runScript"] == {"ok": True, "value": "op\n"}
    assert res["scripts"]["op"]["file"] == "op.py" and res["scripts"]["op"]["script"] is None
