"""Writing batches to PostgreSQL: binary COPY encoding/decoding with numpy (no per-row
Python), the ledger and signal rows, and the INSERT fallback for servers without COPY.

Times cross the wire as PostgreSQL timestamps: int64 microseconds since 2000-01-01 UTC.
Everywhere else the store uses int64 microseconds since the Unix epoch ("µs"), so the
COPY path and the plain-SELECT path give bit-identical float seconds.
"""

from __future__ import annotations

from itertools import chain
from typing import Any

import numpy as np

from edge_agent.wire import Batch

_TS = "(timestamptz 'epoch' + %s * interval '1 microsecond')"
PG_EPOCH_US = 946_684_800 * 1_000_000  # 2000-01-01 in Unix microseconds
# Timestamps accepted from agents: 1900-01-01 .. 3000-01-01 (a bad clock is data; an
# overflow is not).
MIN_TIME_S = -2_208_988_800.0
MAX_TIME_S = 32_503_680_000.0

_HEADER = b"PGCOPY\n\xff\r\n\x00" + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
_TRAILER = (-1).to_bytes(2, "big", signed=True)

_SAMPLE_ROW = np.dtype(
    [
        ("nf", ">i2"),
        ("l_t", ">i4"),
        ("t", ">i8"),
        ("l_sid", ">i4"),
        ("sid", ">i4"),
        ("l_v", ">i4"),
        ("v", ">f8"),
    ]
)
# COPY (SELECT time, value ...) TO STDOUT (FORMAT binary): timestamptz and float8, no NULLs.
_TV_ROW = np.dtype([("nf", ">i2"), ("l_t", ">i4"), ("t", ">i8"), ("l_v", ">i4"), ("v", ">f8")])


def seconds_to_us(t: np.ndarray) -> np.ndarray:
    """Float epoch seconds to int64 Unix microseconds (rounded to the nearest)."""
    return np.rint(np.asarray(t, dtype=np.float64) * 1e6).astype(np.int64)


def us_to_seconds(us: np.ndarray) -> np.ndarray:
    """int64 Unix microseconds to float epoch seconds."""
    return np.asarray(us, dtype=np.int64) / 1e6


def encode_samples(t_us: np.ndarray, sid: np.ndarray, value: np.ndarray) -> bytes:
    """The binary COPY stream for rows (time, signal_id, value) of `samples`."""
    rows = np.empty(len(t_us), dtype=_SAMPLE_ROW)
    rows["nf"] = 3
    rows["l_t"] = 8
    rows["t"] = t_us - PG_EPOCH_US
    rows["l_sid"] = 4
    rows["sid"] = sid
    rows["l_v"] = 8
    rows["v"] = value
    return b"".join((_HEADER, rows.tobytes(), _TRAILER))


def decode_columns(data: bytes, kinds: str) -> list[np.ndarray]:
    """Parse a binary COPY of NOT NULL columns, `kinds` one letter each: t=timestamptz
    (returned as Unix µs int64), f=float8, i=int8; all fixed 8-byte fields."""
    if not data.startswith(_HEADER[:11]):
        raise ValueError("not a PostgreSQL binary COPY stream")
    ext = int.from_bytes(data[15:19], "big")
    body = data[19 + ext : len(data) - 2]
    fields: list[tuple[str, str]] = [("nf", ">i2")]
    for i, k in enumerate(kinds):
        fields += [(f"l{i}", ">i4"), (f"c{i}", ">f8" if k == "f" else ">i8")]
    row = np.dtype(fields)
    if len(body) % row.itemsize:
        raise ValueError("binary COPY stream has a partial row (NULL or unexpected columns?)")
    rows = np.frombuffer(body, dtype=row)
    if len(rows) and np.any(rows["nf"] != len(kinds)):
        raise ValueError(f"binary COPY rows do not have {len(kinds)} columns")
    out = []
    for i, k in enumerate(kinds):
        col = rows[f"c{i}"]
        if k == "t":
            out.append(col.astype(np.int64) + PG_EPOCH_US)
        elif k == "f":
            out.append(col.astype(np.float64))
        else:
            out.append(col.astype(np.int64))
    return out


