"""Backups of the hub's store that restore.

SQLite: SQLite's online backup API copies the live file page by page while the hub keeps
writing; the copy is checked and renamed into place only when complete. PostgreSQL: pg_dump
of the hub's database in pg_restore's custom format, and pg_restore into an empty database.
A restore refuses to overwrite a store that already holds history unless forced.
"""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .db.sqlite import create_private

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"
HUB_TABLES = ("signals", "samples", "events")
COUNT_SQL = (
    "SELECT (SELECT count(*) FROM signals), (SELECT count(*) FROM samples), "
    "(SELECT count(*) FROM events)"
)
PG_TIMEOUT_S = 6 * 3600.0  # pg_dump/pg_restore of a large store: generous, but bounded


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why."""


@dataclass(frozen=True)
class Counts:
    """What a store holds: signals, samples, events."""

    signals: int
    samples: int
    events: int

    def __str__(self) -> str:
        return f"{self.signals} signals, {self.samples} samples, {self.events} events"


def backup_kind(path: Path) -> str:
    """'sqlite' or 'postgres' by the file's first bytes; BackupError for anything else."""
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise BackupError(f"cannot read backup {path}: {exc}") from exc
    if head == SQLITE_MAGIC:
        return "sqlite"
    if head.startswith(PG_MAGIC):
        return "postgres"
    raise BackupError(f"{path} is neither an SQLite backup nor a pg_dump custom-format file")


# -- SQLite ---------------------------------------------------------------------------------


def _sqlite_counts(conn: sqlite3.Connection, path: Path) -> Counts:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    missing = [t for t in HUB_TABLES if t not in tables]
    if missing:
        raise BackupError(f"{path} is not a hub store (no table {', '.join(missing)})")
    return Counts(*conn.execute(COUNT_SQL).fetchone())


def backup_sqlite(src: Path, dest: Path, *, pages: int = 4096) -> Counts:
    """Copy the live store `src` to `dest` with the online backup API; the hub may keep
    writing (it waits at most one step of `pages` pages). Blocking: run it off the loop."""
    if not src.is_file():
        raise BackupError(f"no SQLite store at {src}")
    part = dest.with_name(dest.name + ".part")
    try:
        if not dest.parent.exists():
            dest.parent.mkdir(mode=0o700, parents=True)
        part.unlink(missing_ok=True)
        create_private(part)  # 0600: the store holds password hashes
        source = sqlite3.connect(src, timeout=30)
        target = sqlite3.connect(part)
        try:
            source.backup(target, pages=pages)
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            (ok,) = target.execute("PRAGMA quick_check").fetchone()
            if ok != "ok":
                raise BackupError(f"the copy of {src} failed its check: {ok}")
            counts = _sqlite_counts(target, src)
        finally:
            target.close()
            source.close()
        os.replace(part, dest)
    except sqlite3.Error as exc:
        part.unlink(missing_ok=True)
        raise BackupError(f"SQLite backup of {src} failed: {exc}") from exc
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return counts


def restore_sqlite(backup: Path, target: Path, *, force: bool = False) -> Counts:
    """Copy a backup into the store file `target` (the hub must be stopped). A target that
    already holds signals is kept unless `force`."""
    try:
        source = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        try:
            (ok,) = source.execute("PRAGMA quick_check").fetchone()
            if ok != "ok":
                raise BackupError(f"{backup} is damaged: {ok}")
            counts = _sqlite_counts(source, backup)
            if target.exists() and target.stat().st_size > 0 and not force:
                _refuse_if_used(target)
            create_private(target)
            dest = sqlite3.connect(target, timeout=30)
            try:
                source.backup(dest)
                dest.execute("PRAGMA journal_mode=WAL")
            finally:
                dest.close()
        finally:
            source.close()
    except sqlite3.Error as exc:
        raise BackupError(f"restore of {backup} into {target} failed: {exc}") from exc
    return counts


def _refuse_if_used(target: Path) -> None:
    conn = sqlite3.connect(f"file:{target}?mode=ro", uri=True, timeout=30)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        used = "signals" in tables and conn.execute("SELECT count(*) FROM signals").fetchone()[0]
    finally:
        conn.close()
    if used:
        raise BackupError(
            f"{target} already holds {used} signals: restore refuses to overwrite it "
            "(stop the hub; --force replaces it)"
        )


# -- PostgreSQL -----------------------------------------------------------------------------


