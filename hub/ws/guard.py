"""Who may connect and how fast anyone may guess: per-address slots and login backoff.

`Slots` caps connections per peer address, and when the server is full it makes room by
closing the oldest connection that never authorized, so a flood of idle connections
cannot lock a real user out. `Backoff` spaces out failed logins per user name and per
address: after a few failures each further attempt waits its turn (doubling, capped);
attempts that would wait longer than `max_wait` are refused without checking anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


class Slots:
    """Open connections per peer address."""

    def __init__(self, *, per_address: int) -> None:
        self.per_address = per_address
        self._open: dict[str, int] = {}

    def take(self, peer: str) -> bool:
        """Count a new connection from `peer`; False (not counted) when it has too many."""
        n = self._open.get(peer, 0)
        if n >= self.per_address:
            return False
        self._open[peer] = n + 1
        return True

    def give(self, peer: str) -> None:
        """A connection from `peer` ended."""
        n = self._open.get(peer, 0) - 1
        if n > 0:
            self._open[peer] = n
        else:
            self._open.pop(peer, None)

    def count(self, peer: str) -> int:
        """Connections now open from `peer`."""
        return self._open.get(peer, 0)


@dataclass
class _Record:
    failures: int = 0
    last_failure: float = 0.0
    next_slot: float = 0.0  # when the next attempt may be checked


class Backoff:
    """Failed logins per key ("user:NAME", "addr:IP"): the delay before the next attempt."""

    def __init__(
        self,
        *,
        free_failures: int = 3,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        max_wait: float = 60.0,
        forget_after: float = 900.0,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free_failures = free_failures
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_wait = max_wait
        self.forget_after = forget_after
        self.max_keys = max_keys
        self._clock = clock
        self._records: dict[str, _Record] = {}

    def delay(self, failures: int) -> float:
        """Seconds between attempts after `failures` failures in a row."""
        if failures < self.free_failures:
            return 0.0
        return min(self.max_delay, self.base_delay * 2 ** (failures - self.free_failures))

    def _get(self, key: str, now: float) -> _Record:
        rec = self._records.get(key)
        if rec is not None and rec.failures and now - rec.last_failure > self.forget_after:
            rec = None
            del self._records[key]
        if rec is None:
            if len(self._records) >= self.max_keys:  # bounded memory: forget the oldest
                for old in list(self._records)[: self.max_keys // 10 or 1]:
                    del self._records[old]
            rec = self._records[key] = _Record()
        return rec

    def reserve(self, keys: list[str]) -> float | None:
        """Seconds this attempt must wait before it is checked, or None: refuse it now."""
        now = self._clock()
        recs = [self._get(k, now) for k in keys]
        start = max([now, *(r.next_slot for r in recs)])
        if start - now > self.max_wait:
            return None
        for r in recs:
            r.next_slot = start + self.delay(r.failures)
        return start - now

    def failed(self, keys: list[str]) -> None:
        """An attempt failed: each key's next attempt waits longer."""
        now = self._clock()
        for k in keys:
            r = self._get(k, now)
            r.failures += 1
            r.last_failure = now
            r.next_slot = max(r.next_slot, now + self.delay(r.failures))

    def succeeded(self, keys: list[str]) -> None:
        """An attempt succeeded: its keys start afresh."""
        for k in keys:
            self._records.pop(k, None)

    def failures(self, key: str) -> int:
        """Failures counted for a key (0 when forgotten)."""
        rec = self._records.get(key)
        return rec.failures if rec is not None else 0
