"""`opencontrol db migrate` / `db maintain` against a real server."""

from __future__ import annotations

import psycopg2
import pytest

from hub.cli import main
from tests.fixtures.net import free_port


def setting(dsn: str, key: str) -> str | None:
    """A value recorded in storage_settings."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT value FROM storage_settings WHERE key = %s", (key,))
            return cur.fetchone()[0]
    finally:
        conn.close()


def test_migrate_then_again_then_maintain(pg_dsn: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "migrate", "--dsn", pg_dsn, "--retention-days", "30"]) == 0
    out = capsys.readouterr().out
    assert "applied  001_core.sql" in out and "flavour: postgresql" in out
    assert setting(pg_dsn, "retention") == "30 days"
    assert main(["db", "migrate", "--dsn", pg_dsn, "--retention-days", "30"]) == 0
    assert "0 applied" in capsys.readouterr().out
    assert main(["db", "maintain", "--dsn", pg_dsn]) == 0
    assert "partitions_made=" in capsys.readouterr().out
    # maintain adopts the recorded policies and leaves them as they were
    assert setting(pg_dsn, "retention") == "30 days"


def test_migrate_explains_what_is_wrong(capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    monkeypatch.delenv("OPENCONTROL_DSN", raising=False)
    assert main(["db", "migrate", "--dsn", ""]) == 2
    assert "--dsn" in capsys.readouterr().err
    dead = f"host=127.0.0.1 port={free_port()} user=x dbname=x connect_timeout=1"
    assert main(["db", "migrate", "--dsn", dead]) == 1
    assert "cannot connect" in capsys.readouterr().err
