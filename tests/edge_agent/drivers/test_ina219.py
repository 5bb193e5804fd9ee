"""INA219 driver: pi-ina219 and Adafruit_GPIO run over an SMBus holding the chip's registers."""

from __future__ import annotations

from typing import Any

import pytest

from edge_agent.drivers.base import DriverError, DriverUnavailable
from edge_agent.drivers.ina219 import RANGE_TEXT, INA219Driver
from simulators.ina219_chip import INA219Chip


@pytest.fixture
def chip(monkeypatch: pytest.MonkeyPatch) -> INA219Chip:
    """One INA219 at 0x41; the library's I2C device talks to it through its SMBus seam."""
    import Adafruit_GPIO.I2C as I2C
    import ina219

    chip = INA219Chip(address=0x41, shunt_ohms=0.1)

    def get_i2c_device(address: int, busnum: int | None = None, **kw: Any) -> Any:
        return I2C.Device(address, busnum, i2c_interface=chip.smbus)

    monkeypatch.setattr(ina219.I2C, "get_i2c_device", get_i2c_device)
    return chip


class Events(list):
    def __call__(self, text: str, **kw: Any) -> None:
        self.append((text, kw.get("priority", 0)))


def test_values_follow_the_datasheet_arithmetic(chip: INA219Chip) -> None:
    chip.bus_volts, chip.amps = 5.0, 0.1
    drv = INA219Driver(device="INA219_Modul")
    drv.open()
    v = drv.read()
    # 0.2 A / 32800 is finer than the chip allows, so the library takes the smallest LSB,
    # 0.04096 / (0.1 Ω × 65534): the calibration register holds its maximum, 65534
    assert chip.calibration == 65534
    assert v["Bus Voltage"] == pytest.approx(5.0, abs=0.004)
    assert v["Shunt Voltage"] == pytest.approx(10.0, abs=0.01)  # 0.1 A × 0.1 Ω = 10 mV
    assert v["Bus Current"] == pytest.approx(100.0, rel=1e-3)
    assert v["Power"] == pytest.approx(500.0, rel=5e-3)
    assert chip.sleeps == 1 and chip.config & 0x7 == 0  # asleep between readings
    assert drv.read()["Bus Voltage"] == pytest.approx(5.0, abs=0.004)
    assert (chip.wakes, chip.sleeps) == (1, 2)  # woken for the reading, asleep after


def test_negative_current(chip: INA219Chip) -> None:
    chip.bus_volts, chip.amps = 12.0, -0.05
    drv = INA219Driver(device="INA219_Modul", params={"sleep_between": False})
    drv.open()
    v = drv.read()
    assert v["Bus Current"] == pytest.approx(-50.0, rel=1e-3)
    assert v["Shunt Voltage"] == pytest.approx(-5.0, abs=0.01)
    assert chip.sleeps == 0


def test_out_of_range_raises_event_and_no_sample_then_recovers(chip: INA219Chip) -> None:
    events = Events()
    drv = INA219Driver(device="INA219_Modul", params={"gain": "40mV"}, events=events)
    drv.open()
    chip.bus_volts, chip.amps = 5.0, 0.5  # 50 mV across the shunt: beyond the 40 mV range
    for _ in range(2):
        with pytest.raises(DriverError, match="out of device range"):
            drv.read()
    assert events == [(RANGE_TEXT, 1)]  # once, not once per reading
    chip.amps = 0.15
    assert drv.read()["Bus Current"] == pytest.approx(150.0, rel=1e-3)
    assert events[-1] == ("Current back in device range", 0)


def test_auto_gain_climbs_before_giving_up(chip: INA219Chip) -> None:
    events = Events()
    drv = INA219Driver(device="INA219_Modul", events=events)
    drv.open()
    chip.bus_volts, chip.amps = 5.0, 1.0  # 100 mV: needs the 160 mV range
    v = drv.read()
    assert (chip.config >> 11) & 3 == 2
    assert v["Shunt Voltage"] == pytest.approx(100.0, abs=0.01)
    chip.amps = 4.0  # 400 mV: beyond even 320 mV
    with pytest.raises(DriverError, match="device limit reached"):
        drv.read()
    assert events == [(RANGE_TEXT, 1)]


def test_unplugged_chip_is_unavailable_and_recalibrated_when_back(chip: INA219Chip) -> None:
    chip.bus_volts, chip.amps = 3.3, 0.01
    drv = INA219Driver(device="INA219_Modul")
    drv.open()
    drv.read()
    chip.unplugged = True
    with pytest.raises(DriverUnavailable, match="I2C read failed"):
        drv.read()
    with pytest.raises(DriverUnavailable, match="no INA219 at 0x41"):
        drv.read()
    chip.unplugged = False
    chip.calibration = 0  # power-cycled: calibration lost
    assert drv.read()["Bus Current"] == pytest.approx(10.0, rel=1e-2)
    assert chip.calibration == 65534


def test_impossible_calibration_is_refused(chip: INA219Chip) -> None:
    drv = INA219Driver(device="X", params={"shunt_ohms": 1.0, "max_expected_amps": 1.0})
    with pytest.raises(DriverError, match="out of range"):
        drv.open()
    assert chip.writes == []  # refused before anything reached the chip


def test_missing_bus_is_unavailable_with_the_reason() -> None:
    drv = INA219Driver(device="X", params={"i2c_bus": 99})
    with pytest.raises(DriverUnavailable, match="no INA219 at 0x41 on I2C bus 99"):
        drv.open()


def test_changed_calibration_parameter_reconfigures_the_chip(chip: INA219Chip) -> None:
    chip.bus_volts, chip.amps = 5.0, 0.1
    drv = INA219Driver(device="INA219_Modul", params={"max_expected_amps": 0.2})
    drv.open()
    drv.read()
    assert (chip.config >> 11) & 3 == 0  # 40 mV range suffices for 0.2 A × 0.1 Ω
    drv.set_param("max_expected_amps", 1.0)
    assert drv.read()["Bus Current"] == pytest.approx(100.0, rel=1e-2)
    assert (chip.config >> 11) & 3 == 2  # 100 mV needs the 160 mV range
    assert chip.calibration == 13434  # trunc(0.04096 / (1.0 / 32800 × 0.1))
