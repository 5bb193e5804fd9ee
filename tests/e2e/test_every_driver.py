"""Every driver's output through the real path: driver → agent → MQTT → hub → SQLite.

The instruments are the simulators of `simulators/` (the ones `opencontrol demo --sim`
starts) and, for the I2C and GPIO chips, the register and pulse models the driver tests
use, plugged in below the hardware libraries. The stored signal names must be exactly the
names each driver declares: a name the hub refuses would be missing here.
"""

from __future__ import annotations

import sys
import tomllib
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.agent import Agent
from edge_agent.config import validate_agent_config
from edge_agent.drivers.registry import BUILTIN, driver_class
from hub.bootstrap import running_hub
from simulators.ccs811_chip import CCS811Chip, FakeI2C
from simulators.dht_pulses import DHTWire
from simulators.ina219_chip import INA219Chip
from simulators.run import SIMULATORS, SimHandle, start_sim
from simulators.vc820_meter import encode
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for
from tests.hub.conftest import make_hub_config

CHIPS = ("generator", "system", "ina219", "ccs811", "dht")  # drivers without a sim process
# The rtoc_plugin driver runs an RTOC plugin file: this one, in RTOC's own API.
RTOC_PLUGINS = ("rtoc_plugin",)
FREEZER = """\
from LoggerPlugin import LoggerPlugin


class Plugin(LoggerPlugin):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setDeviceName("Freezer")
        self.limit = 0
        self.setPerpetualTimer(self._tick, samplerate=10)
        self.start()

    def _tick(self):
        self.stream([self.limit - 1.5], ["Temperature"], unit=["\u00b0C"])
"""
# The VC820 shows one quantity at a time: the test turns its dial through all of them.
VC820_DIAL = {
    "Spannung": ("3.300", "dc", "V"),
    "Strom": ("1.250", "dc", "m", "A"),
    "Widerstand": ("4.700", "k", "Ohm"),
    "Temperatur": ("21.5", "°C"),
    "Kapazität": ("1.000", "u", "F"),
    "Frequenz": ("50.00", "Hz"),
    "%": ("45.0", "%"),
}


@pytest.fixture
def sims(tmp_path: Path) -> Iterator[dict[str, SimHandle]]:
    # Directories that do not exist yet, as `opencontrol demo --sim` names them.
    handles: dict[str, SimHandle] = {}
    try:
        for name in SIMULATORS:
            handles[name] = start_sim(name, tmp_path / "demo" / f"sim-{name}")
        yield handles
    finally:
        for h in handles.values():
            h.stop()


@pytest.fixture
def chips(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The chip models, wired in where the hardware libraries reach the bus or the pin."""
    import adafruit_dht
    import Adafruit_GPIO.I2C as I2C
    import ina219

    ina = INA219Chip(address=0x41, shunt_ohms=0.1)
    ina.bus_volts, ina.amps = 5.0, 0.1
    monkeypatch.setattr(
        ina219.I2C,
        "get_i2c_device",
        lambda address, busnum=None, **kw: I2C.Device(address, busnum, i2c_interface=ina.smbus),
    )
    ccs = CCS811Chip(address=0x5A)
    ccs.measure(812, 57)
    monkeypatch.setattr("edge_agent.buses.i2c.acquire_busio", lambda: FakeI2C(ccs))
    monkeypatch.setattr("edge_agent.buses.i2c.release_busio", lambda bus: None)
    wire = DHTWire()

    class WiredDHT22(adafruit_dht.DHT22):  # the library, its GPIO bit-banging on the model
        def __init__(self, pin: Any, use_pulseio: bool = True) -> None:
            super().__init__(None, use_pulseio=False)
            self._get_pulses_bitbang = wire

    monkeypatch.setattr(adafruit_dht, "DHT22", WiredDHT22)
    monkeypatch.setitem(sys.modules, "board", types.SimpleNamespace(D24="D24"))
    return {"ina219": ina, "ccs811": ccs, "dht": wire}


def _devices(sims: dict[str, SimHandle], plugin: Path) -> dict[str, Any]:
    devices: dict[str, Any] = {}
    for name in (*CHIPS, *RTOC_PLUGINS):
        devices.update(tomllib.loads(driver_class(name).spec.sample_config)["devices"])
    for handle in sims.values():
        devices.update(tomllib.loads(handle.toml)["devices"])
    for table in devices.values():  # read often: the test waits for every signal once
        table["samplerate"] = driver_class(table["driver"]).spec.max_samplerate
        if table["driver"] == "dht":
            table["samplerate"] = 0.5
    devices["Generator"]["params"]["waveform"] = "all"  # all six signals, not one
    plugin.write_text(FREEZER)
    devices["Freezer"]["plugin"] = str(plugin)
    return devices


def _declared(config: dict[str, Any]) -> set[str]:
    names = set()
    for device, dev in config["devices"].items():
        cls = driver_class(dev["driver"])
        extra = {k: dev[k] for k in cls.spec.extra_config if k in dev}
        drv = cls(device=device, params=dev["params"], extra=extra)
        names |= {f"{device}.{s.name}" for s in drv.signals()}
    return names


async def _has(stored: Any, key: str) -> bool:
    return key in await stored()


def _host_has_temperature() -> bool:
    import psutil

    reader = getattr(psutil, "sensors_temperatures", None)
    return bool(reader and reader())


async def test_every_driver_stores_exactly_its_declared_signals(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str, sims: dict, chips: dict
) -> None:
    assert {d.split(":")[0].rsplit(".", 1)[1] for d in BUILTIN.values()} <= {
        *SIMULATORS,
        *CHIPS,
        *RTOC_PLUGINS,
    }, "a new driver needs an instrument here"
    config = validate_agent_config(
        {
            "agent": {"id": "every", "spool_path": str(tmp_path / "spool.sqlite")},
            "mqtt": {"port": mosquitto.port, "prefix": prefix},
            "devices": _devices(sims, tmp_path / "Freezer.py"),
        },
        source="every driver",
    )
    assert {d["driver"] for d in config["devices"].values()} == set(BUILTIN)
    declared = _declared(config) | {"Freezer.Temperature"}  # the plugin's, known once it runs
    if not _host_has_temperature():  # the system driver reads it only where a sensor is
        declared.discard("System.Temperature")
    meter = sims["vc820"].parts["meter"]
    sims["vc820"].hold()
    async with running_hub(make_hub_config(tmp_path, mosquitto, prefix)) as hub:
        await async_wait_for(lambda: hub.ingest.subscribed, what="hub subscribed")

        async def stored() -> set[str]:
            return {s.key for s in await hub.run_store(hub.store.signals)}

        agent = Agent(config=config)
        agent.start()
        try:
            for signal, frame in VC820_DIAL.items():  # turn the dial; each reading is stored
                meter.frame = encode(*frame)
                await async_wait_for(
                    lambda s=signal: _has(stored, f"HoldPeak.{s}"),
                    timeout=60,
                    what=f"HoldPeak.{signal} stored",
                )
            missing: set[str] = set()

            async def all_stored() -> bool:
                missing.clear()
                missing.update(declared - await stored())
                return not missing

            try:
                await async_wait_for(all_stored, timeout=60, what="every declared signal")
            except TimeoutError as exc:
                raise AssertionError(f"never stored: {sorted(missing)}") from exc
        finally:
            agent.stop(drain=2.0)
        assert await stored() == declared
        assert await hub.run_store(hub.store.rejected_count) == 0
        assert hub.stats["rejected"] == 0
