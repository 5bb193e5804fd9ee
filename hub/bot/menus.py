"""The bot's screens: each function builds a Reply (text + buttons) for one user and session.

Views only read; what pressing a button does lives in handlers.py. Which buttons appear
follows the user's effective permission, and handlers.py checks it again on every press.
"""

from __future__ import annotations

import html
from typing import Any

from hub.i18n import LANGUAGES, language_name
from hub.service import HubService
from hub.signals import SignalStore

from .actions import CustomAction
from .devices import DeviceInfo, describe_param, signature
from .periods import PRESETS
from .ui import Button, Reply, Session
from .users import EVENTLEVELS, Permission, User

BACK = "← Back"
LATEST = "Latest values"
SIGNALS = "Signals"
DEVICES = "Devices"
CREATE = "Create Event/Signal"
AUTOMATION = "Automation"
SETTINGS = "Settings"
EXIT_PREVIEW = "Exit preview"
MAX_SIGNAL_BUTTONS = 60


def _rows(buttons: list[Button]) -> list[list[Button]]:
    return [[b] for b in buttons]


def main_menu(
    user: User,
    perm: Permission,
    session: Session,
    actions: list[CustomAction],
    text: str = "Main menu",
    user_actions: list[str] | None = None,
) -> Reply:
    """RTOC's main menu for the user's effective permission."""
    b: list[Button] = []
    if perm >= Permission.WRITE:  # the engine's user actions (RTOC's telegramActions)
        b += [
            Button(name, session.encode("ua", name))
            for name in user_actions or []
            if perm >= Permission.ADMIN or not name.startswith("_")
        ]
    b += [
        Button(a.label, session.encode("act", str(i)))
        for i, a in enumerate(actions)
        if a.allowed(perm)
    ]
    if perm == Permission.CUSTOM or perm >= Permission.WRITE:
        b += [Button(s.label, session.encode("sc", str(i))) for i, s in enumerate(user.shortcuts)]
    if perm >= Permission.READ:
        b += [Button(LATEST, "lat"), Button(SIGNALS, "sig")]
    if perm >= Permission.WRITE:
        b += [Button(DEVICES, "dev"), Button(CREATE, "new"), Button(AUTOMATION, "auto")]
    if perm >= Permission.READ:
        b.append(Button(SETTINGS, "set"))
    if user.preview is not None:
        b.append(Button(EXIT_PREVIEW, "xprev"))
    if not b:
        text = "You have no shortcuts yet; ask an admin."
    return Reply(text, _rows(b))


def latest_values(signals: SignalStore) -> str:
    """RTOC's `Name | Value | Unit` table of every signal's latest value (2 decimals)."""
    rows = []
    for sig in sorted(signals, key=lambda s: s.key):
        last = sig.latest()
        value = "-" if last is None else f"{last[1]:.2f}"
        rows.append((sig.key, value, sig.unit))
    if not rows:
        return "No signals yet."
    w0 = max(len(r[0]) for r in [*rows, ("Name", "", "")])
    w1 = max(len(r[1]) for r in [*rows, ("", "Value", "")])
    lines = [f"{'Name':<{w0}} | {'Value':>{w1}} | Unit"]
    lines += [f"{k:<{w0}} | {v:>{w1}} | {u}" for k, v, u in rows]
    return "<pre>" + html.escape("\n".join(lines)) + "</pre>"


