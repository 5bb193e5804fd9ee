"""Apply the `sql/` migrations in order, each once, recorded in `schema_migrations`.

The same files serve plain PostgreSQL and TimescaleDB (its statements are guarded by the
extension's presence inside the files). Re-running is safe: applied files are skipped, and
a file whose text changed after it was applied is reported, not re-run.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hub.db.base import StoreError

# Any constant fits: it only serialises concurrent migrators (two hubs starting at once).
_LOCK_KEY = 0x0C0_5707E
_NAME = re.compile(r"^(\d{3,})_[a-z0-9_]+\.sql$")


def default_sql_dir() -> Path:
    """Where the migrations live: $OPENCONTROL_SQL_DIR, the checkout's `sql/`, or the copy
    a wheel installs under `<prefix>/share/opencontrol/sql`."""
    env = os.environ.get("OPENCONTROL_SQL_DIR")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[2] / "sql"
    if checkout.is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "opencontrol" / "sql"


@dataclass(frozen=True)
class Migration:
    """One migration file: its version (the number prefix), name and text."""

    version: str
    name: str
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


def load_migrations(sql_dir: Path | None = None) -> list[Migration]:
    """Read `NNN_name.sql` files in version order; refuse odd names and duplicate versions."""
    folder = sql_dir or default_sql_dir()
    if not folder.is_dir():
        raise StoreError(f"migrations folder {folder} does not exist")
    found: dict[str, Migration] = {}
    for path in sorted(folder.glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise StoreError(f"migration file {path} is not named NNN_name.sql")
        version = m.group(1)
        if version in found:
            raise StoreError(
                f"two migrations with version {version}: {found[version].name}, {path.name}"
            )
        found[version] = Migration(version, path.name, path.read_text())
    return [found[v] for v in sorted(found, key=int)]


@dataclass(frozen=True)
class MigrationReport:
    """What `migrate` did: files applied now, files already there, the flavour found."""

    applied: list[str]
    skipped: list[str]
    changed: list[str]
    flavour: str


def migrate(conn: Any, *, sql_dir: Path | None = None, timescaledb: bool = True) -> MigrationReport:
    """Apply pending migrations on a psycopg2 connection, each file in its own transaction.

    `timescaledb=False` keeps a server that has the extension on plain PostgreSQL.
    """
    migrations = load_migrations(sql_dir)
    old_autocommit = conn.autocommit
    conn.autocommit = False
    applied: list[str] = []
    skipped: list[str] = []
    changed: list[str] = []
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
            conn.commit()
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            conn.commit()
            cur.execute("SELECT version, checksum FROM schema_migrations")
            done = dict(cur.fetchall())
            conn.commit()
            for mig in migrations:
                if mig.version in done:
                    skipped.append(mig.name)
                    if done[mig.version] != mig.checksum:
                        changed.append(mig.name)
                    continue
                try:
                    cur.execute(
                        "SELECT set_config('opencontrol.timescaledb', %s, true)",
                        ("on" if timescaledb else "off",),
                    )
                    cur.execute(mig.text)
                    cur.execute(
                        "INSERT INTO schema_migrations (version, name, checksum)"
                        " VALUES (%s, %s, %s)",
                        (mig.version, mig.name, mig.checksum),
                    )
                    conn.commit()
                except Exception as exc:
                    conn.rollback()
                    raise StoreError(f"migration {mig.name} failed: {exc}".strip()) from exc
                applied.append(mig.name)
            cur.execute("SELECT opencontrol_has_timescaledb()")
            flavour = "timescaledb" if cur.fetchone()[0] else "postgresql"
            conn.commit()
    finally:
        if not conn.closed:
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
                conn.commit()
            except Exception:
                conn.rollback()
            conn.autocommit = old_autocommit
    return MigrationReport(applied, skipped, changed, flavour)


def apply_policies(conn: Any, *, compress_after_s: float | None, retention_s: float | None) -> str:
    """Set compression age and retention (None = off); return the flavour ('timescaledb'...)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT opencontrol_apply_policies(justify_hours(%s * interval '1 second'),"
            " justify_hours(%s * interval '1 second'))",
            (compress_after_s, retention_s),
        )
        flavour = cur.fetchone()[0]
    conn.commit()
    return str(flavour)
