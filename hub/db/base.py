"""The store contract every backend (SQLite, PostgreSQL) fulfils.

Methods are synchronous and run in the writer thread (hub/db/writer.py) or, for reads,
in a worker thread; never on the event loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_agent.wire import Batch


class StoreError(RuntimeError):
    """The store cannot do what was asked (down, broken schema); the message says why."""


@dataclass(frozen=True)
class SignalRow:
    id: int
    device: str
    name: str
    unit: str
    agent: str | None
    first_seen: float

    @property
    def key(self) -> str:
        return f"{self.device}.{self.name}"


@dataclass(frozen=True)
class EventRecord:
    """An event as stored: time (epoch s), device, signal, text, priority 0..2, id, value."""

    time: float
    device: str
    signal: str
    text: str
    priority: int = 0
    event_id: str = ""
    value: Any = None


@dataclass(frozen=True)
class History:
    """A downsampled answer: x/y (for min/max buckets both extremes appear in time order)."""

    x: np.ndarray
    y: np.ndarray
    source: str  # "raw", "rollup_1m", "rollup_1h"


class Store(ABC):
    """A place samples, events, rejected messages and small documents live."""

    @abstractmethod
    def open(self) -> None:
        """Connect and apply migrations."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    @abstractmethod
    def write_batch(self, batch: Batch, received_at: float) -> bool:
        """Store the batch and its (agent, seq) ledger row in one transaction.

        Returns True when stored, False when the ledger already had it (a duplicate).
        """

    def write_batches(self, items: list[tuple[Batch, float]]) -> list[bool]:
        """Store several batches in one transaction (group commit); per batch False = duplicate.

        All or nothing: on StoreError none is stored. ValueError means some batch can never
        be stored (nothing is stored then); the writer retries one batch at a time.
        """
        if len(items) != 1:
            raise NotImplementedError(f"{type(self).__name__} stores one batch at a time")
        batch, received_at = items[0]
        return [self.write_batch(batch, received_at)]

    @abstractmethod
    def write_rejected(self, topic: str, payload: bytes, reason: str, received_at: float) -> None:
        """Keep a refused message raw, with the reason."""

    @abstractmethod
    def write_events(self, events: list[EventRecord]) -> None:
        """Append events."""

    @abstractmethod
    def events(
        self, *, since: float | None = None, until: float | None = None, limit: int = 1000
    ) -> list[EventRecord]:
        """Events in time order (newest `limit`)."""

    @abstractmethod
    def signals(self) -> list[SignalRow]:
        """All known signals."""

    @abstractmethod
    def history(
        self, device: str, name: str, xmin: float | None, xmax: float | None, max_n: int | None
    ) -> History:
        """Samples of one signal in [xmin, xmax], at most about max_n points keeping peaks."""

    @abstractmethod
    def sample_count(self) -> int:
        """How many samples are stored in all."""

    @abstractmethod
    def rejected_count(self) -> int:
        """How many refused messages are kept."""

    @abstractmethod
    def get_doc(self, key: str) -> Any | None:
        """A small JSON document (automation, users, settings) by key, or None."""

    @abstractmethod
    def put_doc(self, key: str, value: Any) -> None:
        """Replace a JSON document."""
