"""Heliotherm driver: real pyModbusTCP against a pymodbus TCP server holding the RTOC map."""

from __future__ import annotations

from typing import Any

import pytest

from edge_agent.drivers.base import DriverError, DriverUnavailable
from edge_agent.drivers.heliotherm import HeliothermDriver
from simulators.clock import FakeClock
from tests.fixtures.sim import ANSWER_TIMEOUT, TcpRig


def fill(rig: TcpRig, *, holding_to: int = 159) -> None:
    """A heat pump on a frosty day: -12.5 °C outside, 48.3 °C hot water, mode Automatik."""
    bank = rig.bank
    bank.set(1, "input", 10, [0] * 66)
    bank.set(1, "input", 10, [65536 - 125, 483, 352])  # 10 Aussen, 11 Brauchwasser, 12 Vorlauf
    bank.set(1, "input", 21, [31, 182])  # Niederdruck 3.1, Hochdruck 18.2 bar
    bank.set(1, "input", 26, [0])  # Stoerung
    bank.set(1, "input", 30, [42])  # COP 4.2
    bank.set(1, "input", 43, [1234])  # WW-Betriebsstunden
    bank.set(1, "input", 71, [1500])  # Stromzaehler Leistung 1.5 kW
    bank.set(1, "holding", 100, [0] * (holding_to - 99))
    bank.set(1, "holding", 100, [1, 215, 65536 - 15])  # mode 1, Raumsoll 21.5, RL soll -1.5
    bank.set(1, "holding", 105, [500, 450])  # WW normal 50.0, min 45.0
    bank.set(1, "holding", 108, [205])  # MKR1 soll 20.5
    bank.set(1, "holding", 113, [190])  # MKR2 soll 19.0


class Events:
    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []

    def __call__(self, text: str, **kw: Any) -> None:
        self.got.append({"text": text, **kw})


def make(rig: TcpRig, clock: FakeClock, events: Any = None, **params: Any) -> HeliothermDriver:
    kwargs: dict[str, Any] = {}
    if events is not None:
        kwargs["events"] = events
    drv = HeliothermDriver(
        device="Heliotherm",
        params={"host": "127.0.0.1", "port": rig.port, "timeout": ANSWER_TIMEOUT, **params},
        clock=clock,
        **kwargs,
    )
    drv.open()
    return drv


def test_reads_signed_temperatures_and_scaled_values(tcp_rig: TcpRig, fake_clock: FakeClock):
    fill(tcp_rig)
    drv = make(tcp_rig, fake_clock)
    try:
        v = drv.read()
    finally:
        drv.close()
    assert v["Temperatur Aussen"] == pytest.approx(-12.5)  # RTOC said +6540.1
    assert v["Temperatur Brauchwasser"] == pytest.approx(48.3)
    assert v["Hochdruck"] == pytest.approx(18.2)
    assert v["COP"] == pytest.approx(4.2)
    assert v["WW-Betriebsstunden"] == 1234
    assert v["Stromzaehler Leistung"] == pytest.approx(1.5)
    assert v["Betriebsart"] == 1
    assert v["Raumsolltemperatur"] == pytest.approx(21.5)
    assert v["Ruecklauf-Speichersolltemperatur"] == pytest.approx(-1.5)
    # groups off by default: their registers are not streamed
    assert "EVU Freigabe" not in v and "MKR1 VL Temperatur" not in v
    assert set(v) == {s.name for s in drv.signals()}


def test_set_points_are_learned_and_written_as_params(tcp_rig: TcpRig, fake_clock: FakeClock):
    fill(tcp_rig)
    drv = make(tcp_rig, fake_clock)
    try:
        assert drv.params["room_setpoint"] == 21.5
        assert drv.params["mkr2_room_setpoint"] == 19.0
        assert drv.set_param("room_setpoint", 22.3) == 22.3
        assert tcp_rig.bank.get(1, "holding", 101) == [223]
        drv.set_param("hot_water_min", -2.5)
        assert tcp_rig.bank.get(1, "holding", 106) == [65536 - 25]
        with pytest.raises(ValueError, match="at most 80"):
            drv.set_param("room_setpoint", 95)
        assert tcp_rig.bank.get(1, "holding", 101) == [223]  # untouched by the refused write
        with pytest.raises(DriverError, match="read-only"):
            drv.set_param("host", "10.0.0.1")
    finally:
        drv.close()


def test_configured_set_point_is_pushed_at_open(tcp_rig: TcpRig, fake_clock: FakeClock):
    fill(tcp_rig)
    drv = make(tcp_rig, fake_clock, mkr1_room_setpoint=23.0)
    drv.close()
    assert tcp_rig.bank.get(1, "holding", 108) == [230]
    assert tcp_rig.bank.get(1, "holding", 101) == [215]  # not configured: left alone


