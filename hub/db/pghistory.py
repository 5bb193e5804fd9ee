"""History queries on PostgreSQL: raw samples or rollups, downsampled keeping peaks.

The range is cut on the grid `downsample.plan` picks. Whole rollup buckets inside the
range come from the coarsest rollup that fits (1 h, then 1 min); the edges come from the
next finer level and finally from raw samples. Rollups are used only before the rollup
watermark (batches not yet taken in are read raw), so the answer equals the raw one.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from hub.db.base import History
from hub.db.downsample import LEVELS, downsample_rows, plan
from hub.db.pgcopy import decode_columns, decode_time_value, us_to_seconds
from hub.db.rollups import rollup_watermark_us

# Times go in as timestamptz literals (datetime parameters), not expressions: constants let
# the planner prune the time partitions (hundreds of them for a year) at plan time.
_TS = "%s"
_US = "(extract(epoch FROM {col}) * 1000000)::bigint"

Rows = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # pos,tmin,vmin,tmax,vmax


def _dt(us: int) -> datetime:
    """Unix µs as an aware UTC datetime (exact to the microsecond)."""
    return _EPOCH + timedelta(microseconds=int(us))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _empty() -> Rows:
    e = np.empty(0, dtype=np.int64)
    f = np.empty(0, dtype=np.float64)
    return e, e, f, e, f


def raw_rows(cur: Any, sid: int, a: int, b: int, closed: bool, use_copy: bool) -> Rows:
    """Raw samples of one signal in [a, b) or [a, b] (µs), time-ordered."""
    op = "<=" if closed else "<"
    if use_copy:
        sql = cur.mogrify(
            f"COPY (SELECT time, value FROM samples WHERE signal_id = %s AND time >= {_TS}"
            f" AND time {op} {_TS} ORDER BY time) TO STDOUT (FORMAT binary)",
            (sid, _dt(a), _dt(b)),
        ).decode()
        buf = io.BytesIO()
        cur.copy_expert(sql, buf)
        t, v = decode_time_value(buf.getvalue())
    else:
        cur.execute(
            f"SELECT {_US.format(col='time')}, value FROM samples WHERE signal_id = %s"
            f" AND time >= {_TS} AND time {op} {_TS} ORDER BY time",
            (sid, _dt(a), _dt(b)),
        )
        arr = cur.fetchall()
        t = np.fromiter((r[0] for r in arr), dtype=np.int64, count=len(arr))
        v = np.fromiter((r[1] for r in arr), dtype=np.float64, count=len(arr))
    return t, t, v, t, v


def rollup_rows(cur: Any, view: str, sid: int, a: int, b: int, use_copy: bool) -> Rows:
    """Rollup rows of one signal with bucket in [a, b) (µs)."""
    if use_copy:
        sql = cur.mogrify(
            f"COPY (SELECT bucket, tmin, vmin, tmax, vmax FROM {view}"
            f" WHERE signal_id = %s AND bucket >= {_TS} AND bucket < {_TS} ORDER BY bucket)"
            " TO STDOUT (FORMAT binary)",
            (sid, _dt(a), _dt(b)),
        ).decode()
        buf = io.BytesIO()
        cur.copy_expert(sql, buf)
        pos, tmin, vmin, tmax, vmax = decode_columns(buf.getvalue(), "ttftf")
        return pos, tmin, vmin, tmax, vmax
    cur.execute(
        f"SELECT {_US.format(col='bucket')}, {_US.format(col='tmin')}, vmin,"
        f" {_US.format(col='tmax')}, vmax FROM {view}"
        f" WHERE signal_id = %s AND bucket >= {_TS} AND bucket < {_TS} ORDER BY bucket",
        (sid, _dt(a), _dt(b)),
    )
    rows = cur.fetchall()
    if not rows:
        return _empty()
    arr = np.array(rows, dtype=object)
    return (
        arr[:, 0].astype(np.int64),
        arr[:, 1].astype(np.int64),
        arr[:, 2].astype(np.float64),
        arr[:, 3].astype(np.int64),
        arr[:, 4].astype(np.float64),
    )


def _concat(parts: list[Rows]) -> Rows:
    parts = [p for p in parts if len(p[0])]
    if not parts:
        return _empty()
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(5))  # type: ignore[return-value]


def collect(
    fetch_raw: Callable[[int, int, bool], Rows],
    fetch_rollup: Callable[[str, int, int], Rows],
    a: int,
    b: int,
    closed: bool,
    levels: list[tuple[int, str]],
    watermark: int | None,
) -> Rows:
    """Rows covering [a, b) (or [a, b]) from the coarsest level that fits, edges finer."""
    if not levels:
        return fetch_raw(a, b, closed)
    unit, view = levels[0]
    lo = -(-a // unit) * unit
    hi = (b // unit) * unit
    if watermark is not None:
        hi = min(hi, (watermark // unit) * unit)
    if hi <= lo:
        return collect(fetch_raw, fetch_rollup, a, b, closed, levels[1:], watermark)
    return _concat(
        [
            collect(fetch_raw, fetch_rollup, a, lo, False, levels[1:], watermark),
            fetch_rollup(view, lo, hi),
            collect(fetch_raw, fetch_rollup, hi, b, closed, levels[1:], watermark),
        ]
    )


def extent_us(cur: Any, sid: int) -> tuple[int, int] | None:
    """First and last sample time (µs) of a signal, or None when it has none.

    When the rollups hold every batch, the hourly rollup says which hours to look in
    (two small queries); otherwise min/max over all samples (every partition).
    """
    hour = 3_600_000_000
    cur.execute(
        f"SELECT {_US.format(col='min(bucket)')}, {_US.format(col='max(bucket)')}"
        " FROM rollup_1h WHERE signal_id = %s",
        (sid,),
    )
    first, last = cur.fetchone()
    if first is not None and rollup_watermark_us(cur) is None:
        out = []
        for agg, start in (("min", first), ("max", last)):
            cur.execute(
                f"SELECT {_US.format(col=f'{agg}(time)')} FROM samples"
                " WHERE signal_id = %s AND time >= %s AND time < %s",
                (sid, _dt(start), _dt(start + hour)),
            )
            out.append(cur.fetchone()[0])
        if out[0] is not None and out[1] is not None:
            return out[0], out[1]
    cur.execute(
        f"SELECT {_US.format(col='min(time)')}, {_US.format(col='max(time)')}"
        " FROM samples WHERE signal_id = %s",
        (sid,),
    )
    lo, hi = cur.fetchone()
    return None if lo is None else (lo, hi)


def history(
    cur: Any, sid: int, xmin: float | None, xmax: float | None, max_n: int | None, use_copy: bool
) -> History:
    """Samples of signal `sid` in [xmin, xmax] (s), at most ~max_n points keeping peaks."""
    if xmin is None or xmax is None:
        ext = extent_us(cur, sid)
        if ext is None:
            return History(np.empty(0), np.empty(0), "raw")
        xmin = ext[0] / 1e6 if xmin is None else xmin
        xmax = ext[1] / 1e6 if xmax is None else xmax
    a = int(np.floor(xmin * 1e6))
    b = int(np.ceil(xmax * 1e6))
    if b < a:
        return History(np.empty(0), np.empty(0), "raw")
    grid = plan(a / 1e6, b / 1e6, max_n)

    def fetch_raw(lo: int, hi: int, closed: bool) -> Rows:
        return raw_rows(cur, sid, lo, hi, closed, use_copy)

    def fetch_rollup(view: str, lo: int, hi: int) -> Rows:
        return rollup_rows(cur, view, sid, lo, hi, use_copy)

    if grid.source == "raw":
        pos, tmin, vmin, tmax, vmax = fetch_raw(a, b, True)
        if max_n is None or len(pos) <= max_n:
            return History(us_to_seconds(tmin), vmin, "raw")
        x, y = downsample_rows(
            us_to_seconds(pos), us_to_seconds(tmin), vmin, us_to_seconds(tmax), vmax, grid=grid
        )
        return History(x, y, "raw")
    levels = [(int(s * 1_000_000), name) for s, name in LEVELS if s <= grid.level]
    watermark = rollup_watermark_us(cur)
    pos, tmin, vmin, tmax, vmax = collect(fetch_raw, fetch_rollup, a, b, True, levels, watermark)
    x, y = downsample_rows(
        us_to_seconds(pos), us_to_seconds(tmin), vmin, us_to_seconds(tmax), vmax, grid=grid
    )
    return History(x, y, grid.source)
