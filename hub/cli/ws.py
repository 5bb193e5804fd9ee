"""`opencontrol ws …`: talk to a hub's websocket from scripts; manage the hub's users."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import sys
import time
from typing import Any

from hub.permission import NAMES

DEFAULT_URL = os.environ.get("OPENCONTROL_WS_URL", "ws://127.0.0.1:5050")


def add_commands(subparsers: Any) -> None:
    """Add `ws latest|signals|get|subscribe|users` to the `opencontrol` parser."""
    ws = subparsers.add_parser("ws", help="query a hub over its websocket (RTOC protocol)")
    ws.add_argument("--url", default=DEFAULT_URL, help="ws:// or wss:// (env OPENCONTROL_WS_URL)")
    ws.add_argument(
        "--password",
        default=os.environ.get("OPENCONTROL_WS_PASSWORD"),
        help="the hub's websocket password (env OPENCONTROL_WS_PASSWORD)",
    )
    ws.add_argument("--user", default=os.environ.get("OPENCONTROL_USER"), help="hub user name")
    ws.add_argument(
        "--user-password",
        default=os.environ.get("OPENCONTROL_USER_PASSWORD"),
        help="hub user password (env OPENCONTROL_USER_PASSWORD)",
    )
    ws.add_argument("--insecure", action="store_true", help="do not verify the TLS certificate")
    ws.add_argument("--json", action="store_true", help="print raw JSON")
    ws.set_defaults(func=lambda a: ws.print_help() or 2)
    sub = ws.add_subparsers(dest="ws_command")

    p = sub.add_parser("latest", help="latest value of every (or the named) signal")
    p.add_argument("names", nargs="*", help="Device.Signal …")
    p.set_defaults(func=_run(_latest))

    p = sub.add_parser("signals", help="list the signals")
    p.set_defaults(func=_run(_signals))

    p = sub.add_parser("get", help="samples of one signal (CSV: x,y)")
    p.add_argument("name", help="Device.Signal")
    p.add_argument("--since", type=float, help="seconds back from now")
    p.add_argument("--xmin", type=float)
    p.add_argument("--xmax", type=float)
    p.add_argument("--max-n", type=int, help="downsample to about N points")
    p.add_argument("--memory", action="store_true", help="live ring only, not the store")
    p.set_defaults(func=_run(_get))

    p = sub.add_parser("subscribe", help="print pushed samples until Ctrl-C (or --count)")
    p.add_argument("names", nargs="+", help="Device.Signal (or a device with --device)")
    p.add_argument("--device", action="store_true", help="names are devices")
    p.add_argument("--count", type=int, default=0, help="stop after this many samples")
    p.add_argument("--events", action="store_true", help="print events too")
    p.set_defaults(func=_run(_subscribe))

    users = sub.add_parser("users", help="the hub's users (reads the hub config's store)")
    users.add_argument("--config", help="hub TOML (default: all defaults)")
    users.set_defaults(func=lambda a: users.print_help() or 2)
    us = users.add_subparsers(dest="users_command")
    p = us.add_parser("list", help="names and permissions")
    p.set_defaults(func=_users("list"))
    p = us.add_parser("add", help="add a user (the first one is admin)")
    p.add_argument("name")
    p.add_argument("--permission", choices=NAMES)
    p.set_defaults(func=_users("add"))
    p = us.add_parser("set", help="change permission and/or password")
    p.add_argument("name")
    p.add_argument("--permission", choices=NAMES)
    p.add_argument("--password", action="store_true", help="ask for a new password")
    p.set_defaults(func=_users("set"))
    p = us.add_parser("remove", help="delete a user")
    p.add_argument("name")
    p.set_defaults(func=_users("remove"))


def _client(args: argparse.Namespace) -> Any:
    from hub.client import OpenControlClient

    return OpenControlClient(
        args.url,
        args.password,
        user=args.user,
        user_password=args.user_password,
        verify_tls=not args.insecure,
    )


def _run(coro_fn: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        from hub.client import ClientError

        try:
            return asyncio.run(coro_fn(args)) or 0
        except ClientError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except (OSError, TimeoutError) as exc:
            print(f"error: cannot talk to {args.url}: {exc}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            return 130

    return run


async def _latest(args: argparse.Namespace) -> int:
    async with _client(args) as c:
        latest = await c.latest(args.names or None)
    if args.json:
        print(json.dumps(latest))
        return 0
    for name, row in sorted(latest.items()):
        x, y, unit = row[:3]
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(x))
        print(f"{name}\t{y:g} {unit}\t{stamp}".rstrip())
    return 0


async def _signals(args: argparse.Namespace) -> int:
    async with _client(args) as c:
        names = await c.signal_list()
    print(json.dumps(names) if args.json else "\n".join(sorted(names)))
    return 0


async def _get(args: argparse.Namespace) -> int:
    xmin = args.xmin
    if args.since is not None:
        xmin = time.time() - args.since
    async with _client(args) as c:
        xs, ys, unit, *_ = await c.get_signal(
            args.name, xmin=xmin, xmax=args.xmax, max_n=args.max_n, database=not args.memory
        )
    if args.json:
        print(json.dumps({"x": xs, "y": ys, "unit": unit}))
        return 0
    print(f"x,{args.name}" + (f" [{unit}]" if unit else ""))
    for x, y in zip(xs, ys, strict=True):
        print(f"{x!r},{y!r}")
    return 0


async def _subscribe(args: argparse.Namespace) -> int:
    seen = 0
    async with _client(args) as c:
        for name in args.names:
            await c.subscribe(name, device=args.device)
        async for push in c.pushes():
            if "signal" in push and push["signal"]["x"]:
                s = push["signal"]
                for x, y in zip(s["x"], s["y"], strict=True):
                    line = {"x": x, "y": y, "signal": f"{s['dname']}.{s['sname']}"}
                    print(json.dumps(line) if args.json else f"{x!r}\t{line['signal']}\t{y!r}")
                    seen += 1
                    if args.count and seen >= args.count:
                        return 0
                sys.stdout.flush()
            elif "event" in push and args.events:
                print(json.dumps(push) if args.json else f"event\t{push['event']}")
            elif "dropped" in push:
                print(f"warning: {push['dropped']}", file=sys.stderr)
    return 0


def _users(action: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        from hub.bootstrap import make_store
        from hub.config import load_hub_config
        from hub.users import DOC_KEY, UserError, Users

        store = make_store(load_hub_config(args.config))
        store.open()
        try:
            users = Users.from_doc(store.get_doc(DOC_KEY))
            if action == "list":
                for name in users.names():
                    print(f"{name}\t{users.get(name).permission}")  # type: ignore[union-attr]
                return 0
            if action == "add":
                users.add(args.name, _ask_password(), args.permission)
            elif action == "set":
                if args.permission:
                    users.set_permission(args.name, args.permission)
                if args.password:
                    users.set_password(args.name, _ask_password())
            elif action == "remove":
                users.remove(args.name)
            store.put_doc(DOC_KEY, users.to_doc())
            return 0
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            store.close()

    return run


def _ask_password() -> str:
    env = os.environ.get("OPENCONTROL_NEW_PASSWORD")
    if env:
        return env
    pw = getpass.getpass("password: ")
    if pw != getpass.getpass("again: "):
        raise SystemExit("error: the passwords differ")
    return pw
