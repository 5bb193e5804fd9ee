"""The on-disk spool: batches wait here (SQLite, WAL) until the hub acknowledges them.

One transaction per batch, never per sample. Sequence numbers only grow, also across
restarts (kept in the file); a fresh file starts at the wall clock in milliseconds so a
spool lost with its tmpfs cannot reuse numbers the hub's ledger already holds. The spool
is bounded by payload bytes: beyond `max_bytes` the oldest batches are dropped and the
drop is counted (persistently). Thread-safe: one connection under a lock.

With `memory_age` > 0 (fewer SD-card writes) a new batch is held in memory and written to
the file only once it is that many seconds old and still not acknowledged (`flush_older`,
called by the agent's housekeeping, and `close`); a batch the hub acknowledges sooner
never touches the disk. Sequence numbers are then reserved in the file SEQ_RESERVE at a
time, so they still only grow after a crash. The trade: a crash or power cut loses the
batches still in memory (at most `memory_age` seconds of unacknowledged data).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from .wire import Batch, Event, Series

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY,
    created REAL NOT NULL,
    samples INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


# Sequence numbers reserved per write of `next_seq` while batches may be held in memory.
SEQ_RESERVE = 1000


class _Held(NamedTuple):
    """A batch held in memory: when it was made (wall clock), payload and sample count."""

    created: float
    payload: bytes
    samples: int


class SpoolError(RuntimeError):
    """The spool file cannot be opened or written; the message names the file."""


@dataclass(frozen=True)
class SpooledBatch:
    """A stored batch: its sequence number, the encoded payload and its sample count."""

    seq: int
    payload: bytes
    samples: int


@dataclass(frozen=True)
class SpoolStats:
    """What the spool holds and what it had to drop."""

    batches: int
    bytes: int
    samples: int
    dropped_batches: int
    dropped_samples: int
    next_seq: int


class Spool:
    """SQLite-backed FIFO of encoded batches, bounded by bytes, deleted on ack."""

    def __init__(
        self,
        *,
        path: str | Path,
        agent: str,
        max_bytes: int = 50_000_000,
        memory_age: float = 0.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        if memory_age < 0:
            raise ValueError("memory_age must be 0 or more")
        self.path = Path(path)
        self.agent = agent
        self.max_bytes = max_bytes
        self.memory_age = memory_age
        self._wall = wall
        # Held batches are newer than every batch in the file; in seq order.
        self._held: dict[int, _Held] = {}
        self._reserved = 0  # next_seq as stored in the file
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._bytes = 0
        self._count = 0
        self._samples = 0
        self._next_seq = 1
        self._dropped_batches = 0
        self._dropped_samples = 0

    def open(self) -> Spool:
        """Open (or create) the file and load counters; returns self."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            row = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(LENGTH(payload)), 0), COALESCE(SUM(samples), 0),"
                " COALESCE(MAX(seq), 0) FROM batches"
            ).fetchone()
        except sqlite3.Error as exc:
            raise SpoolError(f"{self.path}: cannot open spool: {exc}") from exc
        self._db = db
        self._count, self._bytes, self._samples, max_seq = row
        if "next_seq" in meta:
            self._next_seq = max(int(meta["next_seq"]), max_seq + 1)
        else:
            self._next_seq = max(int(self._wall() * 1000), max_seq + 1, 1)
            self._put_meta({"next_seq": self._next_seq})
        self._reserved = self._next_seq
        self._dropped_batches = int(meta.get("dropped_batches", 0))
        self._dropped_samples = int(meta.get("dropped_samples", 0))
        return self

    def close(self) -> None:
        """Write the batches held in memory, close the file (a WAL checkpoint happens)."""
        if self._db is not None:
            self.flush_older(None)
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> Spool:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise SpoolError(f"{self.path}: spool is not open")
        return self._db

    def _put_meta(self, values: dict[str, int]) -> None:
        self.db.executemany(
            "INSERT INTO meta(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            list(values.items()),
        )

    def append(
        self,
        signals: list[Series],
        *,
        clock_synced: bool = True,
        events: Sequence[Event] = (),
    ) -> int:
        """Store one batch (one commit, or held in memory), drop the oldest beyond the
        bound; return its seq."""
        samples = sum(len(s.t) for s in signals)
        with self._lock:
            seq = self._next_seq
            payload = Batch(
                agent=self.agent,
                seq=seq,
                signals=signals,
                clock_synced=clock_synced,
                events=list(events),
            ).encode()
            count, size, total = self._count + 1, self._bytes + len(payload), self._samples
            total += samples
            hold = self.memory_age > 0
            held = dict(self._held)  # drops of held batches count once committed
            if hold:
                held[seq] = _Held(self._wall(), payload, samples)
                if seq < self._reserved and size <= self.max_bytes:  # no disk write at all
                    self._held, self._next_seq = held, seq + 1
                    self._count, self._bytes, self._samples = count, size, total
                    return seq
            db = self.db
            try:
                db.execute("BEGIN IMMEDIATE")
                if not hold:
                    db.execute(
                        "INSERT INTO batches(seq, created, samples, payload) VALUES(?, ?, ?, ?)",
                        (seq, self._wall(), samples, payload),
                    )
                dropped_b, dropped_s = self._dropped_batches, self._dropped_samples
                while size > self.max_bytes and count > 0:
                    row = db.execute(
                        "SELECT seq, LENGTH(payload), samples FROM batches ORDER BY seq LIMIT 1"
                    ).fetchone()
                    if row is not None:
                        old_len, old_samples = row[1], row[2]
                        db.execute("DELETE FROM batches WHERE seq = ?", (row[0],))
                    else:  # the file is empty: the oldest held batch goes
                        old = held.pop(next(iter(held)))
                        old_len, old_samples = len(old.payload), old.samples
                    count, size, total = count - 1, size - old_len, total - old_samples
                    dropped_b, dropped_s = dropped_b + 1, dropped_s + old_samples
                reserved = max(self._reserved, seq + (SEQ_RESERVE if hold else 1))
                meta = {"next_seq": reserved} if reserved != self._reserved else {}
                if dropped_b != self._dropped_batches:
                    meta |= {"dropped_batches": dropped_b, "dropped_samples": dropped_s}
                self._put_meta(meta)
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise SpoolError(f"{self.path}: cannot store batch {seq}: {exc}") from exc
            self._next_seq, self._reserved, self._held = seq + 1, reserved, held
            self._count, self._bytes, self._samples = count, size, total
            self._dropped_batches, self._dropped_samples = dropped_b, dropped_s
            return seq

    def pending(self, *, after: int = 0, limit: int | None = None) -> Iterator[SpooledBatch]:
        """Stored batches with seq > `after`, in seq order (at most `limit`)."""
        with self._lock:
            rows = self.db.execute(
                "SELECT seq, payload, samples FROM batches WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, -1 if limit is None else limit),
            ).fetchall()
            rows += [(q, h.payload, h.samples) for q, h in self._held.items() if q > after]
        for seq, payload, samples in rows[:limit]:
            yield SpooledBatch(seq=seq, payload=bytes(payload), samples=samples)

    def get(self, seqs: Iterable[int]) -> list[SpooledBatch]:
        """The stored batches among `seqs` (dropped or acked ones are missing), in seq order."""
        wanted = sorted({int(s) for s in seqs})
        out: list[SpooledBatch] = []
        with self._lock:
            for i in range(0, len(wanted), 500):
                chunk = wanted[i : i + 500]
                marks = ",".join("?" * len(chunk))
                rows = self.db.execute(
                    f"SELECT seq, payload, samples FROM batches WHERE seq IN ({marks})", chunk
                ).fetchall()
                out.extend(SpooledBatch(seq=s, payload=bytes(p), samples=n) for s, p, n in rows)
            for seq in wanted:
                held = self._held.get(seq)
                if held is not None:
                    out.append(SpooledBatch(seq=seq, payload=held.payload, samples=held.samples))
        return sorted(out, key=lambda b: b.seq)

    def ack(self, seqs: Iterable[int]) -> int:
        """Delete acknowledged batches (unknown seqs are ignored); return how many left.
        Batches held in memory are forgotten without touching the file."""
        wanted = sorted({int(s) for s in seqs})
        removed = size_gone = samples_gone = 0
        with self._lock:
            for seq in [q for q in wanted if q in self._held]:
                held = self._held.pop(seq)
                removed, size_gone = removed + 1, size_gone + len(held.payload)
                samples_gone += held.samples
                wanted.remove(seq)
            if not wanted:
                self._count -= removed
                self._bytes -= size_gone
                self._samples -= samples_gone
                return removed
            db = self.db
            try:
                db.execute("BEGIN IMMEDIATE")
                for i in range(0, len(wanted), 500):
                    chunk = wanted[i : i + 500]
                    marks = ",".join("?" * len(chunk))
                    rows = db.execute(
                        f"DELETE FROM batches WHERE seq IN ({marks}) "
                        "RETURNING LENGTH(payload), samples",
                        chunk,
                    ).fetchall()
                    removed += len(rows)
                    size_gone += sum(r[0] for r in rows)
                    samples_gone += sum(r[1] for r in rows)
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise SpoolError(f"{self.path}: cannot delete acked batches: {exc}") from exc
            self._count -= removed
            self._bytes -= size_gone
            self._samples -= samples_gone
        return removed

    def flush_older(self, now: float | None = None) -> int:
        """Write the held batches made at or before `now - memory_age` (all of them when
        `now` is None) to the file in one transaction; return how many were written."""
        with self._lock:
            cut = None if now is None else now - self.memory_age
            due = [(q, h) for q, h in self._held.items() if cut is None or h.created <= cut]
            if not due:
                return 0
            db = self.db
            try:
                db.execute("BEGIN IMMEDIATE")
                db.executemany(
                    "INSERT INTO batches(seq, created, samples, payload) VALUES(?, ?, ?, ?)",
                    [(q, h.created, h.samples, h.payload) for q, h in due],
                )
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise SpoolError(f"{self.path}: cannot write held batches: {exc}") from exc
            for q, _ in due:
                del self._held[q]
            return len(due)

    def stats(self) -> SpoolStats:
        """Current counters (cheap: kept in memory, mirrored in the file)."""
        with self._lock:
            return SpoolStats(
                batches=self._count,
                bytes=self._bytes,
                samples=self._samples,
                dropped_batches=self._dropped_batches,
                dropped_samples=self._dropped_samples,
                next_seq=self._next_seq,
            )
