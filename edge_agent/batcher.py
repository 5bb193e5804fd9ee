"""Collects samples into batches closed by size or age, grouped into one Series per signal.

Samples arrive from driver threads; a batch is handed to the sink (the spool) when it
holds `max_samples` samples or its oldest sample is `max_age` seconds old, and on
`flush()` at shutdown. The sink is called outside the buffer lock so drivers never wait
for the disk.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

from .clock import MonoClock
from .wire import Series

BatchSink = Callable[[list[Series]], None]
Sample = tuple[str, str, str, float, float]  # (device, signal, unit, t, y)


class Batcher:
    """Thread-safe size/age batcher; `poll()` closes batches that are old enough."""

    def __init__(
        self,
        *,
        sink: BatchSink,
        max_samples: int = 500,
        max_age: float = 0.2,
        mono: MonoClock = time.monotonic,
    ) -> None:
        if max_samples < 1:
            raise ValueError("max_samples must be at least 1")
        if max_age <= 0:
            raise ValueError("max_age must be greater than 0")
        self.max_samples = max_samples
        self.max_age = max_age
        self._sink = sink
        self._mono = mono
        self._lock = threading.Lock()
        self._sink_lock = threading.Lock()
        self._series: dict[tuple[str, str], Series] = {}
        self._count = 0
        self._opened_at: float | None = None
        self.batches = 0
        self.samples = 0

    @property
    def buffered(self) -> int:
        """Samples waiting in the open batch."""
        return self._count

    def add(self, samples: Iterable[Sample]) -> None:
        """Append samples; closes the batch when it reaches `max_samples`."""
        full: list[list[Series]] = []
        with self._lock:
            for device, signal, unit, t, y in samples:
                series = self._series.get((device, signal))
                if series is None:
                    series = Series(device=device, signal=signal, unit=unit)
                    self._series[(device, signal)] = series
                series.t.append(t)
                series.y.append(y)
                self._count += 1
                if self._opened_at is None:
                    self._opened_at = self._mono()
                if self._count >= self.max_samples:
                    full.append(self._take())
        for batch in full:
            self._deliver(batch)

    def due_in(self) -> float:
        """Seconds until the open batch is old enough to close (max_age when empty)."""
        with self._lock:
            if self._opened_at is None:
                return self.max_age
            return max(0.0, self._opened_at + self.max_age - self._mono())

    def poll(self) -> bool:
        """Close the open batch if its oldest sample is at least `max_age` old."""
        with self._lock:
            if self._opened_at is None or self._mono() - self._opened_at < self.max_age:
                return False
            batch = self._take()
        self._deliver(batch)
        return True

    def flush(self) -> bool:
        """Close the open batch now, whatever its age (shutdown)."""
        with self._lock:
            if not self._count:
                return False
            batch = self._take()
        self._deliver(batch)
        return True

    def _take(self) -> list[Series]:
        batch = list(self._series.values())
        self._series = {}
        self._count = 0
        self._opened_at = None
        return batch

    def _deliver(self, batch: list[Series]) -> None:
        with self._sink_lock:
            self._sink(batch)
            self.batches += 1
            self.samples += sum(len(s.t) for s in batch)
