"""Import and export of RTOC's `globalEvents.json` and `globalActions.json`, as RTOC writes them.

RTOC's files map a name to a dict. Events: cond, text, return, priority, id, trigger,
sname, dname, active, plus the runtime keys RTOC adds (errors, latest). Actions:
listenID, parameters, script, active, plus errors. Keys we do not know are kept and
written back unchanged; our own extras (hysteresis, hold) are written only when set.
"""

from __future__ import annotations

import json
from typing import Any

from hub.engine.actions import ActionDef, ActionDefError, listen_ids
from hub.engine.events import EventDef, EventDefError

EVENT_KEYS = ("cond", "text", "return", "priority", "id", "trigger", "sname", "dname", "active")
ACTION_KEYS = ("listenID", "parameters", "script", "active")

# What RTOC creates when its files are missing (SPEC §8.1/8.2).
RTOC_DEFAULT_EVENTS: dict[str, Any] = {
    "myevent1": {
        "cond": "Generator.Square.latest >= 2",
        "text": "Square wave is high",
        "return": " ",
        "priority": 0,
        "id": "testID",
        "trigger": "rising",
        "sname": "Square",
        "dname": "Generator",
        "active": True,
    }
}
RTOC_DEFAULT_ACTIONS: dict[str, Any] = {
    "action2": {
        "listenID": ["testID"],
        "parameters": "",
        "script": "Generator.gen_level = 1",
        "active": False,
    }
}


def event_from_rtoc(name: str, d: Any) -> EventDef:
    """One entry of globalEvents.json → EventDef; raises EventDefError naming the field."""
    if not isinstance(d, dict):
        raise EventDefError(f"event {name}: must be an object")
    if "cond" not in d:
        raise EventDefError(f"event {name}: 'cond' is missing")
    prio = d.get("priority", 0)
    if isinstance(prio, str) and prio.isdigit():
        prio = int(prio)
    defn = EventDef(
        name=name,
        cond=d["cond"],
        text=d.get("text", ""),
        priority=prio,
        id=d.get("id", ""),
        trigger=d.get("trigger", "rising"),
        sname=d.get("sname", ""),
        dname=d.get("dname", ""),
        active=d.get("active", True),
        ret=d.get("return"),
        hysteresis=d.get("hysteresis", 0.0),
        hold=d.get("hold", 0.0),
        extras={
            k: v for k, v in d.items() if k not in EVENT_KEYS and k not in ("hysteresis", "hold")
        },
    )
    defn.validate()
    return defn


def event_to_rtoc(defn: EventDef, latest: bool | None = None) -> dict[str, Any]:
    """EventDef → one entry of globalEvents.json (RTOC's keys first, `latest` updated)."""
    out: dict[str, Any] = {
        "cond": defn.cond,
        "text": defn.text,
        "return": defn.ret,
        "priority": defn.priority,
        "id": defn.id,
        "trigger": defn.trigger,
        "sname": defn.sname,
        "dname": defn.dname,
        "active": defn.active,
    }
    if defn.hysteresis:
        out["hysteresis"] = defn.hysteresis
    if defn.hold:
        out["hold"] = defn.hold
    out.update(defn.extras)
    if latest is not None:
        out["latest"] = latest
    return out


def action_from_rtoc(name: str, d: Any) -> ActionDef:
    """One entry of globalActions.json → ActionDef; raises ActionDefError naming the field."""
    if not isinstance(d, dict):
        raise ActionDefError(f"action {name}: must be an object")
    if "script" not in d:
        raise ActionDefError(f"action {name}: 'script' is missing")
    try:
        ids = listen_ids(d.get("listenID", []))
    except ActionDefError as exc:
        raise ActionDefError(f"action {name}: {exc}") from None
    defn = ActionDef(
        name=name,
        listen_ids=ids,
        script=d["script"],
        active=d.get("active", True),
        parameters=d.get("parameters", ""),
        extras={k: v for k, v in d.items() if k not in ACTION_KEYS},
    )
    defn.validate()
    return defn


def action_to_rtoc(defn: ActionDef) -> dict[str, Any]:
    """ActionDef → one entry of globalActions.json."""
    out: dict[str, Any] = {
        "listenID": list(defn.listen_ids),
        "parameters": defn.parameters,
        "script": defn.script,
        "active": defn.active,
    }
    out.update(defn.extras)
    return out


def parse_events(text: str | bytes) -> list[EventDef]:
    """Parse a whole globalEvents.json; raises EventDefError on the first bad entry."""
    data = _load(text, "globalEvents.json", EventDefError)
    return [event_from_rtoc(str(k), v) for k, v in data.items()]


def parse_actions(text: str | bytes) -> list[ActionDef]:
    """Parse a whole globalActions.json; raises ActionDefError on the first bad entry."""
    data = _load(text, "globalActions.json", ActionDefError)
    return [action_from_rtoc(str(k), v) for k, v in data.items()]


def dump(doc: dict[str, Any]) -> str:
    """JSON text the way RTOC writes its files (indent 4, keys in insertion order)."""
    return json.dumps(doc, sort_keys=False, indent=4, separators=(",", ": "), ensure_ascii=False)


def _load(text: str | bytes, what: str, err: type[ValueError]) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise err(f"{what}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise err(f"{what}: must be a JSON object of name → definition")
    return data


def parse_user_actions(text: str | bytes) -> dict[str, str]:
    """Parse RTOC's telegramActions.json ({label: script}); scripts are compiled on use."""
    data = _load(text, "telegramActions.json", ActionDefError)
    out: dict[str, str] = {}
    for label, script in data.items():
        if not isinstance(script, str):
            raise ActionDefError(f"telegramActions.json: {label!r} must map to script text")
        out[str(label)] = script
    return out
