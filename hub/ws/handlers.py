"""One RTOC request object → one response, keys handled in RTOC's fixed order (SPEC §2.5)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from edge_agent.wire import WireError, check_event
from hub.db.base import EventRecord
from hub.permission import Permission
from hub.ratelimit import TokenBucket
from hub.service.service import event_key

from . import signals_req
from .automation import AutomationRequests
from .crypto import password_hash
from .logger_req import LoggerRequests
from .plugins import Plugins
from .session import POINTS_BURST, ClientSession
from .state import RequestError, ServerState, event_row

ORDER = (
    "y",
    "getSignalList",
    "getPluginList",
    "event",
    "subscribe",
    "unsubscribe",
    "subscribeAll",
    "unsubscribeAll",
    "getEventList",
    "getEvent",
    "getSignal",
    "getLatest",
    "getSession",
    "remove",
    "plugin",
    "logger",
    "userAction",
    "automation",
)

KNOWN = frozenset(ORDER)

# The least permission each key needs; the engine decides finer rights for scripts.
NEEDS = {
    "y": Permission.WRITE,
    "event": Permission.WRITE,
    "remove": Permission.WRITE,
    "plugin": Permission.WRITE,
    "logger": Permission.READ,
    "userAction": Permission.CUSTOM,
    "automation": Permission.READ,
}

Login = Callable[[str, str], Awaitable[Any]]


async def authorize(st: ServerState, s: ClientSession, value: Any, login: Login | None) -> bool:
    """RTOC's authorize rule, plus `{"user", "password"}` for hub users; sets the session."""
    cfg = st.config
    if isinstance(value, dict):
        user, pw = value.get("user"), value.get("password")
        found = None
        if isinstance(user, str) and isinstance(pw, str) and login is not None:
            found = await login(user, pw)
        s.user = found.name if found is not None else None
        if found is not None:
            s.authorized, s.permission = True, found.permission
        else:
            anonymous(st, s)
        return found is not None
    ok = False
    if s.whitelisted or (cfg.password is None and not cfg.require_login):
        ok = True
    elif cfg.password is not None and isinstance(value, str):
        ok = hmac.compare_digest(value.encode(), password_hash(cfg.password).encode())
    s.user = None
    if ok:
        s.authorized, s.permission = True, cfg.password_permission
    else:
        anonymous(st, s)
    return ok


def anonymous(st: ServerState, s: ClientSession) -> None:
    """The state before (or after a failed) authorize: nothing, or read with anonymous_read."""
    cfg = st.config
    if not cfg.auth_required:
        s.authorized, s.permission = True, cfg.password_permission
    elif cfg.anonymous_read and cfg.password is None:
        s.authorized, s.permission = True, Permission.READ
    else:
        s.authorized, s.permission = False, Permission.BLOCKED


def _subscription(value: Any) -> tuple[str, str]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or value[0] not in ("signal", "device")
        or not isinstance(value[1], str)
    ):
        raise RequestError('subscribe takes ["signal", "Dev.Sig"] or ["device", "Dev"]')
    return value[0], value[1]


def subscribe(s: ClientSession, value: Any, on: bool) -> None:
    """subscribe/unsubscribe one signal or a whole device (current and future signals)."""
    kind, name = _subscription(value)
    target = s.signal_subs if kind == "signal" else s.device_subs
    if on:
        if len(target) >= 10_000:
            raise RequestError("subscription limit: 10000 names per connection")
        target.add(name)
    else:
        target.discard(name)


def subscribe_all(s: ClientSession, value: Any, on: bool) -> None:
    """subscribeAll/unsubscribeAll "signal"|"device" (RTOC stored ids; we mean every signal)."""
    if on:
        if value not in ("signal", "device"):
            raise RequestError('subscribeAll takes "signal" or "device"')
        if value == "signal":
            s.all_signals = True
        else:
            s.all_devices = True
    else:
        s.all_signals = s.all_devices = False
        s.signal_subs.clear()
        s.device_subs.clear()


