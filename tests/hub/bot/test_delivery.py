"""Delivery per chat: a 429 on a menu edit is waited out on that chat's line alone, and a
network error on an edit never leaves the user with two menus."""

from __future__ import annotations

import asyncio
import time

from hub.app import Hub
from hub.bot.chatline import ChatLines
from hub.db.base import EventRecord
from tests.fixtures.telegram_standin import BotApiStandIn, Call

from .conftest import settle


def trace(calls: list[Call]) -> list[tuple[str, int]]:
    return [(c.method, c.status) for c in calls]


async def test_a_429_on_a_menu_edit_is_waited_out_and_nothing_else_goes_to_that_chat(
    hub: Hub, make_bot, chat_factory, telegram_standin: BotApiStandIn
) -> None:
    standin = telegram_standin
    bot = await make_bot(inline_menu=True, default_permission="read")
    ann, bob = chat_factory(1, "Ann"), chat_factory(2, "Bob")
    await ann.say("/start")
    await bob.say("/start")
    bot.users.get(2).eventlevel = 3  # Bob's chat only answers his presses
    await settle(bot)

    # Telegram answers Ann's menu edit with 429 and holds her chat for 3 s: a call to it
    # before then would be answered 429 again (and recorded as such).
    standin.fail("editMessageText", status=429, retry_after=3, chat_id=1)
    before = len(standin.calls_to(1))
    standin.press(1, "sig")
    refused = await standin.wait(
        lambda: next((c for c in standin.calls_to(1)[before:] if c.status == 429), None),
        30,
        "the 429",
    )
    # Meanwhile Ann presses again and an event concerns her; Bob presses too.
    standin.press(1, "lat")
    hub.add_event(EventRecord(time=time.time(), device="Room", signal="T", text="held", priority=2))
    (bob_reply,) = await bob.press_data("lat")

    def after() -> list[Call]:
        return [c for c in standin.calls_to(1) if c.seq > refused.seq]

    await standin.wait(
        lambda: len(after()) >= 4, 30, "Ann's retried edit, second press and notification"
    )
    retry = after()[0]
    # The first call to Ann's chat after the 429 is the edit again, and it was accepted
    # (so it came after retry_after); nothing else went to her chat in between.
    assert (retry.method, retry.status) == ("editMessageText", 200)
    assert retry.params["message_id"] == refused.params["message_id"]
    assert "Request graph" in retry.buttons()
    assert all(c.status == 200 for c in after()), trace(after())
    # Her second press (answer, reply) and the notification waited their turn on her line.
    rest = after()[1:]
    assert sorted(c.method for c in rest) == ["answerCallbackQuery", "sendMessage", "sendMessage"]
    assert any("held" in c.text for c in rest) and any("No signals yet" in c.text for c in rest)
    # Bob's chat was not held: his press was answered while Ann's chat waited.
    assert bob_reply.seq < retry.seq
    # One Signals menu: the edited one, never a second message.
    assert not any(
        "Request graph" in c.buttons() for c in ann.received() if c.method != "editMessageText"
    )


async def test_a_network_error_on_an_edit_retries_the_edit_and_never_sends_a_second_menu(
    hub: Hub, make_bot, chat_factory, telegram_standin: BotApiStandIn
) -> None:
    standin = telegram_standin
    await make_bot(inline_menu=True)
    ann = chat_factory(1, "Ann")
    await ann.say("/start")

    async def press(data: str, expected: list[tuple[str, int]], **kw: int) -> None:
        """Press; the calls to the chat are exactly `expected`, and nothing follows (a
        plain message afterwards is the next thing on the chat's line)."""
        n = len(standin.calls_to(1))
        standin.press(1, data, **kw)
        await standin.wait(lambda: len(standin.calls_to(1)) >= n + len(expected), 30, data)
        await ann.say("/menu")
        calls = standin.calls_to(1)[n:]
        assert trace(calls[: len(expected)]) == expected
        assert trace(calls[len(expected) :]) == [("sendMessage", 200)]
        assert calls[-1].text == "Main menu"

    # The edit arrives but its answer is lost (a dropped connection): the retry finds the
    # message already showing the menu ("not modified"), and that is the end of it.
    standin.fail("editMessageText", status=0, applied=True, chat_id=1)
    await press(
        "sig",
        [("answerCallbackQuery", 200), ("editMessageText", 0), ("editMessageText", 400)],
    )
    # The connection drops before the edit arrives: the retry makes it.
    standin.fail("editMessageText", status=0, chat_id=1)
    await press(
        "set",
        [("answerCallbackQuery", 200), ("editMessageText", 0), ("editMessageText", 200)],
    )
    # A message that cannot be edited (too old, deleted): then, and only then, a new one.
    await press(
        "sig",
        [("answerCallbackQuery", 200), ("editMessageText", 400), ("sendMessage", 200)],
        message_id=999_999,
    )
    assert "Request graph" in ann.received()[-2].buttons()


async def test_a_chat_line_keeps_order_and_drops_beyond_its_bound() -> None:
    errors: list[BaseException] = []
    lines = ChatLines(on_error=errors.append, max_jobs=3)
    gate = asyncio.Event()
    done: list[str] = []

    async def job(name: str) -> None:
        if name == "first":
            await gate.wait()
        if name == "bad":
            raise RuntimeError("bad reply")
        done.append(name)

    assert lines.submit(1, lambda: job("first"))
    await asyncio.sleep(0)  # the sender took "first" and waits in it
    assert all(lines.submit(1, lambda n=n: job(n)) for n in ("a", "bad", "b"))
    assert not lines.submit(1, lambda: job("c")) and lines.dropped == 1
    assert lines.submit(2, lambda: job("other chat"))
    while "other chat" not in done:
        await asyncio.sleep(0.01)
    assert done == ["other chat"]  # chat 1's line waits; chat 2's does not
    gate.set()
    while lines.pending(1) or len(done) < 4:
        await asyncio.sleep(0.01)
    assert done == ["other chat", "first", "a", "b"]
    assert [str(e) for e in errors] == ["bad reply"]  # logged; the line went on
    await lines.stop()
