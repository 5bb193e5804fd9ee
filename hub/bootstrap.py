"""The one place that builds a running hub from its config and wires the adapters."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from edge_agent.config_schema import ConfigError

from .backup_schedule import backup_schedule
from .broker import EmbeddedBroker
from .db.base import Store
from .engine.engine import Engine
from .engine.wiring import attach_engine
from .ingest import MqttIngest
from .integrations import attach_integrations
from .mqtt_auth import HUB_USER, BrokerUsers
from .process import HubProcess
from .service import AutomationService, HubService

log = logging.getLogger(__name__)


def make_store(config: dict[str, Any]) -> Store:
    """The store the config asks for (no I/O yet)."""
    store_cfg = config["store"]
    store: Store
    if store_cfg["kind"] == "postgres":
        from .db.postgres import PostgresStore

        day = 86_400.0
        try:
            store = PostgresStore(
                dsn=store_cfg["dsn"],
                retention_s=store_cfg["retention_days"] * day or None,
                compress_after_s=store_cfg["compress_after_days"] * day,
            )
        except ValueError as exc:
            raise ConfigError(f"[store]: {exc}") from exc
    else:
        from .db.sqlite import SQLiteStore

        store = SQLiteStore(
            path=store_cfg["path"], retention_s=store_cfg["retention_days"] * 86_400.0 or None
        )
    store.rejected_max_rows = store_cfg["rejected_max_rows"]
    store.rejected_max_bytes = store_cfg["rejected_max_bytes"]
    return store


def broker_address(config: dict[str, Any]) -> tuple[str, int, bool]:
    """(host, port, embedded?) of the MQTT broker the hub uses."""
    mqtt = config["mqtt"]
    if mqtt["host"]:
        return mqtt["host"], mqtt["port"], False
    return "127.0.0.1", mqtt["port"], True


def embedded_broker(
    config: dict[str, Any], host: str, port: int
) -> tuple[EmbeddedBroker, tuple[str, str] | None]:
    """The embedded broker as configured, and the hub's own credentials for it (made now,
    never written down); anonymous only when the operator opted in."""
    mqtt = config["mqtt"]
    if mqtt["allow_anonymous"]:
        log.warning(
            "the embedded MQTT broker on %s:%d lets anyone in ([mqtt] allow_anonymous = "
            "true): any local process can read all data and publish or command as any "
            "agent (docs/security.md)",
            host,
            port,
        )
        return EmbeddedBroker(host=host, port=port), None
    users = BrokerUsers(password_file=Path(mqtt["password_file"]), acl_file=Path(mqtt["acl_file"]))
    try:
        users.ensure_files(mqtt["prefix"])
    except OSError as exc:
        raise ConfigError(f"[mqtt] password_file / acl_file: {exc}") from exc
    password = secrets.token_urlsafe(24)
    rights = [("readwrite", f"{mqtt['prefix']}/#")]
    if config["homeassistant"]["enabled"]:  # the bridge logs in as the hub
        rights.append(("readwrite", f"{config['homeassistant']['discovery_prefix']}/#"))
    users.add_runtime(HUB_USER, password, rights)
    broker = EmbeddedBroker(
        host=host, port=port, users=users, reserved_ids={config["hub"]["id"]: HUB_USER}
    )
    return broker, (HUB_USER, password)


@contextlib.asynccontextmanager
async def running_hub(
    config: dict[str, Any], *, broker_patience: float = 10.0
) -> AsyncIterator[HubProcess]:
    """Start every part of the hub; on exit stop them in reverse order, losing nothing.

    An external broker that cannot be reached within `broker_patience` seconds is said
    in the log (ingest keeps trying)."""
    hub = HubProcess(config=config, store=make_store(config))
    async with contextlib.AsyncExitStack() as stack:
        host, port, embedded = broker_address(config)
        credentials = None
        if embedded:
            broker, credentials = embedded_broker(config, host, port)
            await broker.start()
            stack.push_async_callback(broker.stop)
            hub.broker = broker
        await hub.start()
        stack.push_async_callback(hub.stop)
        backups = backup_schedule(config)
        if backups is not None:
            backups.start()
            stack.push_async_callback(backups.stop)
        hub.backups = backups
        role = config["hub"]["role"]  # docs/scale.md
        engine: Engine | None = None
        if role != "ingest":
            engine = hub.engine = attach_engine(hub, config["engine"])
            stack.push_async_callback(engine.stop)
            _operator_scripts(engine, config["engine"]["scripts"])
        service = hub.service = HubService(hub=hub, automation=AutomationService(engine))
        ingest = MqttIngest(hub=hub, host=host, port=port, credentials=credentials)
        if role == "live":
            from .leadership import attach_leadership

            assert engine is not None  # a live hub runs its engine
            hub.relay = ingest.publish_made
            leadership = attach_leadership(hub, config, engine=engine, service=service)
            leadership.start()
            stack.push_async_callback(leadership.stop)
            from .live_sync import sync_automation

            stack.push_async_callback(sync_automation(hub, engine).stop)
        await ingest.start()
        stack.push_async_callback(ingest.stop)
        if not embedded:
            watch = asyncio.get_running_loop().create_task(
                _say_unreachable(ingest, host, port, broker_patience), name="broker-watch"
            )
            stack.callback(watch.cancel)
        hub.ingest = ingest
        if config["websocket"]["enabled"] and role != "ingest":
            from .integrations.metrics import metrics_response
            from .ws.server import serve

            metrics = functools.partial(metrics_response, hub)
            server = await serve(service, config["websocket"], metrics=metrics)
            stack.push_async_callback(server.close)
            hub.ws_server = server
        if config["telegram"]["enabled"] and role == "all":  # live: the leader's
            from .bot.app import TelegramBot

            bot = TelegramBot(service=service, config=config["telegram"])
            await bot.start()
            stack.push_async_callback(bot.stop)
            hub.bot = bot
        if role != "ingest":
            await attach_integrations(hub, config, stack)
        yield hub


async def _say_unreachable(ingest: MqttIngest, host: str, port: int, after: float) -> None:
    await asyncio.sleep(after)
    if not ingest.connected:
        log.error(
            "cannot reach the MQTT broker at %s:%d after %g s: no agent data arrives until it "
            "is reachable (still trying)",
            host,
            port,
            after,
        )


def _operator_scripts(engine: Engine, scripts: dict[str, Any]) -> None:
    """Load the operator's plain-Python script files named in `[engine.scripts.NAME]`."""
    from .engine.scripts import ScriptJobError

    for name, spec in scripts.items():
        mode = "signal" if spec["signals"] else "rate"
        try:
            engine.scripts.add_file(
                name, spec["file"], mode=mode, rate=spec["rate"], signals=spec["signals"] or None
            )
        except (ScriptJobError, OSError, SyntaxError) as exc:
            raise ConfigError(f"[engine.scripts.{name}]: {exc}") from exc
        if spec["start"]:
            engine.scripts.start(name)
