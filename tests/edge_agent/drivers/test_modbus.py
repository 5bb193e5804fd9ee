"""Generic modbus driver over TCP and RTU against pymodbus simulators."""

from __future__ import annotations

import time
from typing import Any

import pytest

from edge_agent.drivers.base import DriverError, DriverUnavailable
from edge_agent.drivers.modbus import ModbusDriver, plan_blocks
from simulators.clock import FakeClock
from tests.fixtures.sim import ANSWER_TIMEOUT, RtuRig, TcpRig

REGISTERS = [
    {"name": "T", "address": 0, "function": "input", "type": "int16", "scale": 0.1, "unit": "°C"},
    {"name": "E", "address": 2, "function": "input", "type": "uint32", "unit": "kWh"},
    {"name": "F", "address": 4, "function": "input", "type": "float32", "word_order": "little"},
    {"name": "I", "address": 6, "function": "input", "type": "int32", "word_order": "little"},
    {"name": "Set", "address": 10, "type": "int16", "scale": 0.5, "offset": 1, "writable": True},
    {"name": "Pump", "address": 3, "function": "coil", "writable": True},
    {"name": "Door", "address": 1, "function": "discrete"},
]


def fill(bank: Any, unit: int = 1) -> None:
    bank.set(unit, "input", 0, [65536 - 215, 0, 1, 2])  # T=-21.5, E=65538
    bank.set(unit, "input", 4, [0xF5C3, 0x4048])  # F=3.14 with the low word first
    bank.set(unit, "input", 6, [0xFFFE, 0xFFFF])  # I=-2 with the low word first
    bank.set(unit, "holding", 10, [7])  # Set = 7*0.5+1 = 4.5
    bank.set(unit, "coil", 0, [0, 0, 0, 1])
    bank.set(unit, "discrete", 0, [0, 1])


def tcp_driver(rig: TcpRig, clock: FakeClock, unit: int = 1, **kw: Any) -> ModbusDriver:
    drv = ModbusDriver(
        device=f"Dev{unit}",
        params={"transport": "tcp", "tcp_port": rig.port, "unit": unit, "timeout": ANSWER_TIMEOUT},
        extra={"registers": REGISTERS},
        clock=clock,
        **kw,
    )
    drv.open()
    return drv


EXPECTED = {"T": -21.5, "E": 65538.0, "I": -2.0, "Set": 4.5, "Pump": 1.0, "Door": 1.0}


def test_tcp_reads_every_type_and_word_order(tcp_rig: TcpRig, fake_clock: FakeClock) -> None:
    fill(tcp_rig.bank)
    drv = tcp_driver(tcp_rig, fake_clock)
    try:
        v = dict(drv.read())
    finally:
        drv.close()
    assert v.pop("F") == pytest.approx(3.14, abs=1e-6)
    assert v == EXPECTED
    assert [(s.name, s.unit) for s in drv.signals()][:2] == [("T", "°C"), ("E", "kWh")]


def test_blocks_are_merged() -> None:
    drv = ModbusDriver(device="X", extra={"registers": REGISTERS})
    kinds = [(k, first, count) for k, first, count, _ in plan_blocks(drv.registers)]
    # contiguous registers share a request; a gap is never read (the device may refuse it)
    assert kinds == [
        ("coil", 3, 1),
        ("discrete", 1, 1),
        ("holding", 10, 1),
        ("input", 0, 1),
        ("input", 2, 6),
    ]


def test_rtu_reads_and_writes(rtu_rig: RtuRig, fake_clock: FakeClock) -> None:
    fill(rtu_rig.bank)
    drv = ModbusDriver(
        device="Meter",
        params={"transport": "rtu", "serial_port": rtu_rig.port, "timeout": ANSWER_TIMEOUT},
        extra={"registers": REGISTERS},
        clock=fake_clock,
    )
    drv.open()
    try:
        v = dict(drv.read())
        assert v.pop("F") == pytest.approx(3.14, abs=1e-6)
        assert v == EXPECTED
        assert drv.call("write", ["Set", 10.0]) == 10.0
        assert rtu_rig.bank.get(1, "holding", 10) == [18]
        drv.call("write", {"name": "Pump", "value": 0})
        assert rtu_rig.bank.get(1, "coil", 3) == [0]
        assert drv.read()["Set"] == 10.0
    finally:
        drv.close()


def test_refused_writes_change_nothing(tcp_rig: TcpRig, fake_clock: FakeClock) -> None:
    fill(tcp_rig.bank)
    drv = tcp_driver(tcp_rig, fake_clock)
    try:
        for args, msg in [
            (["T", 1.0], "not writable"),
            (["Nope", 1.0], "no register"),
            (["Set", 3.3], "not a multiple"),
            (["Set", 1e9], "does not fit"),
            (["Pump", 2], "takes 0 or 1"),
        ]:
            with pytest.raises(DriverError, match=msg):
                drv.call("write", args)
        assert tcp_rig.bank.writes == []
        assert drv.read()["Set"] == 4.5
    finally:
        drv.close()


