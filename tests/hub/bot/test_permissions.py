"""Permission is checked at the moment of the action: every button at every level, as documented.

The button table of docs/telegram.md is parsed here and is the expectation: an admin's
crawl through the running bot collects every button it sends, and a user of each level
presses each one. Presses enter the bot's core as its Telegram handler passes them (the
buttons' callback data is the data of these buttons, one for one); the Telegram side of
refused presses is tested through the Bot API stand-in below and in test_scenarios.py.
"""

from __future__ import annotations

import inspect
import re
from collections import deque
from pathlib import Path

from edge_agent.agent import Agent
from hub.app import Hub
from hub.bot.app import TelegramBot
from hub.bot.handlers import NO_PERMISSION, NOT_ALLOWED, ROUTES, TEXT_ROUTES
from hub.bot.ui import Reply
from hub.bot.users import Permission, Shortcut
from hub.engine.rtoc_import import action_from_rtoc, event_from_rtoc
from hub.permission import Actor
from hub.service import AutomationService
from tests.fixtures.net import async_wait_for

from .conftest import CommandTap, settle, tmp_actions

DOC = Path(__file__).resolve().parents[3] / "docs" / "telegram.md"
LEVELS = [p.label for p in Permission]
REFUSALS = (NOT_ALLOWED, NO_PERMISSION)


def _cells(line: str) -> list[str]:
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def doc_table() -> dict[str, dict[str, str]]:
    """Button prefix → {level: cell} from the button table of docs/telegram.md."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| button | data |"))
    assert _cells(lines[start])[2:] == LEVELS
    table: dict[str, dict[str, str]] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = _cells(line)
        prefix = cells[1].strip("`").split(":")[0]
        assert prefix not in table, f"{prefix} twice in the table"
        assert set(cells[2:]) <= {"✓", "–", "own", "action"}, line
        table[prefix] = dict(zip(LEVELS, cells[2:], strict=True))
    return table


ACTIONS = """
[[action]]
label = "For custom"
permission = "custom"
reply = "hello custom"

