"""Maintenance of the PostgreSQL store: rollups, time partitions, retention, ledger pruning.

Plain PostgreSQL: rollup_1m is recomputed from raw samples and rollup_1h from rollup_1m
for the minutes/hours that new batches touched (the ledger's tmin/tmax since the last run),
partitions are made ahead and dropped past the retention. TimescaleDB: its continuous
aggregates and policies do the work; here we only refresh the windows that late batches
(a replayed backlog) touched, which its refresh policy's window would not reach.
All times are int64 Unix microseconds ("µs").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

log = logging.getLogger(__name__)

MINUTE_US = 60_000_000
HOUR_US = 3_600 * 1_000_000
# date_bin origin (UTC midnight): aligned with TimescaleDB's time_bucket for 1 min / 1 h.
_ORIGIN = "timestamptz '2000-01-01 00:00:00+00'"
_TS = "(timestamptz 'epoch' + %s * interval '1 microsecond')"

_REFRESH_1M = f"""
INSERT INTO rollup_1m (signal_id, bucket, vmin, tmin, vmax, tmax, vavg, n, vlast)
SELECT signal_id, date_bin(interval '1 minute', time, {_ORIGIN}) AS b,
       min(value), (array_agg(time ORDER BY value, time))[1],
       max(value), (array_agg(time ORDER BY value DESC, time))[1],
       avg(value), count(*), (array_agg(value ORDER BY time DESC))[1]
FROM samples WHERE time >= %s AND time < %s
GROUP BY signal_id, b
"""
_REFRESH_1H = f"""
INSERT INTO rollup_1h (signal_id, bucket, vmin, tmin, vmax, tmax, vavg, n, vlast)
SELECT signal_id, date_bin(interval '1 hour', bucket, {_ORIGIN}) AS b,
       min(vmin), (array_agg(tmin ORDER BY vmin, tmin))[1],
       max(vmax), (array_agg(tmax ORDER BY vmax DESC, tmax))[1],
       sum(vavg * n) / sum(n), sum(n), (array_agg(vlast ORDER BY bucket DESC))[1]