def add_event(st: ServerState, s: ClientSession, value: Any) -> None:
    """event `[text, sname, dname, x, priority, id, value]` (a prefix is enough)."""
    if not isinstance(value, list) or not value:
        raise RequestError("event takes [text, sname, dname, x, priority, id, value]")
    v = [*value, *[None] * (7 - len(value))]
    text = v[0] if isinstance(v[0], str) else str(v[0])
    sname = signals_req._name(v[1], "noName", "sname")
    dname = signals_req._name(v[2], "noDevice", "dname")
    x = st.clock() if v[3] is None else signals_req._num(v[3], "x")
    prio = v[4] if v[4] in (0, 1, 2) and not isinstance(v[4], bool) else 0
    eid = v[5] if isinstance(v[5], str) else ""
    event = EventRecord(
        time=x, device=dname, signal=sname, text=text, priority=prio, event_id=eid, value=v[6]
    )
    try:
        check_event(event)  # before the signal is made: a refused event leaves nothing behind
    except WireError as exc:
        raise RequestError(str(exc)) from None
    signals_req._check_new_signals(st, s, {f"{dname}.{sname}"})
    st.service.signals.ensure(dname, sname)
    st.service.add_event(event)


def event_list(st: ServerState, value: Any) -> dict[int, list[Any]]:
    """getEventList: `{evID: [dname, sname, evID, text, x, value, priority, id]}`.

    An integer value means the latest N (RTOC documented it and ignored it).
    """
    items = list(st.events.items())
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        items = items[-value:]
    return {eid: event_row(eid, ev) for eid, ev in items}


async def stored_event_list(st: ServerState, value: dict[str, Any]) -> dict[int, list[Any]]:
    """getEventList `{"xmin", "xmax", "limit"}` (extension): events of a time range, stored
    and in memory (the service merges them), so a zoom into history shows events older
    than those kept in memory and the newest ones not committed yet.

    Events still in memory keep their evID; stored-only ones get negative ids (not removable).
    """
    unknown = set(value) - {"xmin", "xmax", "limit"}
    if unknown:
        raise RequestError(f"getEventList takes xmin, xmax, limit; not {sorted(unknown)}")
    xmin = None if value.get("xmin") is None else signals_req._num(value["xmin"], "xmin")
    xmax = None if value.get("xmax") is None else signals_req._num(value["xmax"], "xmax")
    limit = value.get("limit", 1000)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 < limit <= 10_000:
        raise RequestError("getEventList limit must be a whole number from 1 to 10000")
    found = await st.service.events(xmin, xmax, limit)
    if found.store_error is not None and not found.events:
        raise RequestError(f"getEventList: the store cannot answer ({found.store_error})")
    known = {event_key(ev): eid for eid, ev in st.events.items()}
    out: dict[int, list[Any]] = {}
    for n, ev in enumerate(found.events, start=1):
        eid = known.get(event_key(ev), -n)
        out[eid] = event_row(eid, ev)
    return out


def events_of(st: ServerState, value: Any) -> dict[str, list[list[Any]]]:
    """getEvent `["Dev.Sig", …]` → `{"Dev.Sig": [event rows…]}` (RTOC's evident intent)."""
    if not isinstance(value, list):
        raise RequestError('getEvent takes ["Dev.Sig", …]')
    out: dict[str, list[list[Any]]] = {}
    items = st.events.items()
    for key in value:
        if not isinstance(key, str):
            raise RequestError(f"signal names are strings, got {key!r}")
        out[key] = [event_row(i, e) for i, e in items if f"{e.device}.{e.signal}" == key]
    return out


def costly(req: dict[str, Any]) -> bool:
    """Requests whose answers may be big (encoded off the event loop)."""
    return "getSession" in req or "getSignal" in req


