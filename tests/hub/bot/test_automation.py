"""Automation from Telegram: an event made in the menu, raised by a condition, notifies by level."""

from __future__ import annotations

import asyncio
import time

import pytest

from hub.app import Hub
from hub.bot.app import TelegramBot
from hub.bot.handlers import NOT_ALLOWED
from hub.bot.users import Permission
from hub.engine.engine import Engine
from hub.service import AutomationService, HubService
from tests.fixtures.net import async_wait_for
from tests.fixtures.telegram_standin import BotApiStandIn

from .conftest import bot_config, settle


@pytest.fixture
def engine(hub: Hub) -> Engine:
    """The real automation engine, wired to the real hub by the bootstrap."""
    assert hub.engine is not None, "hub.bootstrap attaches the engine"
    return hub.engine


def notes(standin: BotApiStandIn, chat_id: int) -> list[str]:
    return [c.text for c in standin.sent(chat_id) if "too hot" in c.text and "from" in c.text]


async def test_event_made_in_the_menu_fires_on_a_condition_and_reaches_the_right_users(
    hub: Hub, engine: Engine, make_bot, chat_factory, telegram_standin: BotApiStandIn
) -> None:
    bot = await make_bot(default_permission="read")
    admin = chat_factory(1, "Ann")
    readers = {cid: chat_factory(cid, f"R{cid}") for cid in (2, 3, 4)}
    await admin.say("/start")
    for c in readers.values():
        await c.say("/start")
    bot.users.get(2).eventlevel = 1
    bot.users.get(3).eventlevel = 2
    bot.users.get(4).eventlevel = 3
    await settle(bot)  # the admin was told about each new user

    (menu,) = await admin.say("Automation")
    assert "New event" in menu.buttons() and "Events: on" in menu.buttons()
    (prompt,) = await admin.say("New event")
    assert "cond: Room.Temp.latest" in prompt.text, prompt.text
    (err,) = await admin.say("name: hot\ncolor: red")
    assert "expected one of name, cond" in err.text
    (err,) = await admin.say("name: hot\ncond: __import__('os').system('true')\ntext: x")
    assert "setEvent" in err.text
    (menu,) = await admin.say(
        "name: hot\ncond: Room.Temp.latest > 25\ntext: too hot\npriority: 1\nid: hot"
    )
    assert "Saved hot." in menu.text and "Test event hot" in menu.buttons()
    assert "hot" in engine.events.events

    # A reader cannot reach the automation menu, nor forge its buttons.
    (reply,) = await readers[2].say("Automation")
    assert reply.text == "Main menu"
    (reply,) = await readers[2].press_data("au:re:hot")
    assert reply.text == NOT_ALLOWED
    assert "hot" in engine.events.events

    hub.ingest_local("Room", "Temp", [time.time()], [30.0], "°C")
    await async_wait_for(
        lambda: notes(telegram_standin, 1) and notes(telegram_standin, 2),
        what="warning delivered to levels 0 and 1",
    )
    await async_wait_for(lambda: bot.notifier.pending() == 0, what="queues empty")
    await asyncio.sleep(0.3)
    assert len(notes(telegram_standin, 1)) == 1 and len(notes(telegram_standin, 2)) == 1
    assert notes(telegram_standin, 3) == [] and notes(telegram_standin, 4) == []
    assert "<b>Warning</b> from Room.Temp:\ntoo hot" in notes(telegram_standin, 2)[0]

    (menu,) = await admin.say("Remove event hot")
    assert "removeEvent: done" in menu.text and "hot" not in engine.events.events


async def test_user_actions_run_sandboxed_with_the_askers_permission(
    hub: Hub, engine: Engine, make_bot, chat_factory
) -> None:
    engine.set_user_action("greet", "return ('text', 'hello ' + str(1 + 1))")
    engine.set_user_action("_admin", "return ('text', 'admin only')")
    bot = await make_bot(default_permission="write")
    admin, walt = chat_factory(1, "Ann"), chat_factory(2, "Walt")
    (menu,) = await admin.say("/start")
    assert menu.buttons()[:2] == ["_admin", "greet"]
    (menu,) = await walt.say("/start")
    assert "greet" in menu.buttons() and "_admin" not in menu.buttons()
    (reply,) = await walt.say("greet")
    assert reply.text == "hello 2"
    (reply,) = await walt.press_data("ua:_admin")  # forged: refused by the route's rule
    assert reply.text == NOT_ALLOWED
    bot.users.get(2).permission = Permission.READ
    (reply,) = await walt.press_data("ua:greet")
    assert reply.text == NOT_ALLOWED
    await settle(bot)
    (reply,) = await admin.say("_admin")
    assert reply.text == "admin only"


async def test_automation_without_engine_says_so(
    hub: Hub, telegram_standin: BotApiStandIn, chat_factory
) -> None:
    without = HubService(hub=hub, automation=AutomationService(None))
    async with TelegramBot(service=without, config=bot_config(telegram_standin)) as bot:
        await asyncio.wait_for(bot.ready.wait(), 30)
        admin = chat_factory(1)
        await admin.say("/start")
        (reply,) = await admin.say("Automation")
        assert reply.text == "Automation is not available on this hub."
