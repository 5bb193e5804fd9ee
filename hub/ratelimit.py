"""Token buckets: `rate` tokens a second sustained, at most `burst` at once; clock injected.

`TokenBucket` is one allowance (a websocket client's requests, its points of signal data);
`KeyedBuckets` is one allowance per key (an MQTT agent's messages) whose full buckets are
forgotten, so memory follows the keys that are busy right now.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

Clock = Callable[[], float]


def _check(rate: float, burst: float) -> None:
    if not (math.isfinite(rate) and rate >= 0):
        raise ValueError(f"a rate limit's rate must be a finite number >= 0, not {rate!r}")
    if not (math.isfinite(burst) and burst > 0):
        raise ValueError(f"a rate limit's burst must be a finite number > 0, not {burst!r}")


class TokenBucket:
    """Starts full; `take(n)` spends n tokens if there are that many, `spend(n)` even past
    zero (a debt that later takes wait for)."""

    __slots__ = ("_clock", "_last", "burst", "rate", "tokens")

    def __init__(self, *, rate: float, burst: float, clock: Clock = time.monotonic) -> None:
        _check(rate, burst)
        self.rate = float(rate)
        self.burst = float(burst)
        self.tokens = self.burst
        self._clock = clock
        self._last = clock()

    @classmethod
    def seconds_worth(
        cls, rate: float, seconds: float = 1.0, clock: Clock = time.monotonic
    ) -> TokenBucket:
        """A bucket that holds `seconds` worth of its rate at once (at least one token)."""
        return cls(rate=rate, burst=max(1.0, rate * seconds), clock=clock)

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self._last) * self.rate)
        self._last = now

    def _take(self, now: float, n: float) -> bool:
        self._refill(now)
        if self.tokens >= n:
            self.tokens -= n
            return True
        return False

    def take(self, n: float = 1.0) -> bool:
        """Spend n tokens; False (nothing spent) when there are fewer."""
        return self._take(self._clock(), n)

    def spend(self, n: float) -> None:
        """Spend n tokens even past zero (a negative n gives tokens back)."""
        self._refill(self._clock())
        self.tokens -= n

    def wait_time(self, n: float = 1.0) -> float:
        """Seconds until `take(n)` can succeed: 0 now, inf never (n > burst, or rate 0)."""
        missing = n - min(self.burst, self.tokens + (self._clock() - self._last) * self.rate)
        if missing <= 0:
            return 0.0
        if n > self.burst or self.rate == 0:
            return math.inf
        return missing / self.rate

    def full_at(self, now: float) -> bool:
        """True when the bucket has refilled to `burst` by `now` (nothing to remember)."""
        return self.tokens + (now - self._last) * self.rate >= self.burst


class KeyedBuckets:
    """One `TokenBucket` per key, made full on a key's first take; past `max_keys` keys the
    full buckets are forgotten."""

    def __init__(
        self, *, rate: float, burst: float, max_keys: int = 10_000, clock: Clock = time.monotonic
    ) -> None:
        _check(rate, burst)
        self.rate, self.burst = float(rate), float(burst)
        self.max_keys, self.clock = max_keys, clock
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, key: str, n: float = 1.0) -> bool:
        """Spend n of `key`'s tokens; False (nothing spent) when it has fewer."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(
                rate=self.rate, burst=self.burst, clock=self.clock
            )
        if not bucket._take(now, n):
            return False
        if len(self._buckets) > self.max_keys:
            self._buckets = {k: b for k, b in self._buckets.items() if not b.full_at(now)}
        return True

    def __len__(self) -> int:
        """Keys remembered now."""
        return len(self._buckets)
