"""The agent's TOML config: declared as data, validated once, errors name file, key and reason.

Device tables are checked against their driver's `DriverSpec`: parameters through
`ParamSpec.coerce`, extra keys from `DriverSpec.extra_config`, the sample rate against
`max_samplerate`; the driver is then constructed once (no I/O by contract) so that its
own checks of extra keys run at start-up, not at the first read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .config_schema import (
    ConfigError,
    Field,
    Section,
    non_negative,
    port,
    positive,
    read_toml,
    validate,
)
from .drivers.base import DriverError, check_signal_names
from .drivers.registry import UnknownDriver, driver_class
from .wire import DEFAULT_PREFIX

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_DEVICE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ -]{0,63}$")
_DEVICE_KEYS = ("driver", "samplerate", "enabled", "params")


def _agent_id(value: Any) -> str | None:
    if value == "hub":  # `<p>/hub/state` is the hub's topic; data made on the hub uses it
        return "'hub' is reserved for the hub itself"
    return None if _NAME.match(value) else "must be 1-64 characters of A-Z a-z 0-9 _ -"


def _file(value: Any) -> str | None:
    return None if not value or Path(value).is_file() else f"no such file: {value}"


def _prefix(value: Any) -> str | None:
    if not value or any(c in value for c in "+#") or value.startswith("/") or value.endswith("/"):
        return "must be a non-empty MQTT topic prefix without + # or a leading/trailing /"
    return None


AGENT_SCHEMA = Section(
    fields={
        "agent": Section(
            optional=False,
            fields={
                "id": Field(str, doc="unique agent id: `A-Z a-z 0-9 _ -`", check=_agent_id),
                "spool_path": Field(str, "spool.sqlite", doc="SQLite spool file (tmpfs is fine)"),
                "spool_max_bytes": Field(
                    int,
                    50_000_000,
                    doc="bound on stored batches; beyond it the oldest are dropped and counted",
                    check=positive,
                ),
                "spool_memory_age": Field(
                    float,
                    0.0,
                    doc="> 0: a batch waits in memory this long for its ack before it is written "
                    "to the spool (fewer SD-card writes; a power cut loses what is held; "
                    "docs/pi.md)",
                    check=non_negative,
                ),
                "batch_max_samples": Field(
                    int, 500, doc="a batch closes at this many samples", check=positive
                ),
                "batch_max_age": Field(
                    float, 0.2, doc="a batch closes at this age (s)", check=positive
                ),
                "status_interval": Field(
                    float,
                    10.0,
                    doc="s between status refreshes (changes are published at once)",
                    check=positive,
                ),
                "ack_timeout": Field(
                    float,
                    10.0,
                    doc="an unacknowledged batch is sent again after this (s)",
                    check=positive,
                ),
                "max_inflight": Field(
                    int, 20, doc="batches sent and not yet acknowledged", check=positive
                ),
                "log_level": Field(
                    str, "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
                ),
            },
        ),
        "mqtt": Section(
            fields={
                "host": Field(str, "127.0.0.1", doc="the broker (the hub's, or Mosquitto)"),
                "port": Field(int, 1883, doc="broker port (8883: its TLS port)", check=port),
                "prefix": Field(
                    str, DEFAULT_PREFIX, doc="topic prefix shared with the hub", check=_prefix
                ),
                "username": Field(str, "", doc="the agent id (docs/security.md)"),
                "password": Field(
                    str,
                    "",
                    doc="from `opencontrol mqtt add AGENT_ID` on the hub (embedded broker) or "
                    "the Ansible vault (Mosquitto)",
                ),
                "tls_ca": Field(str, "", doc="CA file: connect with TLS when set", check=_file),
                "tls_cert": Field(str, "", doc="client certificate (with tls_key)", check=_file),
                "tls_key": Field(str, "", doc="client certificate's key", check=_file),
                "keepalive": Field(int, 30, doc="MQTT keepalive (s)", check=positive),
                "reconnect_min": Field(
                    float, 0.5, doc="reconnect backoff from (s)", check=positive
                ),
                "reconnect_max": Field(
                    float, 30.0, doc="reconnect backoff up to (s)", check=positive
                ),
            },
        ),
        "devices": Section(items=Field(dict), doc="one table per device (below)"),
    }
)


def _device(name: str, raw: Mapping[str, Any], source: str) -> dict[str, Any]:
    """Validate one `[devices.<name>]` table against its driver's spec."""
    where = f"devices.{name}"
    if not _DEVICE.match(name) or "." in name:
        raise ConfigError(
            f"{source}: '{where}': device name must be 1-64 characters of letters, digits, "
            "_ - or space (no '.', '/', '+', '#')"
        )
    driver_name = raw.get("driver")
    if driver_name is None:
        raise ConfigError(f"{source}: missing required key '{where}.driver'")
    if not isinstance(driver_name, str):
        raise ConfigError(f"{source}: '{where}.driver': expected str, got {driver_name!r}")
    try:
        cls = driver_class(driver_name)
    except UnknownDriver as exc:
        raise ConfigError(f"{source}: '{where}.driver': {exc}") from None
    except (ImportError, TypeError, AttributeError, ValueError) as exc:
        raise ConfigError(
            f"{source}: '{where}.driver': driver {driver_name!r} cannot be loaded: {exc}"
        ) from exc
    spec = cls.spec
    extra_keys = tuple(spec.extra_config)
    for key in raw:
        if key not in _DEVICE_KEYS and key not in extra_keys:
            known = ", ".join(sorted((*_DEVICE_KEYS, *extra_keys)))
            raise ConfigError(
                f"{source}: unknown key '{where}.{key}' for driver {driver_name!r} "
                f"(known keys here: {known})"
            )
    rate_field = Field(float, spec.default_samplerate, check=positive)
    schema = Section(
        fields={
            "driver": Field(str),
            "samplerate": rate_field,
            "enabled": Field(bool, True),
            "params": Field(dict, {}),
        }
    )
    base = validate(
        {k: raw[k] for k in _DEVICE_KEYS if k in raw}, schema, source=source, path=where
    )
    if base["samplerate"] > spec.max_samplerate:
        raise ConfigError(
            f"{source}: '{where}.samplerate': at most {spec.max_samplerate} Hz for driver "
            f"{driver_name!r} (got {base['samplerate']!r})"
        )
    params: dict[str, Any] = {}
    for pname, value in base["params"].items():
        if spec.params_from_device:  # known only once the device runs; it checks them then
            if isinstance(value, bool | int | float | str):
                params[pname] = value
                continue
            raise ConfigError(f"{source}: '{where}.params.{pname}': must be a number, text or bool")
        try:
            pspec = spec.param(pname)
        except KeyError:
            known = ", ".join(p.name for p in spec.params) or "none"
            raise ConfigError(
                f"{source}: unknown key '{where}.params.{pname}' "
                f"(parameters of {driver_name!r}: {known})"
            ) from None
        try:
            params[pname] = pspec.coerce(value)
        except ValueError as exc:
            raise ConfigError(f"{source}: '{where}.params.{pname}': {exc}") from None
    out: dict[str, Any] = {**base, "params": params}
    extra = {k: raw[k] for k in extra_keys if k in raw}
    out.update(extra)
    try:
        driver = cls(device=name, params=params, extra=extra)
        check_signal_names(driver_name, driver.signals())  # names from config (registers...)
    except (DriverError, ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"{source}: '{where}': {exc}") from exc
    return out


