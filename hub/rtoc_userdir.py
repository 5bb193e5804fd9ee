"""Reads an RTOC user folder (`~/.RTOC`) as it is and plans what it changes in a hub.

What lands in the hub's store (documents the hub loads at start):
- `globalEvents.json`, `globalActions.json` → the engine's events and actions (merged by
  name: new ones added, differing ones replaced), each compiled first;
- `telegramActions.json` → the engine's user actions (the bot's and websocket's custom
  actions), compiled first;
- `telegram_clients.json` → the bot's users (permissions, event levels, shortcuts);
- `config.json`: `globalEventsActivated`/`globalActionsActivated` → automation on/off,
  `telegram.inlineMenu`/`onlyAdmin` → the bot's settings.

What belongs in config files is printed as TOML to add: the hub's (`recordLength`,
websocket, telegram, postgresql, backup) and the agent's (`devices/` plugins, each as an
`rtoc_plugin` device, enabled when listed in `autorun_devices`). Everything else is
listed with the reason it is not carried over. Nothing here writes; `apply()` does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.bot.users import DOC_KEY as DOC_TELEGRAM_USERS
from hub.bot.users import UserDirectory, import_rtoc_clients
from hub.engine.engine import DOC_ACTIONS, DOC_EVENTS, DOC_SETTINGS, DOC_USER_ACTIONS
from hub.engine.expr import compile_expression
from hub.engine.hostfns import PICTURE_NAME
from hub.engine.rtoc_import import (
    action_from_rtoc,
    action_to_rtoc,
    event_from_rtoc,
    event_to_rtoc,
    parse_user_actions,
)
from hub.engine.script import compile_script
from hub.permission import NAMES as PERMISSIONS

# RTOC plugin file names of instruments with a native driver here (docs/drivers.md).
NATIVE_DRIVERS = {
    "Generator": "generator",
    "Generator2": "generator",
    "System": "system",
    "INA219_Modul": "ina219",
    "DPS5020": "dps5020",
    "HoldPeak VC820": "vc820",
    "Heliotherm": "heliotherm",
    "Heliotherm2": "heliotherm",
}
_DEVICE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ -]{0,63}$")
_SKIP_DIRS = {"__pycache__", ".git", ".vscode"}
KNOWN_FILES = {
    "config.json",
    "globalEvents.json",
    "globalActions.json",
    "telegramActions.json",
    "telegram_clients.json",
    "autorun_devices",
    "persistentVariables.json",
    "devices",
}
NOT_CARRIED_FILES = {
    "plotStyles.json": "plot styles of RTOC's desktop GUI: the dashboard keeps its own",
    "restore.json": "a GUI session (signals in memory); export it from RTOC as CSV and use "
    "`opencontrol import csv`",
    "backup": "RTOC's JSON backups: export the data from RTOC as CSV and use "
    "`opencontrol import csv`",
}


class UserDirError(ValueError):
    """The folder cannot be read as an RTOC user folder."""


@dataclass
class ImportPlan:
    """What importing a user folder would do."""

    docs: dict[str, Any] = field(default_factory=dict)  # store document key → new value
    changes: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    hub_toml: list[str] = field(default_factory=list)
    agent_toml: list[str] = field(default_factory=list)
    not_carried: list[str] = field(default_factory=list)


def plan_import(folder: Path, current: Callable[[str], Any]) -> ImportPlan:
    """Read the folder; `current(key)` gives the hub's stored document (None if none)."""
    if not folder.is_dir():
        raise UserDirError(f"{folder}: not a directory")
    known = KNOWN_FILES | set(NOT_CARRIED_FILES)
    if not any((folder / name).exists() for name in KNOWN_FILES):
        raise UserDirError(f"{folder}: no RTOC files in it (config.json, globalEvents.json, …)")
    plan = ImportPlan()
    config = _read_json(folder / "config.json", plan) or {}
    if not isinstance(config, dict):
        plan.not_carried.append("config.json: not a JSON object, ignored")
        config = {}
    _events(folder, current, plan)
    _actions(folder, current, plan)
    _user_actions(folder, current, plan)
    _automation_settings(config, current, plan)
    _telegram_users(folder, config, current, plan)
    _hub_config(config, plan)
    _devices(folder, plan)
    if plan.agent_toml:  # plugins raise events whose ids the imported actions listen to
        plan.hub_toml += [
            "[mqtt]",
            'trusted_event_agents = ["<the agent\'s id>"]  # its event ids trigger actions',
        ]
    for name, why in NOT_CARRIED_FILES.items():
        if (folder / name).exists():
            plan.not_carried.append(f"{name}: {why}")
    for path in sorted(folder.iterdir()):
        if path.name not in known and not path.name.startswith(("telegram_export", ".")):
            plan.not_carried.append(f"{path.name}: not an RTOC file this import knows")
    return plan


