"""TimescaleDB-only behaviour on the PGlite stand-in: compression, retention job, late data."""

from __future__ import annotations

import time

import numpy as np
import psycopg2

from edge_agent.wire import Batch, Series
from hub.db.postgres import PostgresStore

DAY = 86_400.0


def ts_store(dsn: str, **kw) -> PostgresStore:
    """A store on the stand-in (one connection, INSERT batches)."""
    store = PostgresStore(dsn=dsn, single_connection=True, write_method="insert", **kw)
    store.open()
    assert store.flavour == "timescaledb"
    return store


def series_batch(seq: int, t0: float, n: int, step: float, seed: int) -> Batch:
    """One signal, n samples from t0 every `step` seconds, random values."""
    rng = np.random.default_rng(seed)
    t = (t0 + np.arange(n) * step).tolist()
    return Batch("a1", seq, [Series("Lab", "Wave", "V", t, rng.normal(size=n).tolist())])


def run_sql(store: PostgresStore, sql: str) -> list[tuple]:
    """Run SQL on the store's own connection (the stand-in takes one connection)."""
    with store._db.use("w") as conn, conn.cursor() as cur:
        cur.execute(sql)
        rows = cur.fetchall() if cur.description else []
        conn.commit()
    return rows


def test_compressed_chunks_answer_the_same_and_still_take_late_batches(timescale_dsn: str) -> None:
    t0 = 1_764_028_800.0  # whole day
    store = ts_store(timescale_dsn)
    for k in range(3):
        assert store.write_batch(series_batch(k, t0 + k * DAY, 1_500, 57.0, k), t0)
    store.maintain()
    queries = [(t0, t0 + 3 * DAY, 40), (t0 + 1_000, t0 + DAY, 100), (None, None, None)]
    before = [store.history("Lab", "Wave", *q) for q in queries]
    chunks = run_sql(store, "SELECT count(compress_chunk(c)) FROM show_chunks('samples') c")
    assert chunks[0][0] >= 3
    assert (
        run_sql(
            store,
            "SELECT count(*) FROM timescaledb_information.chunks"
            " WHERE hypertable_name = 'samples' AND is_compressed",
        )[0][0]
        == chunks[0][0]
    )
    after = [store.history("Lab", "Wave", *q) for q in queries]
    for b, a in zip(before, after, strict=True):
        assert np.array_equal(b.x, a.x) and np.array_equal(b.y, a.y)
    # A late batch into a compressed chunk is stored, and a replay of it is still refused.
    late = Batch("a1", 99, [Series("Lab", "Wave", "V", [t0 + 5.5], [123.0])])
    assert store.write_batch(late, t0) is True
    assert store.write_batch(late, t0) is False
    assert store.sample_count() == 4_501
    store.maintain()
    h = store.history("Lab", "Wave", t0, t0 + 3 * DAY, 40)
    assert h.y.max() == 123.0
    store.close()


def test_the_retention_job_drops_old_chunks(timescale_dsn: str) -> None:
    now = time.time()
    store = ts_store(timescale_dsn, retention_s=30 * DAY)
    assert store.write_batch(series_batch(1, now - 60 * DAY, 100, 1.0, 1), now)
    assert store.write_batch(series_batch(2, now - 2 * DAY, 100, 1.0, 2), now)
    assert store.sample_count() == 200
    job = run_sql(
        store,
        "SELECT job_id FROM timescaledb_information.jobs"
        " WHERE proc_name = 'policy_retention' AND hypertable_name = 'samples'",
    )
    assert len(job) == 1
    # Background workers do not run in the stand-in: run the policy's job ourselves.
    run_sql(store, f"CALL run_job({job[0][0]})")
    assert store.sample_count() == 100
    h = store.history("Lab", "Wave", None, None, None)
    assert h.x.min() >= now - 3 * DAY
    store.close()


def test_policies_are_replaced_not_duplicated_on_reopen(timescale_dsn: str) -> None:
    store = ts_store(timescale_dsn, compress_after_s=7 * DAY, retention_s=None)
    store.close()
    store = ts_store(timescale_dsn, compress_after_s=10 * DAY, retention_s=90 * DAY)
    rows = run_sql(
        store,
        "SELECT proc_name, config->>'compress_after', config->>'drop_after'"
        " FROM timescaledb_information.jobs WHERE hypertable_name = 'samples' ORDER BY 1",
    )
    store.close()
    assert [r[0] for r in rows] == ["policy_compression", "policy_retention"]
    assert rows[0][1] == "10 days" and rows[1][2] == "90 days"
    conn = psycopg2.connect(timescale_dsn)
    with conn.cursor() as cur:
        cur.execute("SELECT value FROM storage_settings WHERE key = 'retention'")
        assert cur.fetchone() == ("90 days",)
    conn.close()


def test_a_signal_in_compressed_chunks_is_deleted_and_the_others_stay(timescale_dsn: str) -> None:
    t0 = 1_764_028_800.0  # whole day
    store = ts_store(timescale_dsn)
    for k in range(2):
        b = series_batch(k, t0 + k * DAY, 500, 57.0, k)
        other = Series("Lab", "Other", "V", b.signals[0].t, [float(k)] * 500)
        assert store.write_batch(Batch("a1", k, [b.signals[0], other]), t0)
    store.maintain()
    before = store.history("Lab", "Other", None, None, None)
    chunks = run_sql(store, "SELECT count(compress_chunk(c)) FROM show_chunks('samples') c")
    assert chunks[0][0] >= 2
    assert store.delete_signals([("Lab", "Wave")]) == 1
    assert [r.key for r in store.signals()] == ["Lab.Other"]
    assert store.sample_count() == 1_000
    (kept,) = [r.id for r in store.signals()]
    for view in ("rollup_1m", "rollup_1h"):  # only the kept signal's buckets remain
        assert run_sql(store, f"SELECT count(*) FROM {view} WHERE signal_id <> {kept}")[0][0] == 0
        assert run_sql(store, f"SELECT count(*) FROM {view} WHERE signal_id = {kept}")[0][0] > 0
    after = store.history("Lab", "Other", None, None, None)
    assert np.array_equal(before.x, after.x) and np.array_equal(before.y, after.y)
    store.close()
