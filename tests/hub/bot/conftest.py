"""Bot fixtures: a real hub (ingest + SQLite), the Bot API stand-in, the real bot, chats."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from edge_agent.agent import Agent
from hub.app import Hub
from hub.bot.app import TelegramBot
from hub.service import HubService
from tests.fixtures.agents import generator_agent
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for
from tests.fixtures.telegram_standin import TOKEN, BotApiStandIn, Call


def bot_config(standin: BotApiStandIn, **overrides: Any) -> dict[str, Any]:
    """A `[telegram]` section pointing at the stand-in."""
    cfg: dict[str, Any] = {
        "enabled": True,
        "token": TOKEN,
        "token_env": "",
        "default_permission": "blocked",
        "default_eventlevel": 0,
        "inline_menu": False,
        "only_admin": False,
        "base_url": standin.base_url,
        "actions_dir": "",
    }
    cfg.update(overrides)
    return cfg


FAST_NOTIFY = {"interval": 0.2, "backoff_min": 0.1, "backoff_max": 0.5}


class Chat:
    """One Telegram user talking to the bot through the stand-in."""

    def __init__(self, standin: BotApiStandIn, chat_id: int, first: str, last: str) -> None:
        self.standin, self.chat_id, self.first, self.last = standin, chat_id, first, last

    def received(self) -> list[Call]:
        return self.standin.sent(self.chat_id)

    async def say(self, text: str, *, expect: int = 1, timeout: float = 30.0) -> list[Call]:
        """Type `text`; wait for `expect` new messages to this chat and return them."""
        before = len(self.received())
        self.standin.send_text(self.chat_id, text, first_name=self.first, last_name=self.last)
        return await self._wait(before, expect, timeout, text)

    async def press(self, label: str, *, expect: int = 1, timeout: float = 30.0) -> list[Call]:
        """Press the inline button `label` of the last menu this chat got."""
        menu = next(c for c in reversed(self.received()) if c.params.get("reply_markup"))
        data = menu.button_data(label)
        before = len(self.received())
        self.standin.press(self.chat_id, data)
        return await self._wait(before, expect, timeout, label)

    async def press_data(self, data: str, *, expect: int = 1) -> list[Call]:
        """Press a button carrying `data` (as a forged client could)."""
        before = len(self.received())
        self.standin.press(self.chat_id, data)
        return await self._wait(before, expect, 30.0, data)

    async def _wait(self, before: int, expect: int, timeout: float, what: str) -> list[Call]:
        await self.standin.wait(
            lambda: len(self.received()) >= before + expect,
            timeout,
            what=f"{expect} replies to {what!r} in chat {self.chat_id}",
        )
        return self.received()[before:]

    def last_buttons(self) -> list[str]:
        menus = [c for c in self.received() if c.params.get("reply_markup")]
        return menus[-1].buttons() if menus else []


@pytest.fixture
async def make_bot(service: HubService, telegram_standin: BotApiStandIn) -> AsyncIterator[Any]:
    """Start real bots against the stand-in; all are stopped at the end."""
    bots: list[TelegramBot] = []

    async def start(**overrides: Any) -> TelegramBot:
        notify = overrides.pop("notify", FAST_NOTIFY)
        wait = overrides.pop("wait", True)
        bot = TelegramBot(
            service=service, config=bot_config(telegram_standin, **overrides), notify=notify
        )
        await bot.start()
        bots.append(bot)
        if wait:
            await asyncio.wait_for(bot.ready.wait(), 30.0)
        return bot

    yield start
    for bot in reversed(bots):
        await bot.stop()


@pytest.fixture
def chat_factory(telegram_standin: BotApiStandIn) -> Callable[..., Chat]:
    """Chats by id; the first one to speak becomes admin."""

    def make(chat_id: int, first: str = "Ann", last: str = "Test") -> Chat:
        return Chat(telegram_standin, chat_id, first, last)

    return make


async def settle(bot: TelegramBot) -> None:
    """Wait until every queued notification (e.g. "X joined") is delivered."""
    await async_wait_for(lambda: bot.notifier.pending() == 0, what="notifications delivered")


async def wait_stored(hub: Hub, device: str, name: str, n: int, timeout: float = 10.0) -> None:
    """Wait until the store holds at least n samples of a signal."""

    async def enough() -> bool:
        h = await hub.history(device, name, None, None, None)
        return len(h.x) >= n

    await async_wait_for(enough, timeout, what=f"{n} stored samples of {device}.{name}")


def now() -> float:
    return time.time()


def tmp_actions(tmp_path: Path, text: str) -> str:
    d = tmp_path / "operator"
    d.mkdir(exist_ok=True)
    (d / "telegram_actions.toml").write_text(text)
    return str(d)


@pytest.fixture
def agent(tmp_path: Path, mosquitto: Mosquitto, prefix: str) -> Iterator[Agent]:
    """A real edge agent with a Generator device on the shared broker."""
    with generator_agent(
        tmp_path, port=mosquitto.port, prefix=prefix, agent_id="pi1", device="Generator"
    ) as a:
        yield a


class CommandTap:
    """Every command the hub publishes to agents (`<prefix>/+/cmd`), seen from the broker."""

    def __init__(self, port: int, prefix: str) -> None:
        self.commands: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"tap-{prefix}")
        self.client.on_message = self._on_message
        ready = threading.Event()
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"{prefix}/+/cmd", qos=1)
        self.client.loop_start()
        if not ready.wait(10):
            raise TimeoutError("command tap did not subscribe")

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.commands.append(json.loads(msg.payload))

    def since(self, n: int) -> list[tuple[str, str | None]]:
        """(op, name) of the commands after the first `n`."""
        with self._lock:
            return [(c["op"], c.get("name")) for c in self.commands[n:]]

    async def barrier(self, hub: Hub) -> None:
        """Send one marker command and wait until the tap has it: whatever the hub
        published before it has arrived too (one publisher, one topic, in order)."""
        n = len(self.commands)
        await hub.send_command("Generator", "get", "tap-marker")
        await async_wait_for(lambda: ("get", "tap-marker") in self.since(n), what="marker command")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def command_tap(mosquitto: Mosquitto, prefix: str) -> Iterator[CommandTap]:
    tap = CommandTap(mosquitto.port, prefix)
    yield tap
    tap.close()