def apply(plan: ImportPlan, put_doc: Callable[[str, Any], None]) -> None:
    """Write the planned documents."""
    for key, value in plan.docs.items():
        put_doc(key, value)


# -- the parts ------------------------------------------------------------------------------
def _read_json(path: Path, plan: ImportPlan) -> Any:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        plan.not_carried.append(f"{path.name}: cannot be read ({exc}); nothing of it imported")
        return None


def _merge(
    plan: ImportPlan, what: str, key: str, current: dict[str, Any], new: dict[str, Any]
) -> None:
    merged = dict(current)
    for name, value in new.items():
        if name not in current:
            plan.changes.append(f"+ {what} {name}")
        elif current[name] != value:
            plan.changes.append(f"~ {what} {name} (replaces the hub's)")
        else:
            plan.unchanged.append(f"{what} {name}")
            continue
        merged[name] = value
    if merged != current:
        plan.docs[key] = merged


def _events(folder: Path, current: Callable[[str], Any], plan: ImportPlan) -> None:
    raw = _read_json(folder / "globalEvents.json", plan)
    if raw is None:
        return
    if not isinstance(raw, dict):
        plan.not_carried.append("globalEvents.json: not an object of name → event")
        return
    new: dict[str, Any] = {}
    for name, entry in raw.items():
        try:
            defn = event_from_rtoc(str(name), entry)
            compile_expression(defn.cond, relax=float(defn.hysteresis))
        except Exception as exc:
            plan.not_carried.append(f"event {name}: {exc}")
            continue
        doc = event_to_rtoc(defn)
        for runtime in ("errors", "latest"):  # RTOC's runtime keys, not definitions
            doc.pop(runtime, None)
        new[str(name)] = doc
    _merge(plan, "event", DOC_EVENTS, _stored(current(DOC_EVENTS)), new)


def _actions(folder: Path, current: Callable[[str], Any], plan: ImportPlan) -> None:
    raw = _read_json(folder / "globalActions.json", plan)
    if raw is None:
        return
    if not isinstance(raw, dict):
        plan.not_carried.append("globalActions.json: not an object of name → action")
        return
    new: dict[str, Any] = {}
    for name, entry in raw.items():
        try:
            defn = action_from_rtoc(str(name), entry)
            compile_script(defn.script)
        except Exception as exc:
            plan.not_carried.append(f"action {name}: {exc}")
            continue
        doc = action_to_rtoc(defn)
        doc.pop("errors", None)
        new[str(name)] = doc
    _merge(plan, "action", DOC_ACTIONS, _stored(current(DOC_ACTIONS)), new)


def _user_actions(folder: Path, current: Callable[[str], Any], plan: ImportPlan) -> None:
    path = folder / "telegramActions.json"
    if not path.exists():
        return
    try:
        scripts = parse_user_actions(path.read_bytes())
    except (OSError, ValueError) as exc:
        plan.not_carried.append(f"telegramActions.json: {exc}")
        return
    new: dict[str, Any] = {}
    for label, source in scripts.items():
        try:
            compile_script(source)
        except Exception as exc:
            plan.not_carried.append(f"telegram action {label!r}: {exc}")
            continue
        new[label] = source
        for kind, name in _FILE_ANSWER.findall(source):
            if not PICTURE_NAME.match(name) or ".." in name:
                where = "pictures" if kind == "picture" else "documents"
                plan.not_carried.append(
                    f"telegram action {label!r} answers with the {kind} {name!r}: imported, but "
                    f"copy the file into the hub's <config_dir>/{where} and return its name"
                )
    _merge(plan, "user action", DOC_USER_ACTIONS, _stored(current(DOC_USER_ACTIONS)), new)


# RTOC's `return ('picture', '/home/pi/cam.jpg')`: the hub takes a file name only
_FILE_ANSWER = re.compile(r"""\(\s*['"](picture|document)['"]\s*,\s*['"]([^'"]+)['"]""")


