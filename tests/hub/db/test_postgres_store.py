"""PostgreSQL-specific behaviour: connection loss, atomicity, bad batches, partitions, retention."""

from __future__ import annotations

import psycopg2
import pytest

from edge_agent.wire import Batch, Series
from hub.db.base import StoreError
from hub.db.postgres import PostgresStore
from hub.db.rollups import partitions
from tests.fixtures.net import wait_for
from tests.fixtures.postgres import PgCluster

T0 = 1_764_000_000.0
DAY = 86_400.0


def one(agent: str, seq: int, t0: float, n: int = 10, value: float = 1.0) -> Batch:
    """A batch of one signal, n samples at 1 Hz from t0."""
    return Batch(agent, seq, [Series("Dev", "Sig", "V", [t0 + i for i in range(n)], [value] * n)])


def count(dsn: str, sql: str) -> int:
    """One number from the database, read on a connection of the test's own."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return int(cur.fetchone()[0])
    finally:
        conn.close()


def test_write_raises_store_error_while_down_and_reconnects_by_itself(own_pg: PgCluster) -> None:
    dsn = own_pg.create_database()
    store = PostgresStore(dsn=dsn, clock=lambda: T0, connect_timeout=2)
    store.open()
    assert store.write_batch(one("a1", 1, T0), T0)
    own_pg.stop("immediate")
    for seq in (2, 2, 3):  # the writer retries: every try must fail cleanly
        with pytest.raises(StoreError, match="PostgreSQL"):
            store.write_batch(one("a1", seq, T0 + 10 * seq), T0)
    with pytest.raises(StoreError):
        store.sample_count()
    own_pg.start()
    # No reopen: the next call reconnects.
    assert store.write_batch(one("a1", 2, T0 + 20), T0)
    assert store.write_batch(one("a1", 2, T0 + 20), T0) is False
    assert store.write_batch(one("a1", 3, T0 + 30), T0)
    assert store.sample_count() == 30
    assert count(dsn, "SELECT count(*) FROM ingest_batches") == 3
    store.close()


def test_a_failing_batch_leaves_neither_samples_nor_ledger_row(pg_dsn: str) -> None:
    store = PostgresStore(dsn=pg_dsn, clock=lambda: T0)
    store.open()
    # A real server-side failure in the middle of the COPY: a trigger refusing one value.
    conn = psycopg2.connect(pg_dsn)
    with conn, conn.cursor() as cur:
        cur.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF NEW.value = -999 THEN RAISE EXCEPTION 'refused by test'; END IF;"
            " RETURN NEW; END $$;"
            "CREATE TRIGGER refuse BEFORE INSERT ON samples FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
    conn.close()
    bad = one("a1", 1, T0, n=50)
    bad.signals[0].y[40] = -999.0
    with pytest.raises(StoreError, match="refused by test"):
        store.write_batch(bad, T0)
    assert store.sample_count() == 0
    assert count(pg_dsn, "SELECT count(*) FROM ingest_batches") == 0
    # The same (agent, seq) is not a duplicate afterwards: it was never committed.
    assert store.write_batch(one("a1", 1, T0, n=50), T0) is True
    assert store.sample_count() == 50
    store.close()


def test_a_batch_with_impossible_times_is_refused_and_nothing_else_is_lost(pg_dsn: str) -> None:
    store = PostgresStore(dsn=pg_dsn, clock=lambda: T0)
    store.open()
    assert store.write_batch(one("a1", 1, T0), T0)
    with pytest.raises(ValueError, match=r"outside 1900\.\.3000"):
        store.write_batch(one("a1", 2, 1e15), T0)
    assert store.write_batch(one("a1", 3, T0 + 100), T0)
    assert store.sample_count() == 20
    # The refused batch did not enter the ledger: seq 2 is free.
    assert count(pg_dsn, "SELECT count(*) FROM ingest_batches WHERE seq = 2") == 0
    store.close()


def test_copy_and_insert_paths_store_the_same_rows(pg_cluster: PgCluster) -> None:
    got = []
    for method in ("copy", "insert"):
        store = PostgresStore(dsn=pg_cluster.create_database(), write_method=method)
        store.open()
        b = one("a1", 1, T0 + 0.123456, n=700)
        b.signals[0].y = [i * 0.1 for i in range(700)]
        assert store.write_batch(b, T0)
        h = store.history("Dev", "Sig", None, None, None)
        got.append((h.x.tolist(), h.y.tolist()))
        store.close()
    assert got[0] == got[1]
    assert got[0][0][0] == pytest.approx(T0 + 0.123456, abs=1e-6)


def test_partitions_are_made_ahead_and_on_demand(pg_dsn: str) -> None:
    store = PostgresStore(dsn=pg_dsn, clock=lambda: T0, partitions_ahead=3)
    store.open()
    conn = psycopg2.connect(pg_dsn)
    names = [n for n, _ in partitions(conn)]
    assert len(names) == 4, names  # today and 3 ahead
    # A late batch from 10 days ago gets its own partition, not the default one.
    assert store.write_batch(one("a1", 1, T0 - 10 * DAY), T0)
    assert len(partitions(conn)) == 5
    assert count(pg_dsn, "SELECT count(*) FROM samples_default") == 0
    # A batch spread over 20 days: 8 partitions are made, the rest lands in the default one.
    b = Batch(
        "a1",
        2,
        [Series("Dev", "Sig", "V", [T0 - 100 * DAY + d * DAY for d in range(20)], [1.0] * 20)],
    )
    assert store.write_batch(b, T0)
    assert len(partitions(conn)) == 13
    assert count(pg_dsn, "SELECT count(*) FROM samples_default") == 12
    assert store.sample_count() == 30
    conn.close()
    store.close()


def test_retention_drops_old_partitions_and_default_rows(pg_dsn: str) -> None:
    now = [T0]
    store = PostgresStore(
        dsn=pg_dsn, clock=lambda: now[0], retention_s=30 * DAY, compress_after_s=None
    )
    store.open()
    for seq, age in enumerate((40, 31, 29, 1)):
        assert store.write_batch(one("a1", seq, T0 - age * DAY), T0)
    far = Batch(
        "a1",
        9,
        [Series("Dev", "Sig", "V", [T0 - 500 * DAY + d * DAY for d in range(12)], [2.0] * 12)],
    )
    assert store.write_batch(far, T0)
    assert store.sample_count() == 52
    out = store.maintain()
    assert out["partitions_dropped"] == 2 + 8  # 40 and 31 days old, and the 8 far ones
    assert out["default_rows_deleted"] == 4
    assert store.sample_count() == 20
    h = store.history("Dev", "Sig", None, None, None)
    assert h.x.min() >= T0 - 30 * DAY
    # Time moves on: the next upkeep drops the next day, keeps making partitions ahead.
    now[0] = T0 + 2 * DAY
    out = store.maintain()
    assert out["partitions_made"] >= 2 and out["partitions_dropped"] == 1
    assert store.sample_count() == 10
    store.close()


def test_policies_need_compression_after_the_longest_spool_age() -> None:
    with pytest.raises(ValueError, match="longer than the longest spool age"):
        PostgresStore(dsn="unused", compress_after_s=DAY, max_spool_age_s=2 * DAY)
    with pytest.raises(ValueError, match="write_method"):
        PostgresStore(dsn="unused", write_method="fast")


def test_open_against_a_dead_server_is_a_store_error(pg_cluster: PgCluster) -> None:
    from tests.fixtures.net import free_port

    store = PostgresStore(
        dsn=f"host=127.0.0.1 port={free_port()} user=x dbname=x", connect_timeout=1
    )
    with pytest.raises(StoreError, match="unreachable"):
        store.open()


def test_two_stores_on_one_database_store_a_batch_once(pg_dsn: str) -> None:
    a = PostgresStore(dsn=pg_dsn, clock=lambda: T0)
    b = PostgresStore(dsn=pg_dsn, clock=lambda: T0)
    a.open()
    b.open()
    assert a.write_batch(one("a1", 1, T0), T0) is True
    assert b.write_batch(one("a1", 1, T0), T0) is False
    wait_for(lambda: b.sample_count() == 10, 5, "both see the rows")
    a.close()
    b.close()


def test_a_group_commit_stores_each_new_batch_once(pg_dsn: str) -> None:
    store = PostgresStore(dsn=pg_dsn, clock=lambda: T0)
    store.open()
    assert store.write_batch(one("a1", 1, T0), T0)
    group = [
        (one("a1", 1, T0), T0),  # already in the ledger
        (one("a1", 2, T0 + 10), T0),
        (one("a2", 2, T0 + 20), T0),
        (one("a1", 2, T0 + 10), T0),  # the same batch twice in one group
        (Batch("a1", 3, []), T0),
    ]
    assert store.write_batches(group) == [False, True, True, False, True]
    assert store.sample_count() == 30
    assert count(pg_dsn, "SELECT count(*) FROM ingest_batches") == 4
    assert store.write_batches([(one("a1", 2, T0), T0)]) == [False]
    store.close()


def test_a_group_is_all_or_nothing(pg_dsn: str) -> None:
    store = PostgresStore(dsn=pg_dsn, clock=lambda: T0)
    store.open()
    with pytest.raises(ValueError, match="a1/3"):
        store.write_batches([(one("a1", 2, T0), T0), (one("a1", 3, 1e15), T0)])
    assert store.sample_count() == 0
    conn = psycopg2.connect(pg_dsn)
    with conn, conn.cursor() as cur:
        cur.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF NEW.value = -999 THEN RAISE EXCEPTION 'refused by test'; END IF;"
            " RETURN NEW; END $$;"
            "CREATE TRIGGER refuse BEFORE INSERT ON samples FOR EACH ROW EXECUTE FUNCTION refuse()"
        )
    conn.close()
    with pytest.raises(StoreError, match="refused by test"):
        store.write_batches([(one("a1", 2, T0), T0), (one("a1", 4, T0, value=-999), T0)])
    assert store.sample_count() == 0
    assert count(pg_dsn, "SELECT count(*) FROM ingest_batches") == 0
    assert store.write_batches([(one("a1", 2, T0), T0), (one("a1", 4, T0), T0)]) == [True, True]
    assert store.sample_count() == 20
    store.close()


def test_the_upkeep_thread_rolls_up_by_itself_and_survives_an_outage(
    own_pg: PgCluster, caplog: pytest.LogCaptureFixture
) -> None:
    dsn = own_pg.create_database()
    store = PostgresStore(dsn=dsn, clock=lambda: T0, maintain_every_s=0.05, connect_timeout=1)
    store.open()
    assert store.write_batch(one("a1", 1, T0), T0)
    state = "SELECT batch_id FROM rollup_state WHERE level = 'rollup_1h'"
    wait_for(lambda: count(dsn, state) > 0, 10, "the upkeep thread to take the batch in")
    assert count(dsn, "SELECT sum(n) FROM rollup_1m") == 10
    own_pg.stop("immediate")
    upkeep = store._upkeep
    assert upkeep is not None
    wait_for(lambda: upkeep.last_error is not None, 10, "the upkeep to notice the outage")
    runs = upkeep.runs
    own_pg.start()
    assert store.write_batch(one("a1", 2, T0 + 100), T0)
    wait_for(lambda: upkeep.runs > runs and upkeep.last_error is None, 10, "recovery")
    wait_for(lambda: count(dsn, "SELECT sum(n) FROM rollup_1m") == 20, 10, "second batch")
    errors = [r for r in caplog.records if "store upkeep failed" in r.getMessage()]
    assert len(errors) == 1, "an outage is logged once, not on every try"
    assert any("works again" in r.getMessage() for r in caplog.records)
    store.close()


def test_retention_must_outlive_the_spool_and_the_rollup_refresh_window() -> None:
    with pytest.raises(ValueError, match="rollup refresh window"):
        PostgresStore(dsn="unused", retention_s=2.5 * DAY, max_spool_age_s=DAY)
    PostgresStore(dsn="unused", retention_s=4 * DAY, max_spool_age_s=DAY)
