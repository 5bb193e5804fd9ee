"""What each button and typed message does; every press is checked against the asker's permission.

`BotCore.handle()` takes one message or button press and returns the replies. It has no
Telegram I/O (app.py sends the replies), so one table, `REQUIRED`, says which
permission each button prefix needs, and it is checked for every update, including
custom actions and shortcuts (RTOC ran custom actions even for blocked users).
"""

from __future__ import annotations

import asyncio
import functools
import html
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from hub.db.base import EventRecord

from . import menus
from .actions import CustomAction, fill_placeholders
from .automation import automation_menu, automation_press, automation_text
from .device_handlers import DeviceHandlers
from .periods import PRESETS, parse_period, preset_range
from .plots import BusyError, PlotEvent, Renderer, Series
from .texts import MAINTENANCE, NO_PERMISSION, NOT_ALLOWED
from .ui import Awaiting, Reply, Session
from .users import Permission, User, UserDirectory

log = logging.getLogger(__name__)

__all__ = ["MAINTENANCE", "NOT_ALLOWED", "NO_PERMISSION", "REQUIRED", "BotCore"]

P = Permission
# Minimum effective permission per button prefix. Shortcut targets ("sc", and "p"/"f"
# reached through a shortcut) are checked again in _may_touch.
# fmt: off
REQUIRED: dict[str, Permission] = {
    "m": P.CUSTOM, "act": P.CUSTOM, "sc": P.CUSTOM,
    "lat": P.READ, "sig": P.READ, "st": P.READ, "per": P.READ, "pp": P.READ, "ev": P.READ,
    "plot": P.READ, "csv": P.READ, "set": P.READ, "lvls": P.READ, "lvl": P.READ,
    "dev": P.WRITE, "d": P.WRITE, "start": P.WRITE, "stop": P.WRITE, "sr": P.WRITE,
    "p": P.WRITE, "f": P.WRITE, "scadd": P.WRITE, "scdel": P.WRITE, "new": P.WRITE,
    "ns": P.WRITE, "auto": P.WRITE, "au": P.WRITE, "gen": P.WRITE, "ua": P.WRITE,
    "bot": P.ADMIN, "inl": P.ADMIN, "oa": P.ADMIN, "prev": P.ADMIN, "users": P.ADMIN,
    "u": P.ADMIN,
    "xprev": P.BLOCKED,  # checked in the handler against the real (not previewed) permission
}
# Typed text while the chat awaits a value: the permission that kind of input needs.
TEXT_REQUIRED: dict[str, Permission] = {
    "period": P.READ, "sr": P.WRITE, "p": P.CUSTOM, "f": P.CUSTOM, "newsig": P.WRITE,
    "newval": P.WRITE, "auto": P.WRITE,
}
# fmt: on
_NUMBER_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S*)\s*$")