[[action]]
label = "For writers"
permission = "write"
command = { device = "Generator", op = "get", name = "gen_freq" }
reply = "hello writers"
"""
ACTION_LEVEL = {0: Permission.CUSTOM, 1: Permission.WRITE}
OWN_SHORTCUTS = [
    Shortcut(label="Freq", device="Generator", kind="param", name="gen_freq"),
    Shortcut(label="SetF", device="Generator", kind="call", name="setFrequency"),
]
# Buttons that change the bot for everyone, and the press that puts it back.
RESTORE = {"inl": "inl", "oa": "oa", "prev": "xprev", "lng": "lng:en"}


async def press(bot: TelegramBot, chat_id: int, data: str) -> Reply:
    """Press a button carrying `data` (into the bot's core, as its Telegram handler does)."""
    (reply,) = await bot.core.handle(chat_id, data=data)
    return reply


async def press_restoring(bot: TelegramBot, chat_id: int, data: str) -> Reply:
    """Press, then undo a change that would alter every later press."""
    reply = await press(bot, chat_id, data)
    undo = RESTORE.get(data.split(":")[0])
    if undo is not None and reply.text not in REFUSALS:
        await press(bot, chat_id, undo)
    return reply


def menu_data(reply: Reply) -> list[str]:
    return [b.data for row in reply.menu or [] for b in row]


async def crawl(hub: Hub, bot: TelegramBot, chat_id: int) -> dict[str, Reply]:
    """Every button the bot sends, found by an admin pressing every button from the main
    menu on; the reply to each press, by button data."""
    (menu,) = await bot.core.handle(chat_id, text="/start")
    todo = deque(menu_data(menu))
    replies: dict[str, Reply] = {}
    while todo:
        data = todo.popleft()
        if data in replies:
            continue
        replies[data] = reply = await press_restoring(bot, chat_id, data)
        todo.extend(menu_data(reply))
        if data.startswith("stop:"):  # Start shows once the agent reports the device stopped
            device = data.split(":")[1]
            await async_wait_for(lambda d=device: not hub.agents.device(d)["running"], what="stop")
            todo.extend(menu_data(await press(bot, chat_id, f"d:{device}")))
    return replies


async def walk(
    bot: TelegramBot, chat_id: int, level: Permission, buttons: list[str], table
) -> dict[str, bool]:
    """A user of `level` presses each button; asserts each outcome against the table."""
    outcomes = {}
    for data in buttons:
        prefix = data.split(":")[0]
        reply = await press_restoring(bot, chat_id, data)  # a language switch too
        allowed = reply.text not in REFUSALS
        want = expected(prefix, data, level, table[prefix][level.label])
        assert allowed == want, f"{level.label} pressing {data!r}: {reply.text[:80]!r}"
        if level == Permission.BLOCKED:
            assert reply.text == NO_PERMISSION
        outcomes[data] = allowed
    return outcomes


def expected(prefix: str, data: str, level: Permission, cell: str) -> bool:
    """What the table says a press of `data` by a user of `level` (with OWN_SHORTCUTS) does."""
    args = data.split(":")[1:]
    if cell in ("✓", "–"):
        return cell == "✓"
    if cell == "own":
        if prefix == "sc":
            return True
        kind = "param" if prefix == "p" else "call"
        return any((s.kind, s.device, s.name) == (kind, *args) for s in OWN_SHORTCUTS)
    assert cell == "action"
    if prefix == "act":
        return level >= ACTION_LEVEL[int(args[0])]
    return level >= (Permission.ADMIN if args[0].startswith("_") else Permission.WRITE)


async def test_every_button_at_every_level_is_allowed_or_refused_as_the_doc_table_says(
    hub: Hub,
    agent: Agent,
    make_bot,
    command_tap: CommandTap,
    tmp_path: Path,
) -> None:
    table = doc_table()
    assert set(table) == set(ROUTES), "docs/telegram.md and handlers.ROUTES differ"

    await async_wait_for(
        lambda: (
            (hub.agents.device("Generator") or {}).get("running")
            and any(s.device == "Generator" for s in hub.signals)
        ),
        what="agent birth and its first samples at the hub",
    )
    engine = hub.engine
    engine.set_user_action("hello", "return ('text', 'hi')")
    engine.set_user_action("_secret", "return ('text', 'admins only')")
    auto, admin = AutomationService(engine), Actor("admin", Permission.ADMIN)
    hot = {"cond": "Room.Temp.latest > 99", "text": "t", "id": "hot"}
    await auto.set_event(admin, event_from_rtoc("hot", hot))
    await auto.set_action(admin, action_from_rtoc("fan", {"listenID": ["hot"], "script": "x = 1"}))
    bot: TelegramBot = await make_bot(actions_dir=tmp_actions(tmp_path, ACTIONS))
    await bot.core.handle(1, "Ann", text="/start")  # the first user: admin
    await bot.core.handle(9, "Zed", text="/start")  # someone for the Users menu

    # The admin's crawl presses every button the bot sends; each is allowed as the table says.
    n = len(command_tap.commands)
    crawled = await crawl(hub, bot, 1)
    buttons = list(crawled)
    prefixes = {d.split(":")[0] for d in buttons}
    assert "r" not in prefixes, "names in this test fit in the callback data"
    assert prefixes == set(table), "the bot sends exactly the buttons of the table"
    for data, reply in crawled.items():
        prefix = data.split(":")[0]
        assert expected(prefix, data, Permission.ADMIN, table[prefix]["admin"])
        assert reply.text not in REFUSALS, f"admin refused {data!r}"
    await command_tap.barrier(hub)
    assert {("stop", None), ("start", None), ("get", "gen_freq")} <= set(command_tap.since(n))

    # Every other level presses every button, from chats holding the same two shortcuts.
    outcomes: dict[Permission, dict[str, bool]] = {}
    for level in (Permission.BLOCKED, Permission.CUSTOM, Permission.READ, Permission.WRITE):
        user, _ = bot.users.register(20 + level.rank, level.label)
        user.permission, user.shortcuts = level, list(OWN_SHORTCUTS)
        n = len(command_tap.commands)
        outcomes[level] = await walk(bot, user.chat_id, level, buttons, table)
        await command_tap.barrier(hub)
        reached = set(command_tap.since(n)) - {("get", "tap-marker")}
        if level < Permission.WRITE:
            assert reached == set(), f"{reached} reached the agent from a {level.label} user"
        else:  # the tap does see device control when it is allowed
            assert {("stop", None), ("start", None), ("get", "gen_freq")} <= reached

    # Blocked is refused everything; custom, read and write each something, not everything.
    assert not any(outcomes[Permission.BLOCKED].values())
    for level in (Permission.CUSTOM, Permission.READ, Permission.WRITE):
        assert set(outcomes[level].values()) == {True, False}, level.label
    # The agent is still there and answers: only refusals, nothing broken.
    assert (await hub.send_command("Generator", "get", "gen_freq"))["ok"]


async def test_a_demoted_user_cannot_use_an_old_shortcut_nor_send_an_asked_for_value(
    hub: Hub, agent: Agent, make_bot, chat_factory, command_tap: CommandTap
) -> None:
    await async_wait_for(
        lambda: (hub.agents.device("Generator") or {}).get("running"), what="agent birth at hub"
    )
    gen = agent.scheduler.runner("Generator").driver
    bot = await make_bot(default_permission="write")
    ann, bea = chat_factory(1, "Ann"), chat_factory(2, "Bea", "B")
    await ann.say("/start")
    await bea.say("/start")
    await settle(bot)

    # Bea, while write, adds the ★ shortcut, uses it, and is asked for a value.
    await bea.say("Devices")
    await bea.say("Generator (running)")
    (menu,) = await bea.say("★ Generator.gen_freq")
    assert "Generator.gen_freq" in menu.buttons()
    (prompt,) = await bea.say("Generator.gen_freq")
    assert "Send a new value for Generator.gen_freq" in prompt.text

    # Ann demotes her to read (one step) while the bot waits for Bea's value.
    await ann.say("Settings")
    await ann.say("Telegram bot")
    await ann.say("Users")
    await ann.say("Bea B: write")
    (users,) = await ann.say("read")
    assert "Bea B is now read" in users.text

    n = len(command_tap.commands)
    (reply,) = await bea.say("0.7")  # the value the old prompt asked for
    assert reply.text == NOT_ALLOWED
    assert reply.buttons() == ["Latest values", "Signals", "Settings"]
    for data in ("sc:0", "p:Generator:gen_freq", "f:Generator:setFrequency"):  # old buttons
        (reply,) = await bea.press_data(data)
        assert reply.text == NOT_ALLOWED, data
    (reply,) = await bea.say("0.7")
    assert reply.text == "Main menu"  # no value is awaited any more
    await command_tap.barrier(hub)
    assert command_tap.since(n) == [("get", "tap-marker")], "nothing reached the agent"
    assert gen.params["gen_freq"] == 1.0
    assert bot.users.get(2).shortcuts[0].label == "Generator.gen_freq"  # kept, not usable

    # As custom, her own shortcut works again: the refusals were the permission.
    bot.users.get(2).permission = Permission.CUSTOM
    (menu,) = await bea.say("/start")
    assert menu.buttons() == ["Generator.gen_freq"]
    await bea.say("Generator.gen_freq")
    (done,) = await bea.say("0.7")
    assert "set Generator.gen_freq: done (0.7)" in done.text
    assert gen.params["gen_freq"] == 0.7
    (reply,) = await bea.press_data("p:Generator:waveform")  # not her shortcut
    assert reply.text == NOT_ALLOWED
    # Forged data that fits no route is answered, and runs nothing.
    for data, answer in [
        ("p:Generator", "That button is malformed."),
        ("sc:0:extra", "That button is malformed."),
        ("zz:1", "Unknown button; here is the main menu."),
    ]:
        (reply,) = await bea.press_data(data)
        assert reply.text == answer, data
    assert gen.params["gen_freq"] == 0.7


def test_each_route_declares_the_arguments_its_handler_takes() -> None:
    """The table's arity and the handlers' signatures cannot drift apart."""
    for kind, routes, fixed in (("button", ROUTES, 4), ("typed", TEXT_ROUTES, 5)):
        for name, route in routes.items():
            # (self, user, perm, session[, text]) come first; then what the data carries.
            params = list(inspect.signature(route.handler).parameters.values())[fixed:]
            required = [p for p in params if p.default is p.empty]
            assert (len(required), len(params) - len(required)) == (
                route.args,
                route.optional,
            ), f"{kind} {name}"
    # A typed value is judged by the rule of the button that asked for it.
    assert TEXT_ROUTES["p"].rule is ROUTES["p"].rule and TEXT_ROUTES["f"].rule is ROUTES["f"].rule
