"""Drivers by name: built-ins listed here, third-party ones through entry points.

Nothing is discovered by executing files; a driver module is imported only when its
name is asked for.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from .base import Driver

ENTRY_POINT_GROUP = "opencontrol.drivers"

BUILTIN: dict[str, str] = {
    "generator": "edge_agent.drivers.generator:GeneratorDriver",
    "system": "edge_agent.drivers.system:SystemDriver",
    "ina219": "edge_agent.drivers.ina219:INA219Driver",
    "ccs811": "edge_agent.drivers.ccs811:CCS811Driver",
    "dht": "edge_agent.drivers.dht:DHTDriver",
    "dps5020": "edge_agent.drivers.dps5020:DPS5020Driver",
    "vc820": "edge_agent.drivers.vc820:VC820Driver",
    "heliotherm": "edge_agent.drivers.heliotherm:HeliothermDriver",
    "modbus": "edge_agent.drivers.modbus:ModbusDriver",
    "http_json": "edge_agent.drivers.http_json:HttpJsonDriver",
    "rtoc_plugin": "edge_agent.drivers.rtoc_plugin:RtocPluginDriver",
}


class UnknownDriver(KeyError):
    """No driver of that name is registered."""

    def __str__(self) -> str:
        return f"unknown driver {self.args[0]!r}; known drivers: {', '.join(available())}"


def _targets() -> dict[str, str]:
    found = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def available() -> list[str]:
    """Names of all registered drivers, built-in and third-party."""
    return sorted(_targets())


def driver_class(name: str) -> type[Driver]:
    """Import and return the driver class registered under `name`."""
    target = _targets().get(name)
    if target is None:
        raise UnknownDriver(name)
    module_name, _, attr = target.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(cls, type) and issubclass(cls, Driver)):
        raise TypeError(f"{target} is not a Driver subclass")
    return cls
