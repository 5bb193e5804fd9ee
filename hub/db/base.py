"""The store contract every backend (SQLite, PostgreSQL) fulfils.

Methods are synchronous and run in the writer thread (hub/db/writer.py) or, for reads,
in a worker thread; never on the event loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_agent.wire import Batch, Event

# A refused payload is kept up to this many bytes (the reason says how long it was).
REJECTED_KEEP_BYTES = 64 * 1024


def kept_rejected(payload: bytes, reason: str) -> tuple[bytes, str]:
    """The part of a refused payload that is kept, and the reason saying if it was cut."""
    if len(payload) <= REJECTED_KEEP_BYTES:
        return payload, reason
    return (
        payload[:REJECTED_KEEP_BYTES],
        f"{reason} (first {REJECTED_KEEP_BYTES} of {len(payload)} bytes kept)",
    )


class SeqConflict(str):
    """What write_batches answers for a batch whose (agent, seq) the ledger already holds
    with other content: the reason. The batch is kept in rejected_messages in the same
    transaction; it is neither stored nor a duplicate."""


def seq_conflict(batch: Batch, stored_digest: bytes | None) -> SeqConflict | None:
    """A SeqConflict if the ledger's digest for the batch's seq differs from the batch's."""
    if batch.digest is None or stored_digest is None or bytes(stored_digest) == batch.digest:
        return None
    return SeqConflict(
        f"seq {batch.seq} of agent {batch.agent!r} was stored before with other content "
        f"(digest {bytes(stored_digest).hex()}, this one {batch.digest.hex()}): refused"
    )


class StoreError(RuntimeError):
    """The store cannot do what was asked (down, broken schema); the message says why."""


class UnstorableError(ValueError):
    """This data can never be stored (a constraint, a value out of range): retrying is useless."""


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


# An event as stored is the wire's event: one type from the edge to the store.
EventRecord = Event


@dataclass(frozen=True)
class History:
    """A downsampled answer: x/y (for min/max buckets both extremes appear in time order)."""

    x: np.ndarray
    y: np.ndarray
    source: str  # "raw", "rollup_1m", "rollup_1h"


class Store(ABC):
    """A place samples, events, rejected messages and small documents live."""

    # rejected_messages is pruned (oldest first) to about these bounds; set before open().
    rejected_max_rows = 10_000
    rejected_max_bytes = 64 * 1024 * 1024
    rejected_pruned = 0  # rows pruned so far
    _rejected_rows_since = 0
    _rejected_bytes_since = 0

    def _rejected_prune_due(self, nbytes: int) -> bool:
        """Count a kept refused message; True when the table should be pruned now (every
        1 % of either bound, so it never grows more than that beyond it)."""
        self._rejected_rows_since += 1
        self._rejected_bytes_since += nbytes
        if (
            self._rejected_rows_since >= max(1, self.rejected_max_rows // 100)
            or self._rejected_bytes_since >= self.rejected_max_bytes // 100
        ):
            self._rejected_rows_since = self._rejected_bytes_since = 0
            return True
        return False

    @abstractmethod
    def open(self) -> None:
        """Connect and apply migrations."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    @abstractmethod
    def write_batch(self, batch: Batch, received_at: float) -> bool | SeqConflict:
        """Store the batch and its (agent, seq) ledger row in one transaction.

        Returns True when stored, False when the ledger already had it with the same
        content (a duplicate), a SeqConflict when it had other content under that seq.
        """

    def write_batches(self, items: list[tuple[Batch, float]]) -> list[bool | SeqConflict]:
        """Store several batches in one transaction (group commit); per batch as write_batch.

        All or nothing: on StoreError none is stored. ValueError means some batch can never
        be stored (nothing is stored then); the writer retries one batch at a time.
        """
        if len(items) != 1:
            raise NotImplementedError(f"{type(self).__name__} stores one batch at a time")
        batch, received_at = items[0]
        return [self.write_batch(batch, received_at)]

    @abstractmethod
    def write_rejected(self, topic: str, payload: bytes, reason: str, received_at: float) -> None:
        """Keep a refused message raw (its first REJECTED_KEEP_BYTES), with the reason;
        prune the oldest beyond rejected_max_rows / rejected_max_bytes."""

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
    def recent(self, signal_id: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The newest `n` samples (x, y) of one signal, in time order (the hub's reload)."""

    @abstractmethod
    def sample_count(self) -> int:
        """How many samples are stored in all."""

    @abstractmethod
    def rejected_count(self) -> int:
        """How many refused messages are kept."""

    @abstractmethod
    def delete_signals(self, keys: list[tuple[str, str]]) -> int:
        """Delete signals (device, name) for good: their row, samples and rollups, in one
        transaction; names the store does not know are skipped. How many were deleted.

        The signal-id cache forgets them: a later sample of the same name makes a new signal.
        """

    @abstractmethod
    def delete_events(self, events: list[EventRecord] | None) -> int:
        """Delete every stored event (None) or these ones (matched on time to the
        microsecond, device, signal, text and event_id); how many rows went."""

    @abstractmethod
    def get_doc(self, key: str) -> Any | None:
        """A small JSON document (automation, users, settings) by key, or None."""

    @abstractmethod
    def put_doc(self, key: str, value: Any) -> None:
        """Replace a JSON document."""
