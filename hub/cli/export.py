"""`opencontrol export` and `opencontrol import csv|xlsx`: signals as tables, on the store
the hub config names (the hub may be running)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_commands(subparsers: Any) -> None:
    """Add `export` and `import` to the `opencontrol` parser."""
    p = subparsers.add_parser("export", help="write a time range of signals to CSV or xlsx")
    p.add_argument("output", help="the file to write: NAME.csv or NAME.xlsx")
    p.add_argument("-c", "--config", help="hub TOML config (default: built-in defaults)")
    p.add_argument(
        "-s", "--signal", action="append", required=True, metavar="DEV.SIG", help="repeatable"
    )
    p.add_argument("--since", help="epoch seconds or ISO 8601 (UTC without a zone)")
    p.add_argument("--until", help="epoch seconds or ISO 8601 (UTC without a zone)")
    p.set_defaults(func=cmd_export)

    p = subparsers.add_parser("import", help="import a table into new signals")
    sub = p.add_subparsers(dest="import_kind", required=True)
    for kind in ("csv", "xlsx"):
        q = sub.add_parser(kind, help=f"a .{kind} file in the export layout, into new signals")
        q.add_argument("file", help=f"the .{kind} file")
        q.add_argument("-c", "--config", help="hub TOML config (default: built-in defaults)")
        q.set_defaults(func=cmd_import, kind=kind)
    from .rtoc import add_import_command

    add_import_command(sub)


def _open_store(args: argparse.Namespace, command: str) -> Any:
    from edge_agent.config_schema import ConfigError
    from hub.bootstrap import make_store
    from hub.config import load_hub_config
    from hub.db.base import Store, StoreError

    store: Store
    try:
        config = load_hub_config(args.config)
        if config["store"]["kind"] == "postgres":
            from hub.db.postgres import PostgresStore

            # The hub keeps the policies and upkeep; this only reads or writes samples.
            store = PostgresStore(
                dsn=config["store"]["dsn"],
                compress_after_s=None,
                manage_policies=False,
                maintain_every_s=None,
            )
        else:
            store = make_store(config)
        store.open()
    except (ConfigError, StoreError) as exc:
        print(f"opencontrol {command}: {exc}", file=sys.stderr)
        return None
    return store


def cmd_export(args: argparse.Namespace) -> int:
    """Write the chosen signals' samples in the range; print how many."""
    from hub.db.base import StoreError
    from hub.export import TableError, parse_time, read_store, write_table

    out = Path(args.output)
    try:
        since, until = parse_time(args.since), parse_time(args.until)
    except TableError as exc:
        print(f"opencontrol export: {exc}", file=sys.stderr)
        return 2
    store = _open_store(args, "export")
    if store is None:
        return 1
    try:
        table = read_store(store, args.signal, since, until)
        write_table(table, out)
    except (TableError, StoreError, OSError) as exc:
        print(f"opencontrol export: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"{out}: {table.samples} samples of {len(table.x)} signals")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """Read the whole file first (a bad row imports nothing), then store new signals."""
    from hub.db.base import StoreError
    from hub.export import TableError, import_table, read_table

    path = Path(args.file)
    if path.suffix.lower() != f".{args.kind}":
        print(
            f"opencontrol import {args.kind}: {path.name} is not a .{args.kind} file",
            file=sys.stderr,
        )
        return 2
    try:
        table = read_table(path)
    except TableError as exc:
        print(f"opencontrol import {args.kind}: {exc}", file=sys.stderr)
        return 1
    store = _open_store(args, f"import {args.kind}")
    if store is None:
        return 1
    try:
        n = import_table(store, table)
    except (TableError, StoreError) as exc:
        print(f"opencontrol import {args.kind}: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    names = ", ".join(f"{d}.{s}" for d, s in table.x)
    print(f"imported {n} samples into {names}")
    return 0
