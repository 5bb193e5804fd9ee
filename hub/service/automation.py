"""Automation calls of the hub service: each checks the actor's permission, then forwards
to the engine (hub/engine/). No protocol here: the websocket adapter speaks RTOC's
`automation` dialect on top of these calls, the bot presses buttons into them.

Reading needs `read`; changing events, actions and scripts or running them needs `write`;
operator file scripts and user actions whose name starts with `_` need `admin`. Scripts
and conditions given here always run in the engine's sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub.engine.actions import ActionDef
from hub.engine.engine import Engine, TelegramCaller
from hub.engine.events import EventDef
from hub.engine.hostfns import file_name, picture_spec
from hub.engine.limits import EvalError
from hub.permission import Actor, Permission, PermissionDenied

NO_ENGINE = "the automation engine is not running on this hub"


class NoEngine(Exception):
    """The hub runs without its automation engine."""

    def __init__(self) -> None:
        super().__init__(NO_ENGINE)


@dataclass(frozen=True)
class ScriptOutcome:
    """What a test or run of a condition, action or script gave: ok and its text."""

    ok: bool
    value: Any


@dataclass(frozen=True)
class AutomationState:
    """Events, actions, the on/off switches and scripts, as the engine describes them."""

    events: dict[str, Any]
    actions: dict[str, Any]
    active: dict[str, bool]
    scripts: dict[str, Any]


@dataclass(frozen=True)
class UserActionResult:
    """A user action's answer: success, the kind of data and the data — "text" (the
    text), "picture" (a file name of `<config_dir>/pictures`, or "plot" with the curves in
    `picture`) or "document" (a file name of `<config_dir>/documents`); `caption` is
    what the run printed."""

    name: str
    success: bool
    kind: str
    data: str
    picture: str | dict[str, Any] | None = None
    caption: str = ""


class AutomationService:
    """The engine's use cases with permissions; `engine` None = no automation on this hub."""

    def __init__(self, engine: Engine | None) -> None:
        self._engine = engine

    @property
    def available(self) -> bool:
        return self._engine is not None

    def connect_telegram(self, send: Callable[[dict[str, Any]], int] | None) -> None:
        """Where scripts' telegram.send_* go: the bot while it runs (None: nowhere)."""
        if self._engine is not None:
            self._engine.telegram = send

    def _need(self, actor: Actor, needed: Permission, what: str) -> Engine:
        if not actor.may(needed):
            raise PermissionDenied(f"permission denied: {what} needs {needed}")
        if self._engine is None:
            raise NoEngine()
        return self._engine

    # -- reads -----------------------------------------------------------------------------
    def state(self, actor: Actor) -> AutomationState:
        """Everything the engine holds (needs read)."""
        engine = self._need(actor, Permission.READ, "automation")
        return AutomationState(
            events=engine.events_doc(),
            actions=engine.actions_doc(),
            active=engine.active_doc(),
            scripts=engine.scripts.describe(),
        )

    def switches(self) -> dict[str, bool] | None:
        """Whether events are evaluated and actions run; None without an engine."""
        return None if self._engine is None else self._engine.active_doc()

    def has_event(self, name: str) -> bool:
        return self._engine is not None and name in self._engine.events.events

    def has_action(self, name: str) -> bool:
        return self._engine is not None and name in self._engine.actions.actions

    # -- events and actions ----------------------------------------------------------------
    async def set_event(self, actor: Actor, event: EventDef) -> None:
        """Add or replace an event definition; ValueError for a bad one."""
        engine = self._need(actor, Permission.WRITE, "setEvent")
        engine.set_event(event)
        await engine.save()

    async def set_action(self, actor: Actor, action: ActionDef) -> None:
        """Add or replace an action definition; ValueError for a bad one."""
        engine = self._need(actor, Permission.WRITE, "setAction")
        engine.set_action(action)
        await engine.save()

    async def remove_event(self, actor: Actor, name: str) -> bool:
        engine = self._need(actor, Permission.WRITE, "removeEvent")
        removed = bool(engine.events.remove(name))
        if removed:
            await engine.save()
        return removed

    async def remove_action(self, actor: Actor, name: str) -> bool:
        engine = self._need(actor, Permission.WRITE, "removeAction")
        removed = bool(engine.actions.remove(name))
        if removed:
            await engine.save()
        return removed

    async def set_active(
        self, actor: Actor, *, events: bool | None = None, actions: bool | None = None
    ) -> None:
        """Turn evaluating events and/or running actions on or off."""
        engine = self._need(actor, Permission.WRITE, "active")
        if events is not None:
            engine.events_active = events
        if actions is not None:
            engine.actions_active = actions
        await engine.save()

    def reset(self, actor: Actor) -> None:
        """Forget every condition's state (each fires anew)."""
        self._need(actor, Permission.WRITE, "reset").reset()

    async def test_event(self, actor: Actor, name: str) -> ScriptOutcome:
        engine = self._need(actor, Permission.WRITE, "testEvent")
        if name not in engine.events.events:
            return ScriptOutcome(False, f"no event named {name!r}")
        ok, value = await engine.test_event(name)
        return ScriptOutcome(ok, value)

    async def test_action(self, actor: Actor, name: str) -> ScriptOutcome:
        engine = self._need(actor, Permission.WRITE, "testAction")
        if name not in engine.actions.actions:
            return ScriptOutcome(False, f"no action named {name!r}")
        res = await engine.test_action(name)
        return ScriptOutcome(res.ok, res.output if res.ok else res.output + (res.error or ""))

    # -- scripts ---------------------------------------------------------------------------
    async def set_script(
        self,
        actor: Actor,
        name: str,
        source: str,
        *,
        mode: str = "rate",
        rate: float = 1.0,
        signals: list[str] | None = None,
        start: bool = False,
    ) -> None:
        """Add or replace a sandboxed script; an operator's file script is never replaced."""
        engine = self._need(actor, Permission.WRITE, "setScript")
        old = engine.scripts.jobs.get(name)
        if old is not None and old.file is not None:
            raise ValueError(f"{name!r} is an operator's file script")
        engine.scripts.add(name, source, mode=mode, rate=rate, signals=signals or None)
        if start:
            engine.scripts.start(name)
        await engine.save()

    def _script_rights(self, actor: Actor, name: str, what: str) -> Engine:
        engine = self._need(actor, Permission.WRITE, what)
        job = engine.scripts.jobs.get(name)
        if job is not None and job.file is not None and not actor.may(Permission.ADMIN):
            raise PermissionDenied(f"permission denied: {name!r} needs admin")
        return engine

    async def start_script(self, actor: Actor, name: str) -> None:
        engine = self._script_rights(actor, name, "startScript")
        engine.scripts.start(name)
        await engine.save()

    async def stop_script(self, actor: Actor, name: str) -> None:
        engine = self._script_rights(actor, name, "stopScript")
        engine.scripts.stop(name)
        await engine.save()

    async def remove_script(self, actor: Actor, name: str) -> bool:
        engine = self._script_rights(actor, name, "removeScript")
        removed = bool(engine.scripts.remove(name))
        if removed:
            await engine.save()
        return removed

    async def run_script(self, actor: Actor, name: str) -> ScriptOutcome:
        engine = self._script_rights(actor, name, "runScript")
        job = engine.scripts.jobs.get(name)
        if job is None:
            return ScriptOutcome(False, f"no script named {name!r}")
        res = await engine.scripts.run_once(job)
        return ScriptOutcome(res.ok, res.output + (res.error or ""))

    # -- user actions ----------------------------------------------------------------------
    def user_action_names(self) -> list[str]:
        """Names of the user actions (RTOC's telegramActions); empty without an engine."""
        return sorted(self._engine.user_actions) if self._engine is not None else []

    async def user_action(
        self, actor: Actor, name: str, *, telegram_chat: int | None = None
    ) -> UserActionResult:
        """Run a user action: write and up; names starting with `_` admin only. With
        `telegram_chat` (the chat of the user who pressed it) its script may answer that
        user alone (telegram.send_message, telegram.send_photo(…, to="caller"))."""
        if self._engine is None:
            return UserActionResult(name, False, "text", NO_ENGINE)
        needed = Permission.ADMIN if name.startswith("_") else Permission.WRITE
        if not actor.may(needed):
            return UserActionResult(name, False, "text", "permission denied")
        engine = self._engine
        if name not in engine.user_actions:
            return UserActionResult(name, False, "text", f"no user action named {name!r}")
        caller = None if telegram_chat is None else TelegramCaller(telegram_chat, str(needed))
        res = await engine.run_user_action(name, caller)
        if not res.ok:
            return UserActionResult(name, False, "text", res.output + (res.error or ""))
        value = res.value
        if not (isinstance(value, tuple | list) and len(value) == 2 and isinstance(value[0], str)):
            return UserActionResult(name, True, "text", res.output if value is None else str(value))
        kind, data = value
        caption = res.output.strip()[:1000]
        try:
            if kind == "text":
                return UserActionResult(name, True, "text", str(data))
            if kind == "picture":
                spec = picture_spec(data, f"{name}: ('picture', …)")
                label = spec if isinstance(spec, str) else "plot"
                return UserActionResult(name, True, "picture", label, spec, caption)
            if kind == "document":
                doc = file_name(data, f"{name}: ('document', …)", "documents")
                return UserActionResult(name, True, "document", doc, None, caption)
        except EvalError as exc:
            return UserActionResult(name, False, "text", str(exc))
        reason = f"{name}: unknown answer kind {kind!r} (text, picture or document)"
        return UserActionResult(name, False, "text", reason)
