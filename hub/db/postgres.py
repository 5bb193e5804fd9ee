"""The PostgreSQL store (plain PostgreSQL or TimescaleDB): COPY writes with an exactly-once ledger.

`write_batch` inserts the (agent, seq) ledger row and the samples (binary COPY) in one
transaction; a batch already in the ledger is a duplicate (False, nothing stored). When the
server is unreachable every call raises StoreError (the writer retries, nothing is acked)
and the next call reconnects by itself. psycopg2 is imported lazily.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from edge_agent.wire import Batch
from hub.db import pghistory, rollups
from hub.db.base import (
    EventRecord,
    History,
    SeqConflict,
    SignalRow,
    Store,
    kept_rejected,
    seq_conflict,
)
from hub.db.migrate import apply_policies, migrate
from hub.db.pgconn import ConnectionLost, PgConnections
from hub.db.pgcopy import (
    PreparedBatch,
    encode_samples,
    insert_ledger,
    insert_rows,
    insert_signal,
    ledger_digests,
)

T = TypeVar("T")
DAY_S = 86_400.0
_CAGG_WINDOW_S = 3 * DAY_S  # start_offset of rollup_1h's refresh policy (sql/003_rollups.sql)
_TS = "(timestamptz 'epoch' + %s * interval '1 microsecond')"
_EPOCH = "extract(epoch FROM {})::float8"
# Partitions made on the fly for one batch; rows of more distinct days go to the default one.
_MAX_NEW_PARTITIONS = 8


class PostgresStore(Store):
    """Samples, events, documents in PostgreSQL; TimescaleDB features where the extension is."""

    def __init__(
        self,
        *,
        dsn: str,
        write_method: str = "copy",
        single_connection: bool = False,
        timescaledb: bool = True,
        compress_after_s: float | None = 7 * DAY_S,
        retention_s: float | None = None,
        max_spool_age_s: float = 2 * DAY_S,
        partition_s: float = DAY_S,
        partitions_ahead: int = 2,
        ledger_keep_s: float | None = None,
        insert_rows: int = 250,
        connect_timeout: int = 5,
        manage_policies: bool = True,
        maintain_every_s: float | None = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if write_method not in ("copy", "insert"):
            raise ValueError(f"write_method must be 'copy' or 'insert', got {write_method!r}")
        if compress_after_s is not None and compress_after_s <= max_spool_age_s:
            raise ValueError(
                f"compress_after ({compress_after_s:.0f} s) must be longer than the longest "
                f"spool age ({max_spool_age_s:.0f} s): late batches must land uncompressed"
            )
        # The 1 h continuous aggregate's refresh window reaches 3 days back: raw data must
        # outlive it, or a refresh would empty rollup buckets whose samples were dropped.
        floor_s = max(max_spool_age_s, _CAGG_WINDOW_S)
        if retention_s is not None and retention_s <= floor_s:
            raise ValueError(
                f"retention ({retention_s:.0f} s) must be longer than the longest spool age"
                f" and the rollup refresh window ({floor_s:.0f} s)"
            )
        self.dsn = dsn
        self.write_method = write_method
        self.single_connection = single_connection
        self.timescaledb = timescaledb
        self.compress_after_s = compress_after_s
        self.retention_s = retention_s
        self.partition_us = int(partition_s * 1_000_000)
        self.partitions_ahead = partitions_ahead
        self.ledger_keep_s = ledger_keep_s
        self.insert_rows = insert_rows
        self.connect_timeout = connect_timeout
        # False: leave compression/retention as recorded in the database and adopt them.
        self.manage_policies = manage_policies
        self.clock = clock
        self.flavour = "unknown"  # "postgresql" or "timescaledb" once open
        # Upkeep (partitions, rollups, retention) in a thread of its own; None: call
        # maintain() yourself.
        self._upkeep = (
            rollups.Maintainer(job=self.maintain, interval=maintain_every_s)
            if maintain_every_s
            else None
        )
        self._db = PgConnections(
            dsn=dsn, single_connection=single_connection, connect_timeout=connect_timeout
        )
        self._signal_ids: dict[tuple[str, str], int] = {}
        self._partitions: set[int] = set()

    def open(self) -> None:
        """Connect, apply migrations and storage policies, make partitions ahead."""
        with self._db.use("w") as conn:
            report = migrate(conn, timescaledb=self.timescaledb)
            self.flavour = report.flavour
            if self.manage_policies:
                apply_policies(
                    conn, compress_after_s=self.compress_after_s, retention_s=self.retention_s
                )
            else:
                self._adopt_policies(conn)
            self._load_signals(conn)
        self.maintain_partitions()
        if self._upkeep is not None:
            self._upkeep.start()

    def close(self) -> None:
        """Stop the upkeep thread, release connections."""
        if self._upkeep is not None:
            self._upkeep.stop()
        self._db.close()

    def _adopt_policies(self, conn: Any) -> None:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT key, extract(epoch FROM value::interval)::float8 FROM storage_settings"
                " WHERE key IN ('retention', 'compress_after')"
            )
            found = dict(cur.fetchall())
        conn.commit()
        self.retention_s = found.get("retention")
        self.compress_after_s = found.get("compress_after")

    def _load_signals(self, conn: Any) -> None:
        with conn.cursor() as cur:
            cur.execute("SELECT id, device, name FROM signals")
            rows = cur.fetchall()
        conn.commit()
        self._signal_ids.update({(d, n): i for i, d, n in rows})

    # -- writes ------------------------------------------------------------------------
    def write_batch(self, batch: Batch, received_at: float) -> bool | SeqConflict:
        """Store the batch and its ledger row in one transaction; False for a duplicate.

        Raises ValueError for a batch that can never be stored (times out of range).
        """
        return self.write_batches([(batch, received_at)])[0]

    def write_batches(self, items: list[tuple[Batch, float]]) -> list[bool | SeqConflict]:
        """Store several batches in ONE transaction (one commit); per batch False = duplicate.

        A group commit: the writer may pass what is queued to save round trips and fsyncs.
        All or nothing: on StoreError none is stored. Raises ValueError (nothing stored)
        if any batch can never be stored; write that group one batch at a time to find it.
        """
        prepared = [PreparedBatch(b, r) for b, r in items]
        try:
            return self._write_prepared(prepared)
        except ConnectionLost:
            # A connection that broke while idle (server restarted): one fresh try. Safe
            # even if the break hid a commit: the ledger turns a replay into a duplicate.
            return self._write_prepared(prepared)

    def _write_prepared(self, prepared: list[PreparedBatch]) -> list[bool | SeqConflict]:
        with self._db.use("w") as conn:
            if self.flavour == "postgresql":
                for p in prepared:
                    if len(p.t_us):
                        self._ensure_batch_partitions(conn, p.t_us)
            new_ids: dict[tuple[str, str], int] = {}
            with conn.cursor() as cur:
                stored: list[bool | SeqConflict] = list(insert_ledger(cur, prepared))
                conflicts = self._conflicts(cur, prepared, stored)
                if not any(s is True for s in stored) and not conflicts:
                    conn.rollback()
                    return stored
                parts = []
                for p, ok in zip(prepared, stored, strict=True):
                    if ok is True and len(p.t_us):
                        ids = self._ids_for(cur, p, new_ids)
                        parts.append((p.t_us, np.repeat(ids, p.lens), p.y))
                if parts:
                    t_us = np.concatenate([x[0] for x in parts])
                    sid = np.concatenate([x[1] for x in parts])
                    y = np.concatenate([x[2] for x in parts])
                    if self.write_method == "copy":
                        data = encode_samples(t_us, sid, y)
                        # One read of the whole buffer: psycopg2 re-takes the GIL for every
                        # chunk (8 KiB by default), which costs a thread switch each in a
                        # busy hub.
                        cur.copy_expert(
                            "COPY samples (time, signal_id, value) FROM STDIN (FORMAT binary)",
                            io.BytesIO(data),
                            size=len(data),
                        )
                    else:
                        insert_rows(cur, t_us, sid, y, page_size=self.insert_rows)
                edge_events = [
                    e
                    for p, ok in zip(prepared, stored, strict=True)
                    if ok is True
                    for e in p.batch.events
                ]
                if edge_events:  # an edge event is stored with its batch: exactly once
                    self._insert_events(cur, edge_events)
            conn.commit()
        # Only after the commit: a rolled-back signal row must not stay in the cache.
        self._signal_ids.update(new_ids)
        return stored

    def _conflicts(
        self, cur: Any, prepared: list[PreparedBatch], stored: list[bool | SeqConflict]
    ) -> int:
        """Mark batches whose seq the ledger holds with other content (kept as refused)."""
        again = [i for i, ok in enumerate(stored) if not ok and prepared[i].batch.digest]
        digests = ledger_digests(
            cur, [(prepared[i].batch.agent, prepared[i].batch.seq) for i in again]
        )
        found = 0
        for i in again:
            b = prepared[i].batch
            conflict = seq_conflict(b, digests.get((b.agent, b.seq)))
            if conflict is not None:
                stored[i] = conflict
                self._insert_rejected(
                    cur,
                    f"(batch {b.agent}/{b.seq})",
                    b.encode(),
                    conflict,
                    prepared[i].received_at,
                )
                found += 1
        return found

    def _ids_for(
        self, cur: Any, p: PreparedBatch, new_ids: dict[tuple[str, str], int]
    ) -> np.ndarray:
        """Signal ids of the batch's series, registering new signals in this transaction."""
        ids = np.empty(len(p.batch.signals), dtype=np.int32)
        for i, s in enumerate(p.batch.signals):
            key = (s.device, s.signal)
            sid = self._signal_ids.get(key) or new_ids.get(key)
            if sid is None:
                sid = insert_signal(cur, s.device, s.signal, s.unit, p.batch.agent, p.received_at)
                new_ids[key] = sid
            ids[i] = sid
        return ids

    def _ensure_batch_partitions(self, conn: Any, t_us: np.ndarray) -> None:
        starts = np.unique((t_us // self.partition_us) * self.partition_us)
        missing = [int(s) for s in starts if int(s) not in self._partitions]
        if missing:
            missing = missing[:_MAX_NEW_PARTITIONS]
            rollups.ensure_partitions(conn, missing, self.partition_us)
            self._partitions.update(missing)

    def maintain_partitions(self) -> int:
        """Make partitions from today to `partitions_ahead` ahead (plain PostgreSQL)."""
        if self.flavour != "postgresql":
            return 0
        now_us = int(self.clock() * 1_000_000)
        first = (now_us // self.partition_us) * self.partition_us
        starts = [first + i * self.partition_us for i in range(self.partitions_ahead + 1)]
        with self._db.use("m") as conn:
            made = rollups.ensure_partitions(conn, starts, self.partition_us)
        self._partitions.update(starts)
        return made

    def maintain(self) -> dict[str, int]:
        """Periodic upkeep (call every minute or so): partitions, rollups, retention."""
        out = {"partitions_made": self.maintain_partitions()}
        with self._db.use("m") as conn:
            out["batches_rolled_up"] = rollups.refresh_rollups(conn, flavour=self.flavour)
            now_us = int(self.clock() * 1_000_000)
            out.update(
                rollups.apply_retention(
                    conn,
                    now_us=now_us,
                    retention_us=_us(self.retention_s),
                    ledger_keep_us=_us(self.ledger_keep_s),
                    flavour=self.flavour,
                )
            )
        return out

    def write_rejected(self, topic: str, payload: bytes, reason: str, received_at: float) -> None:
        """Keep a refused message raw (its first part), with the reason; prune the oldest."""
        with self._db.use("w") as conn, conn.cursor() as cur:
            self._insert_rejected(cur, topic, payload, reason, received_at)
            conn.commit()

    def _insert_rejected(
        self, cur: Any, topic: str, payload: bytes, reason: str, received_at: float
    ) -> None:
        import psycopg2

        payload, reason = kept_rejected(payload, reason)
        cur.execute(
            "INSERT INTO rejected_messages (received_at, topic, payload, reason)"
            " VALUES (to_timestamp(%s), %s, %s, %s)",
            (received_at, topic, psycopg2.Binary(payload), reason),
        )
        if self._rejected_prune_due(len(payload)):
            cur.execute(
                "DELETE FROM rejected_messages WHERE id <= (SELECT max(id) FROM (SELECT id,"
                " count(*) OVER w AS n, sum(octet_length(payload) + octet_length(reason))"
                " OVER w AS size FROM rejected_messages WINDOW w AS (ORDER BY id DESC)) t"
                " WHERE n > %s OR size > %s)",
                (self.rejected_max_rows, self.rejected_max_bytes),
            )
            self.rejected_pruned += cur.rowcount

    def delete_signals(self, keys: list[tuple[str, str]]) -> int:
        """Delete signals, their samples and rollup rows in one transaction; the id cache
        forgets them. The ledger keeps its rows: a replayed old batch stays a duplicate."""
        if not keys:
            return 0
        try:
            deleted = self._delete_signals(keys, decompress=False)
        except Exception as exc:
            if self.flavour != "timescaledb" or "compress" not in str(exc).lower():
                raise
            # TimescaleDB before 2.11 refuses DELETE on compressed chunks: decompress the
            # chunks holding these signals (the compression policy compresses them again on
            # its next run) and delete then. Newer versions delete in compressed chunks,
            # whole segments at once (signal_id is the segmentby column).
            deleted = self._delete_signals(keys, decompress=True)
        for key in keys:
            self._signal_ids.pop(key, None)
        return deleted

    def _delete_signals(self, keys: list[tuple[str, str]], *, decompress: bool) -> int:
        with self._db.use("w") as conn:
            with conn.cursor() as cur:
                ids: list[int] = []
                for device, name in keys:
                    cur.execute(
                        "SELECT id FROM signals WHERE device = %s AND name = %s",
                        (device, name),
                    )
                    row = cur.fetchone()
                    if row is not None:
                        ids.append(int(row[0]))
                if not ids:
                    conn.rollback()
                    return 0
                if decompress:
                    cur.execute(
                        "SELECT decompress_chunk(format('%I.%I', chunk_schema,"
                        " chunk_name)::regclass, true) FROM timescaledb_information.chunks"
                        " WHERE hypertable_name = 'samples' AND is_compressed"
                    )
                cur.execute("DELETE FROM samples WHERE signal_id = ANY(%s)", (ids,))
                for table in self._rollup_tables(cur):
                    cur.execute(f"DELETE FROM {table} WHERE signal_id = ANY(%s)", (ids,))
                cur.execute("DELETE FROM signals WHERE id = ANY(%s)", (ids,))
            conn.commit()
        return len(ids)

    def _rollup_tables(self, cur: Any) -> list[str]:
        """Where rollup rows live: the plain tables, or on TimescaleDB the continuous
        aggregates' materialization hypertables (a view takes no DELETE; refreshing the
        signal's range instead would also recompute, and empty, other signals' buckets
        whose raw samples the retention already dropped)."""
        if self.flavour != "timescaledb":
            return ["rollup_1m", "rollup_1h"]
        cur.execute(
            "SELECT format('%I.%I', materialization_hypertable_schema,"
            " materialization_hypertable_name) FROM timescaledb_information.continuous_aggregates"
            " WHERE view_name IN ('rollup_1m', 'rollup_1h')"
        )
        return [str(r[0]) for r in cur.fetchall()]

    def delete_events(self, events: list[EventRecord] | None) -> int:
        """Delete all events (None) or those matching these (time to the µs and the rest)."""
        with self._db.use("w") as conn, conn.cursor() as cur:
            if events is None:
                cur.execute("DELETE FROM events")
                deleted = int(cur.rowcount)
            else:
                deleted = 0
                for e in events:
                    cur.execute(
                        "DELETE FROM events WHERE time >= to_timestamp(%s)"
                        " AND time <= to_timestamp(%s) AND device = %s AND signal = %s"
                        " AND text = %s AND event_id = %s",
                        (e.time - 1e-6, e.time + 1e-6, e.device, e.signal, e.text, e.event_id),
                    )
                    deleted += int(cur.rowcount)
            conn.commit()
        return deleted

    def write_events(self, events: list[EventRecord]) -> None:
        """Append events."""

        if not events:
            return
        with self._db.use("w") as conn, conn.cursor() as cur:
            self._insert_events(cur, events)
            conn.commit()

    @staticmethod
    def _insert_events(cur: Any, events: list[EventRecord]) -> None:
        from psycopg2.extras import Json, execute_values

        execute_values(
            cur,
            "INSERT INTO events (time, device, signal, text, priority, event_id, value) VALUES %s",
            [
                (e.time, e.device, e.signal, e.text, e.priority, e.event_id, Json(e.value))
                for e in events
            ],
            template="(to_timestamp(%s), %s, %s, %s, %s, %s, %s)",
        )

    def put_doc(self, key: str, value: Any) -> None:
        """Replace a JSON document."""
        from psycopg2.extras import Json

        with self._db.use("w") as conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO documents (key, value, updated_at) VALUES (%s, %s, now())"
                " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value,"
                " updated_at = EXCLUDED.updated_at",
                (key, Json(value)),
            )
            conn.commit()

    # -- reads -------------------------------------------------------------------------
    def _read(self, fn: Callable[[Any], T]) -> T:
        """Run `fn(conn)` on the readers' connection; once more on a fresh one if it broke
        while idle (the server restarted since the last read)."""
        try:
            with self._db.use("r") as conn:
                return fn(conn)
        except ConnectionLost:
            with self._db.use("r") as conn:
                return fn(conn)

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        def run(conn: Any) -> list[tuple[Any, ...]]:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                rows: list[tuple[Any, ...]] = cur.fetchall()
            conn.commit()
            return rows

        return self._read(run)

    def events(
        self, *, since: float | None = None, until: float | None = None, limit: int = 1000
    ) -> list[EventRecord]:
        """Events in time order (newest `limit`)."""
        rows = self._query(
            f"SELECT {_EPOCH.format('time')}, device, signal, text, priority, event_id, value"
            " FROM events WHERE (%s::float8 IS NULL OR time >= to_timestamp(%s))"
            " AND (%s::float8 IS NULL OR time <= to_timestamp(%s))"
            " ORDER BY time DESC, id DESC LIMIT %s",
            (since, since, until, until, limit),
        )
        return [EventRecord(*r) for r in reversed(rows)]

    def signals(self) -> list[SignalRow]:
        """All known signals."""
        rows = self._query(
            f"SELECT id, device, name, unit, agent, {_EPOCH.format('first_seen')}"
            " FROM signals ORDER BY id"
        )
        return [SignalRow(*r) for r in rows]

    def history(
        self, device: str, name: str, xmin: float | None, xmax: float | None, max_n: int | None
    ) -> History:
        """Samples of one signal in [xmin, xmax], at most about max_n points keeping peaks."""

        def run(conn: Any) -> History:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT id FROM signals WHERE device = %s AND name = %s", (device, name)
                )
                row = cur.fetchone()
                if row is None:
                    conn.commit()
                    return History(np.empty(0), np.empty(0), "raw")
                out = pghistory.history(
                    cur, row[0], xmin, xmax, max_n, use_copy=self.write_method == "copy"
                )
            conn.commit()
            return out

        return self._read(run)

    def recent(self, signal_id: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The newest `n` samples (x, y) of one signal, in time order."""
        rows = self._query(
            f"SELECT {_EPOCH.format('time')}, value FROM samples WHERE signal_id = %s"
            " ORDER BY time DESC LIMIT %s",
            (signal_id, n),
        )
        arr = np.asarray(rows[::-1], dtype=np.float64).reshape(-1, 2)
        return arr[:, 0], arr[:, 1]

    def sample_count(self) -> int:
        """How many samples are stored in all."""
        return int(self._query("SELECT count(*) FROM samples")[0][0])

    def rejected_count(self) -> int:
        """How many refused messages are kept."""
        return int(self._query("SELECT count(*) FROM rejected_messages")[0][0])

    def rejected(self, limit: int = 100) -> list[tuple[float, str, bytes, str]]:
        """The newest refused messages: (received_at, topic, payload, reason)."""
        rows = self._query(
            f"SELECT {_EPOCH.format('received_at')}, topic, payload, reason"
            " FROM rejected_messages ORDER BY id DESC LIMIT %s",
            (limit,),
        )
        return [(r[0], r[1], bytes(r[2]), r[3]) for r in rows]

    def get_doc(self, key: str) -> Any | None:
        """A small JSON document by key, or None."""
        rows = self._query("SELECT value FROM documents WHERE key = %s", (key,))
        return rows[0][0] if rows else None


def _us(seconds: float | None) -> int | None:
    return None if seconds is None else int(seconds * 1_000_000)
