"""The `to_toml` filter that renders the agent and hub configs from inventory vars."""

from __future__ import annotations

import importlib.util
import math
import tomllib
from types import ModuleType

import pytest

from .runner import ANSIBLE_DIR


def _plugin() -> ModuleType:
    path = ANSIBLE_DIR / "filter_plugins" / "opencontrol_toml.py"
    spec = importlib.util.spec_from_file_location("opencontrol_toml", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


toml = _plugin()


def test_agent_config_round_trips() -> None:
    """Sections, device tables with odd names, params subtables and inline arrays survive."""
    data = {
        "agent": {"id": "pi-1", "spool_max_bytes": 50_000_000, "batch_max_age": 0.2},
        "mqtt": {"host": "10.0.0.1", "port": 1883, "password": 'q"uo\\te\n'},
        "devices": {
            "Power Supply": {
                "driver": "modbus",
                "samplerate": 2,
                "enabled": False,
                "registers": [{"name": "U", "address": 1, "scale": 0.01}, {"name": "I"}],
                "params": {"mode": "cv", "limits": [1, 2.5]},
            },
            "Generator": {"driver": "generator", "params": {}},
        },
    }
    assert tomllib.loads(toml.to_toml(data)) == data


def test_none_values_are_left_out_so_defaults_apply() -> None:
    """An unset inventory value (None) is not rendered; its neighbours are."""
    text = toml.to_toml({"agent": {"id": "a", "log_level": None}})
    assert tomllib.loads(text) == {"agent": {"id": "a"}}


def test_special_floats_render() -> None:
    """inf and nan have TOML forms."""
    parsed = tomllib.loads(toml.to_toml({"x": {"a": math.inf, "b": -math.inf, "c": math.nan}}))
    assert parsed["x"]["a"] == math.inf and parsed["x"]["b"] == -math.inf
    assert math.isnan(parsed["x"]["c"])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"a": {"b": [None]}}, "a.b[]: TOML has no null"),
        ({"a": {"b": object()}}, "a.b: cannot render object"),
        (["not", "a", "mapping"], "expects a mapping"),
    ],
)
def test_unrenderable_values_are_refused_with_their_key(data: object, message: str) -> None:
    """A value with no TOML form raises an error naming where it is."""
    with pytest.raises(toml.TomlRenderError, match=message.replace("[", r"\[").replace("]", r"\]")):
        toml.to_toml(data)


def test_filter_is_registered_for_ansible() -> None:
    """Ansible finds the filter under the name the templates use."""
    assert toml.FilterModule().filters()["to_toml"] is toml.to_toml
