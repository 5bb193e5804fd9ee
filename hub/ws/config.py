"""The `[websocket]` config section, declared as data, and its typed view."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edge_agent.config_schema import Field, Section, non_negative, port, positive, validate
from hub.permission import NAMES as PERMISSIONS
from hub.permission import Permission


def _str_list(value: Any) -> str | None:
    if not all(isinstance(v, str) for v in value):
        return "must be a list of strings"
    return None


WEBSOCKET_SECTION = Section(
    doc="RTOC-compatible websocket server (and the web page on the same port).",
    fields={
        "enabled": Field(bool, True, "start the websocket server"),
        "host": Field(str, "0.0.0.0", "address to bind"),
        "port": Field(int, 5050, "TCP port (RTOC's default 5050; 0 = pick a free one)", port),
        "password": Field(
            str,
            None,
            "RTOC password mode: every frame AES-encrypted with a key from this password; "
            "absent or empty = no password",
        ),
        "password_permission": Field(
            str,
            "write",
            "rights of a client authorized by the shared password (or of anyone when no "
            "password is set): blocked|custom|read|write|admin",
            choices=PERMISSIONS,
        ),
        "require_login": Field(
            bool,
            True,
            "refuse everything until a hub user logs in (authorize with user) or, with "
            "`password` set, the RTOC password is given; false = anyone reaching the port "
            "gets `password_permission` (RTOC's open mode)",
        ),
        "tls_cert": Field(str, None, "PEM certificate chain: serve wss:// instead of ws://"),
        "tls_key": Field(str, None, "PEM private key for tls_cert"),
        "host_whitelist": Field(
            list,
            [],
            "peer IP addresses (not names) spoken to in clear and authorized without a "
            "password (RTOC's rule); empty by default: localhost is not trusted",
            _str_list,
        ),
        "allowed_origins": Field(
            list,
            [],
            "browser Origins allowed besides the hub's own (same host:port); "
            "requests without Origin (scripts) are always allowed",
            _str_list,
        ),
        "max_frame_bytes": Field(int, 1_000_000, "largest request frame accepted", positive),
        "max_requests_per_second": Field(
            float,
            50.0,
            "per authorized client without write permission; more are refused with an error",
            positive,
        ),
        "write_requests_per_second": Field(
            float,
            0.0,
            "per client with write permission (0 = no count: it streams at full speed, "
            "bounded by its own send queue and the hub's ingest budget)",
            non_negative,
        ),
        "unauthorized_requests_per_second": Field(
            float, 2.0, "per client that has not authorized (burst of 5)", positive
        ),
        "max_signals_per_client": Field(
            int, 100, "new signals one connection may create with `y`/`event`", non_negative
        ),
        "send_queue_frames": Field(
            int, 2000, "frames queued for one client before its pushes are dropped", positive
        ),
        "socket_send_buffer": Field(
            int, 0, "kernel send buffer per client in bytes (0 = the OS default)", non_negative
        ),
        "slow_client_timeout": Field(
            float, 10.0, "a client whose queue stays full this long is disconnected", positive
        ),
        "push_interval": Field(
            float,
            0.002,
            "pushes of signal data go out at once while they come no faster than one per "
            "push_interval seconds (8 at once); faster, one push per push_interval carries "
            "all that came meanwhile (0 = never coalesce)",
            non_negative,
        ),
        "max_clients": Field(
            int,
            500,
            "connections accepted at once; when full, the oldest connection that never "
            "authorized is closed to make room",
            positive,
        ),
        "max_connections_per_address": Field(
            int, 32, "connections accepted at once from one peer address", positive
        ),
        "server_names": Field(
            list,
            [],
            "host names (besides IP addresses, localhost, this machine's name and `host`) "
            "browsers may use to reach the hub; other Host headers are refused, which "
            "stops DNS rebinding",
            _str_list,
        ),
        "max_points_per_second": Field(
            float,
            500_000.0,
            "signal points one client may get per second in getSession/getSignal answers "
            "(also the largest single answer); more is refused until the allowance refills",
            positive,
        ),
        "max_points_per_second_all": Field(
            float,
            1_000_000.0,
            "signal points all clients together may get per second in such answers",
            positive,
        ),
        "send_queue_bytes": Field(
            int,
            64_000_000,
            "bytes queued for one client; a client that lets more pile up is disconnected",
            positive,
        ),
        "auth_timeout": Field(
            float, 30.0, "seconds a connection may stay unauthorized before it is closed", positive
        ),
        "anonymous_read": Field(bool, False, "the dashboard is readable without login"),
        "dashboard": Field(bool, True, "serve the web dashboard on the same port"),
        "max_events": Field(int, 10_000, "events kept for getEventList", positive),
    },
)


@dataclass(frozen=True, kw_only=True)
class WsConfig:
    """Validated `[websocket]` settings."""

    enabled: bool = True
    host: str = "0.0.0.0"
    port: int = 5050
    password: str | None = None
    password_permission: Permission = Permission.WRITE
    require_login: bool = True
    tls_cert: str | None = None
    tls_key: str | None = None
    host_whitelist: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    max_frame_bytes: int = 1_000_000
    max_requests_per_second: float = 50.0
    write_requests_per_second: float = 0.0
    unauthorized_requests_per_second: float = 2.0
    max_signals_per_client: int = 100
    send_queue_frames: int = 2000
    socket_send_buffer: int = 0
    slow_client_timeout: float = 10.0
    push_interval: float = 0.002
    max_clients: int = 500
    max_connections_per_address: int = 32
    server_names: tuple[str, ...] = ()
    send_queue_bytes: int = 64_000_000
    max_points_per_second: float = 500_000.0
    max_points_per_second_all: float = 1_000_000.0
    auth_timeout: float = 30.0
    max_events: int = 10_000
    anonymous_read: bool = False
    dashboard: bool = True

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any] | None, *, source: str = "[websocket]"
    ) -> WsConfig:
        """Validate a `[websocket]` table (defaults filled in); raises ConfigError."""
        raw = dict(data or {})
        for key in ("password", "tls_cert", "tls_key"):
            if raw.get(key) in ("", None):  # TOML has no null: empty means "not set"
                raw.pop(key, None)
        v = validate(raw, WEBSOCKET_SECTION, source=source)
        v["host_whitelist"] = tuple(v["host_whitelist"])
        v["allowed_origins"] = tuple(v["allowed_origins"])
        v["server_names"] = tuple(v["server_names"])
        v["password_permission"] = Permission(v["password_permission"])
        if (v["tls_cert"] is None) != (v["tls_key"] is None):
            from edge_agent.config_schema import ConfigError

            raise ConfigError(f"{source}: tls_cert and tls_key must be given together")
        return cls(**v)

    @property
    def auth_required(self) -> bool:
        """True when requests need an authorize first (a password or required login)."""
        return self.password is not None or self.require_login
