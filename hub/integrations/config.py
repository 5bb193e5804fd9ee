"""Config sections of the integrations, declared as data (hub/config.py puts them in)."""

from __future__ import annotations

from typing import Any

from edge_agent.config_schema import Field, Section, non_negative, port, positive
from hub.permission import NAMES

# Home Assistant is one client: `custom` (own shortcuts only) means nothing for it.
PERMISSIONS = tuple(p for p in NAMES if p != "custom")


def _priority(value: Any) -> str | None:
    return None if value in (0, 1, 2) else "must be 0 (information), 1 (warning) or 2 (error)"


def _str_list(value: Any) -> str | None:
    if not value or not all(isinstance(v, str) and v for v in value):
        return "must be a non-empty list of strings"
    return None


def _str_map(value: Any) -> str | None:
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return "must be a table of strings"
    return None


def _http_url(value: Any) -> str | None:
    return None if value.startswith(("http://", "https://")) else "must be an http(s):// URL"


def _topic_word(value: Any) -> str | None:
    if not value or any(c in value for c in "#+") or value.startswith("/"):
        return "must be an MQTT topic without wildcards or a leading '/'"
    return None


SELF_SIGNALS_SECTION = Section(
    doc="The hub's and agents' health as signals of the reserved device `hub`.",
    fields={
        "enabled": Field(bool, False, "record hub.* and <agent>.* health signals"),
        "interval": Field(float, 5.0, "seconds between samples", positive),
    },
)

METRICS_SECTION = Section(
    doc="Prometheus /metrics on the websocket server's HTTP port.",
    fields={
        "enabled": Field(bool, False, "answer GET /metrics (needs [websocket] enabled)"),
        "token": Field(str, "", "when set, scrapes must send 'Authorization: Bearer <token>'"),
        "max_devices": Field(int, 200, "per-device series beyond this many are left out", positive),
    },
)

HOMEASSISTANT_SECTION = Section(
    doc="Home Assistant MQTT discovery on the hub's broker.",
    fields={
        "enabled": Field(bool, False, "publish discovery configs and state, accept commands"),
        "discovery_prefix": Field(
            str, "homeassistant", "Home Assistant's discovery prefix", _topic_word
        ),
        "permission": Field(
            str,
            "write",
            "what Home Assistant may do: read (sensors only), write (set, call)",
            choices=PERMISSIONS,
        ),
        "state_interval": Field(float, 5.0, "seconds between sensor state updates", positive),
    },
)

WEBHOOK = Section(
    optional=False,
    fields={
        "url": Field(str, doc="where each event is POSTed as JSON", check=_http_url),
        "min_priority": Field(int, 0, "events below this priority are not sent", _priority),
        "per_minute": Field(
            int, 30, "at most this many posts a minute (rest dropped, counted)", positive
        ),
        "queue": Field(int, 100, "events waiting to be sent (oldest dropped beyond)", positive),
        "retries": Field(
            int, 3, "attempts after the first before an event is given up", non_negative
        ),
        "timeout": Field(float, 10.0, "seconds for one POST", positive),
        "headers": Field(dict, {}, "extra HTTP headers (e.g. Authorization)", _str_map),
    },
)

EMAIL = Section(
    optional=False,
    fields={
        "host": Field(str, doc="SMTP server"),
        "port": Field(int, 587, "SMTP port (587: submission)", port),
        "starttls": Field(bool, True, "upgrade with STARTTLS (refuse to send without it)"),
        "ca_file": Field(str, "", "CA file to verify the server with (default: system CAs)"),
        "username": Field(str, "", "SMTP user (empty: no login)"),
        "password_env": Field(str, "", "environment variable holding the SMTP password"),
        "sender": Field(str, doc="From: address"),
        "to": Field(list, doc="To: addresses", check=_str_list),
        "min_priority": Field(int, 1, "events below this priority are not sent", _priority),
        "per_hour": Field(
            int, 20, "at most this many mails an hour (rest dropped, counted)", positive
        ),
        "queue": Field(int, 100, "events waiting to be sent (oldest dropped beyond)", positive),
        "retries": Field(
            int, 3, "attempts after the first before an event is given up", non_negative
        ),
        "timeout": Field(float, 20.0, "seconds for one SMTP conversation", positive),
    },
)

NOTIFY_SECTION = Section(
    doc="Event notifications besides Telegram: [notify.webhook.NAME], [notify.email.NAME].",
    fields={
        "webhook": Section(items=WEBHOOK, doc="[notify.webhook.NAME] JSON POST targets"),
        "email": Section(items=EMAIL, doc="[notify.email.NAME] SMTP targets"),
    },
)


def check_integrations(cfg: dict[str, Any]) -> str | None:
    """What the sections cannot say alone: /metrics needs the websocket server's port."""
    if cfg["metrics"]["enabled"] and not cfg["websocket"]["enabled"]:
        return "metrics: [metrics] enabled needs [websocket] enabled (it serves /metrics)"
    return None
