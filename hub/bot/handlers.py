"""What each button and typed message does; every press is checked against the asker's permission.

`BotCore.handle()` takes one message or button press and returns the replies. It has no
Telegram I/O (app.py sends the replies). One table, `ROUTES`, maps each button prefix to
its rule (access.py), its number of arguments and its handler; `TEXT_ROUTES` does the same
for typed values, each checked against the rule of the button that asked for it. Every
update goes through them, custom actions and shortcuts included (RTOC ran custom actions
even for blocked users).
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from collections.abc import Awaitable, Callable

from hub.db.base import EventRecord
from hub.i18n import language_name, parse_language, translate_line
from hub.permission import Actor
from hub.service import AutomationService, HubService, QueryError

from . import menus
from .access import (
    AtLeast,
    EngineAction,
    OperatorAction,
    OwnShortcut,
    RealAdmin,
    Route,
)
from .action_answers import action_answer, user_action_answer
from .actions import CustomAction, fill_placeholders
from .admin_handlers import AdminHandlers
from .automation import automation_menu, automation_press, automation_text
from .device_handlers import DeviceHandlers
from .localize import localize
from .operator_files import OperatorFiles
from .periods import PRESETS, parse_period, preset_range
from .plots import BusyError, PlotEvent, Renderer, Series
from .settings_handlers import SettingsHandlers
from .texts import MAINTENANCE, NO_PERMISSION, NOT_ALLOWED
from .ui import Awaiting, Reply, Session
from .users import Permission, User, UserDirectory

log = logging.getLogger(__name__)

__all__ = ["MAINTENANCE", "NOT_ALLOWED", "NO_PERMISSION", "ROUTES", "TEXT_ROUTES", "BotCore"]

P = Permission
_NUMBER_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S*)\s*$")


class BotCore(SettingsHandlers, DeviceHandlers, AdminHandlers):
    """Menus, permissions and actions for all chats; `handle()` is called per update."""

    def __init__(
        self,
        *,
        service: HubService,
        users: UserDirectory,
        renderer: Renderer,
        actions: list[CustomAction],
        files: OperatorFiles | None = None,
        save_users: Callable[[], Awaitable[None]],
        tell_admins: Callable[[str], None],
        clock: Callable[[], float] = time.time,
        plot_max_points: int = 1000,
    ) -> None:
        self.service = service
        self.users = users
        self.renderer = renderer
        self.actions = actions
        self.files = files
        self.save_users = save_users
        self.tell_admins = tell_admins
        self.clock = clock
        self.plot_max_points = plot_max_points
        self.sessions: dict[int, Session] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self.denied = 0

    @property
    def automation(self) -> AutomationService:
        """The automation calls of the service (the engine behind them may be absent)."""
        return self.service.automation

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
                    return localize(user.language, [Reply(MAINTENANCE)])
                return localize(user.language, [Reply(NO_PERMISSION)])
            session = self.session(chat_id)
            if data is None:
                data = self._resolve_text(user, perm, session, text or "")
            if data is None:
                replies = await self._free_text(user, perm, session, text or "")
            else:
                replies = await self._press(user, perm, session, data)
            replies = localize(user.language, replies)
            for r in replies:
                session.remember(r.menu)
            return replies

    def _resolve_text(
        self, user: User, perm: Permission, session: Session, text: str
    ) -> str | None:
        t = text.strip()
        back = translate_line(user.language, menus.BACK)
        if t in ("/start", "/menu", menus.BACK, back) and t not in session.labels:
            return "m"
        if t in session.labels:
            return session.labels[t]
        if session.awaiting is None:
            main = menus.main_menu(
                user, perm, session, self.actions, user_actions=self._user_action_names()
            )
            for row in main.menu or []:
                for b in row:
                    if translate_line(user.language, b.label) == t:
                        return b.data
            return "m"
        return None

    def _main(
        self, user: User, perm: Permission, session: Session, text: str = "Main menu"
    ) -> Reply:
        session.awaiting = None
        return menus.main_menu(
            user, perm, session, self.actions, text, user_actions=self._user_action_names()
        )

    def _user_action_names(self) -> list[str]:
        return self.automation.user_action_names()

    async def _press(
        self, user: User, perm: Permission, session: Session, data: str
    ) -> list[Reply]:
        try:
            prefix, args = session.decode(data)
        except ValueError as exc:
            return [self._main(user, perm, session, f"{exc}; here is the main menu.")]
        return [await self._route(user, perm, session, prefix, args)]

    async def _route(
        self, user: User, perm: Permission, session: Session, prefix: str, args: tuple[str, ...]
    ) -> Reply:
        """Run the button `prefix` with `args` if the asker may, now, with these arguments."""
        route = ROUTES.get(prefix)
        if route is None:
            return self._main(user, perm, session, "Unknown button; here is the main menu.")
        if not route.fits(args):
            return self._main(user, perm, session, "That button is malformed.")
        if not route.rule.admits(user, perm, args, self.actions):
            return self._deny(user, perm, session, prefix)
        try:
            return await route.handler(self, user, perm, session, *args)
        except (ValueError, IndexError) as exc:
            return self._main(user, perm, session, html.escape(f"That did not work: {exc}"))

    def _deny(self, user: User, perm: Permission, session: Session, what: str) -> Reply:
        self.denied += 1
        log.info("chat %s (%s) denied %r", user.chat_id, perm.label, what)
        return self._main(user, perm, session, NOT_ALLOWED)

    # ---- main, latest, signals ------------------------------------------------------
    async def _on_m(self, user: User, perm: Permission, session: Session) -> Reply:
        return self._main(user, perm, session)

    async def _on_lat(self, user: User, perm: Permission, session: Session) -> Reply:
        return menus.Reply(menus.latest_values(self.service.signals))

    async def _on_sig(self, user: User, perm: Permission, session: Session) -> Reply:
        session.awaiting = None
        return menus.signals_menu(self.service.signals, session)

    async def _on_st(self, user: User, perm: Permission, session: Session, sig_id: str) -> Reply:
        try:
            key = self.service.signals.by_id(int(sig_id)).key
        except (KeyError, ValueError):
            return menus.signals_menu(self.service.signals, session, "That signal is gone.")
        if key in session.selected:
            session.selected.remove(key)
        else:
            session.selected.append(key)
        return menus.signals_menu(self.service.signals, session)

    async def _on_per(self, user: User, perm: Permission, session: Session) -> Reply:
        session.awaiting = Awaiting("period")
        return menus.period_menu(session)

    async def _on_pp(self, user: User, perm: Permission, session: Session, index: str) -> Reply:
        label, seconds = PRESETS[int(index)]
        session.period_rel, session.period_abs, session.period_label = seconds, None, label
        session.awaiting = None
        return menus.signals_menu(self.service.signals, session)

    async def _on_ev(self, user: User, perm: Permission, session: Session) -> Reply:
        session.show_events = not session.show_events
        return menus.signals_menu(self.service.signals, session)

    def _range(self, session: Session) -> tuple[float | None, float | None]:
        if session.period_abs is not None:
            return session.period_abs
        return preset_range(session.period_rel, now=self.clock())

    async def _series(self, session: Session, max_n: int | None) -> list[Series]:
        xmin, xmax = self._range(session)
        out = []
        for key in session.selected:
            if key not in self.service.signals:
                continue
            sig = self.service.signals.get(key)
            try:
                hist = await self.service.history(sig.device, sig.name, xmin, xmax, max_n)
            except QueryError:  # forgotten meanwhile
                continue
            out.append(Series(key=key, unit=sig.unit, x=hist.x, y=hist.y))
        return out

    async def _events(self, session: Session) -> list[PlotEvent]:
        """Events of the selected signals' devices in the period: stored and recent ones."""
        xmin, xmax = self._range(session)
        devices = {k.split(".", 1)[0] for k in session.selected}
        found = await self.service.events(xmin, xmax, limit=200)  # a store down leaves memory's
        return [
            PlotEvent(time=e.time, text=e.text, priority=e.priority)
            for e in found.events
            if e.device in devices
        ]

    async def _on_plot(self, user: User, perm: Permission, session: Session) -> Reply:
        if not session.selected:
            return menus.signals_menu(
                self.service.signals, session, "Select at least one signal first."
            )
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

    async def _on_csv(self, user: User, perm: Permission, session: Session) -> Reply:
        if not session.selected:
            return menus.signals_menu(
                self.service.signals, session, "Select at least one signal first."
            )
        series = await self._series(session, 100_000)
        data = await self.renderer.csv(series)
        return menus.Reply(
            f"{sum(len(s.x) for s in series)} samples", document=("opencontrol_export.csv", data)
        )

    # ---- settings -------------------------------------------------------------------
    async def _on_set(self, user: User, perm: Permission, session: Session) -> Reply:
        return menus.settings_menu(user, perm, session)

    async def _on_lvls(self, user: User, perm: Permission, session: Session) -> Reply:
        return menus.levels_menu(user)

    async def _on_lng(self, user: User, perm: Permission, session: Session, lang: str) -> Reply:
        user.language = parse_language(lang)
        await self.save_users()
        menu = menus.settings_menu(user, perm, session)
        return Reply(f"Language set to {language_name(user.language)}.", menu.menu)

    async def _on_lvl(self, user: User, perm: Permission, session: Session, level: str) -> Reply:
        self.users.set_eventlevel(user, int(level))
        await self.save_users()
        return menus.settings_menu(user, perm, session)

    # ---- custom actions, create, automation -----------------------------------------
    async def _on_act(self, user: User, perm: Permission, session: Session, index: str) -> Reply:
        try:
            action = self.actions[int(index)]
        except (IndexError, ValueError):
            return self._main(user, perm, session, "That action is gone.")
        parts = []
        if action.command is not None:
            c = action.command
            parts.append(await self._command(c["device"], c["op"], c.get("name"), c.get("args")))
        if action.reply:
            parts.append(fill_placeholders(action.reply, self._latest))
        text = html.escape("\n".join(parts))
        if action.plot or action.picture or action.document:
            return await action_answer(self, action, text)
        return menus.Reply(text)

    def _latest(self, key: str) -> float | None:
        if key not in self.service.signals:
            return None
        last = self.service.signals.get(key).latest()
        return None if last is None else last[1]

    async def _on_new(self, user: User, perm: Permission, session: Session) -> Reply:
        session.awaiting = Awaiting("newsig")
        return menus.create_menu(self.service.signals, session)

    async def _on_ns(self, user: User, perm: Permission, session: Session, sig_id: str) -> Reply:
        if sig_id == "-":
            key = f"Telegram.{user.first_name or 'user'}{user.last_name}".replace(" ", "")
        else:
            try:
                key = self.service.signals.by_id(int(sig_id)).key
            except (KeyError, ValueError):
                return menus.create_menu(self.service.signals, session)
        session.awaiting = Awaiting("newval", (key,))
        return menus.Reply(
            html.escape(
                f"{key}: send '<number> [unit]' to add a measurement, any other text to raise an "
                "event (*text* = error, _text_ = warning)."
            )
        )

    async def _on_ua(self, user: User, perm: Permission, session: Session, name: str) -> Reply:
        """An engine user action (sandboxed script), with the asker's permission."""
        if not self.automation.available:
            return await self._on_auto(user, perm, session)
        answer = await self.automation.user_action(
            Actor(user.name, perm), name, telegram_chat=user.chat_id
        )
        return await user_action_answer(self.files, answer)

    async def _on_auto(self, user: User, perm: Permission, session: Session) -> Reply:
        session.awaiting = None
        if not self.automation.available:
            return menus.Reply(
                "Automation is not available on this hub.", [[menus.Button(menus.BACK, "m")]]
            )
        return await automation_menu(self.automation, user, perm, session)

    async def _on_au(
        self, user: User, perm: Permission, session: Session, op: str, name: str = ""
    ) -> Reply:
        if not self.automation.available:
            return await self._on_auto(user, perm, session)
        return await automation_press(self.automation, user, perm, session, op, name)

    # ---- typed input ----------------------------------------------------------------
    async def _free_text(
        self, user: User, perm: Permission, session: Session, text: str
    ) -> list[Reply]:
        aw = session.awaiting
        assert aw is not None
        route = TEXT_ROUTES[aw.kind]
        if not route.rule.admits(user, perm, aw.args, self.actions):
            return [self._deny(user, perm, session, f"typed {aw.kind}")]
        try:
            return [await route.handler(self, user, perm, session, text, *aw.args)]
        except ValueError as exc:
            return [
                menus.Reply(
                    html.escape(f"{exc}. Try again, or press {menus.BACK}."),
                    [[menus.Button(menus.BACK, "m")]],
                )
            ]

    async def _text_auto(
        self, user: User, perm: Permission, session: Session, text: str, op: str
    ) -> Reply:
        if not self.automation.available:
            raise ValueError("automation is not available on this hub")
        return await automation_text(self.automation, user, perm, session, text, op)

    async def _text_period(
        self, user: User, perm: Permission, session: Session, text: str
    ) -> Reply:
        start, stop = parse_period(text, now=self.clock())
        session.period_abs, session.period_label = (start, stop), text.strip()
        session.awaiting = None
        return menus.signals_menu(self.service.signals, session)

    async def _text_newsig(
        self, user: User, perm: Permission, session: Session, text: str
    ) -> Reply:
        key = text.strip()
        dev, _, name = key.partition(".")
        if not (dev and name):
            raise ValueError("send the signal as Device.Signal")
        session.awaiting = Awaiting("newval", (key,))
        return menus.Reply(html.escape(f"{key}: send '<number> [unit]' or an event text."))

    async def _text_newval(
        self, user: User, perm: Permission, session: Session, text: str, key: str
    ) -> Reply:
        dev, _, name = key.partition(".")
        m = _NUMBER_UNIT.match(text)
        session.awaiting = None
        now = self.clock()
        if m:
            value = float(m.group(1))
            self.service.ingest_local(dev, name, [now], [value], m.group(2))
            return self._main(user, perm, session, html.escape(f"{key} = {value} stored."))
        t = text.strip()
        prio = 0
        if len(t) > 2 and t[0] == t[-1] == "*":
            prio, t = 2, t[1:-1]
        elif len(t) > 2 and t[0] == t[-1] == "_":
            prio, t = 1, t[1:-1]
        self.service.add_event(
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


# Every button the bot sends, by prefix: who may press it (checked on every press, against
# the arguments it carries), how many arguments it carries, and what it does.
_READ, _WRITE, _ADMIN = AtLeast(P.READ), AtLeast(P.WRITE), AtLeast(P.ADMIN)
B = BotCore
# fmt: off
ROUTES: dict[str, Route] = {
    "m": Route(AtLeast(P.CUSTOM), B._on_m),
    "act": Route(OperatorAction(), B._on_act, 1),
    "sc": Route(OwnShortcut(), B._on_sc, 1),
    "ua": Route(EngineAction(), B._on_ua, 1),
    "lat": Route(_READ, B._on_lat),
    "sig": Route(_READ, B._on_sig),
    "st": Route(_READ, B._on_st, 1),
    "per": Route(_READ, B._on_per),
    "pp": Route(_READ, B._on_pp, 1),
    "ev": Route(_READ, B._on_ev),
    "plot": Route(_READ, B._on_plot),
    "csv": Route(_READ, B._on_csv),
    "set": Route(_READ, B._on_set),
    "lvls": Route(_READ, B._on_lvls),
    "lvl": Route(_READ, B._on_lvl, 1),
    "lng": Route(_READ, B._on_lng, 1),
    "dev": Route(_WRITE, B._on_dev),
    "d": Route(_WRITE, B._on_d, 1),
    "start": Route(_WRITE, B._on_start, 1),
    "stop": Route(_WRITE, B._on_stop, 1),
    "sr": Route(_WRITE, B._on_sr, 1),
    "p": Route(OwnShortcut("param"), B._on_p, 2),
    "f": Route(OwnShortcut("call"), B._on_f, 2),
    "scadd": Route(_WRITE, B._on_scadd, 3),
    "scdel": Route(_WRITE, B._on_scdel, 1),
    "new": Route(_WRITE, B._on_new),
    "ns": Route(_WRITE, B._on_ns, 1),
    "auto": Route(_WRITE, B._on_auto),
    "au": Route(_WRITE, B._on_au, 1, optional=1),
    "gen": Route(_WRITE, B._on_gen),
    "grl": Route(_WRITE, B._on_grl),
    "gsr": Route(_WRITE, B._on_gsr),
    "bk": Route(_ADMIN, B._on_bk),
    "bkn": Route(_ADMIN, B._on_bkn),
    "bkd": Route(_ADMIN, B._on_bkd, 1),
    "del": Route(_ADMIN, B._on_del),
    "dls": Route(_ADMIN, B._on_dls, 1),
    "dlsy": Route(_ADMIN, B._on_dlsy, 1),
    "dle": Route(_ADMIN, B._on_dle),
    "dley": Route(_ADMIN, B._on_dley),
    "bot": Route(_ADMIN, B._on_bot),
    "inl": Route(_ADMIN, B._on_inl),
    "oa": Route(_ADMIN, B._on_oa),
    "prev": Route(_ADMIN, B._on_prev, 1),
    "xprev": Route(RealAdmin(), B._on_xprev),
    "users": Route(_ADMIN, B._on_users),
    "u": Route(_ADMIN, B._on_u, 1),
    "ul": Route(_ADMIN, B._on_ul, 2),
    "uadm": Route(_ADMIN, B._on_uadm, 1),
}
# A typed value (by the kind of input the chat awaits) is checked against the rule of the
# button that asked for it, with the same arguments.
TEXT_ROUTES: dict[str, Route] = {
    "period": Route(ROUTES["per"].rule, B._text_period),
    "sr": Route(ROUTES["sr"].rule, B._text_sr, 1),
    "p": Route(ROUTES["p"].rule, B._text_p, 2),
    "f": Route(ROUTES["f"].rule, B._text_f, 2),
    "newsig": Route(ROUTES["new"].rule, B._text_newsig),
    "newval": Route(ROUTES["ns"].rule, B._text_newval, 1),
    "auto": Route(ROUTES["au"].rule, B._text_auto, 1),
    "grl": Route(ROUTES["grl"].rule, B._text_grl),
    "gsr": Route(ROUTES["gsr"].rule, B._text_gsr),
}
# fmt: on