def _automation_settings(
    config: dict[str, Any], current: Callable[[str], Any], plan: ImportPlan
) -> None:
    glob = config.get("global")
    if not isinstance(glob, dict):
        return
    now = dict(_stored(current(DOC_SETTINGS)))
    new = dict(now)
    for rtoc_key, key in (
        ("globalEventsActivated", "events"),
        ("globalActionsActivated", "actions"),
    ):
        if isinstance(glob.get(rtoc_key), bool):
            new[key] = glob[rtoc_key]
    if new != now:
        plan.docs[DOC_SETTINGS] = new
        on = ", ".join(f"{k} {'on' if v else 'off'}" for k, v in sorted(new.items()))
        plan.changes.append(f"~ automation: {on} (config.json global.*Activated)")


def _telegram_users(
    folder: Path, config: dict[str, Any], current: Callable[[str], Any], plan: ImportPlan
) -> None:
    tg = _section(config, "telegram")
    raw = _read_json(folder / "telegram_clients.json", plan)
    if raw is None and not tg:
        return
    directory = UserDirectory()
    stored = current(DOC_TELEGRAM_USERS)
    directory.load_doc(stored if isinstance(stored, dict) else None)
    before = directory.to_doc()
    if raw is not None:
        try:
            warnings = import_rtoc_clients(directory, raw)
        except ValueError as exc:
            plan.not_carried.append(f"telegram_clients.json: {exc}")
            warnings = []
        plan.not_carried += [f"telegram_clients.json: {w}" for w in warnings]
    if isinstance(tg.get("inlineMenu"), bool):
        directory.inline_menu = tg["inlineMenu"]
    if isinstance(tg.get("onlyAdmin"), bool):
        directory.only_admin = tg["onlyAdmin"]
    after = directory.to_doc()
    if after == before:
        return
    plan.docs[DOC_TELEGRAM_USERS] = after
    old_users = before.get("users", {})
    for chat, user in after["users"].items():
        if old_users.get(chat) != user:
            sign = "~" if chat in old_users else "+"
            who = f"{user['first_name']} {user['last_name']}".strip() or "?"
            plan.changes.append(
                f"{sign} telegram user {chat} ({who}): {user['permission']}, "
                f"event level {user['eventlevel']}, {len(user['shortcuts'])} shortcuts"
            )
    if after.get("settings") != before.get("settings"):
        s = after["settings"]
        plan.changes.append(
            f"~ telegram bot: inline menu {s.get('inline_menu')}, only admin {s.get('only_admin')}"
        )


