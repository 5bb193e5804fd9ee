"""History benchmark: a one-year 1 Hz signal (31.5 M rows) downsampled to 2,000 points.

    .venv/bin/python bench/history.py              # plain PostgreSQL 15, a throwaway cluster
    .venv/bin/python bench/history.py --days 30    # a smaller data set

The rows are generated server-side (generate_series) into the partitioned samples table,
the rollups are built by hub/db/rollups.py, then PostgresStore.history answers plots of a
year, a month, a day and an hour; each is timed (median of several runs) and checked
against the year's known extremes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.db import rollups  # noqa: E402
from hub.db.postgres import PostgresStore  # noqa: E402
from rigs.postgres import start_cluster  # noqa: E402

DAY = 86_400
T0 = 1_735_689_600  # 2025-01-01T00:00:00Z


def generate(store: PostgresStore, dsn: str, days: int) -> tuple[int, float]:
    """Fill one signal with `days` of 1 Hz samples and build its rollups; return (id, s)."""
    import psycopg2

    conn = psycopg2.connect(dsn)
    start = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO signals (device, name, unit) VALUES ('Bench', 'Year', 'V') RETURNING id"
        )
        sid = cur.fetchone()[0]
    conn.commit()
    day_us = DAY * 1_000_000
    rollups.ensure_partitions(conn, [(T0 + d * DAY) * 1_000_000 for d in range(days)], day_us)
    step = 10
    for d0 in range(0, days, step):
        n = min(step, days - d0)
        with conn.cursor() as cur:
            # A daily wave plus noise, and one spike a year (a peak the plot must show).
            cur.execute(
                "INSERT INTO samples (time, signal_id, value)"
                " SELECT to_timestamp(%s + i), %s,"
                " CASE WHEN %s + i = %s THEN 1000.0 WHEN %s + i = %s THEN -1000.0"
                " ELSE sin((%s + i) / 13751.0) * 10 + random() END"
                " FROM generate_series(0, %s - 1) AS i",
                (
                    T0 + d0 * DAY,
                    sid,
                    T0 + d0 * DAY,
                    T0 + days * DAY // 3,
                    T0 + d0 * DAY,
                    T0 + 2 * days * DAY // 3,
                    T0 + d0 * DAY,
                    n * DAY,
                ),
            )
        conn.commit()
        print(f"  samples: {d0 + n}/{days} days", end="\r", flush=True)
    gen = time.perf_counter() - start
    print(f"  {days * DAY:,} samples generated in {gen:.0f} s" + " " * 20)
    start = time.perf_counter()
    for d0 in range(0, days, 7):
        a = (T0 + d0 * DAY) * 1_000_000
        b = (T0 + min(days, d0 + 7) * DAY) * 1_000_000
        rollups.refresh_range(conn, a, b, flavour=store.flavour)
        print(f"  rollups: {min(days, d0 + 7)}/{days} days", end="\r", flush=True)
    with conn.cursor() as cur:
        cur.execute("ANALYZE")
    conn.commit()
    conn.close()
    return sid, time.perf_counter() - start


def timed(
    store: PostgresStore, xmin: float | None, xmax: float | None, n: int, runs: int
) -> tuple[float, float, int, str, float, float]:
    """(median ms, first ms, points, source, min, max) of a history query."""
    times = []
    h = None
    for _ in range(runs):
        start = time.perf_counter()
        h = store.history("Bench", "Year", xmin, xmax, n)
        times.append((time.perf_counter() - start) * 1000)
    assert h is not None
    return (
        statistics.median(times),
        times[0],
        len(h.x),
        h.source,
        float(h.y.min()),
        float(h.y.max()),
    )


def main() -> int:
    """Generate, then time plots of a year, a month, a day and an hour."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    cluster = start_cluster(fsync=False)
    try:
        dsn = cluster.create_database("history")
        store = PostgresStore(dsn=dsn, compress_after_s=None, clock=lambda: T0)
        store.open()
        print(f"generating {args.days} days of a 1 Hz signal ({store.flavour}) ...")
        _, roll_s = generate(store, dsn, args.days)
        print(f"  rollups built in {roll_s:.0f} s")
        end = T0 + args.days * DAY - 1
        cases = [
            ("whole signal (no range)", None, None),
            (f"{args.days} days", T0, end),
            ("30 days", T0 + 100 * DAY, T0 + 130 * DAY),
            ("1 day", T0 + 50 * DAY + 1234, T0 + 51 * DAY + 1234),
            ("1 hour", T0 + 20 * DAY, T0 + 20 * DAY + 3600),
        ]
        for label, xmin, xmax in cases:
            if xmax is not None and xmax > end:
                continue
            med, first, pts, src, lo, hi = timed(store, xmin, xmax, args.points, args.runs)
            print(
                f"{label:>24}: {med:7.1f} ms median ({first:.1f} ms first), {pts} points"
                f" from {src}, min {lo:.1f} max {hi:.1f}"
            )
        store.close()
    finally:
        cluster.stop("fast")
        cluster.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
