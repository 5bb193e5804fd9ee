"""The embedded store: one SQLite file in WAL mode, mirroring the PostgreSQL schema.

One connection per thread that uses it (the writer thread writes; readers open their own).
Writes go per batch with executemany in one transaction with the ledger row.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.wire import Batch

from .base import (
    EventRecord,
    History,
    SeqConflict,
    SignalRow,
    Store,
    StoreError,
    UnstorableError,
    kept_rejected,
    seq_conflict,
)

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS signals (
    id INTEGER PRIMARY KEY,
    device TEXT NOT NULL,
    name TEXT NOT NULL,
    unit TEXT NOT NULL DEFAULT '',
    agent TEXT,
    first_seen REAL NOT NULL,
    UNIQUE (device, name)
);
CREATE TABLE IF NOT EXISTS samples (
    time REAL NOT NULL,
    signal_id INTEGER NOT NULL,
    value REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS samples_signal_time ON samples (signal_id, time);
CREATE TABLE IF NOT EXISTS ingest_batches (
    agent TEXT NOT NULL,
    seq INTEGER NOT NULL,
    received_at REAL NOT NULL,
    samples INTEGER NOT NULL,
    digest BLOB,
    PRIMARY KEY (agent, seq)
);
CREATE TABLE IF NOT EXISTS events (
    time REAL NOT NULL,
    device TEXT NOT NULL,
    signal TEXT NOT NULL,
    text TEXT NOT NULL,
    priority INTEGER NOT NULL,
    event_id TEXT NOT NULL,
    value TEXT
);
CREATE INDEX IF NOT EXISTS events_time ON events (time);
CREATE TABLE IF NOT EXISTS rejected_messages (
    id INTEGER PRIMARY KEY,
    received_at REAL NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""


def create_private(path: Path) -> None:
    """Make the store's directory (0700) and an empty file (0600) when they do not exist.

    SQLite gives its -wal and -shm files the database file's mode, so they are private too.
    An existing directory or file keeps the mode its owner gave it.
    """
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(f"cannot create SQLite store {path}: {exc}") from exc
    os.close(fd)


class SQLiteStore(Store):
    """Store in one SQLite file; safe to use from several threads (a connection each).

    With `retention_s`, the writer thread drops raw samples older than that (and their
    ledger rows) after a commit, at most every `prune_every_s` and `prune_rows` rows per
    signal at a time, so a large backlog is worked off in slices between batches.
    """

    def __init__(
        self,
        *,
        path: str | Path,
        retention_s: float | None = None,
        clock: Callable[[], float] = time.time,
        prune_every_s: float = 60.0,
        prune_rows: int = 50_000,
    ) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._signal_ids: dict[tuple[str, str], int] = {}
        self._ids_lock = threading.Lock()
        self.retention_s = retention_s
        self._clock = clock
        self._prune_every_s = prune_every_s
        self._prune_rows = prune_rows
        self._next_prune = 0.0
        self.pruned = 0  # samples dropped by the retention so far

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open SQLite store {self.path}: {exc}") from exc
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def open(self) -> None:
        """Create the file and schema if missing (directory 0700, file 0600: hashes inside)."""
        create_private(self.path)
        try:
            conn = self._conn()
            conn.executescript(SCHEMA)
            columns = {r[1] for r in conn.execute("PRAGMA table_info(ingest_batches)")}
            if "digest" not in columns:  # a store made before the ledger kept digests
                conn.execute("ALTER TABLE ingest_batches ADD COLUMN digest BLOB")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a usable SQLite store: {exc}") from exc
        with self._ids_lock:
            for sid, device, name in self._conn().execute("SELECT id, device, name FROM signals"):
                self._signal_ids[(device, name)] = sid

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _signal_id(
        self, conn: sqlite3.Connection, device: str, name: str, unit: str, agent: str
    ) -> int:
        sid = self._signal_ids.get((device, name))
        if sid is not None:
            return sid
        conn.execute(
            "INSERT OR IGNORE INTO signals (device, name, unit, agent, first_seen) "
            "VALUES (?, ?, ?, ?, ?)",
            (device, name, unit, agent, time.time()),
        )
        sid = conn.execute(
            "SELECT id FROM signals WHERE device = ? AND name = ?", (device, name)
        ).fetchone()[0]
        return int(sid)

    def write_batch(self, batch: Batch, received_at: float) -> bool | SeqConflict:
        """Store samples and the ledger row in one transaction; False for a duplicate."""
        return self.write_batches([(batch, received_at)])[0]

    @contextmanager
    def _tx(self, what: str, begin: str = "BEGIN IMMEDIATE") -> Iterator[sqlite3.Connection]:
        """One write transaction, always committed or rolled back.

        Data the file can never hold (a constraint, an overflowing integer) leaves as
        UnstorableError; anything else SQLite says (read-only file, disk full, locked) as
        StoreError, and the connection is reopened next time.
        """
        conn = self._conn()
        try:
            conn.execute(begin)
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            except sqlite3.Error:
                self.close()
            if isinstance(exc, sqlite3.IntegrityError | sqlite3.DataError | OverflowError):
                raise UnstorableError(f"SQLite refused the {what}: {exc}") from exc
            if isinstance(exc, sqlite3.Error):
                self.close()  # a file made writable again is opened afresh
                raise StoreError(f"SQLite write failed: {exc}") from exc
            raise

    def write_batches(self, items: list[tuple[Batch, float]]) -> list[bool | SeqConflict]:
        """Store several batches in one transaction; per batch False = already stored,
        a SeqConflict = that seq was stored with other content (kept as refused)."""
        new_ids: dict[tuple[str, str], int] = {}
        stored: list[bool | SeqConflict] = []
        with self._tx("batch") as conn:
            for batch, received_at in items:
                cur = conn.execute(
                    "INSERT OR IGNORE INTO ingest_batches (agent, seq, received_at, samples, "
                    "digest) VALUES (?, ?, ?, ?, ?)",
                    (batch.agent, batch.seq, received_at, batch.sample_count, batch.digest),
                )
                if cur.rowcount == 0:  # the ledger has it: a replay, or other content
                    (digest,) = conn.execute(
                        "SELECT digest FROM ingest_batches WHERE agent = ? AND seq = ?",
                        (batch.agent, batch.seq),
                    ).fetchone()
                    conflict = seq_conflict(batch, digest)
                    if conflict is not None:
                        self._insert_rejected(
                            conn,
                            f"(batch {batch.agent}/{batch.seq})",
                            batch.encode(),
                            conflict,
                            received_at,
                        )
                    stored.append(conflict or False)
                    continue
                for s in batch.signals:
                    sid = self._signal_id(conn, s.device, s.signal, s.unit, batch.agent)
                    new_ids[(s.device, s.signal)] = sid
                    conn.executemany(
                        "INSERT INTO samples (time, signal_id, value) VALUES (?, ?, ?)",
                        zip(s.t, [sid] * len(s.t), s.y, strict=True),
                    )
                if batch.events:  # an edge event is stored with its batch: exactly once
                    self._insert_events(conn, batch.events)
                stored.append(True)
        with self._ids_lock:
            self._signal_ids.update(new_ids)
        if self.retention_s is not None and self._clock() >= self._next_prune:
            try:
                self.prune()
            except StoreError as exc:  # the batches are committed: report, try again later
                log.warning("%s", exc)
                self._next_prune = self._clock() + self._prune_every_s
        return stored

    def prune(self) -> int:
        """Drop samples (and ledger rows) older than the retention, up to `prune_rows` per
        signal; return how many samples went. Runs in the writer thread, between batches."""
        if self.retention_s is None:
            return 0
        now = self._clock()
        cutoff = now - self.retention_s
        conn = self._conn()
        dropped, more = 0, False
        try:
            for (sid,) in conn.execute("SELECT id FROM signals").fetchall():
                cur = conn.execute(
                    "DELETE FROM samples WHERE rowid IN (SELECT rowid FROM samples "
                    "WHERE signal_id = ? AND time < ? LIMIT ?)",
                    (sid, cutoff, self._prune_rows),
                )
                dropped += cur.rowcount
                more = more or cur.rowcount == self._prune_rows
            conn.execute("DELETE FROM ingest_batches WHERE received_at < ?", (cutoff,))
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite retention failed: {exc}") from exc
        self.pruned += dropped
        # A backlog (a retention newly set on a big file) goes on after the next batch.
        self._next_prune = now if more else now + self._prune_every_s
        return dropped

    def write_rejected(self, topic: str, payload: bytes, reason: str, received_at: float) -> None:
        with self._tx("rejected message") as conn:
            self._insert_rejected(conn, topic, payload, reason, received_at)

    def _insert_rejected(
        self, conn: sqlite3.Connection, topic: str, payload: bytes, reason: str, at: float
    ) -> None:
        payload, reason = kept_rejected(payload, reason)
        conn.execute(
            "INSERT INTO rejected_messages (received_at, topic, payload, reason) VALUES (?,?,?,?)",
            (at, topic, payload, reason),
        )
        if self._rejected_prune_due(len(payload)):
            self.rejected_pruned += self._prune_rejected(conn)

    def _prune_rejected(self, conn: sqlite3.Connection) -> int:
        """Delete the oldest refused messages beyond the row and byte bounds."""
        row = conn.execute(
            "SELECT max(id) FROM (SELECT id, count(*) OVER w AS n, sum(length(payload) + "
            "length(reason)) OVER w AS size FROM rejected_messages WINDOW w AS (ORDER BY id "
            "DESC)) WHERE n > ? OR size > ?",
            (self.rejected_max_rows, self.rejected_max_bytes),
        ).fetchone()
        if row[0] is None:
            return 0
        return conn.execute("DELETE FROM rejected_messages WHERE id <= ?", (row[0],)).rowcount

    def delete_signals(self, keys: list[tuple[str, str]]) -> int:
        """Delete signals with their samples in one transaction; the id cache forgets them."""
        deleted = 0
        with self._tx("signal deletion") as conn:
            for device, name in keys:
                row = conn.execute(
                    "SELECT id FROM signals WHERE device = ? AND name = ?", (device, name)
                ).fetchone()
                if row is None:
                    continue
                conn.execute("DELETE FROM samples WHERE signal_id = ?", (row[0],))
                conn.execute("DELETE FROM signals WHERE id = ?", (row[0],))
                deleted += 1
        with self._ids_lock:
            for key in keys:
                self._signal_ids.pop(key, None)
        return deleted

    def delete_events(self, events: list[EventRecord] | None) -> int:
        """Delete all events (None) or those matching these (time to the µs and the rest)."""
        with self._tx("event deletion") as conn:
            if events is None:
                return int(conn.execute("DELETE FROM events").rowcount)
            deleted = 0
            for e in events:
                deleted += conn.execute(
                    "DELETE FROM events WHERE time >= ? AND time <= ? AND device = ? "
                    "AND signal = ? AND text = ? AND event_id = ?",
                    (e.time - 1e-6, e.time + 1e-6, e.device, e.signal, e.text, e.event_id),
                ).rowcount
            return deleted

    def write_events(self, events: list[EventRecord]) -> None:
        with self._tx("events") as conn:
            self._insert_events(conn, events)

    @staticmethod
    def _insert_events(conn: sqlite3.Connection, events: list[EventRecord]) -> None:
        conn.executemany(
            "INSERT INTO events (time, device, signal, text, priority, event_id, value) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (e.time, e.device, e.signal, e.text, e.priority, e.event_id, json.dumps(e.value))
                for e in events
            ],
        )

    def events(
        self, *, since: float | None = None, until: float | None = None, limit: int = 1000
    ) -> list[EventRecord]:
        rows = (
            self._conn()
            .execute(
                "SELECT time, device, signal, text, priority, event_id, value FROM events "
                "WHERE time >= ? AND time <= ? ORDER BY time DESC LIMIT ?",
                (
                    since if since is not None else -1e300,
                    until if until is not None else 1e300,
                    limit,
                ),
            )
            .fetchall()
        )
        return [
            EventRecord(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]) if r[6] else None)
            for r in reversed(rows)
        ]

    def signals(self) -> list[SignalRow]:
        rows = self._conn().execute(
            "SELECT id, device, name, unit, agent, first_seen FROM signals ORDER BY id"
        )
        return [SignalRow(*r) for r in rows]

    def history(
        self, device: str, name: str, xmin: float | None, xmax: float | None, max_n: int | None
    ) -> History:
        conn = self._conn()
        row = conn.execute(
            "SELECT id FROM signals WHERE device = ? AND name = ?", (device, name)
        ).fetchone()
        if row is None:
            return History(np.empty(0), np.empty(0), "raw")
        sid = row[0]
        lo = xmin if xmin is not None else -1e300
        hi = xmax if xmax is not None else 1e300
        count, tmin, tmax = conn.execute(
            "SELECT count(*), min(time), max(time) FROM samples "
            "WHERE signal_id = ? AND time >= ? AND time <= ?",
            (sid, lo, hi),
        ).fetchone()
        if not max_n or count <= max_n:
            rows = conn.execute(
                "SELECT time, value FROM samples WHERE signal_id = ? AND time >= ? AND time <= ? "
                "ORDER BY time",
                (sid, lo, hi),
            ).fetchall()
            arr = np.asarray(rows, dtype=np.float64).reshape(-1, 2)
            return History(arr[:, 0], arr[:, 1], "raw")
        buckets = max(1, max_n // 2)
        width = (tmax - tmin) / buckets or 1.0
        # SQLite returns the row of the min()/max() for bare columns: a peak keeps its time.
        points: list[tuple[float, float]] = []
        for agg in ("min", "max"):
            points += conn.execute(
                f"SELECT time, {agg}(value) FROM samples "
                "WHERE signal_id = ? AND time >= ? AND time <= ? "
                "GROUP BY min(CAST((time - ?) / ? AS INTEGER), ?)",
                (sid, lo, hi, tmin, width, buckets - 1),
            ).fetchall()
        arr = np.asarray(sorted(set(points)), dtype=np.float64).reshape(-1, 2)
        return History(arr[:, 0], arr[:, 1], "raw")

    def recent(self, signal_id: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        rows = (
            self._conn()
            .execute(
                "SELECT time, value FROM samples WHERE signal_id = ? ORDER BY time DESC LIMIT ?",
                (signal_id, n),
            )
            .fetchall()
        )
        arr = np.asarray(rows[::-1], dtype=np.float64).reshape(-1, 2)
        return arr[:, 0], arr[:, 1]

    def sample_count(self) -> int:
        return int(self._conn().execute("SELECT count(*) FROM samples").fetchone()[0])

    def rejected_count(self) -> int:
        return int(self._conn().execute("SELECT count(*) FROM rejected_messages").fetchone()[0])

    def rejected(self, limit: int = 100) -> list[tuple[float, str, bytes, str]]:
        """The newest refused messages: (received_at, topic, payload, reason)."""
        return (
            self._conn()
            .execute(
                "SELECT received_at, topic, payload, reason FROM rejected_messages "
                "ORDER BY id DESC LIMIT ?",
                (limit,),
            )
            .fetchall()
        )

    def get_doc(self, key: str) -> Any | None:
        row = self._conn().execute("SELECT value FROM documents WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put_doc(self, key: str, value: Any) -> None:
        with self._tx("document") as conn:
            conn.execute(
                "INSERT INTO documents (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                (key, json.dumps(value), time.time()),
            )
