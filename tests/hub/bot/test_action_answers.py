"""Custom actions that answer with a picture, a document or a graph, through the real bot."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from PIL import Image

from edge_agent.config_schema import ConfigError
from hub.app import Hub
from hub.bot.actions import parse_actions
from hub.bot.handlers import NOT_ALLOWED

from .conftest import tmp_actions, wait_stored

ACTIONS = """
[[action]]
label = "Plan"
permission = "read"
picture = "plan.png"
reply = "the floor plan"

[[action]]
label = "Manual"
permission = "read"
document = "manual.txt"

[[action]]
label = "Room today"
permission = "read"
plot = ["Room.Temp"]
plot_hours = 1

[[action]]
label = "Writers' sheet"
permission = "write"
document = "manual.txt"
"""


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 4), (200, 10, 10)).save(buf, "PNG")
    return buf.getvalue()


async def test_actions_answer_with_a_picture_a_document_and_a_graph(
    hub: Hub, make_bot, chat_factory, tmp_path: Path
) -> None:
    t0 = time.time() - 600
    hub.ingest_local(
        "Room", "Temp", [t0 + 10 * i for i in range(30)], [20.0 + i for i in range(30)], "°C"
    )
    await wait_stored(hub, "Room", "Temp", 30)
    actions_dir = tmp_actions(tmp_path, ACTIONS)
    png = _png()
    (Path(actions_dir) / "plan.png").write_bytes(png)
    (Path(actions_dir) / "manual.txt").write_text("how to run the plant\n")
    await make_bot(default_permission="read", actions_dir=actions_dir)
    admin, reader = chat_factory(1, "Ann"), chat_factory(2, "Rita")
    await admin.say("/start")
    (menu,) = await reader.say("/start")
    assert menu.buttons()[:3] == ["Plan", "Manual", "Room today"]
    assert "Writers' sheet" not in menu.buttons()

    (photo,) = await reader.say("Plan")
    assert photo.method == "sendPhoto" and photo.params["caption"] == "the floor plan"
    assert photo.files["photo"][1] == png
    (doc,) = await reader.say("Manual")
    assert doc.method == "sendDocument"
    assert doc.files["document"] == ("manual.txt", b"how to run the plant\n")
    (graph,) = await reader.say("Room today")
    assert graph.method == "sendPhoto" and "30 samples" in graph.params["caption"]
    assert Image.open(io.BytesIO(graph.files["photo"][1])).format == "PNG"
    (refused,) = await reader.press_data("act:3")
    assert refused.text == NOT_ALLOWED


def test_files_must_be_names_next_to_the_actions_file(tmp_path: Path) -> None:
    src = str(tmp_path / "telegram_actions.toml")
    (tmp_path / "a.png").write_bytes(b"x")
    for entry, why in (
        ({"label": "x", "picture": "../etc/passwd"}, "not a path"),
        ({"label": "x", "document": "missing.pdf"}, "does not exist"),
        ({"label": "x", "picture": "a.png", "plot": ["A.b"]}, "only one of"),
        ({"label": "x", "plot": ["nodot"]}, "Device.Signal"),
        ({"label": "x", "plot": ["A.b"], "plot_hours": 0}, "positive number of hours"),
    ):
        with pytest.raises(ConfigError, match=why):
            parse_actions({"action": [entry]}, source=src)
    (ok,) = parse_actions({"action": [{"label": "x", "picture": "a.png"}]}, source=src)
    assert ok.picture == tmp_path / "a.png"
