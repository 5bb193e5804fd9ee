"""HoldPeak/Voltcraft VC820 multimeter: 14-byte LCD-segment frames over an opto-serial cable.

Byte i (0-based) carries i+1 in its high nibble, so a frame boundary is found again
after garbage by scanning for a run 1,2,…,14. Low nibbles are LCD segments: flags in
bytes 0 and 9..13, four 7-segment digits in bytes 1..8 (sign in byte 1, decimal points
in bytes 3/5/7). The display "0.L" (overload) is an error, never a number.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .base import Driver, DriverError, DriverSpec, DriverUnavailable, ParamSpec, SignalSpec

log = logging.getLogger(__name__)

FRAME_LEN = 14
# segment bits of one digit: (high byte: a=1, f=2, e=4) (low byte: b=1, g=2, c=4, d=8)
_SEGMENTS = {
    "abcdef": "0",
    "bc": "1",
    "abdeg": "2",
    "abcdg": "3",
    "bcfg": "4",
    "acdfg": "5",
    "acdefg": "6",
    "abc": "7",
    "abcdefg": "8",
    "abcdfg": "9",
    "def": "L",
    "": "",
}
# unit flag -> (unit, signal name as in RTOC)
SIGNALS = {
    "V": "Spannung",
    "A": "Strom",
    "Ohm": "Widerstand",
    "°C": "Temperatur",
    "F": "Kapazität",
    "Hz": "Frequenz",
    "%": "%",
}

SAMPLE_CONFIG = """\
[devices.HoldPeak]
driver = "vc820"
samplerate = 1
[devices.HoldPeak.params]
serial_port = "/dev/ttyUSB0"
timeout = 1.0
spike_filter = false     # RTOC dropped one sample after a jump of 2 or more
"""


class FrameError(DriverError):
    """A frame that is complete but cannot be read as a number (e.g. overload 0.L)."""


@dataclass(frozen=True)
class Reading:
    """One decoded display: value in base units, base unit, and the display text."""

    value: float
    unit: str
    text: str
    ac: bool
    hold: bool


def _digit(hi: int, lo: int) -> str:
    segs = ""
    for name, byte, bit in (
        ("a", hi, 1),
        ("b", lo, 1),
        ("c", lo, 4),
        ("d", lo, 8),
        ("e", hi, 4),
        ("f", hi, 2),
        ("g", lo, 2),
    ):
        if byte & bit:
            segs += name
    return _SEGMENTS.get(segs, "?")


def decode_frame(frame: bytes) -> Reading:
    """Decode one 14-byte frame; raise FrameError for overload or unreadable digits."""
    if len(frame) != FRAME_LEN or any(b >> 4 != i + 1 for i, b in enumerate(frame)):
        raise FrameError(f"not a VC820 frame: {frame.hex()}")
    n = [b & 0x0F for b in frame]
    text = "-" if n[1] & 8 else ""
    for k in range(4):
        if k and n[1 + 2 * k] & 8:
            text += "."
        text += _digit(n[1 + 2 * k], n[2 + 2 * k])
    if "L" in text:
        raise FrameError(f"meter shows overload {text.lstrip('-')!r}")
    if "?" in text or not any(ch.isdigit() for ch in text):
        raise FrameError(f"unreadable display {text!r} in frame {frame.hex()}")
    prefix = 1.0
    for flag, factor in (
        (n[9] & 2, 1e3),
        (n[9] & 4, 1e-9),
        (n[9] & 8, 1e-6),
        (n[10] & 8, 1e-3),
        (n[10] & 2, 1e6),
    ):
        if flag:
            prefix = factor
            break
    if n[10] & 4:
        unit = "%"
    elif n[11] & 4:
        unit = "Ohm"
    elif n[11] & 8:
        unit = "F"
    elif n[12] & 2:
        unit = "Hz"
    elif n[12] & 4:
        unit = "V"
    elif n[12] & 8:
        unit = "A"
    elif n[13] & 1:
        unit = "°C"
    else:
        raise FrameError(f"no unit shown in frame {frame.hex()}")
    value = round(float(text) * prefix, 12)
    return Reading(value, unit, text, ac=bool(n[0] & 8), hold=bool(n[11] & 1))


class FrameBuffer:
    """Collects bytes and cuts whole frames out of them, skipping garbage."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.skipped = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return the complete frames found, oldest first."""
        self.buf += data
        frames: list[bytes] = []
        i = 0
        while len(self.buf) - i >= FRAME_LEN:
            window = self.buf[i : i + FRAME_LEN]
            if all(b >> 4 == k + 1 for k, b in enumerate(window)):
                frames.append(bytes(window))
                i += FRAME_LEN
            else:
                i += 1
                self.skipped += 1
        # a tail that cannot start a frame is garbage too
        while i < len(self.buf) and self.buf[i] >> 4 != 1:
            i += 1
            self.skipped += 1
        del self.buf[:i]
        return frames


