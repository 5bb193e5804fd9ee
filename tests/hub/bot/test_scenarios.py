"""Scenario tests per permission level: the real python-telegram-bot walks the menus."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

from PIL import Image

from edge_agent.agent import Agent
from hub.app import Hub
from hub.bot.handlers import NO_PERMISSION, NOT_ALLOWED
from hub.bot.plots import EVENT_COLORS, SIGNAL_COLORS
from hub.bot.users import Permission
from hub.db.base import EventRecord
from tests.fixtures.net import async_wait_for
from tests.fixtures.telegram_standin import BotApiStandIn

from .conftest import settle, tmp_actions, wait_stored


def _rgb(hex_color: str) -> tuple[int, int, int]:
    h = hex_color.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _colors(png: bytes) -> set[tuple[int, int, int]]:
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG"
    return {c for _, c in img.convert("RGB").getcolors(maxcolors=1 << 20)}


async def _room_data(hub: Hub) -> float:
    """Two signals with 50 samples each in the last few minutes, and one error event."""
    t0 = time.time() - 300
    xs = [t0 + i * 5 for i in range(50)]
    hub.ingest_local("Room", "Temp", xs, [20 + i * 0.03 for i in range(50)], "°C")
    hub.ingest_local("Room", "Hum", xs, [40 + (i % 7) for i in range(50)], "%")
    await wait_stored(hub, "Room", "Temp", 50)
    await wait_stored(hub, "Room", "Hum", 50)
    hub.add_event(
        EventRecord(time=t0 + 120, device="Room", signal="Temp", text="too hot", priority=2)
    )
    return t0


async def test_read_user_gets_latest_values_and_a_plot_but_no_devices(
    hub: Hub, make_bot, chat_factory, telegram_standin: BotApiStandIn
) -> None:
    await _room_data(hub)
    await make_bot(default_permission="read")
    admin, reader = chat_factory(1, "Ann"), chat_factory(2, "Rita", "Reader")
    await admin.say("/start")

    (menu,) = await reader.say("/start")
    assert menu.buttons() == ["Latest values", "Signals", "Settings"]

    (latest,) = await reader.say("Latest values")
    assert "Room.Temp | 21.47 | °C" in latest.text
    assert "Room.Hum" in latest.text and "| %" in latest.text

    (sigs,) = await reader.say("Signals")
    assert "☐ Room.Temp" in sigs.buttons() and "☐ Room.Hum" in sigs.buttons()
    await reader.say("☐ Room.Temp")
    (sigs,) = await reader.say("☐ Room.Hum")
    assert "☑ Room.Hum" in sigs.buttons() and "☑ Room.Temp" in sigs.buttons()
    await reader.say("Period: Last 24 hours")
    (sigs,) = await reader.say("Last hour")
    assert "Period: Last hour" in sigs.buttons()

    (photo,) = await reader.say("Request graph")
    assert photo.method == "sendPhoto"
    png = photo.files["photo"][1]
    colors = _colors(png)
    # One line per selected signal, each in its own colour; the error event in red.
    assert _rgb(SIGNAL_COLORS[0]) in colors and _rgb(SIGNAL_COLORS[1]) in colors
    assert not any(_rgb(c) in colors for c in SIGNAL_COLORS[2:])
    assert _rgb(EVENT_COLORS[2]) in colors
    assert "100 samples, 1 events" in photo.text

    (doc,) = await reader.say("Download CSV")
    assert doc.method == "sendDocument"
    name, data = doc.files["document"]
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert name.endswith(".csv") and len(rows) == 101 and rows[0][0] == "signal"

    # Devices is not reachable: not by typing its label, not by a forged button press.
    (menu,) = await reader.say("Devices")
    assert "Devices" not in menu.buttons() and menu.text == "Main menu"
    (menu,) = await reader.press_data("dev")
    assert menu.text == NOT_ALLOWED
    (menu,) = await reader.press_data("p:Room:x")
    assert menu.text == NOT_ALLOWED
    assert not any(c.method == "sendPhoto" for c in admin.received())


def _gen(agent: Agent):
    return agent.scheduler.runner("Generator")


async def test_write_user_sets_a_parameter_and_the_agents_driver_sees_it(
    hub: Hub, agent: Agent, make_bot, chat_factory
) -> None:
    await async_wait_for(
        lambda: (hub.agents.device("Generator") or {}).get("running"), what="agent birth at hub"
    )
    await make_bot(default_permission="write")
    admin, writer = chat_factory(1, "Ann"), chat_factory(2, "Walt", "Writer")
    await admin.say("/start")
    (menu,) = await writer.say("/start")
    assert "Devices" in menu.buttons()

    (devs,) = await writer.say("Devices")
    assert "Generator (running)" in devs.buttons()
    (dev,) = await writer.say("Generator (running)")
    assert "Set gen_freq" in dev.buttons() and "Call setFrequency" in dev.buttons()
    (prompt,) = await writer.say("Set gen_freq")
    assert "float, Hz, 1e-06..10000.0" in prompt.text

    # Bad input: a clear error, nothing sent, the value unchanged; the prompt stays open.
    (err,) = await writer.say("import os")
    assert "gen_freq takes a number" in err.text
    (err,) = await writer.say("99999")
    assert "must be at most 10000," in err.text
    assert _gen(agent).driver.params["gen_freq"] == 1.0

    (done,) = await writer.say("2.5")
    assert "set Generator.gen_freq: done (2.5)" in done.text
    assert _gen(agent).driver.params["gen_freq"] == 2.5

    # A function with typed arguments, and the sample rate.
    await writer.say("Devices")
    await writer.say("Generator (running)")
    await writer.say("Call setFrequency")
    (err,) = await writer.say("fast")
    assert "freq takes a number" in err.text
    (done,) = await writer.say("4, inverse=true")
    assert "call Generator.setFrequency: done (0.25)" in done.text
    assert _gen(agent).driver.params["gen_freq"] == 0.25
    await writer.say("Devices")
    (dev,) = await writer.say("Generator (running)")
    await writer.say("Sample rate (5.0 Hz)")
    (err,) = await writer.say("5000")
    assert "at most 1000.0 Hz" in err.text
    await writer.say("2")
    assert _gen(agent).samplerate == 2.0

    # Stop and start the device.
    await writer.say("Devices")
    await writer.say("Generator (running)")
    (dev,) = await writer.say("Stop")
    assert "stop Generator: done" in dev.text and not _gen(agent).running
    await async_wait_for(
        lambda: not hub.agents.device("Generator")["running"], what="stopped in the agent's status"
    )
    (devs,) = await writer.say("Devices")
    assert "Generator (stopped)" in devs.buttons()
    await writer.say("Generator (stopped)")
    (dev,) = await writer.say("Start")
    assert "start Generator: done" in dev.text and _gen(agent).running
    await async_wait_for(
        lambda: hub.agents.device("Generator")["running"], what="running in the agent's status"
    )

    # A shortcut to the parameter appears in the main menu and works from there.
    await writer.say("Devices")
    await writer.say("Generator (running)")
    (menu,) = await writer.say("★ Generator.gen_freq")
    assert "Generator.gen_freq" in menu.buttons()
    await writer.say("Generator.gen_freq")
    await writer.say("3")
    assert _gen(agent).driver.params["gen_freq"] == 3.0


async def test_blocked_user_gets_nothing_and_triggers_nothing(
    hub: Hub,
    agent: Agent,
    make_bot,
    chat_factory,
    tmp_path: Path,
    telegram_standin: BotApiStandIn,
) -> None:
    await async_wait_for(lambda: hub.agents.device("Generator"), what="agent birth at hub")
    actions = tmp_actions(
        tmp_path,
        """
