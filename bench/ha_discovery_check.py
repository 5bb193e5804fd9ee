"""Check the hub's Home Assistant discovery payloads with Home Assistant's own code.

Run it with the Python of an environment where the `homeassistant` package is installed
(it needs Python 3.13; see docs/integrations.md):

    /path/to/ha-venv/bin/python bench/ha_discovery_check.py

For sample agents (every parameter kind, functions with and without arguments, signals
with the units that map to device classes) it builds the configs with
hub/integrations/ha_discovery.py and checks, with Home Assistant's modules:
- each discovery topic against the MQTT integration's discovery topic matcher;
- each config against that platform's DISCOVERY_SCHEMA (the schema Home Assistant applies
  to a discovery message: it raises on a badly typed value and silently drops keys it
  does not know, so every key sent must also come out of it, device keys included);
- each sensor's unit against the units its device class takes, and its state class
  against the state classes the device class allows;
- each value template rendered by Home Assistant's template engine against a sample state.
It prints one line per check and exits 1 on the first failure.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Loaded by path: it is stdlib only, so Home Assistant's Python needs none of the hub's deps.
_spec = importlib.util.spec_from_file_location(
    "ha_discovery", ROOT / "hub" / "integrations" / "ha_discovery.py"
)
assert _spec is not None and _spec.loader is not None
ha_discovery = importlib.util.module_from_spec(_spec)
sys.modules["ha_discovery"] = ha_discovery  # dataclasses look their module up
_spec.loader.exec_module(ha_discovery)

SAMPLE = {
    "state": "online",
    "version": "0.1.0",
    "devices": {
        "Gen": {
            "signals": [{"name": n, "unit": ""} for n in ("Square", "Sinus")],
            "params": [
                {
                    "name": "waveform",
                    "type": "str",
                    "value": "Square",
                    "writable": True,
                    "choices": ["Square", "Sinus", "all"],
                },
                {
                    "name": "gen_freq",
                    "type": "float",
                    "value": 1.0,
                    "writable": True,
                    "unit": "Hz",
                    "min": 0.01,
                    "max": 100.0,
                },
                {"name": "count", "type": "int", "value": 3, "writable": True},
            ],
            "functions": [
                {"name": "changeType", "args": [{"name": "stype", "required": False}]},
                {"name": "setFrequency", "args": [{"name": "freq", "required": True}]},
            ],
        },
        "Power meter": {
            "signals": [{"name": u, "unit": u} for u in sorted(ha_discovery.UNIT_CLASSES)],
            "params": [
                {"name": "relay", "type": "bool", "value": True, "writable": True},
                {"name": "label", "type": "str", "value": "x", "writable": True},
            ],
            "functions": [{"name": "reset", "args": []}],
        },
    },
}
STATES = {
    "Gen": {"Square": 1.0, "Sinus": None},
    "Power meter": {u: 2.5 for u in ha_discovery.UNIT_CLASSES},
}
PARAMS = {
    "Gen": {"waveform": "Sinus", "gen_freq": 1.5, "count": 3},
    "Power meter": {"relay": False, "label": "x"},
}

# What each value template must render to from STATES/PARAMS ("None" is what Home
# Assistant's MQTT sensor takes as unknown).
EXPECTED = {
    "Gen Square": "1.0",
    "Gen Sinus": "None",
    "Gen waveform": "Sinus",
    "Gen gen_freq": "1.5",
    "Gen count": "3",
    "Power meter relay": "OFF",
    "Power meter label": "x",
    "Gen last command": "reset: ok",
    "Power meter last command": "reset: ok",
}


def fail(msg: str) -> None:
    print(f"FAIL {msg}")
    raise SystemExit(1)


async def main() -> None:
    from homeassistant.components.mqtt import discovery
    from homeassistant.components.sensor import DEVICE_CLASS_STATE_CLASSES, DEVICE_CLASS_UNITS
    from homeassistant.const import __version__ as ha_version
    from homeassistant.core import HomeAssistant
    from homeassistant.helpers.template import Template

    print(f"Home Assistant {ha_version}")
    topics = ha_discovery.HaTopics(
        prefix="opencontrol", discovery_prefix="homeassistant", hub_id="opencontrol-hub"
    )
    entities = ha_discovery.agent_entities(
        topics, "pi-kitchen", SAMPLE, commands=True, origin_sw="0.1.0"
    )
    kinds: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as config_dir:
        hass = HomeAssistant(config_dir)
        for e in entities:
            match = re.match(discovery.TOPIC_MATCHER, e.topic.removeprefix("homeassistant/"))
            if not match:
                fail(f"{e.topic}: not a discovery topic Home Assistant accepts")
            component = match.group("component")
            kinds[component] = kinds.get(component, 0) + 1
            platform = importlib.import_module(f"homeassistant.components.mqtt.{component}")
            try:
                validated = platform.DISCOVERY_SCHEMA(dict(e.config))
            except Exception as exc:  # voluptuous.Invalid
                fail(f"{e.topic}: {component} DISCOVERY_SCHEMA refused it: {exc}")
            dropped = set(e.config) - set(validated)
            dropped |= {f"device.{k}" for k in set(e.config["device"]) - set(validated["device"])}
            if dropped:
                fail(f"{e.topic}: {component} ignores {sorted(dropped)}")
            if component == "sensor" and validated.get("device_class"):
                dc = validated["device_class"]
                unit = validated.get("unit_of_measurement")
                if unit not in DEVICE_CLASS_UNITS.get(dc, {unit}):
                    fail(f"{e.topic}: unit {unit!r} is not one of device class {dc}'s")
                allowed = DEVICE_CLASS_STATE_CLASSES.get(dc)
                if allowed is not None and validated["state_class"] not in allowed:
                    fail(f"{e.topic}: state class {validated['state_class']} not for {dc}")
            tmpl = e.config.get("value_template")
            if tmpl and "state_topic" in e.config:
                leaf = e.config["state_topic"].rsplit("/", 1)[1]
                device = next(
                    d
                    for d in SAMPLE["devices"]
                    if e.config["state_topic"].endswith(f"/{ha_discovery.slug(d)}/{leaf}")
                )
                sample = {"state": STATES, "params": PARAMS}.get(leaf, {}).get(device)
                if sample is None:  # the result sensor
                    sample = {"text": "reset: ok", "ok": True}
                out = Template(tmpl, hass).async_render_with_possible_json_value(
                    json.dumps(sample), ""
                )
                print(f"  {e.config['name']!r}: template -> {out!r}")
            print(f"ok   {component:7} {e.topic}")
        await hass.async_stop(force=True)
    want = {"sensor", "number", "select", "switch", "text", "button"}
    if set(kinds) != want:
        fail(f"expected every component kind, got {sorted(kinds)}")
    print(f"all {len(entities)} discovery configs valid: {kinds}")


if __name__ == "__main__":
    asyncio.run(main())
