"""A clock the test drives: drivers and bus owners take it instead of time.monotonic."""

from __future__ import annotations


class FakeClock:
    """Monotonic seconds that move only when the test says so (or a fake sleep runs)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        """A sleep that only moves this clock (and records the request)."""
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
