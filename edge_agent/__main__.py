"""`python -m edge_agent -c agent.toml [--check]`: run the agent, or only validate its config."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .config import load_agent_config
from .config_schema import ConfigError

EXIT_OK = 0
EXIT_CONFIG = 2
EXIT_RUNTIME = 1


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The agent's options (also those of `opencontrol agent`)."""
    parser.add_argument("-c", "--config", required=True, help="agent TOML config file")
    parser.add_argument(
        "--check", action="store_true", help="validate the config and exit (0 ok, 2 bad)"
    )
    parser.add_argument("--log-level", default=None, help="override [agent].log_level")
    return parser


def build_parser(prog: str = "python -m edge_agent") -> argparse.ArgumentParser:
    """The agent's command line."""
    return add_arguments(argparse.ArgumentParser(prog=prog, description="OpenControl edge agent"))


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m edge_agent") -> int:
    """Entry point: returns the process exit code."""
    return run(build_parser(prog).parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run (or only check) the agent the parsed options describe; returns the exit code."""
    try:
        config = load_agent_config(args.config)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check:
        devices = ", ".join(f"{n} ({d['driver']})" for n, d in config["devices"].items())
        print(f"{args.config}: OK (agent {config['agent']['id']}; devices: {devices or 'none'})")
        return EXIT_OK
    logging.basicConfig(
        level=(args.log_level or config["agent"]["log_level"]).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from .agent import Agent
    from .spool import SpoolError

    try:
        Agent(config=config).run()
    except SpoolError as exc:
        print(f"spool error: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
