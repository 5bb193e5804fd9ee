"""`opencontrol import rtoc DIR [--dry-run]`: an RTOC user folder into the hub's store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_import_command(import_kinds: Any) -> None:
    """Add `rtoc` to the subcommands of `opencontrol import`."""
    q = import_kinds.add_parser(
        "rtoc",
        help="RTOC's user folder (~/.RTOC): events, actions, Telegram users and actions",
    )
    q.add_argument("folder", help="the RTOC user folder (config.json, globalEvents.json, …)")
    q.add_argument("-c", "--config", help="hub TOML config (default: built-in defaults)")
    q.add_argument("--dry-run", action="store_true", help="list what would change; write nothing")
    q.set_defaults(func=cmd_import_rtoc)


def cmd_import_rtoc(args: argparse.Namespace) -> int:
    """Plan from the folder and the hub's stored documents; write them unless --dry-run."""
    from hub.cli.export import _open_store
    from hub.db.base import StoreError
    from hub.rtoc_userdir import UserDirError, apply, plan_import, report

    folder = Path(args.folder).expanduser()
    if not folder.is_dir():
        print(f"opencontrol import rtoc: {folder}: not a directory", file=sys.stderr)
        return 2
    store = _open_store(args, "import rtoc")
    if store is None:
        return 1
    try:
        plan = plan_import(folder, store.get_doc)
        if not args.dry_run:
            apply(plan, store.put_doc)
    except UserDirError as exc:
        print(f"opencontrol import rtoc: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"opencontrol import rtoc: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(report(plan, folder=folder, dry_run=args.dry_run))
    return 0
