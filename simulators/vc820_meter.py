"""A VC820 stand-in: encodes a display into 14-byte LCD frames and streams them on a pty."""

from __future__ import annotations

import os
import threading
import time

_DIGITS = {
    "0": "abcdef",
    "1": "bc",
    "2": "abdeg",
    "3": "abcdg",
    "4": "bcfg",
    "5": "acdfg",
    "6": "acdefg",
    "7": "abc",
    "8": "abcdefg",
    "9": "abcdfg",
    "L": "def",
    " ": "",
}
_HI = {"a": 1, "f": 2, "e": 4}
_LO = {"b": 1, "g": 2, "c": 4, "d": 8}
# flag -> (low-nibble byte index, bit)
FLAGS = {
    "rs232": (0, 1),
    "auto": (0, 2),
    "dc": (0, 4),
    "ac": (0, 8),
    "diode": (9, 1),
    "k": (9, 2),
    "n": (9, 4),
    "u": (9, 8),
    "beep": (10, 1),
    "M": (10, 2),
    "%": (10, 4),
    "m": (10, 8),
    "hold": (11, 1),
    "rel": (11, 2),
    "Ohm": (11, 4),
    "F": (11, 8),
    "bat": (12, 1),
    "Hz": (12, 2),
    "V": (12, 4),
    "A": (12, 8),
    "°C": (13, 1),
}


def encode(display: str, *flags: str) -> bytes:
    """Frame for a display such as "-1.234" or "0.L" with flags such as "dc", "m", "V"."""
    nib = [0] * 14
    text = display
    if text.startswith("-"):
        nib[1] |= 8
        text = text[1:]
    # a "." lights the decimal point in front of the next digit
    cells: list[tuple[str, bool]] = []
    point_next = False
    for ch in text:
        if ch == ".":
            point_next = True
            continue
        cells.append((ch, point_next))
        point_next = False
    cells = [(" ", False)] * (4 - len(cells)) + cells
    for k, (ch, point) in enumerate(cells):
        segs = _DIGITS[ch]
        hi = sum(_HI[s] for s in segs if s in _HI)
        lo = sum(_LO[s] for s in segs if s in _LO)
        nib[1 + 2 * k] |= hi | (8 if point and k else 0)
        nib[2 + 2 * k] |= lo
    for flag in flags:
        idx, bit = FLAGS[flag]
        nib[idx] |= bit
    return bytes(((i + 1) << 4) | n for i, n in enumerate(nib))


class MeterStream:
    """Writes the current frame to the sim end of a pty pair every `period` seconds."""

    def __init__(self, path: str, *, period: float = 0.03) -> None:
        self.path = path
        self.period = period
        self.frame = encode("0.000", "dc", "V")
        self.garbage = b""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0

    def start(self) -> MeterStream:
        """Start streaming."""
        fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY)
        self._stop.clear()

        def run() -> None:
            try:
                while not self._stop.is_set():
                    data = self.garbage + self.frame
                    self.garbage = b""
                    os.write(fd, data)
                    self.sent += 1
                    time.sleep(self.period)
            except OSError:
                pass  # the pty went away (unplugged)
            finally:
                os.close(fd)

        self._thread = threading.Thread(target=run, name="vc820-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop streaming."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
