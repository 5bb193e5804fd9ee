"""CCS811 driver: adafruit_ccs811 and adafruit_bus_device run over an I2C register model."""

from __future__ import annotations

import pytest

from edge_agent.drivers.base import DriverError, DriverUnavailable
from edge_agent.drivers.ccs811 import CCS811Driver
from simulators.ccs811_chip import CCS811Chip, FakeI2C


def make(bus: FakeI2C, **params: object) -> CCS811Driver:
    drv = CCS811Driver(device="LuftB", params=params, i2c=bus)
    drv.open()
    return drv


def test_start_sequence_and_results() -> None:
    chip = CCS811Chip()
    bus = FakeI2C(chip)
    drv = make(bus, temperature=21.5, humidity=40.0)
    assert chip.fw_mode  # APP_START was sent
    assert (chip.meas_mode >> 4) & 7 == 1  # drive mode 1 s
    assert chip.env_compensation == (40.0, 21.5)
    assert drv.read() == {}  # nothing measured yet: no sample, no error
    chip.measure(812, 57)
    assert drv.read() == {"eCO2": 812.0, "TVOC": 57.0}
    assert drv.read() == {}  # the same measurement is not reported twice
    assert not bus.locked


def test_two_sensors_share_one_bus() -> None:
    a, b = CCS811Chip(address=0x5B), CCS811Chip(address=0x5A)
    bus = FakeI2C(a, b)
    da, db = make(bus, address=0x5B), make(bus, address=0x5A)
    a.measure(500, 10)
    b.measure(1500, 300)
    assert da.read() == {"eCO2": 500.0, "TVOC": 10.0}
    assert db.read() == {"eCO2": 1500.0, "TVOC": 300.0}


def test_compensation_and_drive_mode_follow_params() -> None:
    chip = CCS811Chip()
    drv = make(FakeI2C(chip))
    drv.set_param("temperature", -5.0)
    drv.set_param("humidity", 80)
    assert chip.env_compensation == (80.0, -5.0)
    drv.set_param("drive_mode", "60s")
    assert (chip.meas_mode >> 4) & 7 == 3
    with pytest.raises(ValueError, match="one of"):
        drv.set_param("drive_mode", "5s")
    assert (chip.meas_mode >> 4) & 7 == 3


def test_baseline_save_and_restore() -> None:
    chip = CCS811Chip()
    drv = make(FakeI2C(chip))
    chip.baseline = 0xA1B2
    assert drv.call("save_baseline", []) == 0xA1B2
    chip.baseline = 0x0001  # e.g. after a power cycle
    assert drv.call("restore_baseline", []) == 0xA1B2
    assert chip.baseline == 0xA1B2
    drv.call("restore_baseline", [0x4242])
    assert chip.baseline == 0x4242
    drv.set_param("baseline", 0x0BAD)  # setting the parameter writes it too
    assert chip.baseline == 0x0BAD
    # a configured baseline is restored at start
    chip2 = CCS811Chip()
    make(FakeI2C(chip2), baseline=0x4242)
    assert chip2.baseline == 0x4242


def test_restore_without_saved_baseline_is_refused() -> None:
    chip = CCS811Chip()
    drv = make(FakeI2C(chip))
    with pytest.raises(DriverError, match="no baseline saved"):
        drv.call("restore_baseline", [])
    assert chip.baseline == 0x1234


def test_error_register_is_reported_and_cleared() -> None:
    chip = CCS811Chip()
    drv = make(FakeI2C(chip))
    chip.measure(900, 20)
    chip.fail(0x10)
    with pytest.raises(DriverError, match="HEATER_FAULT"):
        drv.read()
    assert chip.error_id == 0  # reading ERROR_ID cleared it
    assert drv.read() == {"eCO2": 900.0, "TVOC": 20.0}


def test_implausible_result_gives_no_sample() -> None:
    chip = CCS811Chip()
    drv = make(FakeI2C(chip))
    chip.measure(0, 0)  # what a chip still warming up may deliver
    with pytest.raises(DriverError, match="implausible"):
        drv.read()


def test_wrong_chip_and_missing_chip() -> None:
    with pytest.raises(DriverUnavailable, match="no CCS811 at 0x5b"):
        make(FakeI2C(CCS811Chip(address=0x5A)), address=0x5B)


def test_unplugged_then_back_restarts_the_firmware() -> None:
    chip = CCS811Chip()
    drv = make(FakeI2C(chip))
    chip.unplugged = True
    with pytest.raises(DriverUnavailable, match="read failed"):
        drv.read()
    with pytest.raises(DriverUnavailable, match="no CCS811"):
        drv.read()
    chip.unplugged = False
    chip.fw_mode = False  # power-cycled: back in boot mode
    chip.measure(640, 33)
    assert drv.read() == {"eCO2": 640.0, "TVOC": 33.0}
    assert chip.fw_mode
