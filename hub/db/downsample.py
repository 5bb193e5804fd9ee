"""Min/max bucket downsampling shared by the stores: keeps the peaks of a signal.

A range [xmin, xmax] asked for at most `max_n` points is cut into `max_n // 2` buckets;
each bucket gives its minimum and its maximum, at the times they happened, in time order
(one point when both are the same sample). When a rollup level (1 min, 1 h) is at most
twice the bucket width, the width is rounded up to a whole number of rollup buckets and
aligned to them (so between half and all of the points asked for come back); an answer
built from rollup rows then equals the one built from the raw samples (see `plan`).
Pure numpy; no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Rollup levels, coarsest first: (seconds per bucket, table/view name).
LEVELS: tuple[tuple[float, str], ...] = ((3600.0, "rollup_1h"), (60.0, "rollup_1m"))


@dataclass(frozen=True)
class Plan:
    """How to answer one history query: bucket grid and the coarsest usable source."""

    origin: float  # start of bucket 0
    width: float  # bucket width in seconds (0: no downsampling)
    level: float  # rollup bucket seconds usable for whole buckets (0: raw only)
    source: str  # "raw" or a rollup name

    def bucket_of(self, t: np.ndarray) -> np.ndarray:
        """The bucket index of each time."""
        return np.floor((t - self.origin) / self.width).astype(np.int64)


def plan(
    xmin: float,
    xmax: float,
    max_n: int | None,
    levels: tuple[tuple[float, str], ...] = LEVELS,
) -> Plan:
    """Choose bucket width, alignment and source for [xmin, xmax] in at most ~max_n points."""
    if max_n is None or xmax <= xmin:
        return Plan(origin=xmin, width=0.0, level=0.0, source="raw")
    if max_n < 2:
        raise ValueError(f"max_n must be at least 2, got {max_n}")
    buckets = max_n // 2
    width = (xmax - xmin) / buckets
    for seconds, name in levels:
        # A level up to twice the bucket width still gives at least half the buckets asked
        # for, from far fewer rows (a month: 720 hourly rows instead of 43,200 per minute).
        if seconds <= 2 * width:
            # Whole rollup buckets, aligned to them: rollup rows never straddle a bucket edge.
            width = math.ceil(width / seconds) * seconds
            origin = math.floor(xmin / width) * width
            return Plan(origin=origin, width=width, level=seconds, source=name)
    return Plan(origin=xmin, width=width, level=0.0, source="raw")


def downsample_rows(
    pos: np.ndarray,
    tmin: np.ndarray,
    vmin: np.ndarray,
    tmax: np.ndarray,
    vmax: np.ndarray,
    *,
    grid: Plan,
) -> tuple[np.ndarray, np.ndarray]:
    """Min and max per bucket from rows (raw samples or rollup rows), in time order.

    `pos` places a row in a bucket (a sample's time, a rollup row's bucket start);
    (tmin, vmin) and (tmax, vmax) are the row's extremes (both the sample for raw rows).
    Ties go to the earliest time.
    """
    n = len(pos)
    if n == 0:
        return np.empty(0), np.empty(0)
    if grid.width <= 0:
        order = np.argsort(tmin, kind="stable")
        return tmin[order], vmin[order]
    k = grid.bucket_of(pos)
    lo = np.lexsort((tmin, vmin, k))
    first_lo = np.ones(n, dtype=bool)
    first_lo[1:] = k[lo][1:] != k[lo][:-1]
    sel_lo = lo[first_lo]
    hi = np.lexsort((tmax, -vmax, k))
    first_hi = np.ones(n, dtype=bool)
    first_hi[1:] = k[hi][1:] != k[hi][:-1]
    sel_hi = hi[first_hi]
    # Both selections are in bucket order, one entry per non-empty bucket.
    t1, y1 = tmin[sel_lo], vmin[sel_lo]
    t2, y2 = tmax[sel_hi], vmax[sel_hi]
    same = (t1 == t2) & (y1 == y2)
    first_is_min = t1 <= t2
    a_t = np.where(first_is_min, t1, t2)
    a_y = np.where(first_is_min, y1, y2)
    b_t = np.where(first_is_min, t2, t1)
    b_y = np.where(first_is_min, y2, y1)
    x = np.column_stack((a_t, b_t)).ravel()
    y = np.column_stack((a_y, b_y)).ravel()
    keep = np.column_stack((np.ones_like(same), ~same)).ravel()
    return x[keep], y[keep]


def downsample_points(
    t: np.ndarray, y: np.ndarray, *, xmin: float, xmax: float, max_n: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Downsample raw samples (t, y) of [xmin, xmax] to ~max_n points keeping peaks.

    For a store without rollups (SQLite): the same buckets as `plan` chooses, so its
    answers match the PostgreSQL store's. Fewer samples than max_n come back unchanged.
    """
    t = np.asarray(t, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if max_n is None or len(t) <= max_n:
        order = np.argsort(t, kind="stable")
        return t[order], y[order]
    grid = plan(xmin, xmax, max_n)
    return downsample_rows(t, t, y, t, y, grid=grid)
