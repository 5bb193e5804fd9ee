"""The live signal store: per-signal numpy ring buffers of x and y (RTOC's recordLength).

Core without I/O: nothing here knows MQTT, databases or websockets. Listeners are called
synchronously on the event loop that owns the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

DEFAULT_RECORD_LENGTH = 500_000


class UnknownSignal(KeyError):
    """No signal of that name."""

    def __str__(self) -> str:
        return f"unknown signal {self.args[0]!r}"


class RingBuffer:
    """Fixed-capacity float64 ring of (x, y) pairs; appends whole arrays at once."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self._start = 0
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def append(self, x: np.ndarray, y: np.ndarray) -> None:
        """Append arrays of equal length; the oldest values fall out when full."""
        n = len(x)
        if n == 0:
            return
        if n == 1 and self.capacity > 1:  # one sample a frame is common: no slicing
            end = (self._start + self._len) % self.capacity
            self._x[end] = x[0]
            self._y[end] = y[0]
            if self._len == self.capacity:
                self._start = (self._start + 1) % self.capacity
            else:
                self._len += 1
            return
        if n >= self.capacity:
            self._x[:] = x[-self.capacity :]
            self._y[:] = y[-self.capacity :]
            self._start, self._len = 0, self.capacity
            return
        end = (self._start + self._len) % self.capacity
        first = min(n, self.capacity - end)
        self._x[end : end + first] = x[:first]
        self._y[end : end + first] = y[:first]
        if first < n:
            self._x[: n - first] = x[first:]
            self._y[: n - first] = y[first:]
        overflow = self._len + n - self.capacity
        if overflow > 0:
            self._start = (self._start + overflow) % self.capacity
            self._len = self.capacity
        else:
            self._len += n

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Copies of x and y in time order."""
        idx = (self._start + np.arange(self._len)) % self.capacity
        return self._x[idx], self._y[idx]

    def last(self) -> tuple[float, float] | None:
        if self._len == 0:
            return None
        i = (self._start + self._len - 1) % self.capacity
        return float(self._x[i]), float(self._y[i])

    def first_x(self) -> float | None:
        return None if self._len == 0 else float(self._x[self._start])

    def resize(self, capacity: int) -> None:
        """Change the capacity, keeping the newest values."""
        x, y = self.arrays()
        self.__init__(capacity)  # type: ignore[misc]
        self.append(x, y)

    def clear(self) -> None:
        self._start = 0
        self._len = 0


@dataclass
class Signal:
    """One live signal `Device.Signal` with its ring buffer and latest value."""

    id: int
    device: str
    name: str
    unit: str
    buffer: RingBuffer
    agent: str | None = None
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.device}.{self.name}"

    def latest(self) -> tuple[float, float] | None:
        return self.buffer.last()


SignalListener = Callable[[Signal], None]
DataListener = Callable[[Signal, np.ndarray, np.ndarray], None]


class SignalStore:
    """All live signals by `Device.Signal`, with listeners for new signals and new data."""

    def __init__(self, *, record_length: int = DEFAULT_RECORD_LENGTH) -> None:
        self.record_length = record_length
        self._signals: dict[str, Signal] = {}
        self._by_id: dict[int, Signal] = {}
        self._next_id = 1
        self.on_new_signal: list[SignalListener] = []
        self.on_data: list[DataListener] = []

    def __len__(self) -> int:
        return len(self._signals)

    def __iter__(self) -> Iterator[Signal]:
        return iter(list(self._signals.values()))

    def __contains__(self, key: str) -> bool:
        return key in self._signals

    def get(self, key: str) -> Signal:
        """The signal named `Device.Signal`; raises UnknownSignal."""
        try:
            return self._signals[key]
        except KeyError:
            raise UnknownSignal(key) from None

    def by_id(self, signal_id: int) -> Signal:
        try:
            return self._by_id[signal_id]
        except KeyError:
            raise UnknownSignal(signal_id) from None

    def find(self, device: str, name: str) -> Signal | None:
        return self._signals.get(f"{device}.{name}")

    def ensure(self, device: str, name: str, unit: str = "", agent: str | None = None) -> Signal:
        """Return the signal, creating it (and telling listeners) when it is new."""
        key = f"{device}.{name}"
        sig = self._signals.get(key)
        if sig is not None:
            if unit:
                sig.unit = unit
            return sig
        sig = Signal(
            id=self._next_id,
            device=device,
            name=name,
            unit=unit,
            buffer=RingBuffer(self.record_length),
            agent=agent,
        )
        self._next_id += 1
        self._signals[key] = sig
        self._by_id[sig.id] = sig
        for listener in list(self.on_new_signal):
            listener(sig)
        return sig

    def append(
        self,
        device: str,
        name: str,
        x: np.ndarray | list[float],
        y: np.ndarray | list[float],
        unit: str = "",
        agent: str | None = None,
    ) -> Signal:
        """Append samples (sorted by x by the caller) and tell data listeners."""
        xs = np.asarray(x, dtype=np.float64)
        ys = np.asarray(y, dtype=np.float64)
        if xs.shape != ys.shape or xs.ndim != 1:
            raise ValueError("x and y must be 1-d arrays of equal length")
        sig = self.ensure(device, name, unit, agent)
        sig.buffer.append(xs, ys)
        for listener in list(self.on_data):
            listener(sig, xs, ys)
        return sig

    def remove(self, key: str) -> bool:
        """Forget a signal; returns False when it did not exist."""
        sig = self._signals.pop(key, None)
        if sig is None:
            return False
        self._by_id.pop(sig.id, None)
        return True

    def clear(self) -> None:
        self._signals.clear()
        self._by_id.clear()

    def resize(self, record_length: int) -> None:
        """Change recordLength for every signal, keeping the newest values."""
        self.record_length = record_length
        for sig in self._signals.values():
            sig.buffer.resize(record_length)

    def keys(self) -> list[str]:
        return list(self._signals)
