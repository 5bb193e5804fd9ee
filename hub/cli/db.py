"""`opencontrol db ...`: apply the PostgreSQL migrations and run store upkeep by hand."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

DAY = 86_400.0


def add_commands(subparsers: Any) -> None:
    """Add the `db` command group (migrate, maintain) to the `opencontrol` parser."""
    db = subparsers.add_parser("db", help="PostgreSQL store: migrations and upkeep")
    sub = db.add_subparsers(dest="db_command", required=True)

    p = sub.add_parser("migrate", help="apply pending sql/ migrations and storage policies")
    _common(p)
    p.add_argument(
        "--no-timescaledb",
        action="store_true",
        help="stay on plain PostgreSQL even where the timescaledb extension is available",
    )
    p.add_argument("--compress-after-days", type=float, default=7.0, help="0 = no compression")
    p.add_argument("--retention-days", type=float, default=0.0, help="0 = keep raw data forever")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser(
        "maintain",
        help="make partitions, refresh rollups, apply the recorded retention once",
    )
    _common(p)
    p.set_defaults(func=cmd_maintain)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dsn",
        default=os.environ.get("OPENCONTROL_DSN", ""),
        help="libpq connection string, e.g. 'host=db dbname=opencontrol user=oc' "
        "(default: $OPENCONTROL_DSN)",
    )


def _dsn(args: argparse.Namespace) -> str | None:
    if not args.dsn:
        print("opencontrol db: --dsn (or $OPENCONTROL_DSN) is required", file=sys.stderr)
        return None
    return str(args.dsn)


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply migrations and policies; print what was applied and the flavour found."""
    import psycopg2

    from hub.db.base import StoreError
    from hub.db.migrate import apply_policies, migrate

    dsn = _dsn(args)
    if dsn is None:
        return 2
    try:
        conn = psycopg2.connect(dsn, connect_timeout=10)
    except psycopg2.Error as exc:
        print(f"opencontrol db migrate: cannot connect: {exc}".strip(), file=sys.stderr)
        return 1
    try:
        report = migrate(conn, timescaledb=not args.no_timescaledb)
        apply_policies(
            conn,
            compress_after_s=args.compress_after_days * DAY or None,
            retention_s=args.retention_days * DAY or None,
        )
    except (StoreError, psycopg2.Error) as exc:
        print(f"opencontrol db migrate: {exc}".strip(), file=sys.stderr)
        return 1
    finally:
        conn.close()
    for name in report.applied:
        print(f"applied  {name}")
    for name in report.changed:
        print(f"WARNING  {name} changed after it was applied (not re-run)")
    print(
        f"{len(report.applied)} applied, {len(report.skipped)} already there; "
        f"flavour: {report.flavour}"
    )
    return 0


def cmd_maintain(args: argparse.Namespace) -> int:
    """Run one round of store upkeep and print what it did."""
    from hub.db.base import StoreError
    from hub.db.postgres import PostgresStore

    dsn = _dsn(args)
    if dsn is None:
        return 2
    # The policies stay as `db migrate` (or the hub) recorded them.
    store = PostgresStore(dsn=dsn, compress_after_s=None, manage_policies=False)
    try:
        store.open()
        out = store.maintain()
    except StoreError as exc:
        print(f"opencontrol db maintain: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(" ".join(f"{k}={v}" for k, v in out.items()))
    return 0
