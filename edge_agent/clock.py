"""Clocks for the agent: wall time for stamps, monotonic time for scheduling, NTP sync state.

Everything that reads time takes one of these as a constructor argument so tests can
drive time instead of sleeping.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import time
from collections.abc import Callable

WallClock = Callable[[], float]
MonoClock = Callable[[], float]

SYNC_FLAG = "/run/systemd/timesync/synchronized"
_TIME_ERROR = 5  # adjtimex(2): the clock is not synchronised


def _adjtimex_state() -> int | None:
    """Return adjtimex(2)'s clock state (read-only call), or None when unavailable."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        buf = ctypes.create_string_buffer(512)  # struct timex, modes = 0: only read
        return int(libc.adjtimex(buf))
    except (OSError, AttributeError):
        return None


def system_clock_synced() -> bool:
    """True when the kernel or systemd-timesyncd says the wall clock is NTP-synchronised."""
    if os.path.exists(SYNC_FLAG):
        return True
    state = _adjtimex_state()
    if state is None:
        return False
    return 0 <= state != _TIME_ERROR


class SyncCheck:
    """Caches a clock-sync probe so the status and every batch can ask cheaply."""

    def __init__(
        self,
        *,
        probe: Callable[[], bool] = system_clock_synced,
        mono: MonoClock = time.monotonic,
        interval: float = 30.0,
    ) -> None:
        self._probe = probe
        self._mono = mono
        self._interval = interval
        self._value = False
        self._checked: float | None = None

    def __call__(self) -> bool:
        """Return the cached sync flag, probing again when it is older than the interval."""
        now = self._mono()
        if self._checked is None or now - self._checked >= self._interval:
            try:
                self._value = bool(self._probe())
            except Exception:
                self._value = False
            self._checked = now
        return self._value
