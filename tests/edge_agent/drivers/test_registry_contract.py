"""Every hardware driver keeps the contract: typed spec, sample config that the real agent
config loader accepts, declared functions implemented, no hardware library at import."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from edge_agent.config import validate_agent_config
from edge_agent.config_schema import ConfigError
from edge_agent.drivers.base import Driver, DriverError
from edge_agent.drivers.registry import BUILTIN, available, driver_class

HARDWARE = ["ina219", "ccs811", "dht", "dps5020", "vc820", "heliotherm", "modbus", "http_json"]
HARDWARE_LIBS = [
    "ina219",
    "Adafruit_GPIO",
    "adafruit_ccs811",
    "adafruit_dht",
    "board",
    "busio",
    "minimalmodbus",
    "pyModbusTCP",
    "serial",
]


def test_all_hardware_drivers_are_registered() -> None:
    assert set(HARDWARE) <= set(BUILTIN)
    assert set(HARDWARE) <= set(available())


@pytest.mark.parametrize("name", HARDWARE)
def test_spec_is_complete(name: str) -> None:
    cls = driver_class(name)
    assert issubclass(cls, Driver)
    spec = cls.spec
    assert spec.name == name and spec.description
    assert spec.bus in (
        "i2c",
        "gpio",
        "serial",
        "modbus-rtu",
        "modbus-tcp",
        "modbus-rtu|modbus-tcp",
        "http",
    )
    assert 0 < spec.default_samplerate <= spec.max_samplerate
    for p in spec.params:
        assert p.type in (int, float, str, bool)
        assert p.coerce(p.default) == p.default, f"{name}.{p.name}: default does not validate"
        assert p.doc, f"{name}.{p.name} has no doc"
    for f in spec.functions:
        method = getattr(cls, f"fn_{f.name}", None)
        assert callable(method), f"{name}: function {f.name} has no fn_{f.name}"
        assert method.__doc__, f"{name}: fn_{f.name} has no docstring"
    for s in spec.signals:
        assert s.name and "." not in s.name  # Device.Signal must stay unambiguous


@pytest.mark.parametrize("name", HARDWARE)
def test_sample_config_loads_through_the_agent_config_loader(name: str) -> None:
    cls = driver_class(name)
    sample = tomllib.loads(cls.spec.sample_config)
    ((device, table),) = sample["devices"].items()
    assert table["driver"] == name
    cfg = validate_agent_config(
        {"agent": {"id": "contract"}, "devices": sample["devices"]}, source="sample_config"
    )
    dev = cfg["devices"][device]
    assert dev["samplerate"] <= cls.spec.max_samplerate
    extra = {k: dev[k] for k in cls.spec.extra_config if k in dev}
    drv = cls(device=device, params=dev["params"], extra=extra)  # constructing does no I/O
    signals = drv.signals()
    assert signals, f"{name}: sample config gives no signals"
    assert len({s.name for s in signals}) == len(signals)
    diag = drv.diagnostics()  # no I/O before open, only numbers
    assert all(isinstance(v, int | float) for v in diag.values())


@pytest.mark.parametrize("name", HARDWARE)
def test_unknown_parameter_is_refused_by_name(name: str) -> None:
    cls = driver_class(name)
    sample = tomllib.loads(cls.spec.sample_config)
    ((device, table),) = sample["devices"].items()
    table["params"]["no_such_param"] = 1
    with pytest.raises(ConfigError, match="no_such_param"):
        validate_agent_config({"agent": {"id": "c"}, "devices": sample["devices"]}, source="t")
    with pytest.raises(DriverError, match="no_such_param"):
        cls(device=device, params={"no_such_param": 1}, extra=table)


def test_modules_import_without_hardware_libraries() -> None:
    code = (
        "import sys\n"
        f"for n in {HARDWARE!r}:\n"
        "    __import__('edge_agent.drivers.' + n)\n"
        "import edge_agent.buses.shared, edge_agent.buses.i2c\n"
        f"print(sorted(m for m in {HARDWARE_LIBS!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


@pytest.mark.parametrize("sim", ["modbus", "heliotherm", "dps5020", "vc820", "http_json"])
def test_simulator_runner_config_reads_through_the_real_driver(sim: str, tmp_path) -> None:
    """What a demo does: start a simulator, load its config block, read a sample."""
    from simulators.run import start_sim
    from tests.fixtures.net import wait_for

    handle = start_sim(sim, tmp_path)
    try:
        raw = tomllib.loads(handle.toml)
        cfg = validate_agent_config({"agent": {"id": "demo"}, **raw}, source=f"sim {sim}")
        ((device, dev),) = cfg["devices"].items()
        cls = driver_class(dev["driver"])
        extra = {k: dev[k] for k in cls.spec.extra_config if k in dev}
        drv = cls(device=device, params=dev["params"], extra=extra)
        drv.open()
        try:
            values = wait_for(lambda: drv.read(), timeout=5, what=f"a sample from {sim}")
        finally:
            drv.close()
        assert set(values) <= {s.name for s in drv.signals()}
    finally:
        handle.stop()
