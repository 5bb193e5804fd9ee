"""The status message carries each driver's own diagnostics and survives a broken one."""

from __future__ import annotations

from collections.abc import Mapping

from edge_agent.drivers.base import Driver, DriverSpec, SignalSpec
from edge_agent.scheduler import DriverRunner
from edge_agent.status import describe_device
from edge_agent.wire import SignalDecl


class Counting(Driver):
    spec = DriverSpec(name="counting", description="test", signals=(SignalSpec("v", "V"),))

    def read(self) -> Mapping[str, float]:
        return {"v": 1.0}

    def diagnostics(self) -> Mapping[str, float]:
        return {"crc_errors": 3, "retries": 2}


class Broken(Counting):
    def diagnostics(self) -> Mapping[str, float]:
        raise RuntimeError("bug in a driver")


def test_driver_diagnostics_appear_in_the_device_stats() -> None:
    desc = describe_device(DriverRunner(driver=Counting(device="D"), samplerate=1))
    assert desc.stats["crc_errors"] == 3.0 and desc.stats["retries"] == 2.0
    assert desc.stats["reads"] == 0


def test_a_failing_diagnostics_call_leaves_the_rest_of_the_status() -> None:
    desc = describe_device(DriverRunner(driver=Broken(device="D"), samplerate=1))
    assert desc.signals == (SignalDecl("v", "V"),)
    assert "crc_errors" not in desc.stats and desc.stats["failures"] == 0