def signals_menu(signals: SignalStore, session: Session, text: str = "") -> Reply:
    """Signal selection with period, events toggle, graph and CSV."""
    buttons: list[Button] = []
    sigs = sorted(signals, key=lambda s: s.key)
    for sig in sigs[:MAX_SIGNAL_BUTTONS]:
        mark = "☑" if sig.key in session.selected else "☐"
        buttons.append(Button(f"{mark} {sig.key}", session.encode("st", str(sig.id))))
    buttons += [
        Button(f"Period: {session.period_label}", "per"),
        Button(f"Events: {'on' if session.show_events else 'off'}", "ev"),
        Button("Request graph", "plot"),
        Button("Download CSV", "csv"),
        Button(BACK, "m"),
    ]
    chosen = ", ".join(session.selected) or "none"
    head = text or "Select signals, then request a graph or a CSV."
    more = (
        f"\n({len(sigs) - MAX_SIGNAL_BUTTONS} more not shown)"
        if len(sigs) > MAX_SIGNAL_BUTTONS
        else ""
    )
    return Reply(
        f"{head}\nSelected: {html.escape(chosen)}\nPeriod: {session.period_label}{more}",
        _rows(buttons),
    )


def period_menu(session: Session) -> Reply:
    """Period presets; typed ranges are accepted as the next message."""
    b = [Button(label, session.encode("pp", str(i))) for i, (label, _) in enumerate(PRESETS)]
    b.append(Button(BACK, "sig"))
    return Reply(
        "Choose a period, or send one like <code>16.05.25 - 13.06.25 14:33</code>.", _rows(b)
    )


def settings_menu(user: User, perm: Permission, session: Session) -> Reply:
    """Settings: notification level for all; general for write; bot settings for admins."""
    other = next(code for code in LANGUAGES if code != user.language)
    b = [
        Button(f"Notifications: {EVENTLEVELS[user.eventlevel]}", "lvls"),
        Button(f"Language: {language_name(user.language)}", f"lng:{other}"),
    ]
    if perm >= Permission.WRITE:
        b.append(Button("General", "gen"))
        b += [
            Button(f"✕ {s.label}", session.encode("scdel", str(i)))
            for i, s in enumerate(user.shortcuts)
        ]
    if perm >= Permission.ADMIN:
        b += [Button("Backup", "bk"), Button("Delete signals/events", "del")]
        b.append(Button("Telegram bot", "bot"))
    b.append(Button(BACK, "m"))
    return Reply("Settings", _rows(b))


def levels_menu(user: User) -> Reply:
    """The four notification levels."""
    b = [
        Button(("• " if lvl == user.eventlevel else "") + label, f"lvl:{lvl}")
        for lvl, label in EVENTLEVELS.items()
    ]
    b.append(Button(BACK, "set"))
    return Reply("Which events should reach you?", _rows(b))


def general_info(service: HubService) -> Reply:
    """Hub figures (no public IP lookup, no reboot button)."""
    signals = service.signals
    lines = [f"Signals: {len(signals)}", f"Record length: {signals.record_length}"]
    lines += [
        f"{k}: {v}"
        for k, v in sorted(service.status().items())
        if isinstance(v, int | float) and not isinstance(v, bool) and k != "signals"
    ]
    store_cfg = service.config.get("store", {})
    days = store_cfg.get("retention_days")
    if days is not None:
        lines.append(
            f"Store: {store_cfg.get('kind', '?')}, "
            f"retention {'off' if not days else f'{days} days'}"
        )
    lines.append("Retention and scheduled backups are set in the hub's config file.")
    return Reply(html.escape("\n".join(lines)), [[Button(BACK, "set")]])


def bot_menu(users: Any, user: User) -> Reply:
    """Admin: menu style, maintenance mode, preview modes, users."""
    b = [
        Button(f"Menu: {'inline' if users.inline_menu else 'keyboard'}", "inl"),
        Button(f"Only admin: {'on' if users.only_admin else 'off'}", "oa"),
        Button("Preview custom", "prev:custom"),
        Button("Preview read", "prev:read"),
        Button("Preview write", "prev:write"),
        Button("Users", "users"),
        Button(BACK, "set"),
    ]
    return Reply("Telegram bot settings", _rows(b))