def pg_tool(name: str) -> str:
    """The path of pg_dump/pg_restore: $OPENCONTROL_PG_BIN, then PATH, then the newest
    /usr/lib/postgresql/*/bin (Debian keeps them off PATH)."""
    env_dir = os.environ.get("OPENCONTROL_PG_BIN")
    if env_dir and (Path(env_dir) / name).is_file():
        return str(Path(env_dir) / name)
    found = shutil.which(name)
    if found:
        return found
    candidates = glob.glob(f"/usr/lib/postgresql/*/bin/{name}")
    if candidates:
        return max(candidates, key=lambda p: int(Path(p).parts[-3]))
    raise BackupError(f"{name} not found: install the PostgreSQL client tools")


def _pg_env(dsn: str) -> tuple[str, dict[str, str]]:
    """The DSN without its password (kept out of the process list) and the environment."""
    from psycopg2.extensions import make_dsn, parse_dsn

    try:
        params = parse_dsn(dsn)
    except Exception as exc:
        raise BackupError(f"[store] dsn is not a libpq connection string: {exc}") from exc
    env = dict(os.environ)
    if "password" in params:
        env["PGPASSWORD"] = params.pop("password")
    return make_dsn(**params), env


def _run_pg(args: list[str], env: dict[str, str]) -> str:
    try:
        out = subprocess.run(
            args, capture_output=True, text=True, env=env, timeout=PG_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupError(f"{Path(args[0]).name} failed: {exc}") from exc
    if out.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {out.stderr.strip()}")
    return out.stdout


def _pg_query(dsn: str, sql: str) -> Any:
    import psycopg2

    try:
        conn = psycopg2.connect(dsn, connect_timeout=10)
    except psycopg2.Error as exc:
        raise BackupError(f"cannot connect to PostgreSQL: {exc}".strip()) from exc
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchone()
    except psycopg2.Error as exc:
        raise BackupError(f"PostgreSQL: {exc}".strip()) from exc
    finally:
        conn.close()


def _pg_counts(dsn: str) -> Counts:
    (has,) = _pg_query(dsn, "SELECT to_regclass('public.signals') IS NOT NULL")
    if not has:
        raise BackupError("the database holds no hub store (no table signals)")
    return Counts(*_pg_query(dsn, COUNT_SQL))


def _has_timescaledb(dsn: str) -> bool:
    row = _pg_query(dsn, "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'")
    return bool(row[0])


def backup_postgres(dsn: str, dest: Path) -> Counts:
    """pg_dump the hub's database into `dest` (custom format, no owners or grants)."""
    if _has_timescaledb(dsn):
        raise BackupError(
            "the store uses TimescaleDB: back it up with TimescaleDB's own procedure "
            "(docs/postgres.md); opencontrol backup covers plain PostgreSQL"
        )
    counts = _pg_counts(dsn)
    clean, env = _pg_env(dsn)
    part = dest.with_name(dest.name + ".part")
    if not dest.parent.exists():
        dest.parent.mkdir(mode=0o700, parents=True)
    try:
        create_private(part)
        _run_pg(
            [
                pg_tool("pg_dump"),
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--file={part}",
                f"--dbname={clean}",
            ],
            env,
        )
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return counts


def restore_postgres(backup: Path, dsn: str, *, force: bool = False) -> Counts:
    """pg_restore a backup into the database of `dsn` in one transaction. A database that
    already holds the hub's tables is replaced only with `force`."""
    if _has_timescaledb(dsn):
        raise BackupError(
            "the target database has TimescaleDB: restore with TimescaleDB's own procedure "
            "(docs/postgres.md); opencontrol restore covers plain PostgreSQL"
        )
    (exists,) = _pg_query(dsn, "SELECT to_regclass('public.signals') IS NOT NULL")
    if exists and not force:
        (n,) = _pg_query(dsn, "SELECT count(*) FROM signals")
        raise BackupError(
            f"the target database already has the hub's tables ({n} signals): restore "
            "refuses to overwrite them (stop the hub; --force replaces them)"
        )
    clean, env = _pg_env(dsn)
    args = [pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error"]
    if exists:
        args += ["--clean", "--if-exists"]
    _run_pg([*args, "--single-transaction", f"--dbname={clean}", str(backup)], env)
    return _pg_counts(dsn)


# -- names and rotation ---------------------------------------------------------------------


def backup_name(kind: str, now: float | None = None) -> str:
    """opencontrol-20261130T132400123Z.sqlite (or .dump): sorts by time."""
    now = time.time() if now is None else now
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now)) + f"{int(now * 1000) % 1000:03d}Z"
    return f"opencontrol-{stamp}.{'sqlite' if kind == 'sqlite' else 'dump'}"


def rotate(directory: Path, keep: int, suffix: str = ".sqlite") -> list[Path]:
    """Delete all but the newest `keep` backups the hub made in `directory`; the deleted."""
    made = sorted(directory.glob(f"opencontrol-*Z{suffix}"))
    gone = made[:-keep] if keep > 0 else made
    for path in gone:
        path.unlink(missing_ok=True)
    return gone