FROM rollup_1m WHERE bucket >= %s AND bucket < %s
GROUP BY signal_id, b
"""


def to_datetime(us: int) -> datetime:
    """Unix µs as an aware UTC datetime: a constant the planner can prune partitions with."""
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(us))


def span(a: int, b: int) -> tuple[datetime, datetime]:
    """Both ends of a µs range as datetimes."""
    return to_datetime(a), to_datetime(b)


def merge_ranges(ranges: list[tuple[int, int]], unit: int) -> list[tuple[int, int]]:
    """Widen [a, b] ranges to whole `unit` buckets and merge overlapping/adjacent ones."""
    widened = sorted(((a // unit) * unit, (b // unit + 1) * unit) for a, b in ranges)
    out: list[tuple[int, int]] = []
    for a, b in widened:
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def refresh_range(conn: Any, a_us: int, b_us: int, *, flavour: str) -> None:
    """Recompute both rollups over [a, b) (widened to whole hours); commits."""
    hours = merge_ranges([(a_us, b_us - 1)], HOUR_US)
    _refresh(conn, hours, hours, flavour=flavour)
    conn.commit()


def _refresh(
    conn: Any,
    minutes: list[tuple[int, int]],
    hours: list[tuple[int, int]],
    *,
    flavour: str,
) -> None:
    if flavour == "timescaledb":
        # CALL refresh_continuous_aggregate refuses to run inside a transaction block.
        conn.commit()
        old = conn.autocommit
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                for view, ranges in (("rollup_1m", minutes), ("rollup_1h", hours)):
                    for a, b in ranges:
                        cur.execute(
                            "CALL refresh_continuous_aggregate(%s, %s, %s)",
                            (view, *span(a, b)),
                        )
        finally:
            conn.autocommit = old
        return
    with conn.cursor() as cur:
        for a, b in minutes:
            cur.execute("DELETE FROM rollup_1m WHERE bucket >= %s AND bucket < %s", span(a, b))
            cur.execute(_REFRESH_1M, span(a, b))
        for a, b in hours:
            cur.execute("DELETE FROM rollup_1h WHERE bucket >= %s AND bucket < %s", span(a, b))
            cur.execute(_REFRESH_1H, span(a, b))


def refresh_rollups(conn: Any, *, flavour: str, max_batches: int = 20_000) -> int:
    """Bring rollups up to date with batches stored since the last run; return how many."""
    with conn.cursor() as cur:
        # One maintainer at a time (several hub processes may share the database).
        cur.execute("SELECT pg_try_advisory_xact_lock(%s)", (0x0C0_2011,))
        if not cur.fetchone()[0]:
            conn.rollback()
            return 0
        cur.execute("SELECT batch_id FROM rollup_state WHERE level = 'rollup_1m'")
        done = cur.fetchone()[0]
        cur.execute(
            "SELECT id, (extract(epoch FROM tmin) * 1000000)::bigint,"
            " (extract(epoch FROM tmax) * 1000000)::bigint"
            " FROM ingest_batches WHERE id > %s ORDER BY id LIMIT %s",
            (done, max_batches),
        )
        rows = cur.fetchall()
    if not rows:
        conn.rollback()
        return 0
    last_id = rows[-1][0]
    spans = [(a, b) for _, a, b in rows if a is not None]
    # Refreshing a dirty minute/hour needs the whole bucket: widen, then merge.
    minutes = merge_ranges(spans, MINUTE_US)
    hours = merge_ranges(spans, HOUR_US)
    _refresh(conn, minutes, hours, flavour=flavour)
    with conn.cursor() as cur:
        cur.execute("UPDATE rollup_state SET batch_id = %s", (last_id,))
    conn.commit()
    return len(rows)


def rollup_watermark_us(cur: Any) -> int | None:
    """Earliest sample time of batches the rollups have not taken in (None: all taken in)."""
    cur.execute(
        "SELECT (extract(epoch FROM min(tmin)) * 1000000)::bigint FROM ingest_batches"
        " WHERE id > (SELECT min(batch_id) FROM rollup_state)"
    )
    row = cur.fetchone()
    return None if row is None else row[0]


def ensure_partitions(conn: Any, starts_us: list[int], width_us: int) -> int:
    """Make the partitions starting at these times (plain PostgreSQL); commits; count made."""
    made = 0
    with conn.cursor() as cur:
        for start in starts_us:
            cur.execute(
                f"SELECT opencontrol_ensure_partition({_TS}, %s * interval '1 microsecond')",
                (start, width_us),
            )
            made += bool(cur.fetchone()[0])
    conn.commit()
    return made


def partitions(conn: Any) -> list[tuple[str, int]]:
    """(name, upper bound µs) of the time partitions of samples (plain PostgreSQL)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT c.relname, (extract(epoch FROM (regexp_match("
            "pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz)"
            " * 1000000)::bigint"
            " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'samples'::regclass ORDER BY 1"
        )
        rows = cur.fetchall()
    conn.commit()
    return [(name, upper) for name, upper in rows if upper is not None]


def apply_retention(
    conn: Any, *, now_us: int, retention_us: int | None, ledger_keep_us: int | None, flavour: str
) -> dict[str, int]:
    """Drop raw data past the retention (plain PostgreSQL) and old ledger rows; commits."""
    dropped = 0
    deleted = 0
    if retention_us is not None and flavour != "timescaledb":
        cutoff = now_us - retention_us
        with conn.cursor() as cur:
            for name, upper in partitions(conn):
                if upper <= cutoff:
                    cur.execute(f'DROP TABLE IF EXISTS "{name}"')
                    dropped += 1
            cur.execute(f"DELETE FROM samples_default WHERE time < {_TS}", (cutoff,))
            deleted = cur.rowcount
        conn.commit()
    pruned = 0
    if ledger_keep_us is not None:
        # Only rows the rollups have taken in: their tmin/tmax are no longer needed.
        with conn.cursor() as cur:
            cur.execute(
                f"DELETE FROM ingest_batches WHERE received_at < {_TS}"
                " AND id <= (SELECT min(batch_id) FROM rollup_state)",
                (now_us - ledger_keep_us,),
            )
            pruned = cur.rowcount
        conn.commit()
    return {"partitions_dropped": dropped, "default_rows_deleted": deleted, "ledger_pruned": pruned}


class Maintainer:
    """A daemon thread calling `job` every `interval` seconds; a failure is logged once,
    the recovery once (the store may be down for a while: that is state, not a flood)."""

    def __init__(self, *, job: Callable[[], Any], interval: float, name: str = "store-upkeep"):
        self.job = job
        self.interval = interval
        self.name = name
        self.runs = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (the first run is one interval after the start)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the thread to end and wait for a run in progress."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.job()
            except Exception as exc:
                if self.last_error is None:
                    log.error("store upkeep failed (will retry): %s", exc)
                self.last_error = str(exc)
                continue
            if self.last_error is not None:
                log.warning("store upkeep works again")
            self.last_error = None
            self.runs += 1