def users_menu(users: Any, me: User, note: str = "") -> Reply:
    """Admin: every other user; tapping one opens its permission choice."""
    b = [
        Button(f"{u.name}: {u.permission.label}", f"u:{u.chat_id}")
        for u in sorted(users.users.values(), key=lambda u: u.chat_id)
        if u.chat_id != me.chat_id
    ]
    b.append(Button(BACK, "bot"))
    head = f"{note}\n" if note else ""
    return Reply(
        f"{head}Users (you: {html.escape(me.name)}, admin). Tap a user to choose its permission.",
        _rows(b),
    )


def user_menu(target: User) -> Reply:
    """Admin: one user's permission, chosen in one step (admin asks for a confirmation)."""
    b = [
        Button(
            ("• " if p == target.permission else "")
            + p.label
            + ("…" if p == Permission.ADMIN else ""),
            f"ul:{target.chat_id}:{p.label}",
        )
        for p in Permission
    ]
    b.append(Button(BACK, "users"))
    return Reply(
        f"{html.escape(target.name)} is {target.permission.label}. Choose a permission.", _rows(b)
    )


def confirm_admin_menu(target: User) -> Reply:
    """Admin: confirm making a user admin."""
    name = html.escape(target.name)
    return Reply(
        f"Make {name} admin? Admins may change every user's permission and the bot's settings.",
        [
            [Button(f"Yes, make {target.name} admin", f"uadm:{target.chat_id}")],
            [Button("Cancel", f"u:{target.chat_id}")],
        ],
    )


def devices_menu(devices: dict[str, DeviceInfo], session: Session) -> Reply:
    """All devices of all agents."""
    b = []
    for name, d in sorted(devices.items()):
        state = "offline" if not d.online else ("running" if d.running else "stopped")
        b.append(Button(f"{name} ({state})", session.encode("d", name)))
    b.append(Button(BACK, "m"))
    text = "Devices" if devices else "No agent has announced a device."
    return Reply(text, _rows(b))


def device_menu(d: DeviceInfo, session: Session) -> Reply:
    """One device: start/stop, sample rate, parameters, functions, shortcuts."""
    rate = "?" if d.decl.samplerate is None else d.decl.samplerate
    lines = [
        f"<b>{html.escape(d.name)}</b> on agent {html.escape(d.agent)}",
        f"driver {html.escape(d.decl.driver or '?')}, "
        f"{'running' if d.running else 'stopped'}, {rate} Hz",
    ]
    if d.decl.error:
        lines.append(f"error: {d.decl.error}")
    b = [
        Button(
            "Stop" if d.running else "Start",
            session.encode("stop" if d.running else "start", d.name),
        ),
        Button(f"Sample rate ({rate} Hz)", session.encode("sr", d.name)),
    ]
    for p in d.params:
        lines.append(f"{p.name} = {p.value!r} ({describe_param(p)})")
        if p.writable:
            b.append(Button(f"Set {p.name}", session.encode("p", d.name, p.name)))
            b.append(
                Button(f"★ {d.name}.{p.name}", session.encode("scadd", "param", d.name, p.name))
            )
    for f in d.functions:
        lines.append(f"{signature(f)}")
        b.append(Button(f"Call {f.name}", session.encode("f", d.name, f.name)))
        b.append(Button(f"★ {d.name}.{f.name}()", session.encode("scadd", "call", d.name, f.name)))
    b.append(Button(BACK, "dev"))
    head = lines[:2]
    rest = [html.escape(x) for x in lines[2:]]
    return Reply("\n".join(head + rest), _rows(b))


def create_menu(signals: SignalStore, session: Session) -> Reply:
    """Create Event/Signal: pick a signal (or type Device.Signal)."""
    b = [
        Button(sig.key, session.encode("ns", str(sig.id)))
        for sig in sorted(signals, key=lambda s: s.key)[:MAX_SIGNAL_BUTTONS]
    ]
    b.append(Button("Telegram (no signal)", "ns:-"))
    b.append(Button(BACK, "m"))
    return Reply("Choose a signal, or send its name as <code>Device.Signal</code>.", _rows(b))