def test_nan_register_is_left_out_others_still_delivered(
    tcp_rig: TcpRig, fake_clock: FakeClock
) -> None:
    fill(tcp_rig.bank)
    events: list[str] = []
    drv = tcp_driver(tcp_rig, fake_clock, events=lambda text, **kw: events.append(text))
    try:
        tcp_rig.bank.set(1, "input", 4, [0, 0x7FC0])  # NaN
        v = drv.read()
        assert "F" not in v and v["T"] == -21.5
        drv.read()
        assert len(events) == 1 and "Dev1.F" in events[0] and "not a number" in events[0]
        tcp_rig.bank.set(1, "input", 4, [0, 0x3F80])  # 1.0
        assert drv.read()["F"] == 1.0
        assert events[-1] == "Dev1.F: readable again"
    finally:
        drv.close()


def test_dead_unit_does_not_stall_the_other_unit(tcp_rig: TcpRig, fake_clock: FakeClock) -> None:
    fill(tcp_rig.bank, unit=1)
    fill(tcp_rig.bank, unit=2)
    good, dead = tcp_driver(tcp_rig, fake_clock, 1), tcp_driver(tcp_rig, fake_clock, 2)
    try:
        assert good.bus is dead.bus  # one owner for one connection
        tcp_rig.bank.dead.add(2)
        t0 = time.perf_counter()
        with pytest.raises(DriverUnavailable):
            dead.read()
        first_timeout = time.perf_counter() - t0
        for _ in range(20):
            with pytest.raises(DriverUnavailable, match="not asked"):
                dead.read()
            assert good.read()["T"] == -21.5
        assert first_timeout >= ANSWER_TIMEOUT  # the configured timeout was honoured
        # one timeout in all; the twenty rounds after it never waited for the dead unit
        assert good.bus is not None
        assert (good.bus.stats.timeouts, good.bus.stats.skipped) == (1, 20)
        tcp_rig.bank.dead.clear()
        fake_clock.advance(1.0)
        assert dead.read()["T"] == -21.5
    finally:
        good.close()
        dead.close()


@pytest.mark.parametrize(
    ("registers", "msg"),
    [
        (None, "non-empty list"),
        ([{"address": 1}], "'name'"),
        ([{"name": "a", "address": -1}], "'address'"),
        ([{"name": "a", "address": 1, "function": "bogus"}], "'function'"),
        ([{"name": "a", "address": 1, "type": "int64"}], "unknown register type"),
        ([{"name": "a", "address": 1, "word_order": "mid"}], "word_order"),
        ([{"name": "a", "address": 1, "function": "input", "writable": True}], "cannot be written"),
        ([{"name": "a", "address": 1}, {"name": "a", "address": 2}], "used twice"),
        ([{"name": "a", "address": 1, "colour": "red"}], "unknown keys"),
    ],
)
def test_bad_register_map_is_refused_with_reason(registers: Any, msg: str) -> None:
    with pytest.raises(DriverError, match=msg):
        ModbusDriver(device="Bad", extra={"registers": registers})


def test_one_serial_port_one_owner_and_one_set_of_line_settings(
    rtu_rig: RtuRig, fake_clock: FakeClock
) -> None:
    fill(rtu_rig.bank, unit=1)
    fill(rtu_rig.bank, unit=2)

    def rtu(unit: int, baudrate: int = 9600) -> ModbusDriver:
        return ModbusDriver(
            device=f"U{unit}",
            params={
                "transport": "rtu",
                "serial_port": rtu_rig.port,
                "unit": unit,
                "baudrate": baudrate,
                "timeout": ANSWER_TIMEOUT,
            },
            extra={"registers": REGISTERS},
            clock=fake_clock,
        )

    a, b, c = rtu(1), rtu(2), rtu(3, baudrate=19200)
    a.open()
    b.open()
    try:
        assert a.bus is b.bus
        with pytest.raises(DriverError, match="already in use with settings"):
            c.open()
        assert a.read()["T"] == -21.5 and b.read()["E"] == 65538.0
        a.close()
        assert b.read()["T"] == -21.5  # the port stays open for the remaining user
    finally:
        b.close()


def test_dead_unit_on_a_serial_line_does_not_stall_the_other_unit(
    rtu_rig: RtuRig, fake_clock: FakeClock
) -> None:
    fill(rtu_rig.bank, unit=1)
    fill(rtu_rig.bank, unit=2)
    rtu_rig.bank.dead.add(2)

    def rtu(unit: int) -> ModbusDriver:
        drv = ModbusDriver(
            device=f"U{unit}",
            params={
                "transport": "rtu",
                "serial_port": rtu_rig.port,
                "unit": unit,
                "timeout": ANSWER_TIMEOUT,
            },
            extra={"registers": REGISTERS},
            clock=fake_clock,
        )
        drv.open()
        return drv

    good, dead = rtu(1), rtu(2)
    try:
        with pytest.raises(DriverUnavailable, match="no answer"):
            dead.read()
        for _ in range(10):
            with pytest.raises(DriverUnavailable, match="not asked"):
                dead.read()
            assert good.read()["Door"] == 1.0
        assert good.bus is dead.bus and good.bus is not None
        # the dead unit cost one timeout; the ten rounds after it never waited on the line
        assert (good.bus.stats.timeouts, good.bus.stats.skipped) == (1, 10)
        diag = dead.diagnostics()
        assert diag["unit_failures"] == 1 and diag["unit_backoff_s"] == 0.5
        assert good.diagnostics()["unit_failures"] == 0
    finally:
        good.close()
        dead.close()
