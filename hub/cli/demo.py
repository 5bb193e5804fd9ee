"""`opencontrol demo`: the whole system on one machine with embedded defaults.

A hub with its embedded MQTT broker, SQLite store and websocket server, and one agent
(a real `python -m edge_agent` process) with the simulated `generator` and `system`
drivers. Prints where things are and a live status line; Ctrl-C stops cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import string
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hub.app import Hub
from hub.config import hub_config
from hub.mqtt_auth import set_password, write_private
from hub.users import load_users, save_users

from .logsetup import setup_logging

AGENT_TOML = """\
# Written by `opencontrol demo`. An agent with two simulated drivers.
[agent]
id = "demo-agent"
spool_path = "{spool}"

[mqtt]
host = "127.0.0.1"
port = {port}
prefix = "opencontrol"
username = "demo-agent"
password = "{password}"

[devices.Generator]
driver = "generator"
samplerate = 10
[devices.Generator.params]
waveform = "all"

[devices.System]
driver = "system"
samplerate = 1
"""


def _port_free(port: int) -> bool:
    """Whether a server could listen on the port now (as the hub binds: SO_REUSEADDR, so
    connections of an earlier run in TIME_WAIT do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_sims(names: list[str], root: Path) -> list[Any]:
    """Start instrument simulators (the `simulators` package); the real drivers read them."""
    if not names:
        return []
    try:
        from simulators.run import start_sim
    except ImportError as exc:
        raise RuntimeError(
            f"--sim needs the sim extra ({exc.name} is missing): "
            "pip install 'opencontrol[sim]', or run `scripts/dev demo --sim ...`"
        ) from exc
    handles: list[Any] = []
    try:
        for name in names:
            handles.append(start_sim(name, root / f"sim-{name}"))
    except Exception:
        for h in handles:
            h.stop()
        raise
    return handles


def run_demo(
    *, data_dir: str | None, ws_port: int, mqtt_port: int, sims: list[str] | None = None
) -> int:
    """Run the demo until Ctrl-C; returns the exit code."""
    root = Path(data_dir or Path.cwd() / "data" / "demo").resolve()
    root.mkdir(parents=True, exist_ok=True)
    if not _port_free(mqtt_port):
        mqtt_port = _free_port()
    if not _port_free(ws_port):
        print(
            f"opencontrol demo: port {ws_port} is in use (another hub?); "
            f"choose another with --ws-port",
            file=sys.stderr,
        )
        return 2
    config = hub_config(
        {
            "hub": {"data_dir": str(root), "log_level": "warning"},
            "mqtt": {"port": mqtt_port},
            "websocket": {"port": ws_port, "host": "127.0.0.1"},
        },
        source="demo",
    )
    try:
        handles = _start_sims(sims or [], root)
    except (RuntimeError, ValueError) as exc:
        print(f"opencontrol demo: {exc}", file=sys.stderr)
        return 2
    agent_cfg = root / "agent.toml"
    blocks = "".join(f"\n# simulated {h.name}\n{h.toml}" for h in handles)
    password = _demo_agent_user(config)
    write_private(
        agent_cfg,
        AGENT_TOML.format(spool=root / "agent-spool.sqlite", port=mqtt_port, password=password)
        + blocks,
    )
    setup_logging("warning")
    try:
        asyncio.run(_demo(config, agent_cfg, root))
    except KeyboardInterrupt:
        pass
    finally:
        for h in handles:
            h.stop()
    return 0


async def _demo(config: dict[str, Any], agent_cfg: Path, root: Path) -> None:
    from hub.bootstrap import running_hub

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_hub(config) as hub:
        stored_before = await hub.run_store(hub.store.sample_count)
        login = await _demo_login(hub, root)
        ws = config["websocket"]
        print("OpenControl demo")
        print(f"  MQTT broker (embedded): mqtt://127.0.0.1:{config['mqtt']['port']}")
        print(f"  websocket (RTOC API):   ws://{ws['host']}:{ws['port']}")
        print(f"  dashboard:              http://{ws['host']}:{ws['port']}/")
        print(f"  login (admin):          {login}")
        print(f"  data directory:         {root}")
        print(f"  SQLite store:           {config['store']['path']}")
        print(f"  agent config:           {agent_cfg}")
        print("  Ctrl-C stops everything cleanly.\n")
        agent = subprocess.Popen(
            [sys.executable, "-m", "edge_agent", "-c", str(agent_cfg), "--log-level", "WARNING"],
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches us; we stop the agent in order
        )
        try:
            await _status_loop(hub, stop, stored_before, agent)
        finally:
            print("\nstopping the agent (its unsent batches stay in its spool) ...")
            with contextlib.suppress(ProcessLookupError):
                agent.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(agent.wait, 15)
            except subprocess.TimeoutExpired:
                agent.kill()
            print("stopping the hub (draining the writer) ...")
    total = await asyncio.to_thread(_count, config)
    print(f"stopped. {total} samples stored in {config['store']['path']}")


def new_password(length: int = 12) -> str:
    """A random password of letters and digits: safe on a command line (never starts '-')."""
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


async def _demo_login(hub: Hub, root: Path) -> str:
    """Make the demo's admin user on first run; return 'user / password' to print."""
    saved = root / "demo-login.txt"
    users = await load_users(hub)
    if len(users) == 0:
        password = new_password()
        users.add("admin", password, "admin")
        await save_users(hub, users)
        saved.write_text(f"admin / {password}\n")
        saved.chmod(0o600)
    if saved.exists():
        return saved.read_text().strip()
    return f"your users ({', '.join(users.names())}); manage them with `opencontrol ws users`"


def _mqtt_state(st: dict[str, Any]) -> str:
    """ok: the hub's heartbeat comes back through the broker; LOST after it had stopped."""
    if st.get("mqtt_ok"):
        return "ok"
    return "LOST" if st.get("mqtt_lost") or st.get("mqtt_reconnects") else "connecting"


def _demo_agent_user(config: dict[str, Any]) -> str:
    """Give the demo's agent its own MQTT user (a new password each run); return it."""
    password = secrets.token_urlsafe(18)
    set_password(config["mqtt"], "demo-agent", password)
    return password


def _count(config: dict[str, Any]) -> int:
    from hub.db.sqlite import SQLiteStore

    store = SQLiteStore(path=config["store"]["path"])
    try:
        store.open()
        return store.sample_count()
    finally:
        store.close()


async def _status_loop(
    hub: Hub, stop: asyncio.Event, stored_before: int, agent: subprocess.Popen[bytes]
) -> None:
    last_samples, last_t = hub.stats["samples"], time.monotonic()
    tty = os.isatty(1)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
        now = time.monotonic()
        st = hub.status()
        rate = (st["samples"] - last_samples) / max(now - last_t, 1e-6)
        last_samples, last_t = st["samples"], now
        line = (
            f"agents online {st['agents_online']} | signals {st['signals']} | "
            f"{rate:7.1f} samples/s | stored {stored_before + st['samples']} | "
            f"rejected {st['rejected']} | store {'ok' if st['store_ok'] else 'DOWN'} | "
            f"mqtt {_mqtt_state(st)}"
        )
        if st["agent_spool_dropped_samples"]:
            line += f" | agent spool dropped {st['agent_spool_dropped_samples']} samples"
        if agent.poll() is not None:
            line += f" | agent exited ({agent.returncode})"
        print(("\r" + line + "   ") if tty else line, end="" if tty else "\n", flush=True)