class VC820Driver(Driver):
    """Reads the freshest frame the meter streamed; one signal per measured quantity."""

    spec = DriverSpec(
        name="vc820",
        description="HoldPeak / Voltcraft VC820 multimeter (2400 baud opto-serial cable)",
        signals=tuple(SignalSpec(name, unit) for unit, name in SIGNALS.items()),
        params=(
            ParamSpec("serial_port", str, "/dev/ttyUSB0", "serial device", writable=False),
            ParamSpec("timeout", float, 1.0, "wait this long for a frame", unit="s", min=0.1),
            ParamSpec("spike_filter", bool, False, "drop one sample after a jump of 2 or more"),
        ),
        bus="serial",
        default_samplerate=1.0,
        max_samplerate=4.0,
        sample_config=SAMPLE_CONFIG,
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._serial: Any = None
        self.frames = FrameBuffer()
        self._last: float | None = None
        self._jump_pending = False
        self.last_reading: Reading | None = None

    def open(self) -> None:
        """Open the port (2400 8N1; DTR high and RTS low power the opto adapter)."""
        import serial

        port = self.params["serial_port"]
        try:
            ser = serial.Serial(
                port,
                baudrate=2400,
                bytesize=8,
                parity="N",
                stopbits=1,
                timeout=min(0.2, self.params["timeout"]),
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DriverUnavailable(f"{self.device}: cannot open {port}: {exc}") from exc
        try:
            ser.dtr = True
            ser.rts = False
        except (serial.SerialException, OSError) as exc:
            # a pty or a cable without modem lines: nothing to power, the data still flows
            log.info("%s: %s has no modem control lines (%s)", self.device, port, exc)
        self._serial = ser
        self.frames = FrameBuffer()

    def close(self) -> None:
        """Close the port."""
        if self._serial is not None:
            try:
                self._serial.close()
            except Exception:  # closing a vanished device may fail; it is gone either way
                pass
            self._serial = None

    def diagnostics(self) -> Mapping[str, float]:
        """Bytes of garbage skipped while looking for frame starts."""
        return {"garbage_bytes": self.frames.skipped}

    def read(self) -> Mapping[str, float]:
        """Decode the newest complete frame; overload and garbage give no sample."""
        import serial

        if self._serial is None:
            self.open()
        ser = self._serial
        deadline = time.monotonic() + self.params["timeout"]
        frames: list[bytes] = []
        try:
            frames = self.frames.feed(ser.read(ser.in_waiting))
            while not frames and time.monotonic() < deadline:
                frames = self.frames.feed(ser.read(FRAME_LEN))
        except (serial.SerialException, OSError) as exc:
            self.close()
            raise DriverUnavailable(f"{self.device}: {self.params['serial_port']}: {exc}") from exc
        if not frames:
            raise DriverUnavailable(
                f"{self.device}: no complete frame within {self.params['timeout']} s "
                f"({self.frames.skipped} bytes of garbage skipped so far)"
            )
        reading = decode_frame(frames[-1])
        self.last_reading = reading
        if self.params["spike_filter"]:
            jumped = self._last is not None and abs(reading.value - self._last) >= 2
            self._last = reading.value
            if jumped and not self._jump_pending:
                self._jump_pending = True
                raise DriverError(f"{self.device}: jump to {reading.value} held back once")
            self._jump_pending = False
        return {SIGNALS[reading.unit]: reading.value}
