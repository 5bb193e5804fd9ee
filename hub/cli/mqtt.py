"""`opencontrol mqtt …`: the embedded broker's agent users (password file + ACL)."""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path
from typing import Any

from edge_agent.config_schema import ConfigError
from hub.mqtt_auth import AuthFileError, check_agent_id, read_passwords, save_users, set_password


def add_commands(subparsers: Any) -> None:
    """Add `mqtt add|remove|list|acl` to the `opencontrol` parser."""
    mqtt = subparsers.add_parser("mqtt", help="agents' MQTT users of the embedded broker")
    mqtt.add_argument("-c", "--config", help="hub TOML config (default: built-in defaults)")
    mqtt.set_defaults(func=lambda a: mqtt.print_help() or 2)
    sub = mqtt.add_subparsers(dest="mqtt_command")

    p = sub.add_parser("add", help="add an agent (or give it a new password)")
    p.add_argument("agent", help="the agent id (its [agent] id)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    p.set_defaults(func=_run(_add))
    p = sub.add_parser("remove", help="remove an agent's user")
    p.add_argument("agent")
    p.set_defaults(func=_run(_remove))
    p = sub.add_parser("list", help="agents that may connect")
    p.set_defaults(func=_run(_list))
    p = sub.add_parser("acl", help="write the ACL again from the password file")
    p.set_defaults(func=_run(_acl))


def _run(fn: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        from hub.config import load_hub_config

        try:
            config = load_hub_config(args.config)
            return int(fn(args, config["mqtt"]) or 0)
        except (ConfigError, AuthFileError, OSError) as exc:
            print(f"opencontrol mqtt: {exc}", file=sys.stderr)
            return 2

    return run


def _add(args: argparse.Namespace, mqtt: dict[str, Any]) -> int:
    agent = check_agent_id(args.agent)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
        if not password:
            print("opencontrol mqtt: empty password on stdin", file=sys.stderr)
            return 2
    else:
        password = secrets.token_urlsafe(18)
    set_password(mqtt, agent, password)
    print(f"agent {agent!r} may connect; {mqtt['password_file']} and {mqtt['acl_file']} written")
    if not args.password_stdin:
        print("put this in the agent's config:\n")
        print(f'[mqtt]\nusername = "{agent}"\npassword = "{password}"')
    return 0


def _remove(args: argparse.Namespace, mqtt: dict[str, Any]) -> int:
    users = read_passwords(Path(mqtt["password_file"]))
    if users.pop(args.agent, None) is None:
        print(f"opencontrol mqtt: no user {args.agent!r}", file=sys.stderr)
        return 1
    save_users(mqtt, users)
    print(f"agent {args.agent!r} removed (a connected client is refused when it reconnects)")
    return 0


def _list(_args: argparse.Namespace, mqtt: dict[str, Any]) -> int:
    for user in sorted(read_passwords(Path(mqtt["password_file"]))):
        print(user)
    return 0


def _acl(_args: argparse.Namespace, mqtt: dict[str, Any]) -> int:
    save_users(mqtt, read_passwords(Path(mqtt["password_file"])))
    print(f"{mqtt['acl_file']} written")
    return 0
