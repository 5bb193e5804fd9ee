"""Migrations: applied in order, recorded, re-runnable; a failing file changes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import psycopg2
import pytest

from hub.db.base import StoreError
from hub.db.migrate import default_sql_dir, load_migrations, migrate


def tables(conn) -> set[str]:
    """Tables and views in the public schema."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        out = {r[0] for r in cur.fetchall()}
    conn.commit()
    return out


def test_applies_every_file_once_and_records_it(pg_dsn: str) -> None:
    conn = psycopg2.connect(pg_dsn)
    first = migrate(conn)
    names = [m.name for m in load_migrations()]
    assert first.applied == names and first.flavour == "postgresql"
    assert {
        "signals",
        "samples",
        "ingest_batches",
        "events",
        "rejected_messages",
        "documents",
        "rollup_1m",
        "rollup_1h",
        "schema_migrations",
    } <= tables(conn)
    again = migrate(conn)
    assert again.applied == [] and again.skipped == names and again.changed == []
    with conn.cursor() as cur:
        cur.execute("SELECT version FROM schema_migrations ORDER BY version")
        assert [r[0] for r in cur.fetchall()] == [m.version for m in load_migrations()]
    conn.close()


def test_a_failing_migration_is_rolled_back_and_not_recorded(pg_dsn: str, tmp_path: Path) -> None:
    sql = tmp_path / "sql"
    shutil.copytree(default_sql_dir(), sql)
    (sql / "900_broken.sql").write_text(
        "CREATE TABLE half_done (x int);\nSELECT no_such_function();\n"
    )
    conn = psycopg2.connect(pg_dsn)
    with pytest.raises(StoreError, match=r"900_broken\.sql failed.*no_such_function"):
        migrate(conn, sql_dir=sql)
    assert "half_done" not in tables(conn)
    assert "samples" in tables(conn)  # the good files before it stay applied
    (sql / "900_broken.sql").write_text("CREATE TABLE half_done (x int);\n")
    report = migrate(conn, sql_dir=sql)
    assert report.applied == ["900_broken.sql"]
    assert "half_done" in tables(conn)
    conn.close()


def test_an_edited_applied_file_is_reported_not_rerun(pg_dsn: str, tmp_path: Path) -> None:
    sql = tmp_path / "sql"
    shutil.copytree(default_sql_dir(), sql)
    conn = psycopg2.connect(pg_dsn)
    migrate(conn, sql_dir=sql)
    target = sql / "001_core.sql"
    target.write_text(target.read_text() + "\nCREATE TABLE should_not_appear (x int);\n")
    report = migrate(conn, sql_dir=sql)
    assert report.changed == ["001_core.sql"] and report.applied == []
    assert "should_not_appear" not in tables(conn)
    conn.close()


def test_badly_named_or_duplicate_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "001_a.sql").write_text("SELECT 1;")
    (tmp_path / "001_b.sql").write_text("SELECT 1;")
    with pytest.raises(StoreError, match="two migrations with version 001"):
        load_migrations(tmp_path)
    (tmp_path / "001_b.sql").unlink()
    (tmp_path / "2-oops.sql").write_text("SELECT 1;")
    with pytest.raises(StoreError, match=r"not named NNN_name\.sql"):
        load_migrations(tmp_path)


def test_timescaledb_schema_on_the_stand_in(timescale_dsn: str) -> None:
    conn = psycopg2.connect(timescale_dsn)
    report = migrate(conn)
    assert report.flavour == "timescaledb"
    with conn.cursor() as cur:
        cur.execute("SELECT hypertable_name FROM timescaledb_information.hypertables")
        assert ("samples",) in cur.fetchall()
        cur.execute(
            "SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates"
            " ORDER BY 1"
        )
        assert cur.fetchall() == [("rollup_1h", False), ("rollup_1m", False)]
        cur.execute(
            "SELECT segmentby_column_index IS NOT NULL FROM"
            " timescaledb_information.compression_settings"
            " WHERE hypertable_name = 'samples' AND attname = 'signal_id'"
        )
        assert cur.fetchone() == (True,)
        cur.execute("SELECT opencontrol_apply_policies(interval '7 days', interval '365 days')")
        assert cur.fetchone() == ("timescaledb",)
        cur.execute(
            "SELECT proc_name, hypertable_name FROM timescaledb_information.jobs"
            " WHERE hypertable_name IS NOT NULL ORDER BY 1, 2"
        )
        jobs = cur.fetchall()
    conn.commit()
    assert ("policy_compression", "samples") in jobs
    assert ("policy_retention", "samples") in jobs
    assert sum(1 for j in jobs if j[0] == "policy_refresh_continuous_aggregate") == 2
    # Re-running changes nothing and keeps one policy of each kind.
    assert migrate(conn).applied == []
    conn.close()
