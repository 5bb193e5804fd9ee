"""Log lines that an outsider can cause, rate-limited per key (an agent, a peer)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class LogLimiter:
    """At most `burst` lines per key every `per_s` seconds; then one line saying how many
    were left out. Keys are forgotten when their window is over (memory stays bounded by
    the number of keys active within one window, capped at `max_keys`)."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        burst: int = 5,
        per_s: float = 60.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.burst = burst
        self.per_s = per_s
        self.max_keys = max_keys
        self.clock = clock
        self.suppressed_total = 0
        self._windows: dict[str, list[float | int]] = {}  # key -> [start, lines, suppressed]

    def warning(self, key: str, msg: str, *args: object) -> None:
        self.log(logging.WARNING, key, msg, *args)

    def log(self, level: int, key: str, msg: str, *args: object) -> None:
        now = self.clock()
        win = self._windows.get(key)
        if win is None or now - win[0] >= self.per_s:
            if win is not None and win[2]:
                self.logger.log(
                    level, "%s: %d similar lines left out in %.0f s", key, win[2], self.per_s
                )
            if win is None and len(self._windows) >= self.max_keys:
                self._windows = {k: w for k, w in self._windows.items() if now - w[0] < self.per_s}
                if len(self._windows) >= self.max_keys:
                    self.suppressed_total += 1
                    return
            win = self._windows[key] = [now, 0, 0]
        if win[1] < self.burst:
            win[1] += 1
            self.logger.log(level, msg, *args)
        else:
            win[2] += 1
            self.suppressed_total += 1
