"""DHT driver: adafruit_dht decodes pulse trains from the wire seam; time is a fake clock."""

from __future__ import annotations

import pytest

from edge_agent.drivers.base import DriverError, DriverUnavailable
from edge_agent.drivers.dht import DHTDriver
from simulators.clock import FakeClock
from simulators.dht_pulses import DHTWire


def make(wire: DHTWire, clock: FakeClock, **params: object) -> DHTDriver:
    drv = DHTDriver(
        device="A",
        params={"model": wire.model, **params},
        pulses=wire,
        sleep=clock.sleep,
        clock=clock,
    )
    drv.open()
    return drv


def test_dht22_reading_including_negative_temperature(fake_clock: FakeClock) -> None:
    wire = DHTWire()
    wire.humidity, wire.temperature = 63.4, -7.3
    drv = make(wire, fake_clock)
    assert drv.read() == {"Temperatur": -7.3, "Feuchtigkeit": 63.4}
    assert fake_clock.sleeps == []  # the first read does not wait


def test_dht11_reading(fake_clock: FakeClock) -> None:
    wire = DHTWire(model="DHT11")
    wire.humidity, wire.temperature = 40, 23.0
    drv = make(wire, fake_clock)
    assert drv.read() == {"Temperatur": 23.0, "Feuchtigkeit": 40.0}


def test_reads_keep_the_minimum_interval(fake_clock: FakeClock) -> None:
    wire = DHTWire()
    drv = make(wire, fake_clock)
    drv.read()
    fake_clock.advance(0.5)
    wire.temperature = 21.4
    assert drv.read()["Temperatur"] == 21.4  # a fresh measurement, not the library's cache
    assert fake_clock.sleeps == [pytest.approx(1.5)]
    assert wire.calls == 2


def test_checksum_failure_is_retried_after_the_interval(fake_clock: FakeClock) -> None:
    wire = DHTWire()
    drv = make(wire, fake_clock)
    wire.fail_next("checksum", "short")
    t0 = fake_clock()
    assert drv.read() == {"Temperatur": 21.0, "Feuchtigkeit": 45.0}
    assert fake_clock() - t0 == pytest.approx(4.0)  # two retries, 2 s apart
    diag = drv.diagnostics()
    assert (diag["checksum"], diag["incomplete"], diag["failures"]) == (1, 1, 0)
    assert (diag["reads"], diag["attempts"]) == (1, 3)


def test_bounded_retries_then_no_sample(fake_clock: FakeClock) -> None:
    wire = DHTWire()
    drv = make(wire, fake_clock, retries=1)
    wire.fail_next("checksum", "checksum")
    with pytest.raises(DriverError, match=r"2 attempt.*Checksum"):
        drv.read()
    assert wire.calls == 2 and drv.counters["failures"] == 1
    assert drv.read()["Feuchtigkeit"] == 45.0  # recovers on the next read


def test_missing_sensor_is_unavailable(fake_clock: FakeClock) -> None:
    wire = DHTWire()
    drv = make(wire, fake_clock, retries=2)
    wire.fail_next("missing", "missing", "missing")
    with pytest.raises(DriverUnavailable, match="not found"):
        drv.read()
    assert drv.counters["not_found"] == 3
    assert drv.read()["Temperatur"] == 21.0


def test_implausible_jump_is_held_back_until_confirmed(fake_clock: FakeClock) -> None:
    wire = DHTWire()
    drv = make(wire, fake_clock, retries=0)
    drv.read()
    wire.temperature = 60.0  # a single-bit error can look like this
    with pytest.raises(DriverError, match=r"jump from 21\.0"):
        drv.read()
    wire.temperature = 60.2  # it persists: the room really got hot
    assert drv.read()["Temperatur"] == 60.2
    assert drv.counters["implausible"] == 1


def test_glitch_is_replaced_by_the_retry(fake_clock: FakeClock) -> None:
    wire = DHTWire()
    drv = make(wire, fake_clock, retries=1)
    drv.read()
    readings = iter([(45.0, 75.0), (45.0, 21.2)])

    def one_glitch() -> object:
        wire.humidity, wire.temperature = next(readings)
        return DHTWire.__call__(wire)

    drv._sensor._get_pulses_bitbang = one_glitch
    assert drv.read() == {"Temperatur": 21.2, "Feuchtigkeit": 45.0}


def test_reading_outside_the_sensor_range_is_refused(fake_clock: FakeClock) -> None:
    wire = DHTWire()
    wire.temperature = 95.0  # a DHT22 cannot measure this: a corrupted frame with a good sum
    drv = make(wire, fake_clock, retries=0)
    with pytest.raises(DriverError, match="outside the sensor's range"):
        drv.read()
    wire.temperature = 22.0
    assert drv.read()["Temperatur"] == 22.0
