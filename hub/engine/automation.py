"""The websocket `automation` and `userAction` requests (RTOC §8.4 / §2.5), with permissions.

The websocket server and the Telegram bot call these; they return RTOC's response
shapes. Reading needs an authorised user; anything that changes automation or runs a
script needs `write`; user actions whose name starts with `_` need `admin`. Scripts and
conditions received here are always sandboxed — there is no way to send plain Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hub.engine.actions import ActionDef
from hub.engine.engine import Engine
from hub.engine.events import EventDef
from hub.engine.rtoc_import import action_from_rtoc, event_from_rtoc

PERMISSIONS = ("blocked", "custom", "read", "write", "admin")
WRITE_KEYS = ("setAction", "setEvent", "removeAction", "removeEvent", "active", "reset")
TEST_KEYS = ("testAction", "testEvent")
# Extensions beyond RTOC: scripts at a rate or on new data (RTOC had them in its GUI only).
SCRIPT_KEYS = ("setScript", "removeScript", "startScript", "stopScript", "runScript")


@dataclass(frozen=True)
class Access:
    """What the requesting user may do."""

    read: bool = True
    write: bool = False  # change automation and run (sandboxed) scripts
    admin: bool = False  # also admin-only user actions (names starting with '_')
    user: str = ""

    @classmethod
    def from_permission(cls, permission: str, user: str = "") -> Access:
        """Map RTOC's Telegram levels (blocked < custom < read < write < admin) to rights."""
        if permission not in PERMISSIONS:
            raise ValueError(f"unknown permission {permission!r}")
        level = PERMISSIONS.index(permission)
        return cls(read=level >= 2, write=level >= 3, admin=level >= 4, user=user)


ADMIN = Access(read=True, write=True, admin=True, user="admin")
WRITE = Access(read=True, write=True)
READ = Access(read=True)


def _event_from_request(d: Any) -> EventDef:
    if not isinstance(d, dict):
        raise ValueError("setEvent must be an object")
    if "name" not in d:
        raise ValueError("setEvent: 'name' is missing")
    body = {k: v for k, v in d.items() if k not in ("name", "retur")}
    if "retur" in d:  # RTOC's request spells it `retur`
        body["return"] = d["retur"]
    return event_from_rtoc(d["name"], body)


def _action_from_request(d: Any) -> ActionDef:
    if not isinstance(d, dict):
        raise ValueError("setAction must be an object")
    if "name" not in d:
        raise ValueError("setAction: 'name' is missing")
    return action_from_rtoc(d["name"], {k: v for k, v in d.items() if k != "name"})


async def handle_automation(engine: Engine, request: Any, access: Access) -> dict[str, Any]:
    """Answer an `automation` request object; the result goes under the `automation` key."""
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    changed = False
    if not access.read:
        errors["automation"] = "permission denied: not authorised"
        return {"errors": errors}
    if not isinstance(request, dict):
        request = {}
        errors["automation"] = "the automation request must be an object"
    for key in (*WRITE_KEYS, *TEST_KEYS, *SCRIPT_KEYS):
        if key in request and not access.write:
            out[key] = False
            errors[key] = f"permission denied: {key} needs write permission"
    allowed = access.write
    if allowed and "setAction" in request:
        try:
            engine.set_action(_action_from_request(request["setAction"]))
            out["setAction"] = changed = True
        except Exception as exc:
            out["setAction"], errors["setAction"] = False, str(exc)
    if allowed and "setEvent" in request:
        try:
            engine.set_event(_event_from_request(request["setEvent"]))
            out["setEvent"] = changed = True
        except Exception as exc:
            out["setEvent"], errors["setEvent"] = False, str(exc)
    if allowed and "removeAction" in request:
        out["removeAction"] = engine.actions.remove(str(request["removeAction"]))
        changed = changed or out["removeAction"]
    if allowed and "removeEvent" in request:
        out["removeEvent"] = engine.events.remove(str(request["removeEvent"]))
        changed = changed or out["removeEvent"]
    if allowed and "active" in request:
        act = request["active"]
        if isinstance(act, dict) and all(isinstance(v, bool) for v in act.values()):
            engine.events_active = act.get("events", engine.events_active)
            engine.actions_active = act.get("actions", engine.actions_active)
            changed = True
        else:
            errors["active"] = "active must be {events: bool, actions: bool}"
    if allowed and "reset" in request:
        engine.reset()
        out["reset"] = True
    if allowed and "testAction" in request:
        name = str(request["testAction"])
        if name not in engine.actions.actions:
            out["testAction"] = {"ok": False, "value": f"no action named {name!r}"}
        else:
            res = await engine.test_action(name)
            text = res.output if res.ok else (res.output + (res.error or ""))
            out["testAction"] = {"ok": res.ok, "value": text}
    if allowed and "testEvent" in request:
        name = str(request["testEvent"])
        if name not in engine.events.events:
            out["testEvent"] = {"ok": False, "value": f"no event named {name!r}"}
        else:
            ok, value = await engine.test_event(name)
            out["testEvent"] = {"ok": ok, "value": value}
    if allowed:
        changed = await _scripts(engine, request, access, out, errors) or changed
    if changed:
        await engine.save()
    out["events"] = engine.events_doc()
    out["actions"] = engine.actions_doc()
    out["active"] = engine.active_doc()
    out["scripts"] = engine.scripts.describe()
    if errors:
        out["errors"] = errors
    return out


