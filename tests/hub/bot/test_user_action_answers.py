"""Engine user actions (RTOC's telegramActions, sandboxed) answering with a picture, a plot
or a document, and answering only the Telegram user who pressed them: the real engine
(its worker process), the real bot, the Bot API stand-in."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hub.app import Hub
from hub.engine.engine import Engine
from hub.permission import Actor, Permission
from hub.service import HubService
from tests.fixtures.telegram_standin import BotApiStandIn

from .conftest import settle

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def engine(hub: Hub) -> Engine:
    assert hub.engine is not None, "hub.bootstrap attaches the engine"
    return hub.engine


def operator_dir(hub: Hub, folder: str) -> Path:
    """<config_dir>/<folder> (the tests' hub has no config_dir: its data dir)."""
    path = Path(hub.config["hub"]["data_dir"]) / folder
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_of(call) -> tuple[str, bytes]:
    name, data = next(iter(call.files.values()))[:2]
    return name, data


async def test_user_actions_answer_with_a_picture_a_plot_or_a_document(
    hub: Hub, engine: Engine, make_bot, chat_factory, telegram_standin: BotApiStandIn
) -> None:
    (operator_dir(hub, "pictures") / "cam.png").write_bytes(PNG + b"cam")
    (operator_dir(hub, "documents") / "manual.pdf").write_bytes(b"%PDF-1.4 manual")
    t0 = time.time()
    engine.set_user_action("cam", "print('the camera')\nreturn ('picture', 'cam.png')")
    engine.set_user_action(
        "curve", f"return ('picture', {{'T': [[{t0}, {t0 + 60}, {t0 + 120}], [1, 3, 2]]}})"
    )
    engine.set_user_action("manual", "return ('document', 'manual.pdf')")
    engine.set_user_action("escape", "return ('picture', '/etc/passwd')")
    engine.set_user_action("nodoc", "return ('document', 'missing.pdf')")
    engine.set_user_action("odd", "return ('video', 'x.mp4')")
    await make_bot(default_permission="write")
    ann = chat_factory(1, "Ann")
    await ann.say("/start")

    (photo,) = await ann.say("cam")
    assert photo.method == "sendPhoto" and photo.params.get("caption") == "the camera"
    assert file_of(photo)[1] == PNG + b"cam"
    (plot,) = await ann.say("curve")
    assert plot.method == "sendPhoto" and file_of(plot)[1].startswith(PNG)
    assert plot.params.get("caption") == "curve"
    (doc,) = await ann.say("manual")
    assert doc.method == "sendDocument"
    assert file_of(doc) == ("manual.pdf", b"%PDF-1.4 manual")

    # refused with the reason, nothing sent but the reason
    (reply,) = await ann.say("escape")
    assert "is not a file name in the hub&#x27;s pictures folder" in reply.text, reply.text
    (reply,) = await ann.say("nodoc")
    assert "no document &#x27;missing.pdf&#x27;" in reply.text, reply.text
    (reply,) = await ann.say("odd")
    assert "unknown answer kind &#x27;video&#x27;" in reply.text, reply.text
    assert len(telegram_standin.sent(1, "sendPhoto")) == 2
    assert len(telegram_standin.sent(1, "sendDocument")) == 1


async def test_a_user_action_answers_only_the_user_who_pressed_it(
    hub: Hub,
    engine: Engine,
    service: HubService,
    make_bot,
    chat_factory,
    telegram_standin: BotApiStandIn,
) -> None:
    (operator_dir(hub, "pictures") / "door.png").write_bytes(PNG + b"door")
    engine.set_user_action(
        "door",
        "telegram.send_message('measuring for you')\n"
        "telegram.send_photo('door.png', 'your door', to='caller')\n"
        "return ('text', 'done for you')",
    )
    engine.set_user_action("_admin", "telegram.send_message('admins only')")
    bot = await make_bot(default_permission="write")
    ann, walt = chat_factory(1, "Ann"), chat_factory(2, "Walt")
    await ann.say("/start")  # admin
    await walt.say("/start")  # write
    await settle(bot)

    replies = await walt.say("door", expect=3)
    texts = [c.params.get("text") or c.params.get("caption") for c in replies]
    assert sorted(texts) == ["done for you", "measuring for you", "your door"], texts
    assert file_of(telegram_standin.sent(2, "sendPhoto")[0])[1] == PNG + b"door"
    ann_texts = [c.params.get("text") or c.params.get("caption") for c in ann.received()]
    assert not any("for you" in (t or "") or "your door" in (t or "") for t in ann_texts)
    assert not telegram_standin.sent(1, "sendPhoto")

    # the caller's right is checked when the message goes out: a user who may no longer
    # run the action gets nothing (here: an admin-only action's message to a writer)
    with pytest.raises(ValueError, match="no longer has admin"):
        bot.script_messages.send(
            {"text": "x", "picture": None, "priority": 0, "permission": "admin", "chat": 2}
        )
    bot.users.get(2).permission = Permission.READ
    with pytest.raises(ValueError, match="no longer has write"):
        bot.script_messages.send(
            {"text": "x", "picture": None, "priority": 0, "permission": "write", "chat": 2}
        )

    # without a Telegram user (the websocket's userAction, events' actions): said so
    res = await service.automation.user_action(Actor("ws", Permission.ADMIN), "door")
    assert not res.success and "this run has no Telegram user to answer" in res.data