class BotCore(DeviceHandlers):
    """Menus, permissions and actions for all chats; `handle()` is called per update."""

    def __init__(
        self,
        *,
        hub: Any,
        users: UserDirectory,
        renderer: Renderer,
        actions: list[CustomAction],
        save_users: Callable[[], Awaitable[None]],
        tell_admins: Callable[[str], None],
        automation: Any = None,
        clock: Callable[[], float] = time.time,
        plot_max_points: int = 1000,
    ) -> None:
        self.hub = hub
        self.users = users
        self.renderer = renderer
        self.actions = actions
        self.save_users = save_users
        self.tell_admins = tell_admins
        self._automation = automation
        self.clock = clock
        self.plot_max_points = plot_max_points
        self.sessions: dict[int, Session] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self.denied = 0

    @property
    def automation(self) -> Any:
        """The automation engine: the one given, else the hub's (wired at start-up)."""
        return self._automation or getattr(self.hub, "engine", None)

    def session(self, chat_id: int) -> Session:
        return self.sessions.setdefault(chat_id, Session())

    async def handle(
        self,
        chat_id: int,
        first_name: str = "",
        last_name: str = "",
        *,
        text: str | None = None,
        data: str | None = None,
    ) -> list[Reply]:
        """Handle one typed text or button press from a chat; returns what to send back."""
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        async with lock:
            user, created = self.users.register(chat_id, first_name, last_name)
            if created:
                await self.save_users()
                if user.permission != Permission.ADMIN:
                    self.tell_admins(
                        f"{user.name} joined the bot for the first time "
                        f"(permission {user.permission.label})."
                    )
            perm = self.users.effective(user)
            if perm == Permission.BLOCKED:
                self.denied += 1
                if self.users.only_admin and user.permission > Permission.BLOCKED:
                    return [Reply(MAINTENANCE)]
                return [Reply(NO_PERMISSION)]
            session = self.session(chat_id)
            if data is None:
                data = self._resolve_text(user, perm, session, text or "")
            if data is None:
                replies = await self._free_text(user, perm, session, text or "")
            else:
                replies = await self._press(user, perm, session, data)
            for r in replies:
                session.remember(r.menu)
            return replies

    def _resolve_text(
        self, user: User, perm: Permission, session: Session, text: str
    ) -> str | None:
        t = text.strip()
        if t in ("/start", "/menu", menus.BACK) and t not in session.labels:
            return "m"
        if t in session.labels:
            return session.labels[t]
        if session.awaiting is None:
            main = menus.main_menu(
                user, perm, session, self.actions, user_actions=self._user_action_names()
            )
            for row in main.menu or []:
                for b in row:
                    if b.label == t:
                        return b.data
            return "m"
        return None

    def _main(self, user: User, perm: Permission, session: Session, text: str = "Main menu"):
        session.awaiting = None
        return menus.main_menu(
            user, perm, session, self.actions, text, user_actions=self._user_action_names()
        )

    def _user_action_names(self) -> list[str]:
        engine = self.automation
        return sorted(getattr(engine, "user_actions", None) or {}) if engine else []

    async def _press(
        self, user: User, perm: Permission, session: Session, data: str
    ) -> list[Reply]:
        try:
            prefix, args = session.decode(data)
        except ValueError as exc:
            return [self._main(user, perm, session, f"{exc}; here is the main menu.")]
        needed = REQUIRED.get(prefix)
        if needed is None:
            return [self._main(user, perm, session, "Unknown button; here is the main menu.")]
        if perm < needed:
            self.denied += 1
            log.info("chat %s (%s) denied %r", user.chat_id, perm.label, prefix)
            return [self._main(user, perm, session, NOT_ALLOWED)]
        handler = getattr(self, f"_on_{prefix}")
        try:
            out = await handler(user, perm, session, *args)
        except TypeError as exc:
            if "positional argument" not in str(exc):
                raise
            return [self._main(user, perm, session, "That button is malformed.")]
        except (ValueError, IndexError) as exc:
            return [self._main(user, perm, session, html.escape(f"That did not work: {exc}"))]
        return out if isinstance(out, list) else [out]

    # ---- main, latest, signals ------------------------------------------------------
    async def _on_m(self, user, perm, session):
        return self._main(user, perm, session)

    async def _on_lat(self, user, perm, session):
        return menus.Reply(menus.latest_values(self.hub))

    async def _on_sig(self, user, perm, session):
        session.awaiting = None
        return menus.signals_menu(self.hub, session)

    async def _on_st(self, user, perm, session, sig_id):
        try:
            key = self.hub.signals.by_id(int(sig_id)).key
        except (KeyError, ValueError):
            return menus.signals_menu(self.hub, session, "That signal is gone.")
        if key in session.selected:
            session.selected.remove(key)
        else:
            session.selected.append(key)
        return menus.signals_menu(self.hub, session)

    async def _on_per(self, user, perm, session):
        session.awaiting = Awaiting("period")
        return menus.period_menu(session)

    async def _on_pp(self, user, perm, session, index):
        label, seconds = PRESETS[int(index)]
        session.period_rel, session.period_abs, session.period_label = seconds, None, label
        session.awaiting = None
        return menus.signals_menu(self.hub, session)

    async def _on_ev(self, user, perm, session):
        session.show_events = not session.show_events
        return menus.signals_menu(self.hub, session)

    def _range(self, session: Session) -> tuple[float | None, float | None]:
        if session.period_abs is not None:
            return session.period_abs
        return preset_range(session.period_rel, now=self.clock())

    async def _series(self, session: Session, max_n: int | None) -> list[Series]:
        xmin, xmax = self._range(session)
        out = []
        for key in session.selected:
            if key not in self.hub.signals:
                continue
            sig = self.hub.signals.get(key)
            hist = await self.hub.history(sig.device, sig.name, xmin, xmax, max_n)
            out.append(Series(key=key, unit=sig.unit, x=hist.x, y=hist.y))
        return out

    async def _events(self, session: Session) -> list[PlotEvent]:
        """Events of the selected signals' devices in the period: stored and recent ones."""
        xmin, xmax = self._range(session)
        lo = float("-inf") if xmin is None else xmin
        hi = float("inf") if xmax is None else xmax
        devices = {k.split(".", 1)[0] for k in session.selected}
        found: dict[tuple[float, str, str, str], Any] = {}
        try:
            fetch = functools.partial(self.hub.store.events, since=xmin, until=xmax, limit=200)
            stored = await self.hub.run_store(fetch)
        except Exception as exc:  # the store being down must not stop the plot
            log.warning("events for a plot: %s", exc)
            stored = []
        for e in [*stored, *list(getattr(self.hub, "recent_events", []))]:
            if lo <= e.time <= hi and e.device in devices:
                found[(round(e.time, 3), e.device, e.signal, e.text)] = e
        events = sorted(found.values(), key=lambda e: e.time)
        return [PlotEvent(time=e.time, text=e.text, priority=e.priority) for e in events]

    async def _on_plot(self, user, perm, session):
        if not session.selected:
            return menus.signals_menu(self.hub, session, "Select at least one signal first.")
        series = await self._series(session, self.plot_max_points)
        events = await self._events(session) if session.show_events else []
        try:
            result = await self.renderer.plot(series, events)
        except BusyError as exc:
            return menus.Reply(str(exc))
        caption = (
            f"{', '.join(s.key for s in series)}\n{session.period_label}: "
            f"{result.samples} samples, {result.event_lines} events"
        )
        return menus.Reply(html.escape(caption), photo=result.png)

    async def _on_csv(self, user, perm, session):
        if not session.selected:
            return menus.signals_menu(self.hub, session, "Select at least one signal first.")
        series = await self._series(session, 100_000)
        data = await self.renderer.csv(series)
        return menus.Reply(
            f"{sum(len(s.x) for s in series)} samples", document=("opencontrol_export.csv", data)
        )

    # ---- settings -------------------------------------------------------------------
    async def _on_set(self, user, perm, session):
        return menus.settings_menu(user, perm, session)

    async def _on_lvls(self, user, perm, session):
        return menus.levels_menu(user)

    async def _on_lvl(self, user, perm, session, level):
        self.users.set_eventlevel(user, int(level))
        await self.save_users()
        return menus.settings_menu(user, perm, session)

    async def _on_gen(self, user, perm, session):
        return menus.general_info(self.hub)

    async def _on_bot(self, user, perm, session):
        return menus.bot_menu(self.users, user)

    async def _on_inl(self, user, perm, session):
        self.users.inline_menu = not self.users.inline_menu
        await self.save_users()
        return menus.bot_menu(self.users, user)

    async def _on_oa(self, user, perm, session):
        self.users.only_admin = not self.users.only_admin
        await self.save_users()
        return menus.bot_menu(self.users, user)

    async def _on_prev(self, user, perm, session, level):
        if user.permission != Permission.ADMIN:
            return self._main(user, perm, session, NOT_ALLOWED)
        user.preview = Permission.parse(level)
        await self.save_users()
        new = self.users.effective(user)
        return self._main(user, new, session, f"Preview as {new.label}.")

    async def _on_xprev(self, user, perm, session):
        if user.permission != Permission.ADMIN:
            return self._main(user, perm, session, NOT_ALLOWED)
        user.preview = None
        await self.save_users()
        return self._main(user, self.users.effective(user), session, "Preview ended.")

    async def _on_users(self, user, perm, session):
        return menus.users_menu(self.users, user)

    async def _on_u(self, user, perm, session, chat_id):
        try:
            target = self.users.cycle(user, int(chat_id))
        except (PermissionError, KeyError, ValueError) as exc:
            return menus.Reply(html.escape(str(exc)), menus.users_menu(self.users, user).menu)
        await self.save_users()
        reply = menus.users_menu(self.users, user)
        reply.text = f"{html.escape(target.name)} is now {target.permission.label}.\n" + reply.text
        return reply

    # ---- custom actions, create, automation -----------------------------------------
    async def _on_act(self, user, perm, session, index):
        try:
            action = self.actions[int(index)]
        except (IndexError, ValueError):
            return self._main(user, perm, session, "That action is gone.")
        if not action.allowed(perm):
            self.denied += 1
            return self._main(user, perm, session, NOT_ALLOWED)
        parts = []
        if action.command is not None:
            c = action.command
            parts.append(await self._command(c["device"], c["op"], c.get("name"), c.get("args")))
        if action.reply:
            parts.append(fill_placeholders(action.reply, self._latest))
        return menus.Reply(html.escape("\n".join(parts)))

    def _latest(self, key: str) -> float | None:
        if key not in self.hub.signals:
            return None
        last = self.hub.signals.get(key).latest()
        return None if last is None else last[1]

    async def _on_new(self, user, perm, session):
        session.awaiting = Awaiting("newsig")
        return menus.create_menu(self.hub, session)

    async def _on_ns(self, user, perm, session, sig_id):
        if sig_id == "-":
            key = f"Telegram.{user.first_name or 'user'}{user.last_name}".replace(" ", "")
        else:
            try:
                key = self.hub.signals.by_id(int(sig_id)).key
            except (KeyError, ValueError):
                return menus.create_menu(self.hub, session)
        session.awaiting = Awaiting("newval", (key,))
        return menus.Reply(
            html.escape(
                f"{key}: send '<number> [unit]' to add a measurement, any other text to raise an "
                "event (*text* = error, _text_ = warning)."
            )
        )

    async def _on_ua(self, user, perm, session, name):
        """An engine user action (sandboxed script), with the asker's permission."""
        if self.automation is None:
            return await self._on_auto(user, perm, session)
        from hub.engine.automation import Access, handle_user_action

        access = Access.from_permission(perm.label, user=user.name)
        answer = await handle_user_action(self.automation, name, access)
        if not answer.get("success"):
            self.denied += answer.get("data") == "permission denied"
        text = str(answer.get("data", ""))
        return menus.Reply(html.escape(text or ("done" if answer.get("success") else "failed")))

    async def _on_auto(self, user, perm, session):
        session.awaiting = None
        if self.automation is None:
            return menus.Reply(
                "Automation is not available on this hub.", [[menus.Button(menus.BACK, "m")]]
            )
        return await automation_menu(self.automation, user, perm, session)

    async def _on_au(self, user, perm, session, op, name=""):
        if self.automation is None:
            return await self._on_auto(user, perm, session)
        return await automation_press(self.automation, user, perm, session, op, name)

    # ---- typed input ----------------------------------------------------------------
    async def _free_text(
        self, user: User, perm: Permission, session: Session, text: str
    ) -> list[Reply]:
        aw = session.awaiting
        assert aw is not None
        needed = TEXT_REQUIRED.get(aw.kind, P.ADMIN)
        if perm < needed or (aw.kind in ("p", "f") and not self._may_touch(user, perm, *aw.args)):
            self.denied += 1
            return [self._main(user, perm, session, NOT_ALLOWED)]
        try:
            return [await getattr(self, f"_text_{aw.kind}")(user, perm, session, text, *aw.args)]
        except ValueError as exc:
            return [
                menus.Reply(
                    html.escape(f"{exc}. Try again, or press {menus.BACK}."),
                    [[menus.Button(menus.BACK, "m")]],
                )
            ]

    async def _text_auto(self, user, perm, session, text, op):
        if self.automation is None:
            raise ValueError("automation is not available on this hub")
        return await automation_text(self.automation, user, perm, session, text, op)

    async def _text_period(self, user, perm, session, text):
        start, stop = parse_period(text, now=self.clock())
        session.period_abs, session.period_label = (start, stop), text.strip()
        session.awaiting = None
        return menus.signals_menu(self.hub, session)

    async def _text_newsig(self, user, perm, session, text):
        key = text.strip()
        dev, _, name = key.partition(".")
        if not (dev and name):
            raise ValueError("send the signal as Device.Signal")
        session.awaiting = Awaiting("newval", (key,))
        return menus.Reply(html.escape(f"{key}: send '<number> [unit]' or an event text."))

    async def _text_newval(self, user, perm, session, text, key):
        dev, _, name = key.partition(".")
        m = _NUMBER_UNIT.match(text)
        session.awaiting = None
        now = self.clock()
        if m:
            value = float(m.group(1))
            self.hub.ingest_local(dev, name, [now], [value], m.group(2))
            return self._main(user, perm, session, html.escape(f"{key} = {value} stored."))
        t = text.strip()
        prio = 0
        if len(t) > 2 and t[0] == t[-1] == "*":
            prio, t = 2, t[1:-1]
        elif len(t) > 2 and t[0] == t[-1] == "_":
            prio, t = 1, t[1:-1]
        self.hub.add_event(
            EventRecord(
                time=now,
                device=dev,
                signal=name,
                text=t,
                priority=prio,
                event_id=f"telegram-{user.chat_id}",
            )
        )
        return self._main(user, perm, session, html.escape(f"Event for {key} raised."))
