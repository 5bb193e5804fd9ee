"""The system driver: real psutil readings; what the host cannot give is left out."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from edge_agent.drivers import system
from edge_agent.drivers.base import DriverError
from edge_agent.drivers.system import SystemDriver


class Clock:
    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


def test_reads_percentages_and_network_rates() -> None:
    clock = Clock()
    d = SystemDriver(device="System", clock=clock)
    d.open()
    first = d.read()
    for key in ("CPU", "Memory", "Disk"):
        assert 0.0 <= first[key] <= 100.0
    clock.now += 2.0
    second = d.read()
    assert second["NetSent"] >= 0.0 and second["NetRecv"] >= 0.0
    assert set(second) <= {s.name for s in d.signals()}


def test_no_temperature_sample_when_the_host_has_no_sensor(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(system, "THERMAL_ZONE", tmp_path / "missing")
    monkeypatch.setattr(psutil, "sensors_temperatures", lambda: {}, raising=False)
    d = SystemDriver(device="System")
    d.open()
    values = d.read()
    assert "Temperature" not in values
    assert "CPU" in values, "the other values still come"


def test_temperature_from_the_thermal_zone(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    zone = tmp_path / "temp"
    zone.write_text("48312\n")
    monkeypatch.setattr(system, "THERMAL_ZONE", zone)
    monkeypatch.setattr(psutil, "sensors_temperatures", lambda: {}, raising=False)
    d = SystemDriver(device="System")
    d.open()
    assert d.read()["Temperature"] == pytest.approx(48.312)


def test_missing_disk_path_is_a_driver_error(tmp_path: Path) -> None:
    d = SystemDriver(device="System", params={"disk_path": str(tmp_path / "nope")})
    d.open()
    with pytest.raises(DriverError, match="System: cannot read disk use"):
        d.read()
