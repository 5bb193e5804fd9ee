"""Home Assistant MQTT discovery payloads built from an agent's status (no I/O, stdlib only).

One agent is one Home Assistant device. Its signals are `sensor`s (unit, and device and
state class where the unit tells), writable parameters `number` (int/float), `select`
(with choices), `switch` (bool) or `text` (str), functions callable without arguments
`button`s, and each device with commands has a `sensor` showing the last command's result.
Configs go to `<discovery_prefix>/<component>/<node_id>/<object_id>/config`; state and
commands live under `<prefix>/hub/ha/...` (the agent id `hub` is reserved, so no agent
topic can collide).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

_SLUG = re.compile(r"[^A-Za-z0-9_-]+")

# unit -> (device_class, state_class); units as Home Assistant's sensor device classes take them
UNIT_CLASSES: dict[str, tuple[str | None, str]] = {
    **{u: ("temperature", "measurement") for u in ("°C", "°F", "K")},
    **{u: ("voltage", "measurement") for u in ("V", "mV", "kV")},
    **{u: ("current", "measurement") for u in ("A", "mA")},
    **{u: ("power", "measurement") for u in ("W", "kW", "MW")},
    **{u: ("energy", "total_increasing") for u in ("Wh", "kWh", "MWh")},
    **{u: ("frequency", "measurement") for u in ("Hz", "kHz", "MHz", "GHz")},
    **{u: ("pressure", "measurement") for u in ("Pa", "hPa", "kPa", "bar", "mbar", "psi")},
    **{u: ("duration", "measurement") for u in ("s", "ms", "min", "h", "d")},
    **{u: ("data_size", "measurement") for u in ("B", "kB", "MB", "GB")},
    "lx": ("illuminance", "measurement"),
    "VA": ("apparent_power", "measurement"),
    "var": ("reactive_power", "measurement"),
}


def slug(text: str) -> str:
    """A name as Home Assistant's node and object ids allow it ([A-Za-z0-9_-])."""
    return _SLUG.sub("_", text).strip("_") or "_"


def unit_classes(unit: str) -> tuple[str | None, str]:
    """(device_class or None, state_class) for a signal's unit."""
    return UNIT_CLASSES.get(unit, (None, "measurement"))


def template(key: str, source: str = "value_json") -> str:
    """A Jinja expression reading one key of a JSON state."""
    return "{{ " + source + "[" + json.dumps(key) + "] }}"


@dataclass(frozen=True)
class Command:
    """What a command topic does: `op` ('set' or 'call') on device/name, and how to parse."""

    agent: str
    device: str
    op: str
    name: str
    kind: str  # number_int | number_float | select | switch | text | button
    choices: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Entity:
    """One discovery config (and the command its command topic carries, if any)."""

    topic: str
    config: dict[str, Any]
    command: Command | None = None


class HaTopics:
    """Where discovery configs, state and commands go."""

    def __init__(self, *, prefix: str, discovery_prefix: str, hub_id: str) -> None:
        self.base = f"{prefix}/hub/ha"
        self.discovery = discovery_prefix
        self.hub = slug(hub_id)
        self.availability = f"{self.base}/availability"
        self.ha_status = f"{discovery_prefix}/status"
        self.commands = [f"{self.base}/+/+/set/+", f"{self.base}/+/+/call/+"]
        self.configs = f"{discovery_prefix}/+/+/+/config"

    def node(self, agent: str) -> str:
        return f"{self.hub}_{slug(agent)}"

    def config(self, component: str, agent: str, object_id: str) -> str:
        return f"{self.discovery}/{component}/{self.node(agent)}/{object_id}/config"

    def agent_availability(self, agent: str) -> str:
        return f"{self.base}/{slug(agent)}/availability"

    def device_topic(self, agent: str, device: str, leaf: str) -> str:
        return f"{self.base}/{slug(agent)}/{slug(device)}/{leaf}"

    def command(self, agent: str, device: str, op: str, name: str) -> str:
        return f"{self.base}/{slug(agent)}/{slug(device)}/{op}/{slug(name)}"


def agent_entities(
    topics: HaTopics, agent: str, status: dict[str, Any], *, commands: bool, origin_sw: str
) -> list[Entity]:
    """Every discovery config of one agent, from its status message's `devices`."""
    device_block = {
        "identifiers": [f"opencontrol_{topics.node(agent)}"],
        "name": agent,
        "manufacturer": "OpenControl",
        "model": "edge agent",
    }
    if status.get("version"):
        device_block["sw_version"] = str(status["version"])
    common = {
        "device": device_block,
        "origin": {"name": "OpenControl", "sw_version": origin_sw},
        "availability": [
            {"topic": topics.availability},
            {"topic": topics.agent_availability(agent)},
        ],
        "availability_mode": "all",
    }
    out: list[Entity] = []
    announced = status.get("devices")
    devices = announced if isinstance(announced, dict) else {}
    for dev, desc in sorted(devices.items()):
        if not isinstance(desc, dict):
            continue
        out += _signal_sensors(topics, agent, dev, desc, common)
        if commands:
            cmd = _param_entities(topics, agent, dev, desc, common)
            cmd += _buttons(topics, agent, dev, desc, common)
            if cmd:
                out += [*cmd, _result_sensor(topics, agent, dev, common)]
    return out


