"""Notifications: per-user levels, grouped bursts, flood control, errors, Telegram down."""

from __future__ import annotations

import asyncio
import time

from hub.app import Hub
from hub.bot.users import Permission
from hub.db.base import EventRecord
from tests.fixtures.net import async_wait_for
from tests.fixtures.telegram_standin import BotApiStandIn


def event(priority: int, text: str = "", t: float | None = None) -> EventRecord:
    return EventRecord(
        time=t or time.time(),
        device="Room",
        signal="Temp",
        text=text or f"prio {priority}",
        priority=priority,
    )


def lines(standin: BotApiStandIn, chat_id: int) -> list[str]:
    """Event texts delivered to a chat (grouped messages split up)."""
    out = []
    for c in standin.sent(chat_id):
        out += [
            part
            for part in c.text.split("\n")
            if part.startswith("prio ") or part.startswith("burst ") or part.startswith("down ")
        ]
    return out


async def test_events_reach_exactly_the_users_whose_level_admits_them(
    hub: Hub, make_bot, chat_factory, telegram_standin: BotApiStandIn
) -> None:
    bot = await make_bot(default_permission="read")
    chats = {cid: chat_factory(cid, f"U{cid}") for cid in range(1, 8)}
    for c in chats.values():
        await c.say("/start")
    # One user picks its level through the menu; the others are set directly.
    await chats[3].say("Settings")
    (levels,) = await chats[3].say("Notifications: All events")
    assert levels.buttons()[:4] == ["• All events", "Warnings", "Only errors", "No notifications"]
    await chats[3].say("Warnings")
    assert bot.users.get(3).eventlevel == 1
    bot.users.get(4).eventlevel = 2
    bot.users.get(5).eventlevel = 3
    bot.users.get(6).permission = Permission.CUSTOM
    bot.users.get(7).permission = Permission.BLOCKED
    before = {cid: len(c.received()) for cid, c in chats.items()}

    for prio in (0, 1, 2):
        hub.add_event(event(prio))
    expected = {1: 3, 2: 3, 3: 2, 4: 1, 5: 0, 6: 0, 7: 0}
    await async_wait_for(
        lambda: all(len(lines(telegram_standin, cid)) >= n for cid, n in expected.items()),
        what="notifications delivered",
    )
    await async_wait_for(lambda: bot.notifier.pending() == 0, what="queues empty")
    await asyncio.sleep(0.3)  # longer than the send interval: nothing else may arrive
    assert {cid: len(lines(telegram_standin, cid)) for cid in chats} == expected
    assert lines(telegram_standin, 3) == ["prio 1", "prio 2"]
    assert lines(telegram_standin, 4) == ["prio 2"]
    for cid in (5, 6, 7):
        assert len(chats[cid].received()) == before[cid]
    error_msg = telegram_standin.sent(4)[-1]
    assert "<b><i>Error</i></b> from Room.Temp:" in error_msg.text


async def test_a_burst_is_grouped_not_flooded(
    hub: Hub, make_bot, chat_factory, telegram_standin: BotApiStandIn
) -> None:
    bot = await make_bot()
    await chat_factory(1).say("/start")
    n0 = len(telegram_standin.sent(1))
    for i in range(30):
        hub.add_event(event(0, f"burst {i}"))
    await async_wait_for(lambda: len(lines(telegram_standin, 1)) == 30, what="30 events")
    msgs = telegram_standin.sent(1)[n0:]
    assert len(msgs) == 2  # max_group 20: one message of 20 and one of 10
    assert msgs[0].text.startswith("<b>20 events</b> (and 10 more following)")
    assert lines(telegram_standin, 1) == [f"burst {i}" for i in range(30)]
    gap = msgs[1].at - msgs[0].at
    assert gap >= bot.notifier.interval * 0.9


