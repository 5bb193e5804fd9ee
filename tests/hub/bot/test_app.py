"""The adapter: token never logged, one poller per token, RTOC users import, inline menus."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import httpx
import pytest

from edge_agent.config_schema import ConfigError
from hub.app import Hub
from hub.bot.app import AlreadyPolling, PollerLock, TelegramBot, resolve_token
from hub.bot.handlers import NOT_ALLOWED
from hub.bot.security import REDACTOR
from hub.bot.users import Permission
from hub.db.base import EventRecord
from tests.fixtures.net import async_wait_for
from tests.fixtures.telegram_standin import TOKEN, BotApiStandIn
from tests.hub.conftest import service_of

from .conftest import FAST_NOTIFY, bot_config, settle

SECRET = TOKEN.split(":", 1)[1]


async def test_the_token_never_appears_in_logs(
    hub: Hub,
    make_bot,
    chat_factory,
    telegram_standin: BotApiStandIn,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # The hazard is real: at INFO the HTTP client logs the URL, token included (without the
    # redaction an earlier bot in this test process may have installed).
    logging.getLogger("httpx").setLevel(logging.INFO)
    logging.getLogger("httpx").removeFilter(REDACTOR)
    async with httpx.AsyncClient() as client:
        await client.post(f"{telegram_standin.base_url}{TOKEN}/getMe")
    assert SECRET in caplog.text
    caplog.clear()

    bot = await make_bot()
    chat = chat_factory(1)
    await chat.say("/start")
    await chat.say("Latest values")
    telegram_standin.fail("sendMessage", status=500, times=2)
    hub.add_event(EventRecord(time=1.0e9, device="A", signal="b", text="x", priority=2))
    await async_wait_for(lambda: bot.notifier.stats.sent_events == 1, what="delivery")
    telegram_standin.fail("getUpdates", status=409)
    await async_wait_for(lambda: bot.errors >= 1, what="a polling error")
    await bot.stop()

    assert any(
        r.name.startswith("telegram") and r.levelno == logging.DEBUG for r in caplog.records
    ), "PTB's debug logs were captured"
    assert any(r.name.startswith("hub.bot") for r in caplog.records)
    for r in caplog.records:
        assert SECRET not in r.getMessage(), r.name
        assert SECRET not in (r.exc_text or "")
    assert SECRET not in caplog.text
    # Nor is it sent to any chat.
    assert not any(SECRET in json.dumps(c.params) for c in telegram_standin.calls)


async def test_only_one_process_polls_per_token(
    hub: Hub, make_bot, chat_factory, telegram_standin: BotApiStandIn
) -> None:
    first = await make_bot()
    second = TelegramBot(service=service_of(hub), config=bot_config(telegram_standin))
    await second.start()  # logs and stays idle: the hub keeps running without a 2nd poller
    assert not second.polling and second.app is None
    assert telegram_standin.count("getMe") == 1
    (menu,) = await chat_factory(1).say("/start")  # the first still answers
    assert "Latest values" in menu.buttons()
    await second.stop()
    with pytest.raises(AlreadyPolling, match="another process polls"):
        PollerLock(directory=first.data_dir, token=TOKEN).acquire()
    await first.stop()
    third = TelegramBot(service=service_of(hub), config=bot_config(telegram_standin))
    await third.start()
    await asyncio.wait_for(third.ready.wait(), 30)
    await third.stop()


async def test_telegram_down_at_start_does_not_delay_the_hub(
    hub: Hub, make_bot, chat_factory, telegram_standin: BotApiStandIn
) -> None:
    telegram_standin.set_down(True)
    # start() returns while Telegram is still down: it does not wait for it to come back
    bot = await asyncio.wait_for(make_bot(wait=False), 30)
    assert not bot.polling and telegram_standin.down
    bot.users.register(1, "Ann")  # known from the store, say
    hub.add_event(EventRecord(time=time.time(), device="A", signal="b", text="queued", priority=2))
    await async_wait_for(lambda: bot.notifier.pending(1) == 1, what="notification queued")
    telegram_standin.set_down(False)
    await asyncio.wait_for(bot.ready.wait(), 30)
    await async_wait_for(
        lambda: any("queued" in c.text for c in telegram_standin.sent(1)),
        what="queued notification delivered",
    )
    (menu,) = await chat_factory(1).say("/start")
    assert "Devices" in menu.buttons()


def test_token_from_config_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_token({"token": "1:a"}) == "1:a"
    monkeypatch.setenv("OC_TEST_TOKEN", "2:b\n")
    assert resolve_token({"token": "", "token_env": "OC_TEST_TOKEN"}) == "2:b"
    monkeypatch.delenv("OC_TEST_TOKEN")
    with pytest.raises(ConfigError, match=r"telegram.token.*\$OC_TEST_TOKEN"):
        resolve_token({"token": "", "token_env": "OC_TEST_TOKEN"})


async def test_rtoc_clients_file_is_imported_once(
    hub: Hub, make_bot, tmp_path: Path, telegram_standin: BotApiStandIn
) -> None:
    d = tmp_path / "operator"
    d.mkdir()
    (d / "telegram_clients.json").write_text(
        json.dumps(
            {
                "11": {
                    "eventlevel": 1,
                    "shortcuts": [["Freq"], ["Generator.gen_freq"]],
                    "permission": "admin",
                    "first_name": "Old",
                    "last_name": "Admin",
                    "menu": "main",
                    "preview": False,
                },
                "12": [2, [["Go"], ["Generator.setFrequency(2)"]]],
                "13": {"eventlevel": 0, "shortcuts": [[], []], "admin": False},
                "14": {"permission": "superuser"},
                "nope": {},
            }
        )
    )
    bot = await make_bot(actions_dir=str(d))
    u = bot.users
    assert u.get(11).permission == Permission.ADMIN and u.get(11).eventlevel == 1
    assert [(s.label, s.kind, s.name) for s in u.get(11).shortcuts] == [
        ("Freq", "param", "gen_freq")
    ]
    assert u.get(12).permission == Permission.WRITE and u.get(12).eventlevel == 2
    assert u.get(12).shortcuts[0].kind == "call"
    assert u.get(13).permission == Permission.WRITE
    assert u.get(14).permission == Permission.BLOCKED  # unknown permission: safest
    assert u.get(15) is None
    await bot.stop()
    # Stored now: the next start loads the store, not the file (edits are kept).
    (d / "telegram_clients.json").write_text("{}")
    again = await make_bot(actions_dir=str(d))
    assert again.users.get(11).permission == Permission.ADMIN


async def test_inline_menus_and_custom_users_see_only_their_shortcuts(
    hub: Hub, make_bot, chat_factory, telegram_standin: BotApiStandIn
) -> None:
    bot = await make_bot(inline_menu=True, default_permission="write", notify=FAST_NOTIFY)
    admin, carl = chat_factory(1, "Ann"), chat_factory(2, "Carl")
    (menu,) = await admin.say("/start")
    assert "inline_keyboard" in menu.params["reply_markup"]
    (sigs,) = await admin.press("Signals")
    assert "Request graph" in sigs.buttons()
    assert sigs.method == "editMessageText"  # the menu message is replaced, not repeated
    assert telegram_standin.count("answerCallbackQuery") == 1

    await carl.say("/start")
    bot.users.get(2).permission = Permission.CUSTOM
    from hub.bot.users import Shortcut

    bot.users.get(2).shortcuts.append(
        Shortcut(label="Freq", device="Generator", kind="param", name="gen_freq")
    )
    (menu,) = await carl.say("/start")
    assert menu.buttons() == ["Freq"]
    (reply,) = await carl.press_data("sig")
    assert reply.text == NOT_ALLOWED
    (reply,) = await carl.press_data("p:Generator:waveform")  # not his shortcut
    assert reply.text == NOT_ALLOWED
    (reply,) = await carl.press("Freq")  # his shortcut: allowed (device unknown here)
    assert "Generator has no parameter" in reply.text

    # Admin preview: sees the read menu, and can leave the preview.
    await settle(bot)
    await admin.press_data("bot")
    (menu,) = await admin.press("Preview read")
    assert menu.buttons() == ["Latest values", "Signals", "Settings", "Exit preview"]
    (menu,) = await admin.press("Exit preview")
    assert "Devices" in menu.buttons()


async def test_only_admin_mode_answers_maintenance(hub: Hub, make_bot, chat_factory) -> None:
    await make_bot(default_permission="write", only_admin=True)
    admin, bob = chat_factory(1), chat_factory(2)
    (menu,) = await admin.say("/start")
    assert "Devices" in menu.buttons()
    (reply,) = await bob.say("/start")
    assert "maintenance" in reply.text


async def test_bootstrap_starts_the_bot_from_the_hub_config(
    tmp_path: Path, mosquitto, prefix: str, telegram_standin: BotApiStandIn, chat_factory
) -> None:
    from hub.bootstrap import running_hub

    from ..conftest import make_hub_config

    cfg = make_hub_config(
        tmp_path,
        mosquitto,
        prefix,
        telegram={"enabled": True, "token": TOKEN, "base_url": telegram_standin.base_url},
    )
    async with running_hub(cfg) as hub:
        bot = hub.bot
        await asyncio.wait_for(bot.ready.wait(), 30)
        (menu,) = await chat_factory(1).say("/start")
        assert "Devices" in menu.buttons()
    # Stopped with the hub: the poller lock is free again.
    assert bot.app is None
    lock = PollerLock(directory=bot.data_dir, token=TOKEN)
    lock.acquire()
    lock.release()