def _toml(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _hub_config(config: dict[str, Any], plan: ImportPlan) -> None:
    out: list[str] = []
    nc = plan.not_carried
    glob = config.get("global", {}) if isinstance(config.get("global"), dict) else {}
    if isinstance(glob.get("recordLength"), int):
        out += ["[hub]", f"record_length = {glob['recordLength']}"]
    if glob.get("language") not in (None, "en"):
        nc.append(
            f"config.json global.language {glob['language']!r}: each user chooses the "
            "language in the bot and the dashboard"
        )
    if glob.get("name"):
        nc.append(f"config.json global.name {glob['name']!r}: the hub has no display name")
    ws = _section(config, "websocket")
    if ws:
        out += ["[websocket]", f"enabled = {_toml(bool(ws.get('active', False)))}"]
        if isinstance(ws.get("port"), int):
            out.append(f"port = {ws['port']}")
        if ws.get("password") is not None:
            out.append('password = "…"  # config.json websocket.password (not printed)')
        if ws.get("ssl"):
            out += [
                f"tls_cert = {_toml(ws.get('certfile', ''))}  # relative to the RTOC folder",
                f"tls_key = {_toml(ws.get('keyfile', ''))}",
            ]
        if ws.get("host_whitelist"):
            nc.append(
                "config.json websocket.host_whitelist: RTOC trusted these peers without a "
                "password (localhost by default); the hub trusts none unless [websocket] "
                "host_whitelist names their IP addresses (docs/security.md)"
            )
        if ws.get("knownHosts"):
            nc.append(
                "config.json websocket.knownHosts: remote RTOC servers of the GUI; the hub "
                "does not connect to other servers"
            )
    tg = _section(config, "telegram")
    if tg:
        out += ["[telegram]", f"enabled = {_toml(bool(tg.get('active', False)))}"]
        if tg.get("token"):
            out.append('token_env = "OPENCONTROL_TELEGRAM_TOKEN"  # export the bot token there')
        if tg.get("default_permission") in PERMISSIONS:
            out.append(f"default_permission = {_toml(tg['default_permission'])}")
        if tg.get("default_eventlevel") in (0, 1, 2, 3):
            out.append(f"default_eventlevel = {tg['default_eventlevel']}")
    pg = _section(config, "postgresql")
    backup = _section(config, "backup")
    if pg.get("active"):
        dsn = (
            f"postgresql://{pg.get('user', 'postgres')}@{pg.get('host', '127.0.0.1')}:"
            f"{pg.get('port', '5432')}/{pg.get('database', 'postgres')}"
        )
        out += [
            "[store]",
            'kind = "postgres"',
            f"dsn = {_toml(dsn)}  # password in ~/.pgpass, not here",
        ]
        nc.append(
            "RTOC's PostgreSQL tables (one row per signal): export the data from RTOC as "
            "CSV and use `opencontrol import csv`"
        )
    elif backup.get("active") and isinstance(backup.get("intervall"), int | float):
        out += ["[store]", f"backup_every = {round(backup['intervall'] / 3600, 4)}  # hours"]
    for key in ("resample", "clear", "autoIfFull", "autoOnClose", "loadOnOpen"):
        if backup.get("active") and backup.get(key):
            nc.append(
                f"config.json backup.{key}: the hub stores every sample as it comes "
                "(no resampling, clearing or reloading cycles)"
            )
    tcp = _section(config, "tcp")
    if tcp.get("active"):
        nc.append("config.json tcp: the TCP jsonsocket protocol (RTOC 2.x) is not served")
    if config.get("GUI"):
        nc.append("config.json GUI: settings of RTOC's desktop GUI")
    plan.hub_toml = out


def _devices(folder: Path, plan: ImportPlan) -> None:
    devices = folder / "devices"
    if not devices.is_dir():
        return
    autorun_file = folder / "autorun_devices"
    autorun = set()
    if autorun_file.exists():
        autorun = {ln.strip() for ln in autorun_file.read_text(encoding="utf-8").splitlines()}
    persistent = folder / "persistentVariables.json"
    out: list[str] = []
    for sub in sorted(p for p in devices.iterdir() if p.is_dir() and p.name not in _SKIP_DIRS):
        for path in sorted(sub.glob("*.py")):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if "class Plugin(" not in text:
                continue
            name = path.stem.replace(".", "Dot").replace(":", "DDot")
            device = name if _DEVICE_NAME.match(name) else re.sub(r"[^A-Za-z0-9_ -]", "_", name)
            if device != name:
                plan.not_carried.append(
                    f"plugin {name!r}: device name becomes {device!r} (letters, digits, _ - "
                    "and space only)"
                )
            native = NATIVE_DRIVERS.get(name)
            out += [
                "",
                f"[devices.{_toml(device) if ' ' in device else device}]",
                'driver = "rtoc_plugin"',
                f"plugin = {_toml(str(path.resolve()))}",
            ]
            if persistent.exists():
                out.append(f"persistent = {_toml(str(persistent.resolve()))}")
            out.append(f"enabled = {_toml(name in autorun)}  # autorun_devices")
            if native:
                out.append(f'# or the native driver: driver = "{native}" (docs/drivers.md)')
    plan.agent_toml = out[1:] if out else []


def _section(config: dict[str, Any], key: str) -> dict[str, Any]:
    value = config.get(key)
    return value if isinstance(value, dict) else {}


def _stored(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def report(plan: ImportPlan, *, folder: Path, dry_run: bool) -> str:
    """The plan as text for the terminal."""
    lines = [f"RTOC user folder {folder}"]
    head = "would change in the hub's store" if dry_run else "changed in the hub's store"
    lines.append(f"{head}:" if plan.changes else f"{head}: nothing")
    lines += [f"  {c}" for c in plan.changes]
    if plan.unchanged:
        lines.append(f"already in the hub: {', '.join(plan.unchanged)}")
    if plan.hub_toml:
        lines.append("hub config (add to the hub's TOML file; not changed by this command):")
        lines += [f"  {ln}" for ln in plan.hub_toml]
    if plan.agent_toml:
        lines.append("agent config for RTOC's devices/ plugins (add to the agent's TOML file):")
        lines += [f"  {ln}" if ln else "" for ln in plan.agent_toml]
    if plan.not_carried:
        lines.append("not carried over:")
        lines += [f"  - {n}" for n in plan.not_carried]
    if plan.changes and not dry_run:
        lines.append("restart the hub (if it runs) to load the changes")
    return "\n".join(lines)
