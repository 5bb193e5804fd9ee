"""The Automation menu: global events and actions through the engine's `automation` handler.

Every change goes through `hub.engine.automation.handle_automation` with the asking
user's permission (it refuses writes below `write`); scripts and conditions are the
engine's sandboxed language, never Python. New events and actions are typed as
`key: value` lines (a `script:` runs to the end of the message).
"""

from __future__ import annotations

import html
from typing import Any

from .ui import Awaiting, Button, Reply, Session
from .users import Permission, User

EVENT_KEYS = ("name", "cond", "text", "priority", "id", "trigger", "sname", "dname")
ACTION_KEYS = ("name", "listenID", "script")
EVENT_HELP = (
    "Send the event as lines:\nname: hot\ncond: Room.Temp.latest > 25\ntext: too hot\n"
    "priority: 1\nid: hot\ntrigger: rising"
)
ACTION_HELP = "Send the action as lines:\nname: fan\nlistenID: hot\nscript:\nFan.on = 1"


def _access(user: User, perm: Permission) -> Any:
    from hub.engine.automation import Access

    return Access.from_permission(perm.label, user=user.name)


def _rows(buttons: list[Button]) -> list[list[Button]]:
    return [[b] for b in buttons]


async def automation_menu(
    engine: Any, user: User, perm: Permission, session: Session, note: str = ""
) -> Reply:
    """Events, actions and the on/off switches, as the engine reports them."""
    from hub.engine.automation import handle_automation

    state = await handle_automation(engine, {}, _access(user, perm))
    events, actions, active = state["events"], state["actions"], state["active"]
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
    engine: Any, user: User, perm: Permission, session: Session, op: str, name: str = ""
) -> Reply:
    """A button of the Automation menu."""
    from hub.engine.automation import handle_automation

    access = _access(user, perm)
    if op in ("newev", "newac"):
        session.awaiting = Awaiting("auto", (op,))
        return Reply(
            html.escape(EVENT_HELP if op == "newev" else ACTION_HELP), [[Button("← Back", "auto")]]
        )
    state = await handle_automation(engine, {}, access)
    requests = {
        "ev": {"active": {**state["active"], "events": not state["active"]["events"]}},
        "ac": {"active": {**state["active"], "actions": not state["active"]["actions"]}},
        "te": {"testEvent": name},
        "ta": {"testAction": name},
        "re": {"removeEvent": name},
        "ra": {"removeAction": name},
    }
    if op not in requests:
        raise ValueError(f"unknown automation button {op!r}")
    answer = await handle_automation(engine, requests[op], access)
    return await automation_menu(engine, user, perm, session, _summary(answer))


async def automation_text(
    engine: Any, user: User, perm: Permission, session: Session, text: str, op: str
) -> Reply:
    """A typed new event or action (`key: value` lines); ValueError says what is wrong."""
    from hub.engine.automation import handle_automation

    fields = parse_fields(text, EVENT_KEYS if op == "newev" else ACTION_KEYS)
    if op == "newev":
        if "priority" in fields:
            try:
                fields["priority"] = int(fields["priority"])
            except ValueError:
                raise ValueError("priority is 0, 1 or 2") from None
        request = {"setEvent": fields}
    else:
        fields["listenID"] = [s.strip() for s in fields.get("listenID", "").split(",") if s.strip()]
        request = {"setAction": fields}
    answer = await handle_automation(engine, request, _access(user, perm))
    errors = answer.get("errors") or {}
    if errors:
        raise ValueError("; ".join(f"{k}: {v}" for k, v in errors.items()))
    session.awaiting = None
    return await automation_menu(engine, user, perm, session, f"Saved {fields['name']}.")


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


def _summary(answer: dict[str, Any]) -> str:
    parts = []
    for key in ("testEvent", "testAction"):
        if key in answer:
            res = answer[key]
            parts.append(f"{key}: {'ok' if res.get('ok') else 'failed'}: {res.get('value')}")
    for key in ("removeEvent", "removeAction"):
        if key in answer:
            parts.append(f"{key}: {'done' if answer[key] else 'not found'}")
    if answer.get("errors"):
        parts += [f"{k}: {v}" for k, v in answer["errors"].items()]
    return "\n".join(parts)