[[action]]
label = "Fast"
permission = "read"
command = { device = "Generator", op = "set", name = "gen_freq", args = 7.0 }
reply = "now {Generator.Square}"
""",
    )
    bot = await make_bot(default_permission="blocked", actions_dir=actions)
    admin, mallory = chat_factory(1, "Ann"), chat_factory(3, "Mallory")
    (menu,) = await admin.say("/start")
    assert menu.buttons()[0] == "Fast"

    for text in ["/start", "Fast", "Latest values", "Devices", "Set gen_freq", "9"]:
        (reply,) = await mallory.say(text)
        assert reply.text == NO_PERMISSION and not reply.buttons()
    for data in ["act:0", "p:Generator:gen_freq", "start:Generator", "u:3", "lat"]:
        (reply,) = await mallory.press_data(data)
        assert reply.text == NO_PERMISSION
    # The custom action (which RTOC ran for blocked users) did not run.
    assert _gen(agent).driver.params["gen_freq"] == 1.0
    assert all(c.method == "sendMessage" for c in mallory.received())

    # The admin's press runs it, so the refusal above was the permission, not the action.
    await settle(bot)
    (done,) = await admin.say("Fast")
    assert "set Generator.gen_freq: done (7.0)" in done.text
    assert _gen(agent).driver.params["gen_freq"] == 7.0


async def test_write_user_creates_a_measurement_and_an_event(
    hub: Hub, make_bot, chat_factory, telegram_standin: BotApiStandIn
) -> None:
    bot = await make_bot(default_permission="write")
    admin, writer = chat_factory(1, "Ann"), chat_factory(2, "Walt")
    await admin.say("/start")
    bot.users.get(1).eventlevel = 3  # keep the admin's chat quiet
    await writer.say("/start")
    bot.users.get(2).eventlevel = 3
    await writer.say("Create Event/Signal")
    (prompt,) = await writer.say("Telegram (no signal)")
    assert "Telegram.Walt" in prompt.text
    (done,) = await writer.say("21.5 °C")
    assert "Telegram.WaltTest = 21.5 stored" in done.text
    await async_wait_for(lambda: "Telegram.WaltTest" in hub.signals, what="live signal")
    sig = hub.signals.get("Telegram.WaltTest")
    assert sig.latest()[1] == 21.5 and sig.unit == "°C"
    await wait_stored(hub, "Telegram", "WaltTest", 1)

    await writer.say("Create Event/Signal")
    await writer.say("Room.Door")  # typed Device.Signal
    (done,) = await writer.say("*door open*")
    assert "Event for Room.Door raised" in done.text
    ev = hub.recent_events[-1]
    assert (ev.device, ev.signal, ev.text, ev.priority) == ("Room", "Door", "door open", 2)

    # A read user cannot: the menu is not offered and typed values do nothing.
    bot.users.get(2).permission = Permission.READ
    n = len(hub.recent_events)
    (menu,) = await writer.say("Create Event/Signal")  # the label of the old keyboard
    assert menu.text == NOT_ALLOWED and "Create Event/Signal" not in menu.buttons()
    (menu,) = await writer.press_data("ns:-")
    assert menu.text == NOT_ALLOWED
    assert len(hub.recent_events) == n


async def test_typed_values_cannot_be_infinite_nor_speak_for_an_agent(
    hub: Hub, agent: Agent, make_bot, chat_factory
) -> None:
    """A typed measurement is refused when it is not finite or names an agent's device;
    the agent's own signal keeps only the agent's samples, and a good value still goes in."""
    await async_wait_for(
        lambda: (hub.agents.device("Generator") or {}).get("running"), what="agent birth at hub"
    )
    await make_bot(default_permission="write")
    admin, writer = chat_factory(1, "Ann"), chat_factory(2, "Walt")
    await admin.say("/start")
    await writer.say("/start")

    await writer.say("Create Event/Signal")
    await writer.say("Generator.gen_freq")
    (refused,) = await writer.say("0.7")
    assert "belongs to agent" in refused.text
    assert "Generator.gen_freq" not in hub.signals  # nothing of the hub's went live there

    await writer.say("Create Event/Signal")
    await writer.say("Room.Temp")
    (refused,) = await writer.say("1e400")
    assert "not a finite number" in refused.text
    assert "Room.Temp" not in hub.signals

    await writer.say("Create Event/Signal")
    await writer.say("Room.Temp")
    (done,) = await writer.say("21.5")
    assert "Room.Temp = 21.5 stored" in done.text
    await async_wait_for(lambda: "Room.Temp" in hub.signals, what="the good value, live")