def validate_agent_config(raw: Any, *, source: str) -> dict[str, Any]:
    """Validate a parsed agent config; return it with defaults filled in, or raise ConfigError."""
    cfg = validate(raw, AGENT_SCHEMA, source=source)
    mqtt = cfg["mqtt"]
    if mqtt["reconnect_max"] < mqtt["reconnect_min"]:
        raise ConfigError(f"{source}: 'mqtt.reconnect_max': must be >= mqtt.reconnect_min")
    if bool(mqtt["tls_cert"]) != bool(mqtt["tls_key"]) or (mqtt["tls_cert"] and not mqtt["tls_ca"]):
        raise ConfigError(f"{source}: 'mqtt.tls_cert': needs mqtt.tls_key and mqtt.tls_ca")
    cfg["devices"] = {
        name: _device(str(name), table, source) for name, table in cfg["devices"].items()
    }
    return cfg


def load_agent_config(path: str | Path) -> dict[str, Any]:
    """Read and validate an agent TOML file; every failure is a ConfigError naming the file."""
    return validate_agent_config(read_toml(path), source=str(path))


def make_agent_config(
    *,
    agent_id: str,
    host: str = "127.0.0.1",
    port: int = 1883,
    prefix: str = DEFAULT_PREFIX,
    spool_path: str | Path = "spool.sqlite",
    devices: Mapping[str, Mapping[str, Any]] | None = None,
    agent: Mapping[str, Any] | None = None,
    mqtt: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build and validate a config in code; default devices are `generator` and `system`."""
    if devices is None:
        devices = {
            "Generator": {"driver": "generator", "samplerate": 10.0},
            "System": {"driver": "system", "samplerate": 1.0},
        }
    raw = {
        "agent": {"id": agent_id, "spool_path": str(spool_path), **(agent or {})},
        "mqtt": {"host": host, "port": port, "prefix": prefix, **(mqtt or {})},
        "devices": {name: dict(table) for name, table in devices.items()},
    }
    return validate_agent_config(raw, source="<agent config>")
