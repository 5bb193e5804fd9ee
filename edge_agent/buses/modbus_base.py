"""What every Modbus bus owner shares: one lock, per-unit backoff, typed errors, counters."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from edge_agent.drivers.base import DriverError, DriverUnavailable

from .backoff import UnitBackoff

KINDS = ("holding", "input", "coil", "discrete")
T = TypeVar("T")


@dataclass
class BusStats:
    """Counters of one bus, reported in the agent's status."""

    requests: int = 0
    failures: int = 0
    timeouts: int = 0
    skipped: int = 0
    reconnects: int = 0


class ModbusBus(ABC):
    """A Modbus bus owner: requests run one at a time; a silent unit is skipped a while."""

    def __init__(
        self,
        *,
        name: str,
        clock: Callable[[], float] | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        self.name = name
        self.clock = clock or time.monotonic
        self.lock = threading.Lock()
        self.backoff = UnitBackoff(clock=self.clock, base=backoff_base, maximum=backoff_max)
        self.stats = BusStats()

    # -- public API used by drivers ------------------------------------------------------
    def read(self, unit: int, kind: str, address: int, count: int) -> list[int]:
        """Read `count` registers (holding|input) or bits (coil|discrete) from a unit."""
        if kind not in KINDS:
            raise DriverError(f"{self.name}: unknown register kind {kind!r}; use {KINDS}")
        what = f"read {kind} {address}+{count}"
        values = self._run(unit, what, lambda: self._read(unit, kind, address, count))
        if len(values) != count:
            raise DriverError(
                f"{self.name} unit {unit}: {what} returned {len(values)} values, wanted {count}"
            )
        return [int(v) for v in values]

    def write_registers(self, unit: int, address: int, values: list[int]) -> None:
        """Write holding registers (function 6 for one, 16 for several)."""
        what = f"write holding {address}={values}"
        self._run(unit, what, lambda: self._write_registers(unit, address, values))

    def write_coil(self, unit: int, address: int, value: bool) -> None:
        """Write one coil (function 5)."""
        what = f"write coil {address}={value}"
        self._run(unit, what, lambda: self._write_coil(unit, address, value))

    def diagnostics(self, unit: int) -> dict[str, float]:
        """Bus counters plus this unit's backoff state, for a driver's status."""
        return {
            "bus_requests": self.stats.requests,
            "bus_failures": self.stats.failures,
            "bus_timeouts": self.stats.timeouts,
            "bus_skipped": self.stats.skipped,
            "bus_reconnects": self.stats.reconnects,
            "unit_failures": self.backoff.failures(unit),
            "unit_backoff_s": round(self.backoff.remaining(unit), 3),
        }

    def close(self) -> None:
        """Close the connection; the next request opens it again."""
        with self.lock:
            self._close()

    # -- the one place where requests are serialised ------------------------------------
    def _run(self, unit: int, what: str, fn: Callable[[], T]) -> T:
        wait = self.backoff.remaining(unit)
        if wait > 0:
            self.stats.skipped += 1
            raise DriverUnavailable(
                f"{self.name} unit {unit}: not asked for {wait:.1f} s more after "
                f"{self.backoff.failures(unit)} unanswered request(s)"
            )
        with self.lock:
            self.stats.requests += 1
            try:
                result = fn()
            except DriverUnavailable as exc:
                self.stats.failures += 1
                self.stats.timeouts += 1
                self.backoff.failed(unit)
                raise DriverUnavailable(f"{self.name} unit {unit}: {what}: {exc}") from exc
            except DriverError as exc:
                self.stats.failures += 1
                raise DriverError(f"{self.name} unit {unit}: {what}: {exc}") from exc
        self.backoff.succeeded(unit)
        return result

    # -- transport, implemented by RTU and TCP ---------------------------------------------
    @abstractmethod
    def _read(self, unit: int, kind: str, address: int, count: int) -> list[Any]: ...

    @abstractmethod
    def _write_registers(self, unit: int, address: int, values: list[int]) -> None: ...

    @abstractmethod
    def _write_coil(self, unit: int, address: int, value: bool) -> None: ...

    @abstractmethod
    def _close(self) -> None: ...
