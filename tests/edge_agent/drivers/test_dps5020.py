"""DPS5020 driver: real minimalmodbus over a socat pty pair to a pymodbus RTU simulator."""

from __future__ import annotations

import pytest

from edge_agent.drivers.base import DriverError, DriverUnavailable
from edge_agent.drivers.dps5020 import DPS5020Driver
from simulators.clock import FakeClock
from tests.fixtures.sim import ANSWER_TIMEOUT, RtuRig

# U-set 12.00 V, I-set 1.50 A, U-out 11.98, I-out 0.75, P-out 8.98 W, U-in 24.10,
# unlocked, no protection, CV mode, output on, backlight 4
DEVICE = [1200, 150, 1198, 75, 898, 2410, 0, 0, 0, 1, 4]


def make(rig: RtuRig, clock: FakeClock, **params: object) -> DPS5020Driver:
    rig.bank.set(1, "holding", 0, DEVICE)
    drv = DPS5020Driver(
        device="DPS5020",
        params={"serial_port": rig.port, "timeout": ANSWER_TIMEOUT, **params},
        clock=clock,
    )
    drv.open()
    return drv


def test_reads_the_registers_scaled(rtu_rig: RtuRig, fake_clock: FakeClock) -> None:
    drv = make(rtu_rig, fake_clock)
    try:
        values = drv.read()
    finally:
        drv.close()
    assert values == {
        "VSet": 12.0,
        "ISet": 1.5,
        "VOut": 11.98,
        "IOut": 0.75,
        "POut": 8.98,
        "VIn": 24.1,
        "Locked": 0.0,
        "Protection": 0.0,
        "Mode": 0.0,
        "Output": 1.0,
    }
    assert {s.name for s in drv.signals()} == set(values)


def test_functions_write_the_device_registers(rtu_rig: RtuRig, fake_clock: FakeClock) -> None:
    drv = make(rtu_rig, fake_clock)
    try:
        assert drv.call("set_voltage", [5.05]) == 5.05
        assert drv.call("set_current", {"amps": 2.5}) == 2.5
        assert drv.call("set_output", [False]) is False
        assert drv.call("set_lock", [True]) is True
        assert rtu_rig.bank.get(1, "holding", 0, 2) == [505, 250]
        assert rtu_rig.bank.get(1, "holding", 6, 1) == [1]
        assert rtu_rig.bank.get(1, "holding", 9, 1) == [0]
        # and the next read shows them
        values = drv.read()
        assert (values["VSet"], values["ISet"], values["Output"], values["Locked"]) == (
            5.05,
            2.5,
            0.0,
            1.0,
        )
    finally:
        drv.close()


def test_out_of_range_set_point_is_refused_and_nothing_written(
    rtu_rig: RtuRig, fake_clock: FakeClock
) -> None:
    drv = make(rtu_rig, fake_clock)
    try:
        writes_before = list(rtu_rig.bank.writes)
        with pytest.raises(DriverError, match=r"voltage must be 0\.\.50"):
            drv.call("set_voltage", [60])
        with pytest.raises(DriverError, match="missing argument"):
            drv.call("set_current", [])
        assert rtu_rig.bank.writes == writes_before
        assert rtu_rig.bank.get(1, "holding", 0, 1) == [1200]
        assert drv.read()["VSet"] == 12.0  # the driver still works
    finally:
        drv.close()


def test_crc_error_gives_no_sample_then_recovers(rtu_rig: RtuRig, fake_clock: FakeClock) -> None:
    drv = make(rtu_rig, fake_clock)
    try:
        rtu_rig.bank.corrupt_next = 1
        with pytest.raises(DriverError, match="CRC"):
            drv.read()
        assert drv.read()["VOut"] == 11.98
    finally:
        drv.close()


def test_timeout_backs_off_then_recovers(rtu_rig: RtuRig, fake_clock: FakeClock) -> None:
    drv = make(rtu_rig, fake_clock)
    try:
        rtu_rig.bank.dead.add(1)
        with pytest.raises(DriverUnavailable, match=f"no answer within {ANSWER_TIMEOUT} s"):
            drv.read()
        requests = rtu_rig.bank.requests
        rtu_rig.bank.dead.clear()
        # during the backoff the dead unit is not asked at all
        with pytest.raises(DriverUnavailable, match="not asked"):
            drv.read()
        assert rtu_rig.bank.requests == requests
        fake_clock.advance(1.0)
        assert drv.read()["VIn"] == 24.1
    finally:
        drv.close()


def test_unplugged_port_recovers_when_plugged_back(rtu_rig: RtuRig, fake_clock: FakeClock) -> None:
    drv = make(rtu_rig, fake_clock)
    try:
        assert drv.read()["VOut"] == 11.98
        rtu_rig.stop()
        with pytest.raises(DriverUnavailable):
            drv.read()
        fake_clock.advance(1.0)
        with pytest.raises(DriverUnavailable, match="cannot open port"):
            drv.read()
        rtu_rig.start()
        fake_clock.advance(5.0)
        rtu_rig.bank.set(1, "holding", 2, [1500])
        assert drv.read()["VOut"] == 15.0
    finally:
        drv.close()


def test_rtoc_function_names_still_work(rtu_rig: RtuRig, fake_clock: FakeClock) -> None:
    drv = make(rtu_rig, fake_clock)
    try:
        drv.call("setVoltage", [3.3])
        drv.call("setPower", [False])
        assert rtu_rig.bank.get(1, "holding", 0) == [330]
        assert rtu_rig.bank.get(1, "holding", 9) == [0]
    finally:
        drv.close()
