"""The Automation menu: global events and actions through the hub service's automation calls.

Every change is a typed call (`AutomationService`) with the asking user's permission (the
service refuses writes below `write`); scripts and conditions are the engine's sandboxed
language, never Python. New events and actions are typed as `key: value` lines (a
`script:` runs to the end of the message).
"""

from __future__ import annotations

import html
from typing import Any

from hub.engine.actions import ActionDef
from hub.engine.events import EventDef
from hub.permission import Actor, PermissionDenied
from hub.service import AutomationService

from .ui import Awaiting, Button, Reply, Session
from .users import Permission, User

EVENT_KEYS = ("name", "cond", "text", "priority", "id", "trigger", "sname", "dname")
ACTION_KEYS = ("name", "listenID", "script")
EVENT_HELP = (
    "Send the event as lines:\nname: hot\ncond: Room.Temp.latest > 25\ntext: too hot\n"
    "priority: 1\nid: hot\ntrigger: rising"
)
ACTION_HELP = "Send the action as lines:\nname: fan\nlistenID: hot\nscript:\nFan.on = 1"


def _rows(buttons: list[Button]) -> list[list[Button]]:
    return [[b] for b in buttons]


async def automation_menu(
    auto: AutomationService, user: User, perm: Permission, session: Session, note: str = ""
) -> Reply:
    """Events, actions and the on/off switches, as the engine reports them."""
    state = auto.state(Actor(user.name, perm))
    events, actions, active = state.events, state.actions, state.active
    lines = [note] if note else []
    lines.append(f"Events ({'on' if active['events'] else 'off'}):")
    for name, ev in sorted(events.items()):
        lines.append(
            f"  {name}: {ev.get('cond')} → {ev.get('text', '')!s} "
            f"(priority {ev.get('priority', 0)}, {ev.get('trigger', 'rising')})"
        )
    lines.append(f"Actions ({'on' if active['actions'] else 'off'}):")
    for name, ac in sorted(actions.items()):
        lines.append(f"  {name}: on {ac.get('listenID')}")
    b = [
        Button(f"Events: {'on' if active['events'] else 'off'}", "au:ev"),
        Button(f"Actions: {'on' if active['actions'] else 'off'}", "au:ac"),
        Button("New event", "au:newev"),
        Button("New action", "au:newac"),
    ]
    for name in sorted(events):
        b.append(Button(f"Test event {name}", session.encode("au", "te", name)))
        b.append(Button(f"Remove event {name}", session.encode("au", "re", name)))
    for name in sorted(actions):
        b.append(Button(f"Test action {name}", session.encode("au", "ta", name)))
        b.append(Button(f"Remove action {name}", session.encode("au", "ra", name)))
    b.append(Button("← Back", "m"))
    return Reply(html.escape("\n".join(lines)), _rows(b))


async def automation_press(
    auto: AutomationService, user: User, perm: Permission, session: Session, op: str, name: str = ""
) -> Reply:
    """A button of the Automation menu."""
    actor = Actor(user.name, perm)
    if op in ("newev", "newac"):
        session.awaiting = Awaiting("auto", (op,))
        return Reply(
            html.escape(EVENT_HELP if op == "newev" else ACTION_HELP), [[Button("← Back", "auto")]]
        )
    if op not in ("ev", "ac", "te", "ta", "re", "ra"):
        raise ValueError(f"unknown automation button {op!r}")
    try:
        note = await _press(auto, actor, op, name)
    except PermissionDenied as exc:
        note = str(exc)
    return await automation_menu(auto, user, perm, session, note)


async def _press(auto: AutomationService, actor: Actor, op: str, name: str) -> str:
    """Do what button `op` says; the line the menu shows about it."""
    if op in ("ev", "ac"):
        active = auto.state(actor).active
        if op == "ev":
            await auto.set_active(actor, events=not active["events"])
        else:
            await auto.set_active(actor, actions=not active["actions"])
        return ""
    if op in ("te", "ta"):
        key = "testEvent" if op == "te" else "testAction"
        res = await (auto.test_event if op == "te" else auto.test_action)(actor, name)
        return f"{key}: {'ok' if res.ok else 'failed'}: {res.value}"
    key = "removeEvent" if op == "re" else "removeAction"
    done = await (auto.remove_event if op == "re" else auto.remove_action)(actor, name)
    return f"{key}: {'done' if done else 'not found'}"


async def automation_text(
    auto: AutomationService, user: User, perm: Permission, session: Session, text: str, op: str
) -> Reply:
    """A typed new event or action (`key: value` lines); ValueError says what is wrong."""
    actor = Actor(user.name, perm)
    fields = parse_fields(text, EVENT_KEYS if op == "newev" else ACTION_KEYS)
    name = fields.pop("name")
    key = "setEvent" if op == "newev" else "setAction"
    try:
        if op == "newev":
            await auto.set_event(actor, _event(name, fields))
        else:
            await auto.set_action(actor, _action(name, fields))
    except Exception as exc:  # denied, a bad field, a condition/script the sandbox refuses
        raise ValueError(f"{key}: {exc}") from None
    session.awaiting = None
    return await automation_menu(auto, user, perm, session, f"Saved {name}.")


def _event(name: str, fields: dict[str, str]) -> EventDef:
    """The typed lines of a new event as its definition (checked)."""
    if "cond" not in fields:
        raise ValueError("'cond' is missing")
    try:
        priority = int(fields.get("priority", "0"))
    except ValueError:
        raise ValueError("priority is 0, 1 or 2") from None
    event = EventDef(
        name=name,
        cond=fields["cond"],
        text=fields.get("text", ""),
        priority=priority,
        id=fields.get("id", ""),
        trigger=fields.get("trigger", "rising"),
        sname=fields.get("sname", ""),
        dname=fields.get("dname", ""),
    )
    event.validate()
    return event


def _action(name: str, fields: dict[str, str]) -> ActionDef:
    """The typed lines of a new action as its definition (checked)."""
    if "script" not in fields:
        raise ValueError("'script' is missing")
    ids = [s.strip() for s in fields.get("listenID", "").split(",") if s.strip()]
    action = ActionDef(name=name, listen_ids=ids, script=fields["script"])
    action.validate()
    return action


def parse_fields(text: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """`key: value` lines into a dict; `script:` takes the rest of the message."""
    out: dict[str, Any] = {}
    lines = text.strip().splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or key not in keys:
            raise ValueError(f"line {i + 1}: expected one of {', '.join(keys)} followed by ':'")
        if key == "script":
            rest = [value.strip()] if value.strip() else []
            out["script"] = "\n".join(rest + lines[i + 1 :])
            break
        out[key] = value.strip()
    if "name" not in out or not out["name"]:
        raise ValueError("a name is required")
    return out
