"""Scripts' and actions' telegram.send_message_to_all / send_photo: the real engine (its
worker process), the real bot, the Bot API stand-in; who receives what is checked per chat."""

from __future__ import annotations

import time
from pathlib import Path

from hub.app import Hub
from hub.engine.actions import ActionDef
from hub.engine.events import EventDef
from hub.permission import Permission
from tests.fixtures.net import async_wait_for
from tests.fixtures.telegram_standin import BotApiStandIn

PNG = b"\x89PNG\r\n\x1a\n"


def texts(standin: BotApiStandIn, chat: int, method: str = "sendMessage") -> list[str]:
    return [
        c.params.get("text") or c.params.get("caption") or "" for c in standin.sent(chat, method)
    ]


async def run(hub: Hub, source: str) -> tuple[bool, str]:
    """Run `source` as an action's script through the engine (RTOC's testAction)."""
    engine = hub.engine
    engine.set_action(ActionDef(name="t", listen_ids=["never"], script=source))
    res = await engine.test_action("t")
    return res.ok, (res.output + (res.error or "")).strip()


async def test_scripts_reach_the_users_their_audience_admits(
    hub: Hub, make_bot, chat_factory, telegram_standin: BotApiStandIn
) -> None:
    bot = await make_bot(default_permission="read")
    chats = {cid: chat_factory(cid, f"U{cid}") for cid in range(1, 7)}
    for c in chats.values():
        await c.say("/start")  # 1 becomes admin, the others read
    bot.users.get(3).eventlevel = 2  # only errors
    bot.users.get(4).permission = Permission.CUSTOM
    bot.users.get(5).permission = Permission.BLOCKED
    bot.users.get(6).permission = Permission.WRITE

    ok, out = await run(
        hub, "n = telegram.send_message_to_all('Freezer ' + str(3), 1, 'read')\nprint(n)"
    )
    assert ok and out == "3", out
    await async_wait_for(
        lambda: all("Freezer 3" in texts(telegram_standin, c) for c in (1, 2, 6)), what="sent"
    )
    ok, out = await run(hub, "print(telegram.send_message_to_all('to <writers>'))")
    assert ok and out == "2", out  # default audience: write and admin
    await async_wait_for(
        lambda: all("to &lt;writers&gt;" in texts(telegram_standin, c) for c in (1, 6)),
        what="sent to writers",
    )
    # a plot in RTOC's send_plot form, for admins only
    t0 = time.time()
    ok, out = await run(
        hub,
        f"print(telegram.send_photo({{'T': [[{t0}, {t0 + 60}], [1, 2]]}}, 'plot', 2, 'admin'))",
    )
    assert ok and out == "1", out
    await async_wait_for(lambda: texts(telegram_standin, 1, "sendPhoto"), what="plot sent")
    (photo,) = telegram_standin.sent(1, "sendPhoto")
    assert photo.params.get("caption") == "plot"
    assert next(iter(photo.files.values()))[1].startswith(PNG)
    # a picture file of <config_dir>/pictures (here the data dir), bytes as they are
    pictures = Path(hub.config["hub"]["data_dir"]) / "pictures"
    pictures.mkdir(parents=True, exist_ok=True)
    (pictures / "door.png").write_bytes(PNG + b"door")
    ok, out = await run(hub, "print(telegram.send_photo('door.png', 'Door open', 0, 'write'))")
    assert ok and out == "2", out
    await async_wait_for(
        lambda: len(telegram_standin.sent(6, "sendPhoto")) == 1, what="picture sent"
    )
    assert next(iter(telegram_standin.sent(6, "sendPhoto")[0].files.values()))[1] == PNG + b"door"

    for cid in (3, 4, 5):  # level, custom and blocked: nothing from scripts
        assert not texts(telegram_standin, cid) or all(
            "Freezer" not in t and "writers" not in t for t in texts(telegram_standin, cid)
        )
        assert not telegram_standin.sent(cid, "sendPhoto")

    # refused with the reason, nothing sent
    for source, why in (
        ("telegram.send_photo('../data/x.png')", "not a file name in the hub's pictures folder"),
        ("telegram.send_photo('missing.png')", "no picture 'missing.png'"),
        ("telegram.send_message_to_all('x', 0, 'blocked')", "permission must be one of"),
        ("telegram.send_message_to_all('x', 5)", "priority must be 0, 1 or 2"),
        ("telegram.send_photo({'T': [[1, 2], [1]]})", "xs and ys differ in length"),
    ):
        ok, out = await run(hub, source)
        assert not ok and why in out, (source, out)


async def test_an_action_fired_by_an_event_sends_to_telegram(
    hub: Hub, make_bot, chat_factory, telegram_standin: BotApiStandIn
) -> None:
    await make_bot()
    await chat_factory(1, "Ada").say("/start")  # admin
    engine = hub.engine
    engine.set_event(EventDef(name="warm", cond="Freezer.T.latest > -10", id="warm"))
    engine.set_action(
        ActionDef(
            name="tell",
            listen_ids=["warm"],
            script="telegram.send_message_to_all('Freezer at ' + str(Freezer.T.latest))",
        )
    )
    hub.ingest_local("Freezer", "T", [time.time()], [-5.0], "°C")
    await async_wait_for(
        lambda: "Freezer at -5.0" in texts(telegram_standin, 1), what="the action's message"
    )


async def test_without_a_bot_a_script_is_told_so(hub: Hub) -> None:
    ok, out = await run(hub, "telegram.send_message_to_all('x')")
    assert not ok and "the hub runs no Telegram bot" in out


OPERATOR_SCRIPT = """\
from matplotlib.figure import Figure


def run(ctx):
    fig = Figure()
    fig.add_subplot(1, 1, 1).plot([1, 2, 3], [3, 1, 2])
    sent = ctx.telegram_send_photo(fig, "from the operator", 2, "admin")
    ctx.print(sent, ctx.telegram_send_message_to_all("plain text", 0, "read"))
"""


async def test_an_operator_script_sends_a_matplotlib_figure(
    hub: Hub, make_bot, chat_factory, telegram_standin: BotApiStandIn, tmp_path: Path
) -> None:
    await make_bot(default_permission="read")
    await chat_factory(1, "Ada").say("/start")  # admin
    await chat_factory(2, "Bob").say("/start")  # read
    scripts = tmp_path / "operator" / "scripts"
    scripts.mkdir(parents=True)
    (scripts / "report.py").write_text(OPERATOR_SCRIPT)
    engine = hub.engine
    engine.scripts.config_dir = tmp_path / "operator"  # [hub] config_dir
    job = engine.scripts.add_file("report", "report.py")
    res = await engine.scripts.run_once(job)
    assert res.ok and res.output == "1 2\n", res
    await async_wait_for(lambda: telegram_standin.sent(1, "sendPhoto"), what="figure sent")
    (photo,) = telegram_standin.sent(1, "sendPhoto")
    assert photo.params.get("caption") == "from the operator"
    assert next(iter(photo.files.values()))[1].startswith(PNG)
    assert not telegram_standin.sent(2, "sendPhoto")  # read: not in the admin audience
    await async_wait_for(lambda: "plain text" in texts(telegram_standin, 2), what="text sent")
