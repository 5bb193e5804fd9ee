"""`opencontrol backup` and `opencontrol restore`: the store the hub config names."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_commands(subparsers: Any) -> None:
    """Add `backup` and `restore` to the `opencontrol` parser."""
    p = subparsers.add_parser(
        "backup", help="back the hub's store up (SQLite online backup, or pg_dump)"
    )
    p.add_argument("-c", "--config", help="hub TOML config (default: built-in defaults)")
    p.add_argument(
        "-o",
        "--output",
        help="backup file (default: <backup_dir>/opencontrol-<UTC time>.sqlite or .dump)",
    )
    p.set_defaults(func=cmd_backup)

    p = subparsers.add_parser(
        "restore", help="restore a backup into the hub's store (stop the hub first)"
    )
    p.add_argument("file", help="a file `opencontrol backup` made")
    p.add_argument("-c", "--config", help="hub TOML config (default: built-in defaults)")
    p.add_argument(
        "--force", action="store_true", help="replace a store that already holds signals"
    )
    p.set_defaults(func=cmd_restore)


def _config(args: argparse.Namespace, command: str) -> dict[str, Any] | None:
    from edge_agent.config_schema import ConfigError
    from hub.config import load_hub_config

    try:
        return load_hub_config(args.config)
    except ConfigError as exc:
        print(f"opencontrol {command}: {exc}", file=sys.stderr)
        return None


def cmd_backup(args: argparse.Namespace) -> int:
    """Write one backup of the configured store; print where and what it holds."""
    from hub.backup import BackupError, backup_name, backup_postgres, backup_sqlite

    config = _config(args, "backup")
    if config is None:
        return 2
    store = config["store"]
    dest = Path(args.output or Path(store["backup_dir"]) / backup_name(store["kind"]))
    try:
        if store["kind"] == "postgres":
            counts = backup_postgres(store["dsn"], dest)
        else:
            counts = backup_sqlite(Path(store["path"]), dest)
    except (BackupError, OSError) as exc:
        print(f"opencontrol backup: {exc}", file=sys.stderr)
        return 1
    print(f"{dest}: {counts}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore a backup into the configured store; print what it now holds."""
    from hub.backup import BackupError, backup_kind, restore_postgres, restore_sqlite

    config = _config(args, "restore")
    if config is None:
        return 2
    store = config["store"]
    source = Path(args.file)
    try:
        kind = backup_kind(source)
        if kind != store["kind"]:
            raise BackupError(
                f"{source} is a {kind} backup but the hub's store is {store['kind']} ([store] kind)"
            )
        if kind == "postgres":
            counts = restore_postgres(source, store["dsn"], force=args.force)
        else:
            counts = restore_sqlite(source, Path(store["path"]), force=args.force)
    except (BackupError, OSError) as exc:
        print(f"opencontrol restore: {exc}", file=sys.stderr)
        return 1
    print(f"restored {source}: {counts}")
    return 0
