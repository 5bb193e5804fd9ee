"""Per-unit backoff: a unit that stopped answering is skipped for a growing while."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _UnitState:
    failures: int = 0
    until: float = 0.0


class UnitBackoff:
    """Remembers failing units and says how long each must wait before the next try."""

    def __init__(
        self, *, clock: Callable[[], float], base: float = 0.5, maximum: float = 30.0
    ) -> None:
        self.clock = clock
        self.base = base
        self.maximum = maximum
        self._units: dict[int, _UnitState] = {}

    def remaining(self, unit: int) -> float:
        """Seconds unit must still wait (0 when it may be asked now)."""
        state = self._units.get(unit)
        if state is None:
            return 0.0
        return max(0.0, state.until - self.clock())

    def failures(self, unit: int) -> int:
        """Consecutive failed requests of the unit."""
        state = self._units.get(unit)
        return state.failures if state else 0

    def failed(self, unit: int) -> float:
        """Record a failed request (no answer); returns the new wait in seconds."""
        state = self._units.setdefault(unit, _UnitState())
        state.failures += 1
        wait = min(self.maximum, self.base * 2 ** (state.failures - 1))
        state.until = self.clock() + wait
        return wait

    def succeeded(self, unit: int) -> None:
        """Record an answer: the unit is asked normally again."""
        self._units.pop(unit, None)