async def test_flood_control_retry_after_is_honoured(
    hub: Hub, make_bot, chat_factory, telegram_standin: BotApiStandIn
) -> None:
    bot = await make_bot()
    await chat_factory(1).say("/start")
    telegram_standin.fail("sendMessage", status=429, retry_after=1)
    hub.add_event(event(2, "prio 2 flood"))
    await async_wait_for(lambda: lines(telegram_standin, 1) == ["prio 2 flood"], what="delivery")
    calls = [c for c in telegram_standin.calls if c.method == "sendMessage" and c.chat_id == 1]
    refused, delivered = calls[-2], calls[-1]
    assert refused.status == 429 and delivered.status == 200
    assert delivered.at - refused.at >= 0.95  # waited retry_after, not the 0.2 s interval
    assert bot.notifier.stats.retries == 1 and bot.notifier.stats.dropped == 0


async def test_server_errors_are_retried_with_backoff(
    hub: Hub, make_bot, chat_factory, telegram_standin: BotApiStandIn
) -> None:
    bot = await make_bot()
    await chat_factory(1).say("/start")
    telegram_standin.fail("sendMessage", status=500, times=3)
    hub.add_event(event(1))
    await async_wait_for(lambda: lines(telegram_standin, 1) == ["prio 1"], what="delivery")
    assert bot.notifier.stats.retries == 3 and bot.notifier.stats.failures == 0


async def test_telegram_down_never_slows_ingest_and_delivers_when_back(
    hub: Hub, make_bot, chat_factory, telegram_standin: BotApiStandIn
) -> None:
    bot = await make_bot(
        notify={"interval": 0.2, "backoff_min": 0.1, "backoff_max": 0.3, "max_queue": 10}
    )
    await chat_factory(1).say("/start")
    telegram_standin.set_down(True)

    t0 = time.perf_counter()
    for i in range(1000):
        hub.add_event(event(0, f"down {i}"))
    add_s = time.perf_counter() - t0
    xs = [time.time() - 10 + i * 0.001 for i in range(5000)]
    t0 = time.perf_counter()
    hub.ingest_local("Fast", "Sig", xs, list(range(5000)))
    await async_wait_for(
        lambda: "Fast.Sig" in hub.signals and len(hub.signals.get("Fast.Sig").buffer) == 5000,
        what="ingest",
    )
    ingest_s = time.perf_counter() - t0
    print(
        f"1000 events with Telegram down: {add_s * 1000:.1f} ms; "
        f"5000 samples ingested in {ingest_s * 1000:.1f} ms"
    )
    # The queue stayed bounded: the newest 10 kept, the rest dropped and counted.
    assert bot.notifier.pending(1) == 10
    assert bot.notifier.stats.dropped == 990
    await async_wait_for(lambda: bot.notifier.stats.retries >= 2, what="retries while down")
    assert lines(telegram_standin, 1) == []

    telegram_standin.set_down(False)
    await async_wait_for(lambda: len(lines(telegram_standin, 1)) == 10, what="delivery")
    assert lines(telegram_standin, 1) == [f"down {i}" for i in range(990, 1000)]


async def test_an_event_from_another_thread_is_delivered(
    hub: Hub, make_bot, chat_factory, telegram_standin: BotApiStandIn
) -> None:
    bot = await make_bot()
    await chat_factory(1).say("/start")
    await asyncio.to_thread(bot.on_event, event(2, "prio 2 threaded"))
    await async_wait_for(lambda: lines(telegram_standin, 1) == ["prio 2 threaded"], what="delivery")


async def test_menu_replies_honour_flood_control_too(
    hub: Hub, make_bot, chat_factory, telegram_standin: BotApiStandIn
) -> None:
    await make_bot()
    chat = chat_factory(1)
    await chat.say("/start")
    telegram_standin.fail("sendMessage", status=429, retry_after=1)
    (reply,) = await chat.say("Latest values")
    calls = [c for c in telegram_standin.calls if c.method == "sendMessage"]
    assert calls[-2].status == 429 and reply.status == 200
    assert reply.at - calls[-2].at >= 0.95
    assert reply.text == "No signals yet."
