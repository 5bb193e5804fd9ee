"""Automation from Telegram: an event made in the menu, raised by a condition, notifies by level."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from hub.app import Hub
from hub.bot.handlers import NOT_ALLOWED
from hub.engine.engine import Engine
from tests.fixtures.net import async_wait_for
from tests.fixtures.telegram_standin import BotApiStandIn

from .conftest import settle


@pytest.fixture
async def engine(hub: Hub) -> AsyncIterator[Engine]:
    """The real automation engine wired to the real hub (as bootstrap wires it)."""
    if hub.engine is not None:
        yield hub.engine
        return

    def param(device: str, name: str) -> Any:
        for p in (hub.agents.device(device) or {}).get("params", []):
            if p["name"] == name:
                return p.get("value")
        raise KeyError(f"{device}.{name}")

    eng = Engine(
        emit_event=hub.add_event,
        send_command=hub.send_command,
        param=param,
        emit_data=hub.ingest_local,
        docs=hub.store,
        run_store=hub.run_store,
    )
    hub.on_event.append(eng.on_event)
    eng.attach(hub.signals)
    await eng.start()
    hub.engine = eng
    yield eng
    hub.on_event.remove(eng.on_event)
    eng.detach()
    await eng.stop()
    hub.engine = None


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


async def test_automation_without_engine_says_so(hub: Hub, make_bot, chat_factory) -> None:
    hub.engine = None
    await make_bot()
    admin = chat_factory(1)
    await admin.say("/start")
    (reply,) = await admin.say("Automation")
    assert reply.text == "Automation is not available on this hub."