async def _scripts(
    engine: Engine, request: dict[str, Any], access: Access, out: dict[str, Any], errors: dict
) -> bool:
    """setScript/removeScript/startScript/stopScript/runScript; True when saved state changed."""
    mgr = engine.scripts
    changed = False
    if "setScript" in request:
        d = request["setScript"]
        try:
            if not isinstance(d, dict) or "name" not in d or "script" not in d:
                raise ValueError("setScript needs {name, script, mode, rate, signals}")
            old = mgr.jobs.get(d["name"])
            if old is not None and old.file is not None:
                raise ValueError(f"{d['name']!r} is an operator's file script")
            mgr.add(
                d["name"],
                d["script"],
                mode=d.get("mode", "rate"),
                rate=d.get("rate", 1.0),
                signals=d.get("signals") or None,
            )
            if d.get("start"):
                mgr.start(d["name"])
            out["setScript"] = changed = True
        except Exception as exc:
            out["setScript"], errors["setScript"] = False, str(exc)
    for key, verb in (("stopScript", mgr.stop), ("startScript", mgr.start)):
        if key in request:
            name = str(request[key])
            job = mgr.jobs.get(name)
            if job is not None and job.file is not None and not access.admin:
                out[key], errors[key] = False, f"permission denied: {name!r} needs admin"
                continue
            try:
                verb(name)
                out[key] = changed = True
            except Exception as exc:
                out[key], errors[key] = False, str(exc)
    if "removeScript" in request:
        name = str(request["removeScript"])
        job = mgr.jobs.get(name)
        if job is not None and job.file is not None and not access.admin:
            out["removeScript"] = False
            errors["removeScript"] = f"permission denied: {name!r} needs admin"
        else:
            out["removeScript"] = mgr.remove(name)
            changed = changed or out["removeScript"]
    if "runScript" in request:
        name = str(request["runScript"])
        job = mgr.jobs.get(name)
        if job is None:
            out["runScript"] = {"ok": False, "value": f"no script named {name!r}"}
        elif job.file is not None and not access.admin:
            out["runScript"] = {"ok": False, "value": "permission denied: needs admin"}
        else:
            res = await mgr.run_once(job)
            out["runScript"] = {"ok": res.ok, "value": res.output + (res.error or "")}
    return changed


async def handle_user_action(engine: Engine, name: Any, access: Access) -> dict[str, Any]:
    """Answer a `userAction` request: `{name, success, type, data}` (RTOC §2.5)."""
    label = str(name)
    answer: dict[str, Any] = {"name": label, "success": False, "type": "text", "data": ""}
    if not access.write or (label.startswith("_") and not access.admin):
        answer["data"] = "permission denied"
        return answer
    if label not in engine.user_actions:
        answer["data"] = f"no user action named {label!r}"
        return answer
    res = await engine.run_user_action(label)
    if not res.ok:
        answer["data"] = res.output + (res.error or "")
        return answer
    value = res.value
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        kind, data = value
        if kind != "text":
            answer["data"] = f"{kind!r} results need a file; sandboxed scripts return text"
            return answer
        answer.update(success=True, data=str(data))
        return answer
    answer.update(success=True, data=res.output if value is None else str(value))
    return answer
