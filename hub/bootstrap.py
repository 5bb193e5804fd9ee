"""The one place that builds a running hub from its config and wires the adapters."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from edge_agent.config_schema import ConfigError

from .app import Hub
from .broker import EmbeddedBroker
from .db.base import Store
from .engine.wiring import attach_engine
from .ingest import MqttIngest
from .integrations import attach_integrations

log = logging.getLogger(__name__)


def make_store(config: dict[str, Any]) -> Store:
    """The store the config asks for (no I/O yet)."""
    store_cfg = config["store"]
    if store_cfg["kind"] == "postgres":
        from .db.postgres import PostgresStore

        day = 86_400.0
        try:
            return PostgresStore(
                dsn=store_cfg["dsn"],
                retention_s=store_cfg["retention_days"] * day or None,
                compress_after_s=store_cfg["compress_after_days"] * day,
            )
        except ValueError as exc:
            raise ConfigError(f"[store]: {exc}") from exc
    from .db.sqlite import SQLiteStore

    return SQLiteStore(
        path=store_cfg["path"], retention_s=store_cfg["retention_days"] * 86_400.0 or None
    )


def broker_address(config: dict[str, Any]) -> tuple[str, int, bool]:
    """(host, port, embedded?) of the MQTT broker the hub uses."""
    mqtt = config["mqtt"]
    if mqtt["host"]:
        return mqtt["host"], mqtt["port"], False
    return "127.0.0.1", mqtt["port"], True


@contextlib.asynccontextmanager
async def running_hub(config: dict[str, Any]) -> AsyncIterator[Hub]:
    """Start every part of the hub; on exit stop them in reverse order, losing nothing."""
    hub = Hub(config=config, store=make_store(config))
    async with contextlib.AsyncExitStack() as stack:
        host, port, embedded = broker_address(config)
        if embedded:
            broker = EmbeddedBroker(host=host, port=port)
            await broker.start()
            stack.push_async_callback(broker.stop)
        await hub.start()
        stack.push_async_callback(hub.stop)
        hub.engine = attach_engine(hub, config["engine"])
        stack.push_async_callback(hub.engine.stop)
        _operator_scripts(hub, config["engine"]["scripts"])
        ingest = MqttIngest(hub=hub, host=host, port=port)
        await ingest.start()
        stack.push_async_callback(ingest.stop)
        hub.ingest = ingest  # type: ignore[attr-defined]
        if config["websocket"]["enabled"]:
            from .ws.server import serve

            server = await serve(hub, config["websocket"])
            stack.push_async_callback(server.close)
            hub.ws_server = server  # type: ignore[attr-defined]
        if config["telegram"]["enabled"]:
            from .bot.app import TelegramBot

            bot = TelegramBot(hub=hub, config=config["telegram"])
            await bot.start()
            stack.push_async_callback(bot.stop)
            hub.bot = bot  # type: ignore[attr-defined]
        await attach_integrations(hub, config, stack)
        yield hub


def _operator_scripts(hub: Hub, scripts: dict[str, Any]) -> None:
    """Load the operator's plain-Python script files named in `[engine.scripts.NAME]`."""
    from .engine.scripts import ScriptJobError

    for name, spec in scripts.items():
        mode = "signal" if spec["signals"] else "rate"
        try:
            hub.engine.scripts.add_file(
                name, spec["file"], mode=mode, rate=spec["rate"], signals=spec["signals"] or None
            )
        except (ScriptJobError, OSError, SyntaxError) as exc:
            raise ConfigError(f"[engine.scripts.{name}]: {exc}") from exc
        if spec["start"]:
            hub.engine.scripts.start(name)