class Dispatcher:
    """Handles one request object for one session; plugin/logger/automation are delegated."""

    def __init__(
        self,
        *,
        state: ServerState,
        plugins: Plugins,
        logger: LoggerRequests,
        automation: AutomationRequests,
        after_plugin: Callable[[], None] | None = None,
    ) -> None:
        self.st = state
        self.plugins = plugins
        self.logger = logger
        self.automation = automation
        self.after_plugin = after_plugin
        # signal points per second to all clients together (each also has its own bucket)
        self.all_points = TokenBucket.seconds_worth(
            state.config.max_points_per_second_all, POINTS_BURST
        )

    def _afford(self, s: ClientSession, points: int) -> None:
        """Refuse an answer of `points` points the client has no allowance or room for.

        Each client may ask for `max_points_per_second` points per second; an answer whose
        size was not known in advance (stored history) is paid for afterwards, so the
        client's next costly request waits until that debt is paid.
        """
        cfg = self.st.config
        refusal = None
        if s.queued_bytes > cfg.send_queue_bytes // 2:
            refusal = (
                f"{s.queued_bytes} bytes of earlier answers are still unread: "
                "read them before asking for more signal data"
            )
        elif points > s.points.burst:
            refusal = (
                f"an answer of {points} points is more than one client may get at once "
                f"({s.points.burst:.0f}): ask for less (getSignal with maxN, xmin, xmax)"
            )
        elif not s.points.take(max(points, 1)):
            refusal = (
                f"over this client's allowance of {cfg.max_points_per_second:g} points per "
                "second of signal data: wait a moment, or ask for less"
            )
        elif not self.all_points.take(max(points, 1)):
            s.points.spend(-max(points, 1))  # not this client's fault: give it back
            refusal = (
                f"the hub is sending its {cfg.max_points_per_second_all:g} points per second "
                "of signal data to other clients: wait a moment"
            )
        if refusal is not None:
            self.st.stats["refused_cost"] += 1
            raise RequestError(refusal)
        s.points_charged = max(points, 1)

    async def handle(self, s: ClientSession, req: dict[str, Any]) -> dict[str, Any]:
        """Process every known key in RTOC's order; one response object."""
        st = self.st
        denied = [k for k in req if k in KNOWN and not s.may(NEEDS.get(k, Permission.READ))]
        if denied:
            key = min(denied, key=ORDER.index)  # the first in RTOC's order
            need = NEEDS.get(key, Permission.READ)
            st.stats["refused_permission"] += 1
            raise RequestError(f"permission: {key!r} needs {need}, this client has {s.permission}")
        if costly(req):
            limit = int(st.config.max_points_per_second)
            self._afford(s, signals_req.answer_points(st, req, limit))
        resp: dict[str, Any] = {"error": False}
        if "y" in req:
            resp["sent"] = signals_req.handle_y(st, s, req)
        if "getSignalList" in req:
            resp["signalList"] = signals_req.signal_list(st)
        if "getPluginList" in req:
            resp["pluginList"] = self.plugins.plugin_list()
        if "event" in req:
            add_event(st, s, req["event"])
        if "subscribe" in req:
            subscribe(s, req["subscribe"], True)
        if "unsubscribe" in req:
            subscribe(s, req["unsubscribe"], False)
        if "subscribeAll" in req:
            subscribe_all(s, req["subscribeAll"], True)
        if "unsubscribeAll" in req:
            subscribe_all(s, req["unsubscribeAll"], False)
        if "getEventList" in req:
            value = req["getEventList"]
            if isinstance(value, dict):
                resp["events"] = await stored_event_list(st, value)
            else:
                resp["events"] = event_list(st, value)
        if "getEvent" in req:
            resp["events"] = events_of(st, req["getEvent"])
        if "getSignal" in req:
            resp["signals"] = await signals_req.get_signal(st, req["getSignal"])
        if "getLatest" in req:
            resp["latest"] = signals_req.latest(st, req["getLatest"])
        if "getSession" in req:
            resp["session"] = signals_req.session_json(st)
        if "remove" in req:
            resp["remove"] = signals_req.remove(st, req["remove"])
        if "plugin" in req:
            resp["plugin"] = await self.plugins.request(req["plugin"])
            if self.after_plugin is not None:  # RTOC pushes pluginList before the answer
                self.after_plugin()
        if "logger" in req:
            resp["logger"] = await self.logger.request(s, req["logger"])
        if "userAction" in req:
            resp["userAction"] = await self.automation.user_action(s, req["userAction"])
        if "automation" in req:
            resp["automation"] = await self.automation.automation(s, req["automation"])
        if costly(req):  # what the answer held beyond what was known before: owed
            owed = signals_req.points_in(resp) - s.points_charged
            s.points.spend(owed)
            self.all_points.spend(owed)
        return resp
