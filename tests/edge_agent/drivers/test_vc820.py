"""VC820 driver: real pyserial on a socat pty pair, fed by a frame-writing meter stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.drivers.base import DriverError, DriverUnavailable
from edge_agent.drivers.vc820 import FrameBuffer, FrameError, VC820Driver, decode_frame
from simulators.serial_pair import SerialPair
from simulators.vc820_meter import MeterStream, encode
from tests.fixtures.net import wait_for
from tests.fixtures.sim import ANSWER_TIMEOUT


class Rig:
    def __init__(self, tmp: Path) -> None:
        self.pair = SerialPair(tmp, "vc820").start()
        self.meter = MeterStream(self.pair.sim_path).start()

    def unplug(self) -> None:
        self.meter.stop()
        self.pair.stop()

    def plug(self) -> None:
        self.pair.start()
        frame = self.meter.frame
        self.meter = MeterStream(self.pair.sim_path).start()
        self.meter.frame = frame


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    r.meter.stop()
    if r.pair.proc is not None:
        r.pair.stop()


@pytest.fixture
def driver(rig: Rig) -> Iterator[VC820Driver]:
    drv = VC820Driver(
        device="HoldPeak", params={"serial_port": rig.pair.agent_path, "timeout": ANSWER_TIMEOUT}
    )
    drv.open()
    yield drv
    drv.close()


def read_when(drv: VC820Driver, expected: dict[str, float]) -> None:
    """The meter streams continuously; wait until the newest frame shows the new display.

    Frames of the previous display may still be queued in the pty: one that reads as an
    overload (a FrameError) is such an old frame, not the answer.
    """

    def shows_expected() -> bool:
        try:
            return dict(drv.read()) == expected
        except FrameError:
            return False

    wait_for(shows_expected, timeout=15, what=f"display {expected}")


@pytest.mark.parametrize(
    ("display", "flags", "expected"),
    [
        ("-1.234", ("dc", "V"), {"Spannung": -1.234}),
        ("12.34", ("m", "A", "dc"), {"Strom": 0.01234}),
        ("1.000", ("M", "Ohm"), {"Widerstand": 1e6}),
        ("98.76", ("k", "Hz"), {"Frequenz": 98760.0}),
        ("4.70", ("n", "F"), {"Kapazität": 4.7e-9}),
        ("25", ("°C",), {"Temperatur": 25.0}),
        ("50.0", ("%",), {"%": 50.0}),
    ],
)
def test_frames_decode_to_value_and_unit(
    rig: Rig, driver: VC820Driver, display: str, flags: tuple[str, ...], expected: dict
) -> None:
    rig.meter.frame = encode(display, *flags)
    read_when(driver, expected)


def test_overload_gives_no_sample_and_next_value_reads(rig: Rig, driver: VC820Driver) -> None:
    rig.meter.frame = encode("0.L", "k", "Ohm")
    wait_for(lambda: rig.meter.sent > 3, timeout=15, what="frames")
    with pytest.raises(FrameError, match=r"overload '0\.L'"):
        # frames written before the switch may still be queued: read until the new one
        wait_for(lambda: driver.read() and False, timeout=15, what="overload")
    rig.meter.frame = encode("1.500", "k", "Ohm")
    read_when(driver, {"Widerstand": 1500.0})


def test_garbage_between_frames_is_skipped(rig: Rig, driver: VC820Driver) -> None:
    rig.meter.frame = encode("3.300", "dc", "V")
    read_when(driver, {"Spannung": 3.3})
    skipped = driver.frames.skipped
    rig.meter.garbage = b"\x00\xff\x1f\x2e\x13garbage\x14"
    wait_for(lambda: rig.meter.garbage == b"", timeout=15, what="garbage sent")
    read_when(driver, {"Spannung": 3.3})
    assert driver.diagnostics()["garbage_bytes"] > skipped


def test_silent_meter_is_unavailable(rig: Rig, driver: VC820Driver) -> None:
    wait_for(lambda: rig.meter.sent > 2, timeout=15, what="frames")
    rig.meter.stop()
    # frames queued before the stop may still be read once; then the silence shows
    with pytest.raises(DriverUnavailable, match="no complete frame"):
        for _ in range(3):
            driver.read()


def test_unplugged_cable_recovers(rig: Rig, driver: VC820Driver) -> None:
    rig.meter.frame = encode("5.000", "dc", "V")
    read_when(driver, {"Spannung": 5.0})
    rig.unplug()
    with pytest.raises(DriverUnavailable):
        for _ in range(3):  # queued frames may still be read first
            driver.read()
    with pytest.raises(DriverUnavailable, match="cannot open"):
        driver.read()
    rig.plug()
    read_when(driver, {"Spannung": 5.0})


def test_spike_filter_holds_back_one_jump(rig: Rig, tmp_path: Path) -> None:
    drv = VC820Driver(
        device="HoldPeak",
        params={"serial_port": rig.pair.agent_path, "timeout": 0.5, "spike_filter": True},
    )
    drv.open()
    try:
        rig.meter.frame = encode("1.000", "dc", "V")
        read_when(drv, {"Spannung": 1.0})
        rig.meter.frame = encode("9.000", "dc", "V")
        errors: list[str] = []

        def jumped() -> bool:
            try:
                return drv.read() == {"Spannung": 9.0}
            except DriverError as exc:
                errors.append(str(exc))
                return False

        wait_for(jumped, timeout=15, what="value after the jump")
        assert len(errors) == 1 and "held back once" in errors[0]
    finally:
        drv.close()


def test_frame_buffer_resynchronises() -> None:
    good = encode("1.234", "dc", "V")
    fb = FrameBuffer()
    assert fb.feed(b"\x13\x99" + good[:6]) == []
    assert fb.feed(good[6:] + good + good[:3]) == [good, good]
    assert fb.skipped == 2
    with pytest.raises(FrameError, match="not a VC820 frame"):
        decode_frame(good[1:] + good[:1])
    with pytest.raises(FrameError, match="no unit"):
        decode_frame(encode("1.234"))
