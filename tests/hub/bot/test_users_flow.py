"""The first user becomes admin; later users get the default; admins change permissions."""

from __future__ import annotations

from hub.app import Hub
from hub.bot.handlers import NO_PERMISSION
from hub.bot.users import DOC_KEY
from tests.fixtures.net import async_wait_for
from tests.fixtures.telegram_standin import BotApiStandIn


async def test_first_user_is_admin_later_ones_blocked_and_admin_promotes(
    hub: Hub, make_bot, chat_factory, telegram_standin: BotApiStandIn
) -> None:
    bot = await make_bot(default_permission="blocked")
    ann, bob = chat_factory(1, "Ann", "Admin"), chat_factory(2, "Bob", "Later")

    (menu,) = await ann.say("/start")
    assert bot.users.get(1).permission.label == "admin"
    assert "Devices" in menu.buttons() and "Settings" in menu.buttons()

    # Bob is new: blocked by default, every reply is the refusal, and Ann is told.
    (refusal,) = await bob.say("/start")
    assert refusal.text == NO_PERMISSION and not refusal.buttons()
    await async_wait_for(
        lambda: any("Bob Later joined" in c.text for c in ann.received()),
        what="admin told about the new user",
    )
    (refusal,) = await bob.say("Latest values")
    assert refusal.text == NO_PERMISSION

    # Ann walks Settings → Telegram bot → Users, taps Bob and picks read: one step.
    await ann.say("Settings")
    await ann.say("Telegram bot")
    (users,) = await ann.say("Users")
    assert "Bob Later: blocked" in users.buttons()
    (levels,) = await ann.say("Bob Later: blocked")
    assert levels.buttons() == ["• blocked", "custom", "read", "write", "admin…", "← Back"]
    (users,) = await ann.say("read")
    assert "Bob Later is now read" in users.text and "Bob Later: read" in users.buttons()
    assert bot.users.get(2).permission.label == "read"
    (menu,) = await bob.say("/start")
    assert menu.buttons() == ["Latest values", "Signals", "Settings"]

    # Admin is not one tap away: it needs a confirmation, and Cancel changes nothing.
    await ann.say("Bob Later: read")
    (confirm,) = await ann.say("admin…")
    assert "Make Bob Later admin?" in confirm.text
    assert bot.users.get(2).permission.label == "read"
    (levels,) = await ann.say("Cancel")
    assert "• read" in levels.buttons() and bot.users.get(2).permission.label == "read"
    await ann.say("admin…")
    (users,) = await ann.say("Yes, make Bob Later admin")
    assert "Bob Later is now admin" in users.text
    await ann.say("Bob Later: admin")
    (users,) = await ann.say("write")
    assert "Bob Later is now write" in users.text
    assert bot.users.get(2).permission.label == "write"
    # Ann cannot change herself, not even by a forged button.
    (users,) = await ann.press_data("ul:1:read")
    assert "cannot change your own permission" in users.text
    assert bot.users.get(1).permission.label == "admin"

    (menu,) = await bob.say("/start")
    assert "Devices" in menu.buttons()

    # Stored in the hub's store: a new bot process sees the same users.
    doc = await hub.run_store(hub.store.get_doc, DOC_KEY)
    assert doc["users"]["2"]["permission"] == "write"
    assert doc["users"]["1"]["permission"] == "admin"


async def test_group_chats_are_ignored(
    hub: Hub, make_bot, chat_factory, telegram_standin: BotApiStandIn
) -> None:
    bot = await make_bot()
    telegram_standin.send_text(-100, "/start", chat_type="group")
    (menu,) = await chat_factory(5).say("/start")  # fetched with or after the group message
    assert "Devices" in menu.buttons()
    assert bot.users.get(-100) is None and telegram_standin.sent(-100) == []
    assert bot.users.get(5).permission.label == "admin"  # the first *private* user