def test_mode_functions_and_events(tcp_rig: TcpRig, fake_clock: FakeClock):
    fill(tcp_rig)
    events = Events()
    drv = make(tcp_rig, fake_clock, events)
    try:
        drv.read()
        assert drv.call("set_mode", [4]) == 4
        assert tcp_rig.bank.get(1, "holding", 100) == [4]
        drv.call("MKR2Schreiben", [2])
        assert tcp_rig.bank.get(1, "holding", 112) == [2]
        with pytest.raises(DriverError, match="mode must be one of"):
            drv.call("set_mkr1_mode", [11])
        assert tcp_rig.bank.get(1, "holding", 107) == [0]
        tcp_rig.bank.set(1, "input", 26, [3])
        drv.read()
        drv.call("Ausschalten", [])
        tcp_rig.bank.set(1, "input", 26, [0])
        drv.read()
    finally:
        drv.close()
    texts = [(e["text"], e.get("priority", 0)) for e in events.got]
    assert texts == [
        ("Betriebsart wurde verändert: Dauerbetrieb", 0),
        ("Störung aufgetreten", 2),
        ("Betriebsart wurde verändert: AUS", 0),
        ("Störung behoben", 0),
    ]


def test_groups_add_their_registers(tcp_rig: TcpRig, fake_clock: FakeClock):
    fill(tcp_rig)
    tcp_rig.bank.set(1, "input", 32, [1])
    tcp_rig.bank.set(1, "holding", 149, [1])
    drv = make(tcp_rig, fake_clock, group_EVU=True)
    try:
        v = drv.read()
    finally:
        drv.close()
    assert v["EVU Freigabe"] == 1 and v["EVU-Freigabe Wert"] == 1


def test_short_holding_map_falls_back_to_134(tcp_rig: TcpRig, fake_clock: FakeClock):
    fill(tcp_rig, holding_to=134)
    drv = make(tcp_rig, fake_clock)
    try:
        v = drv.read()
        v2 = drv.read()
    finally:
        drv.close()
    assert v["Raumsolltemperatur"] == pytest.approx(21.5)
    assert "2te Stufe Wert" not in v and v == v2


def test_transaction_id_mismatch_reconnects_and_answers(tcp_rig: TcpRig, fake_clock: FakeClock):
    fill(tcp_rig)
    drv = make(tcp_rig, fake_clock)
    try:
        tcp_rig.bank.wrong_tid_next = 1
        v = drv.read()
        assert drv.bus is not None and drv.bus.stats.reconnects == 1
    finally:
        drv.close()
    assert v["Temperatur Aussen"] == pytest.approx(-12.5)


def test_gateway_down_gives_no_sample_and_recovers(tcp_rig: TcpRig, fake_clock: FakeClock):
    fill(tcp_rig)
    drv = make(tcp_rig, fake_clock)
    try:
        drv.read()
        tcp_rig.stop()
        with pytest.raises(DriverUnavailable, match="cannot connect"):
            drv.read()
        tcp_rig.start()
        with pytest.raises(DriverUnavailable, match="not asked"):
            drv.read()  # backing off: the gateway is not hammered
        fake_clock.advance(1.0)
        tcp_rig.bank.set(1, "input", 10, [5])
        assert drv.read()["Temperatur Aussen"] == pytest.approx(0.5)
    finally:
        drv.close()


def test_silent_unit_times_out_then_recovers(tcp_rig: TcpRig, fake_clock: FakeClock):
    fill(tcp_rig)
    drv = make(tcp_rig, fake_clock)
    try:
        tcp_rig.bank.dead.add(1)
        with pytest.raises(DriverUnavailable, match="timeout"):
            drv.read()
        tcp_rig.bank.dead.clear()
        fake_clock.advance(1.0)
        assert drv.read()["Betriebsart"] == 1
    finally:
        drv.close()


def test_open_retried_while_gateway_is_down_takes_the_bus_once(
    tcp_rig: TcpRig, fake_clock: FakeClock
) -> None:
    from edge_agent.buses import shared

    fill(tcp_rig)
    tcp_rig.stop()
    drv = HeliothermDriver(
        device="Heliotherm",
        params={"host": "127.0.0.1", "port": tcp_rig.port, "timeout": ANSWER_TIMEOUT},
        clock=fake_clock,
    )
    for _ in range(3):  # what the agent does while the device is unreachable
        with pytest.raises(DriverUnavailable):
            drv.open()
        fake_clock.advance(60)
    tcp_rig.start()
    drv.open()
    assert drv.params["room_setpoint"] == 21.5
    key = f"tcp:127.0.0.1:{tcp_rig.port}"
    assert shared._buses[key][1] == 1  # one share, not four
    drv.close()
    assert key not in shared._buses  # the last user closed it


def test_external_demand_events(tcp_rig: TcpRig, fake_clock: FakeClock) -> None:
    fill(tcp_rig)
    events = Events()
    drv = make(tcp_rig, fake_clock, events)
    try:
        drv.read()
        tcp_rig.bank.set(1, "holding", 127, [1])
        drv.read()
        drv.read()
        tcp_rig.bank.set(1, "holding", 127, [0])
        drv.read()
    finally:
        drv.close()
    assert [e["text"] for e in events.got] == ["Externe Anforderung an", "Externe Anforderung aus"]
