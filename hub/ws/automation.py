"""RTOC's `automation` and `userAction` requests (SPEC §8.4 / §2.5) in terms of the hub
service's automation calls: this module speaks the dialect, the service decides rights.

An `automation` object may carry setEvent/setAction/removeEvent/removeAction/active/
reset/testEvent/testAction and the scripts extension (setScript/removeScript/startScript/
stopScript/runScript); the answer holds each key's result, `errors` by key, and always the
engine's `events`, `actions`, `active` and `scripts`.
"""

from __future__ import annotations

from typing import Any

from hub.engine.actions import ActionDef
from hub.engine.events import EventDef
from hub.engine.rtoc_import import action_from_rtoc, event_from_rtoc
from hub.permission import Actor, Permission
from hub.service.automation import NO_ENGINE, AutomationService

from .session import ClientSession

WRITE_KEYS = ("setAction", "setEvent", "removeAction", "removeEvent", "active", "reset")
TEST_KEYS = ("testAction", "testEvent")
# Extensions beyond RTOC: scripts at a rate or on new data (RTOC had them in its GUI only).
SCRIPT_KEYS = ("setScript", "removeScript", "startScript", "stopScript", "runScript")


def actor_of(s: ClientSession) -> Actor:
    """The websocket client as the service sees it."""
    return Actor(s.user or f"ws-client-{s.cid}", s.permission)


def event_from_request(d: Any) -> EventDef:
    """RTOC's setEvent object (which spells `return` as `retur`) as an event definition."""
    if not isinstance(d, dict):
        raise ValueError("setEvent must be an object")
    if "name" not in d:
        raise ValueError("setEvent: 'name' is missing")
    body = {k: v for k, v in d.items() if k not in ("name", "retur")}
    if "retur" in d:
        body["return"] = d["retur"]
    return event_from_rtoc(d["name"], body)


def action_from_request(d: Any) -> ActionDef:
    """RTOC's setAction object as an action definition."""
    if not isinstance(d, dict):
        raise ValueError("setAction must be an object")
    if "name" not in d:
        raise ValueError("setAction: 'name' is missing")
    return action_from_rtoc(d["name"], {k: v for k, v in d.items() if k != "name"})


async def rtoc_automation(auto: AutomationService, actor: Actor, request: Any) -> dict[str, Any]:
    """Answer an `automation` request object; the result goes under the `automation` key."""
    if not auto.available:
        return {"error": NO_ENGINE}
    if not actor.may(Permission.READ):
        return {"errors": {"automation": "permission denied: not authorised"}}
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if not isinstance(request, dict):
        request = {}
        errors["automation"] = "the automation request must be an object"
    if not actor.may(Permission.WRITE):
        for key in (*WRITE_KEYS, *TEST_KEYS, *SCRIPT_KEYS):
            if key in request:
                out[key] = False
                errors[key] = f"permission denied: {key} needs write permission"
        request = {}
    for key, call in _calls(auto, actor, request):
        try:
            out[key] = await call()
        except Exception as exc:  # denied, a bad definition or script: said, the rest goes on
            if key in (*TEST_KEYS, "runScript"):  # these answer {ok, value}
                out[key] = {"ok": False, "value": str(exc)}
            else:
                out[key], errors[key] = False, str(exc)
    state = auto.state(actor)
    out.update(
        events=state.events, actions=state.actions, active=state.active, scripts=state.scripts
    )
    if errors:
        out["errors"] = errors
    return out


def _calls(auto: AutomationService, actor: Actor, r: dict[str, Any]) -> list[tuple[str, Any]]:
    """(key, zero-argument coroutine function) for every key of the request, RTOC's order."""
    calls: list[tuple[str, Any]] = []

    def add(key: str, fn: Any) -> None:
        if key in r:
            calls.append((key, fn))

    async def set_action() -> bool:
        await auto.set_action(actor, action_from_request(r["setAction"]))
        return True

    async def set_event() -> bool:
        await auto.set_event(actor, event_from_request(r["setEvent"]))
        return True

    async def active() -> bool:
        act = r["active"]
        if not isinstance(act, dict) or not all(isinstance(v, bool) for v in act.values()):
            raise ValueError("active must be {events: bool, actions: bool}")
        await auto.set_active(actor, events=act.get("events"), actions=act.get("actions"))
        return True

    async def reset() -> bool:
        auto.reset(actor)
        return True

    async def test(key: str) -> dict[str, Any]:
        name = str(r[key])
        fn = auto.test_action if key == "testAction" else auto.test_event
        res = await fn(actor, name)
        return {"ok": res.ok, "value": res.value}

    async def set_script() -> bool:
        d = r["setScript"]
        if not isinstance(d, dict) or "name" not in d or "script" not in d:
            raise ValueError("setScript needs {name, script, mode, rate, signals}")
        await auto.set_script(
            actor,
            d["name"],
            d["script"],
            mode=d.get("mode", "rate"),
            rate=d.get("rate", 1.0),
            signals=d.get("signals") or None,
            start=bool(d.get("start")),
        )
        return True

    async def start_stop(key: str) -> bool:
        fn = auto.stop_script if key == "stopScript" else auto.start_script
        await fn(actor, str(r[key]))
        return True

    async def run_script() -> dict[str, Any]:
        res = await auto.run_script(actor, str(r["runScript"]))
        return {"ok": res.ok, "value": res.value}

    add("setAction", set_action)
    add("setEvent", set_event)
    add("removeAction", lambda: auto.remove_action(actor, str(r["removeAction"])))
    add("removeEvent", lambda: auto.remove_event(actor, str(r["removeEvent"])))
    add("active", active)
    add("reset", reset)
    add("testAction", lambda: test("testAction"))
    add("testEvent", lambda: test("testEvent"))
    add("setScript", set_script)
    add("stopScript", lambda: start_stop("stopScript"))
    add("startScript", lambda: start_stop("startScript"))
    add("removeScript", lambda: auto.remove_script(actor, str(r["removeScript"])))
    add("runScript", run_script)
    return calls


class AutomationRequests:
    """The websocket's `automation` and `userAction` keys, for one server."""

    def __init__(self, *, automation: AutomationService) -> None:
        self.auto = automation

    async def automation(self, s: ClientSession, value: Any) -> dict[str, Any]:
        """RTOC §8.4 → `{events, actions, active, scripts, …}`."""
        return await rtoc_automation(self.auto, actor_of(s), value)

    async def user_action(self, s: ClientSession, value: Any) -> dict[str, Any]:
        """Run a named user action → `{name, success, type, data}`."""
        res = await self.auto.user_action(actor_of(s), str(value))
        return {"name": res.name, "success": res.success, "type": res.kind, "data": res.data}

    def user_action_names(self) -> list[str]:
        """Names of the user actions the engine offers (empty without an engine)."""
        return self.auto.user_action_names()
