"""The live side's bookkeeping: which batches went live, and hub-made data waiting to be written.

Core without I/O. `SeenWindow` remembers the newest (agent, seq) keys that went live so a
batch arriving again (broker redelivery, an agent resending before its ack) goes live once.
`LocalWrites` coalesces data made on the hub (websocket `y`, scripts, Telegram) and events
into few writer jobs, bounded in memory.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque

from edge_agent.wire import Batch, Series

from .db.base import EventRecord


class SeenWindow:
    """The newest `size` keys, oldest forgotten first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._keys: OrderedDict[tuple[str, int], None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: tuple[str, int]) -> bool:
        return key in self._keys

    def add(self, key: tuple[str, int]) -> bool:
        """Remember `key`; False if it was already there."""
        if key in self._keys:
            return False
        self._keys[key] = None
        if len(self._keys) > self.size:
            self._keys.popitem(last=False)
        return True


def check_finite(what: str, values: list[float]) -> None:
    """Raise ValueError naming `what` if a value is NaN or infinite."""
    for v in values:
        if not math.isfinite(v):
            raise ValueError(f"{what}: {v!r} is not a finite number")


class LocalWrites:
    """Hub-made samples and events not handed to the writer yet; at most `max_items`.

    Beyond the bound new items are not kept for the store (they still went live) and are
    counted in `dropped`.
    """

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self._series: dict[tuple[str, str, str], tuple[list[float], list[float]]] = {}
        self._samples = 0
        self.events: deque[EventRecord] = deque()
        self.dropped = 0

    def __len__(self) -> int:
        return self._samples + len(self.events)

    def add_samples(
        self, device: str, name: str, unit: str, x: list[float], y: list[float]
    ) -> bool:
        """Keep samples for the writer; False (and counted) beyond the bound."""
        if len(self) + len(x) > self.max_items:
            self.dropped += len(x)
            return False
        xs, ys = self._series.setdefault((device, name, unit), ([], []))
        xs += x
        ys += y
        self._samples += len(x)
        return True

    def add_each(
        self, device: str, names: list[str], units: list[str], x: list[float], y: list[float]
    ) -> list[str]:
        """One sample per name (names all different); the `device.name` keys not kept."""
        if len(self) + len(names) > self.max_items:
            return [
                f"{device}.{n}"
                for n, u, xx, yy in zip(names, units, x, y, strict=True)
                if not self.add_samples(device, n, u, [xx], [yy])
            ]
        series = self._series
        for n, u, xx, yy in zip(names, units, x, y, strict=True):
            xs, ys = series.setdefault((device, n, u), ([], []))
            xs.append(xx)
            ys.append(yy)
        self._samples += len(names)
        return []

    def add_events(self, events: list[EventRecord]) -> None:
        room = max(0, self.max_items - len(self))
        self.events.extend(events[:room])
        self.dropped += len(events) - min(room, len(events))

    def take_batch(self, agent: str, seq: int) -> Batch | None:
        """The pending samples as one batch (and forget them), or None."""
        if not self._series:
            return None
        signals = [Series(d, n, u, x, y) for (d, n, u), (x, y) in self._series.items()]
        self._series, self._samples = {}, 0
        return Batch(agent=agent, seq=seq, signals=signals)

    def put_back(self, batch: Batch) -> None:
        """A batch the writer had no room for: keep it for the next try."""
        for s in batch.signals:
            self.add_samples(s.device, s.signal, s.unit, s.t, s.y)

    def take_events(self) -> list[EventRecord]:
        out = list(self.events)
        self.events.clear()
        return out
