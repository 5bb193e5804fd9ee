"""The `opencontrol` command: hub, agent, demo, db, ws."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from edge_agent.__main__ import add_arguments as add_agent_arguments
from edge_agent.config_schema import ConfigError
from hub.broker import StartupError
from hub.db.base import StoreError

from . import backup, db, export, mqtt, ws
from .logsetup import setup_logging


def _stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (from now on: one during start-up counts too)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _run_hub(config: dict[str, Any]) -> None:
    from hub.bootstrap import running_hub

    # Before start-up: ingest may take batches while the rest still starts, and a SIGTERM
    # then must stop the hub cleanly, not kill it.
    stop = _stop_on_signals()
    async with running_hub(config):
        await stop.wait()
        logging.getLogger("hub").info("stopping: draining the writer, then disconnecting")


def cmd_hub(args: argparse.Namespace) -> int:
    """Run the hub until SIGTERM/SIGINT."""
    from hub.config import load_hub_config

    try:
        config = load_hub_config(args.config)
    except ConfigError as exc:
        print(f"opencontrol hub: {exc}", file=sys.stderr)
        return 2
    if args.check:
        from hub.checks import check_startable, check_warnings

        problems = check_startable(config)
        for line in problems:
            print(f"opencontrol hub: {line}", file=sys.stderr)
        for line in check_warnings(config):
            print(f"opencontrol hub: warning: {line}", file=sys.stderr)
        if problems:
            return 2
        print(f"{args.config or 'built-in defaults'}: OK")
        return 0
    setup_logging(config["hub"]["log_level"])
    try:
        asyncio.run(_run_hub(config))
    except ConfigError as exc:
        print(f"opencontrol hub: {exc}", file=sys.stderr)
        return 2
    except (StartupError, StoreError, OSError) as exc:  # a port taken, a store that fails
        print(f"opencontrol hub: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_agent(args: argparse.Namespace) -> int:
    """Run an edge agent (same as `python -m edge_agent`)."""
    from edge_agent.__main__ import run

    return run(args)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the hub with its embedded broker and SQLite, plus one simulated agent."""
    from .demo import run_demo

    return run_demo(
        data_dir=args.data_dir, ws_port=args.ws_port, mqtt_port=args.mqtt_port, sims=args.sim
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `opencontrol`."""
    parser = argparse.ArgumentParser(prog="opencontrol", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("hub", help="run the hub")
    p.add_argument("-c", "--config", help="hub TOML config (default: built-in defaults)")
    p.add_argument("--check", action="store_true", help="validate the config and exit")
    p.set_defaults(func=cmd_hub)

    p = sub.add_parser("agent", help="run an edge agent (same as python -m edge_agent)")
    add_agent_arguments(p)
    p.set_defaults(func=cmd_agent)

    p = sub.add_parser("demo", help="hub + embedded broker + SQLite + a simulated agent")
    p.add_argument("--data-dir", default=None, help="default: ./data/demo")
    p.add_argument("--ws-port", type=int, default=5050)
    p.add_argument("--mqtt-port", type=int, default=1883, help="taken? a free one is used")
    p.add_argument(
        "--sim",
        action="append",
        default=[],
        metavar="NAME",
        help="also read a simulated instrument with its real driver: modbus, heliotherm, "
        "dps5020, vc820, http_json (repeatable; needs a source checkout with the dev extras)",
    )
    p.set_defaults(func=cmd_demo)

    for commands in (db, ws, mqtt, backup, export):
        commands.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `opencontrol` console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)