def decode_time_value(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Parse a binary COPY of (timestamptz, float8) rows into (Unix µs int64, values)."""
    if not data.startswith(_HEADER[:11]):
        raise ValueError("not a PostgreSQL binary COPY stream")
    ext = int.from_bytes(data[15:19], "big")
    start = 19 + ext
    end = len(data) - 2
    body = data[start:end]
    if len(body) % _TV_ROW.itemsize:
        raise ValueError("binary COPY stream has a partial row (NULL or unexpected columns?)")
    rows = np.frombuffer(body, dtype=_TV_ROW)
    if len(rows) and (np.any(rows["nf"] != 2) or np.any(rows["l_v"] != 8)):
        raise ValueError("binary COPY rows are not (timestamptz, float8)")
    return rows["t"].astype(np.int64) + PG_EPOCH_US, rows["v"].astype(np.float64)


class PreparedBatch:
    """A batch turned into arrays once: times (µs), values, series lengths."""

    __slots__ = ("batch", "lens", "received_at", "t_us", "y")

    def __init__(self, batch: Batch, received_at: float) -> None:
        n = batch.sample_count
        # One pass over all series (not an array per series): this is the hot path.
        t = np.fromiter(chain.from_iterable(s.t for s in batch.signals), np.float64, n)
        if n and (t.min() < MIN_TIME_S or t.max() >= MAX_TIME_S):
            raise ValueError(f"batch {batch.agent}/{batch.seq} has sample times outside 1900..3000")
        self.batch = batch
        self.received_at = received_at
        self.t_us = seconds_to_us(t)
        self.y = np.fromiter(chain.from_iterable(s.y for s in batch.signals), np.float64, n)
        self.lens = np.fromiter((len(s.t) for s in batch.signals), np.int64, len(batch.signals))

    def ledger_row(self) -> tuple[Any, ...]:
        """(agent, seq, received_at, samples, tmin µs, tmax µs, digest) for ingest_batches."""
        import psycopg2

        has = len(self.t_us) > 0
        digest = self.batch.digest
        return (
            self.batch.agent,
            self.batch.seq,
            self.received_at,
            len(self.t_us),
            int(self.t_us.min()) if has else None,
            int(self.t_us.max()) if has else None,
            None if digest is None else psycopg2.Binary(digest),
        )


def insert_ledger(cur: Any, prepared: list[PreparedBatch]) -> list[bool]:
    """Ledger rows for the batches; True where the row is new (the batch is to be stored)."""
    if len(prepared) == 1:
        p = prepared[0]
        cur.execute(
            "INSERT INTO ingest_batches (agent, seq, received_at, samples, tmin, tmax, digest)"
            f" VALUES (%s, %s, to_timestamp(%s), %s, {_TS}, {_TS}, %s)"
            " ON CONFLICT (agent, seq) DO NOTHING RETURNING id",
            p.ledger_row(),
        )
        return [cur.fetchone() is not None]
    from psycopg2.extras import execute_values

    rows = execute_values(
        cur,
        "INSERT INTO ingest_batches (agent, seq, received_at, samples, tmin, tmax, digest)"
        " VALUES %s ON CONFLICT (agent, seq) DO NOTHING RETURNING agent, seq",
        [p.ledger_row() for p in prepared],
        template=f"(%s, %s, to_timestamp(%s), %s, {_TS}, {_TS}, %s)",
        fetch=True,
    )
    new = {(a, int(q)) for a, q in rows}
    out = []
    for p in prepared:
        key = (p.batch.agent, p.batch.seq)
        out.append(key in new)
        new.discard(key)  # the same batch twice in one group: store it once
    return out


def ledger_digests(cur: Any, keys: list[tuple[str, int]]) -> dict[tuple[str, int], bytes]:
    """The ledger's digests of (agent, seq) keys (rows without a digest are left out)."""
    if not keys:
        return {}
    cur.execute(
        "SELECT l.agent, l.seq, l.digest FROM ingest_batches l"
        " JOIN unnest(%s::text[], %s::bigint[]) AS k(agent, seq) USING (agent, seq)"
        " WHERE l.digest IS NOT NULL",
        ([a for a, _ in keys], [q for _, q in keys]),
    )
    return {(a, int(q)): bytes(d) for a, q, d in cur.fetchall()}


def insert_signal(
    cur: Any, device: str, name: str, unit: str, agent: str, received_at: float
) -> int:
    """The id of signal (device, name), registering it (in the open transaction) if new."""
    cur.execute(
        "INSERT INTO signals (device, name, unit, agent, first_seen)"
        " VALUES (%s, %s, %s, %s, to_timestamp(%s))"
        " ON CONFLICT (device, name) DO NOTHING RETURNING id",
        (device, name, unit, agent, received_at),
    )
    row = cur.fetchone()
    if row is None:
        cur.execute("SELECT id FROM signals WHERE device = %s AND name = %s", (device, name))
        row = cur.fetchone()
    return int(row[0])


def insert_rows(
    cur: Any, t_us: np.ndarray, sid: np.ndarray, y: np.ndarray, *, page_size: int = 250
) -> None:
    """Multi-row INSERTs of a few hundred rows (for servers where COPY is unusable)."""
    from psycopg2.extras import execute_values

    rows = list(zip(t_us.tolist(), sid.tolist(), y.tolist(), strict=True))
    execute_values(
        cur,
        "INSERT INTO samples (time, signal_id, value) VALUES %s",
        rows,
        template=f"({_TS}, %s, %s)",
        page_size=page_size,
    )
