"""History from rollups equals history from raw samples; plain PostgreSQL equals TimescaleDB."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.wire import Batch, Series
from hub.db.downsample import downsample_rows, plan
from hub.db.postgres import PostgresStore

T0 = 1_764_028_800.0  # 2025-11-25T00:00:00Z
STEP = 15.0
N = 3 * 86_400 // 15  # three days every 15 s
rng = np.random.default_rng(42)
T = T0 + np.arange(N) * STEP + 0.25  # off the minute grid on purpose
Y = rng.normal(size=N)
Y[1_234] = 40.0
Y[9_876] = -40.0
# (xmin, xmax, max_n): 1 h rollups, 1 min rollups, unaligned edges, raw, everything.
QUERIES = [
    (T0, T0 + 3 * 86_400, 20),
    (T0, T0 + 86_400, 200),
    (T0 + 1_000.5, T0 + 2 * 86_400 - 77.0, 40),
    (T0 + 5_000.0, T0 + 60_000.0, 300),
    (T0 + 100.0, T0 + 1_000.0, 50),
    (T0 + 100.0, T0 + 400.0, 100),
    (None, None, 100),
]


def fill(store: PostgresStore, seq0: int = 0) -> None:
    """Write the data set in batches of 2,000 samples, plus a noisy second signal."""
    for k, i in enumerate(range(0, N, 2_000)):
        sl = slice(i, i + 2_000)
        b = Batch(
            "a1",
            seq0 + k,
            [
                Series("Lab", "Wave", "V", T[sl].tolist(), Y[sl].tolist()),
                Series("Lab", "Other", "V", T[sl].tolist(), (Y[sl] * 100).tolist()),
            ],
        )
        assert store.write_batch(b, T0)


def expected(xmin: float | None, xmax: float | None, max_n: int) -> tuple[np.ndarray, np.ndarray]:
    """The answer computed here from the raw samples."""
    lo = T[0] if xmin is None else xmin
    hi = T[-1] if xmax is None else xmax
    sel = (lo <= T) & (hi >= T)
    t, y = T[sel], Y[sel]
    if len(t) <= max_n and plan(lo, hi, max_n).source == "raw":
        return t, y
    grid = plan(np.floor(lo * 1e6) / 1e6, np.ceil(hi * 1e6) / 1e6, max_n)
    return downsample_rows(t, t, y, t, y, grid=grid)


def answers(store: PostgresStore) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """The store's answers to QUERIES."""
    out = []
    for xmin, xmax, n in QUERIES:
        h = store.history("Lab", "Wave", xmin, xmax, n)
        out.append((h.x, h.y, h.source))
    return out


def test_rollup_answers_equal_raw_answers(pg_dsn: str) -> None:
    store = PostgresStore(dsn=pg_dsn, clock=lambda: T0)
    store.open()
    fill(store)
    assert store.maintain()["batches_rolled_up"] == 9
    sources = []
    for (xmin, xmax, n), (x, y, src) in zip(QUERIES, answers(store), strict=True):
        ex, ey = expected(xmin, xmax, n)
        assert np.array_equal(x, ex), (xmin, xmax, n, src)
        assert np.array_equal(y, ey), (xmin, xmax, n, src)
        assert len(x) <= n + 4
        sources.append(src)
    assert sources[:3] == ["rollup_1h", "rollup_1m", "rollup_1h"]
    assert "raw" in sources
    store.close()


def test_a_late_batch_shows_before_and_after_the_rollups_take_it_in(pg_dsn: str) -> None:
    store = PostgresStore(dsn=pg_dsn, clock=lambda: T0)
    store.open()
    fill(store)
    store.maintain()
    # A replayed backlog: an old sample with a new extreme, in an hour already rolled up.
    late = T0 + 40_000.5
    assert store.write_batch(Batch("a2", 1, [Series("Lab", "Wave", "V", [late], [99.0])]), T0)
    for _ in range(2):  # before maintain (read raw past the watermark), then after
        h = store.history("Lab", "Wave", T0, T0 + 3 * 86_400, 20)
        i = int(np.argmax(h.y))
        assert h.y[i] == 99.0 and h.x[i] == late
        assert h.source == "rollup_1h"
        store.maintain()
    store.close()


@pytest.mark.slow
def test_plain_postgresql_and_timescaledb_give_the_same_answers(
    pg_dsn: str, timescale_dsn: str
) -> None:
    plain = PostgresStore(dsn=pg_dsn, clock=lambda: T0)
    ts = PostgresStore(
        dsn=timescale_dsn, clock=lambda: T0, single_connection=True, write_method="insert"
    )
    results = []
    for store, flavour in ((plain, "postgresql"), (ts, "timescaledb")):
        store.open()
        assert store.flavour == flavour
        fill(store)
        store.maintain()
        results.append(answers(store))
        assert store.sample_count() == 2 * N
        store.close()
    for (xa, ya, sa), (xb, yb, sb), q in zip(results[0], results[1], QUERIES, strict=True):
        assert sa == sb, q
        assert np.array_equal(xa, xb), q
        assert np.array_equal(ya, yb), q
