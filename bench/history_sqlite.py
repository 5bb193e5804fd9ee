"""History on the embedded SQLite store: N days of a 1 Hz signal read raw (no rollups).

    .venv/bin/python bench/history_sqlite.py --days 30     # 2.6 M rows, ~100 MB
    .venv/bin/python bench/history_sqlite.py --days 365    # a year: 31.5 M rows, ~1.2 GB

Rows go straight into the file (executemany), then SQLiteStore.history answers a plot of
the whole range, of 30 days, 1 day and 1 hour at 2,000 points; each is timed (median of
several runs). SQLite has no rollups: a plot of a range reads every raw sample in it.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from hub.db.sqlite import SQLiteStore  # noqa: E402

DAY = 86_400
T0 = 1_735_689_600  # 2025-01-01T00:00:00Z


def generate(store: SQLiteStore, days: int) -> float:
    """Fill signal Bench.Year with `days` of 1 Hz samples; return the seconds it took."""
    conn = store._conn()
    conn.execute(
        "INSERT INTO signals (device, name, unit, first_seen) VALUES ('Bench','Year','V',0)"
    )
    (sid,) = conn.execute("SELECT id FROM signals WHERE name = 'Year'").fetchone()
    start = time.perf_counter()
    for d in range(days):
        t0 = T0 + d * DAY
        rows = ((t0 + i, sid, math.sin((t0 + i) / 13751.0) * 10) for i in range(DAY))
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO samples (time, signal_id, value) VALUES (?, ?, ?)", rows)
        conn.execute("COMMIT")
        print(f"  {d + 1}/{days} days", end="\r", flush=True)
    return time.perf_counter() - start


def main() -> int:
    """Generate, then time plots of the whole range, 30 days, a day and an hour."""
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default=None, help="where the file goes (default: a temp dir)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        store = SQLiteStore(path=Path(tmp) / "history.sqlite")
        store.open()
        print(f"generating {args.days} days of a 1 Hz signal into SQLite ...")
        gen = generate(store, args.days)
        size = (Path(tmp) / "history.sqlite").stat().st_size
        print(f"  {args.days * DAY:,} rows in {gen:.0f} s, file {size / 1e6:.0f} MB" + " " * 10)
        end = T0 + args.days * DAY - 1
        cases = [
            (f"{args.days} days", T0, end),
            ("30 days", T0, T0 + 30 * DAY),
            ("1 day", T0 + 5 * DAY, T0 + 6 * DAY),
            ("1 hour", T0 + 2 * DAY, T0 + 2 * DAY + 3600),
        ]
        for label, xmin, xmax in cases:
            if xmax > end + 1:
                continue
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                h = store.history("Bench", "Year", xmin, xmax, args.points)
                times.append((time.perf_counter() - start) * 1000)
            print(
                f"{label:>10}: {statistics.median(times):9.1f} ms median "
                f"({times[0]:.1f} ms first), {len(h.x)} points"
            )
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
