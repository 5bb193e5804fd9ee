"""The hub's TOML config: declared as data, validated once at start-up."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from edge_agent.config_schema import (
    ConfigError,
    Field,
    Section,
    load_toml,
    non_negative,
    port,
    positive,
    validate,
)
from edge_agent.wire import DEFAULT_PREFIX

from .integrations.config import (
    HOMEASSISTANT_SECTION,
    METRICS_SECTION,
    NOTIFY_SECTION,
    SELF_SIGNALS_SECTION,
    check_integrations,
)
from .permission import NAMES as PERMISSIONS
from .ws.config import WEBSOCKET_SECTION, WsConfig

ROLES = ("all", "ingest", "live")


def default_data_dir() -> str:
    """~/.local/share/opencontrol (or $XDG_DATA_HOME/opencontrol)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "opencontrol")


HUB = Section(
    fields={
        "id": Field(str, "opencontrol-hub", "MQTT client id; also the persistent session name"),
        "role": Field(
            str,
            "all",
            "all: one hub does everything; ingest: shared subscription, writes, acks agents, no "
            "live side; live: whole stream, live view, websocket, engine when leading, never "
            "writes samples (docs/scale.md)",
            choices=ROLES,
        ),
        "lease_seconds": Field(
            float, 6.0, "live hubs: the leader's lease in PostgreSQL (takeover within it)", positive
        ),
        "data_dir": Field(str, "", "where the SQLite store and state live (default: XDG data)"),
        "config_dir": Field(str, "", "operator files: scripts, Telegram actions (default: data)"),
        "record_length": Field(int, 500_000, "live ring buffer length per signal", positive),
        "log_level": Field(str, "info", choices=("debug", "info", "warning", "error")),
        "recent_events": Field(int, 1000, "events kept in memory", positive),
        "reload_samples": Field(
            int, 10_000, "newest samples per signal loaded on start (≤ record_length)", positive
        ),
        "reload_seconds": Field(
            float, 10.0, "time for loading them; later signals get their latest only", positive
        ),
        "live_window": Field(
            int, 65_536, "agent batches remembered as live (a resend goes live once)", positive
        ),
        "local_pending": Field(
            int, 200_000, "hub-made samples and events held while the store is behind", positive
        ),
    }
)

MQTT = Section(
    fields={
        "embedded": Field(bool, True, "start the built-in broker (ignored when host is set)"),
        "host": Field(str, "", "external broker host; empty = embedded broker"),
        "port": Field(int, 1883, "broker port (the embedded broker listens here)", port),
        "prefix": Field(str, DEFAULT_PREFIX, "topic prefix shared with the agents"),
        "username": Field(str, "", "external broker: the hub's user"),
        "password": Field(str, "", "external broker: the hub's password"),
        "tls_ca": Field(str, "", "CA file: connect with TLS when set"),
        "shared_group": Field(str, "", "MQTT shared subscription group for several hub processes"),
        "keepalive": Field(int, 30, "MQTT keepalive in seconds", positive),
        "allow_anonymous": Field(
            bool, False, "embedded broker: let anyone in without a password (warned at start)"
        ),
        "password_file": Field(str, "", "embedded broker users (default: <data_dir>/mqtt.passwd)"),
        "acl_file": Field(str, "", "embedded broker ACL (default: <data_dir>/mqtt.acl)"),
        "heartbeat": Field(
            float,
            5.0,
            "seconds between the hub's heartbeats to itself through the broker",
            positive,
        ),
        "trusted_event_agents": Field(
            list, [], "agents whose event ids are taken as sent (may trigger hub actions)"
        ),
        "max_signals_per_agent": Field(int, 2000, "signals one agent may have", positive),
        "max_devices_per_agent": Field(int, 200, "devices one agent may announce", positive),
        "max_messages_per_s": Field(float, 500.0, "per agent, sustained", positive),
        "max_burst": Field(int, 5000, "per agent, messages above the rate at once", positive),
    }
)

STORE = Section(
    fields={
        "kind": Field(str, "sqlite", choices=("sqlite", "postgres")),
        "path": Field(str, "", "SQLite file (default: <data_dir>/opencontrol.sqlite)"),
        "dsn": Field(str, "", "PostgreSQL connection string (kind = postgres)"),
        "queue_batches": Field(int, 1000, "writer queue length", positive),
        "retention_days": Field(
            int, 0, "drop raw samples older than this (0 = keep)", non_negative
        ),
        "compress_after_days": Field(int, 7, "TimescaleDB compression age", positive),
        "rejected_max_rows": Field(int, 10_000, "refused messages kept (oldest pruned)", positive),
        "rejected_max_bytes": Field(
            int, 64 * 1024 * 1024, "bytes of refused payloads kept (oldest pruned)", positive
        ),
        "backup_every": Field(
            float, 0.0, "hours between backups of the SQLite store (0 = none)", non_negative
        ),
        "backup_keep": Field(int, 7, "scheduled backups kept (oldest deleted)", positive),
        "backup_dir": Field(str, "", "where backups go (default: <data_dir>/backups)"),
    }
)

TELEGRAM = Section(
    fields={
        "enabled": Field(bool, False, "start the Telegram bot"),
        "token": Field(str, "", "the bot's token (better: token_env)"),
        "token_env": Field(
            str, "OPENCONTROL_TELEGRAM_TOKEN", "environment variable holding the token"
        ),
        "default_permission": Field(
            str, "blocked", "permission of users after the first (an admin)", choices=PERMISSIONS
        ),
        "default_eventlevel": Field(
            int,
            0,
            "new users: 0 all events, 1 warnings+errors, 2 errors, 3 none",
            choices=(0, 1, 2, 3),
        ),
        "inline_menu": Field(bool, False, "buttons under messages instead of a reply keyboard"),
        "only_admin": Field(bool, False, "maintenance mode: only admins get answers"),
        "base_url": Field(str, "", "Bot API base URL (tests use a loopback stand-in)"),
        "actions_dir": Field(
            str, "", "where telegram_actions.toml lives (default: hub.config_dir)"
        ),
    }
)