def _entity(
    topics: HaTopics,
    component: str,
    agent: str,
    object_id: str,
    name: str,
    common: dict[str, Any],
    extra: dict[str, Any],
    command: Command | None = None,
) -> Entity:
    config = {
        "name": name,
        "unique_id": f"{topics.node(agent)}_{object_id}",
        **common,
        **extra,
    }
    return Entity(topics.config(component, agent, object_id), config, command)


def _signal_sensors(
    topics: HaTopics, agent: str, dev: str, desc: dict[str, Any], common: dict[str, Any]
) -> list[Entity]:
    out = []
    for sig in desc.get("signals") or []:
        if not isinstance(sig, dict) or not isinstance(sig.get("name"), str):
            continue
        unit = str(sig.get("unit") or "")
        device_class, state_class = unit_classes(unit)
        extra: dict[str, Any] = {
            "state_topic": topics.device_topic(agent, dev, "state"),
            "value_template": template(sig["name"]),
            "state_class": state_class,
        }
        if unit:
            extra["unit_of_measurement"] = unit
        if device_class:
            extra["device_class"] = device_class
        obj = slug(f"{dev}_{sig['name']}")
        out.append(_entity(topics, "sensor", agent, obj, f"{dev} {sig['name']}", common, extra))
    return out


def _param_entities(
    topics: HaTopics, agent: str, dev: str, desc: dict[str, Any], common: dict[str, Any]
) -> list[Entity]:
    out = []
    for p in desc.get("params") or []:
        if not isinstance(p, dict) or not p.get("writable") or not isinstance(p.get("name"), str):
            continue
        name, ptype = p["name"], p.get("type")
        base = {
            "command_topic": topics.command(agent, dev, "set", name),
            "state_topic": topics.device_topic(agent, dev, "params"),
            "value_template": template(name),
        }
        choices = tuple(p.get("choices") or ())
        extra: dict[str, Any]
        if choices:
            component, kind = "select", "select"
            extra = {**base, "options": [_option(c) for c in choices]}
            extra["value_template"] = "{{ " + _option_jinja(name) + " }}"
        elif ptype == "bool":
            component, kind = "switch", "switch"
            extra = {
                **base,
                "value_template": "{{ 'ON' if value_json[" + json.dumps(name) + "] else 'OFF' }}",
                "payload_on": "ON",
                "payload_off": "OFF",
                "state_on": "ON",
                "state_off": "OFF",
            }
        elif ptype in ("int", "float"):
            component, kind = "number", f"number_{ptype}"
            extra = {
                **base,
                "min": float(p["min"]) if p.get("min") is not None else -1e9,
                "max": float(p["max"]) if p.get("max") is not None else 1e9,
                "step": 1.0 if ptype == "int" else 0.001,
                "mode": "box",
            }
            if p.get("unit"):
                extra["unit_of_measurement"] = str(p["unit"])
        elif ptype == "str":
            component, kind = "text", "text"
            extra = {**base, "max": 255}
        else:
            continue
        cmd = Command(agent, dev, "set", name, kind, choices)
        obj = slug(f"{dev}_param_{name}")
        out.append(_entity(topics, component, agent, obj, f"{dev} {name}", common, extra, cmd))
    return out


def _option(choice: Any) -> str:
    """A choice as a select option (what Home Assistant shows and sends back)."""
    return json.dumps(choice) if isinstance(choice, bool) else str(choice)


def _option_jinja(name: str) -> str:
    return "value_json[" + json.dumps(name) + "] | string"


def _buttons(
    topics: HaTopics, agent: str, dev: str, desc: dict[str, Any], common: dict[str, Any]
) -> list[Entity]:
    out = []
    for fn in desc.get("functions") or []:
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            continue
        args = fn.get("args") or []
        if any(isinstance(a, dict) and a.get("required", True) for a in args):
            continue  # a button carries no arguments
        name = fn["name"]
        extra = {
            "command_topic": topics.command(agent, dev, "call", name),
            "payload_press": "PRESS",
        }
        cmd = Command(agent, dev, "call", name, "button")
        obj = slug(f"{dev}_fn_{name}")
        out.append(_entity(topics, "button", agent, obj, f"{dev} {name}", common, extra, cmd))
    return out


def _result_sensor(topics: HaTopics, agent: str, dev: str, common: dict[str, Any]) -> Entity:
    result = topics.device_topic(agent, dev, "result")
    extra = {
        "state_topic": result,
        "value_template": "{{ value_json.text }}",
        "json_attributes_topic": result,
        "icon": "mdi:console",
    }
    obj = slug(f"{dev}_last_command")
    return _entity(topics, "sensor", agent, obj, f"{dev} last command", common, extra)


def parse_command(cmd: Command, payload: str) -> Any:
    """The value a Home Assistant command payload asks for; ValueError saying why not."""
    text = payload.strip()
    if cmd.kind == "button":
        return None
    if cmd.kind == "switch":
        if text not in ("ON", "OFF"):
            raise ValueError(f"switch payload must be ON or OFF, got {text[:40]!r}")
        return text == "ON"
    if cmd.kind == "select":
        for choice in cmd.choices:
            if _option(choice) == text:
                return choice
        raise ValueError(f"{text[:40]!r} is not one of the options")
    if cmd.kind.startswith("number_"):
        value = float(text)  # ValueError for junk
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("not a finite number")
        if cmd.kind == "number_int":
            if not value.is_integer():
                raise ValueError(f"{text[:40]!r} is not a whole number")
            return int(value)
        return value
    return payload[:255]