SCRIPT = Section(
    fields={
        "file": Field(str, doc="a .py file in <config_dir>/scripts (plain Python, operator only)"),
        "rate": Field(float, 1.0, "runs per second (mode rate)", positive),
        "signals": Field(list, [], "run on new data of these Dev.Sig instead of at a rate"),
        "start": Field(bool, True, "start with the hub"),
    },
    optional=False,
)

ENGINE = Section(
    fields={
        "events_active": Field(bool, True, "automation events are evaluated"),
        "actions_active": Field(bool, True, "automation actions run"),
        "scripts": Section(items=SCRIPT, doc="[engine.scripts.NAME] operator script files"),
    }
)

SCHEMA = Section(
    fields={
        "hub": HUB,
        "mqtt": MQTT,
        "store": STORE,
        "websocket": WEBSOCKET_SECTION,
        "telegram": TELEGRAM,
        "engine": ENGINE,
        "selfsignals": SELF_SIGNALS_SECTION,
        "metrics": METRICS_SECTION,
        "homeassistant": HOMEASSISTANT_SECTION,
        "notify": NOTIFY_SECTION,
    }
)


def machine_memory() -> int:
    """Physical memory of this machine in bytes (0 when unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def max_record_length(memory: int | None = None) -> int:
    """The longest ring buffer that lets 16 signals fit in this machine's memory."""
    memory = machine_memory() if memory is None else memory
    return max(1000, memory // (16 * 16)) if memory else 50_000_000


def finish(cfg: dict[str, Any]) -> dict[str, Any]:
    """Fill derived defaults (paths) after validation; refuse what start would refuse."""
    hub = cfg["hub"]
    limit = max_record_length()
    if hub["record_length"] > limit:
        raise ConfigError(
            f"[hub]: record_length {hub['record_length']} needs "
            f"{hub['record_length'] * 16 / 2**20:.0f} MiB per signal; this machine allows "
            f"at most {limit} (16 signals in its memory)"
        )
    WsConfig.from_mapping(cfg["websocket"])  # pairs of keys (tls_cert with tls_key)
    if problem := check_integrations(cfg):
        raise ConfigError(problem)
    hub["data_dir"] = str(Path(hub["data_dir"] or default_data_dir()).expanduser())
    hub["config_dir"] = str(Path(hub["config_dir"] or hub["data_dir"]).expanduser())
    mqtt = cfg["mqtt"]
    for key, name in (("password_file", "mqtt.passwd"), ("acl_file", "mqtt.acl")):
        mqtt[key] = str(Path(mqtt[key] or Path(hub["data_dir"]) / name).expanduser())
    if cfg["store"]["kind"] == "sqlite" and not cfg["store"]["path"]:
        cfg["store"]["path"] = str(Path(hub["data_dir"]) / "opencontrol.sqlite")
    if cfg["store"]["kind"] == "postgres" and not cfg["store"]["dsn"]:
        raise ConfigError("store: 'store.dsn' is required when store.kind = 'postgres'")
    if cfg["store"]["kind"] == "postgres" and cfg["store"]["backup_every"]:
        raise ConfigError(
            "[store] backup_every schedules backups of the SQLite store; back PostgreSQL up "
            "with `opencontrol backup` from cron or a systemd timer (docs/backup.md)"
        )
    check_role(cfg)
    cfg["store"]["backup_dir"] = str(
        Path(cfg["store"]["backup_dir"] or Path(hub["data_dir"]) / "backups").expanduser()
    )
    return cfg


def check_role(cfg: dict[str, Any]) -> None:
    """Refuse role combinations that cannot work (docs/scale.md)."""
    role = cfg["hub"]["role"]
    if role == "all":
        return
    if cfg["store"]["kind"] != "postgres":
        raise ConfigError(
            f"[hub] role = {role!r} shares one store between hub processes: set "
            "[store] kind = 'postgres' (SQLite is one process's file)"
        )
    if not cfg["mqtt"]["host"]:
        raise ConfigError(
            f"[hub] role = {role!r} needs the broker every hub process reaches: set [mqtt] host "
            "(the embedded broker lives and dies with one hub)"
        )
    if role == "ingest" and not cfg["mqtt"]["shared_group"]:
        raise ConfigError(
            "[hub] role = 'ingest' takes its share of the stream: set [mqtt] shared_group "
            "(the same name on every ingest hub)"
        )
    if role == "live" and cfg["mqtt"]["shared_group"]:
        raise ConfigError(
            "[hub] role = 'live' needs the whole stream, not a share: remove [mqtt] shared_group"
        )
    if role == "ingest" and cfg["telegram"]["enabled"]:
        raise ConfigError("[hub] role = 'ingest' has no live side: [telegram] runs on live hubs")


def load_hub_config(path: str | Path | None) -> dict[str, Any]:
    """Read and validate a hub TOML file (None: all defaults)."""
    if path is None:
        return finish(validate({}, SCHEMA, source="defaults"))
    return finish(load_toml(path, SCHEMA))


def hub_config(data: dict[str, Any], *, source: str = "config") -> dict[str, Any]:
    """Validate a config given as a dict (the demo and the tests build them in code)."""
    return finish(validate(data, SCHEMA, source=source))
