"""The Telegram adapter (BotCore) against a fake of the hub service (no broker, store or
Telegram): buttons become the service's queries and commands, replies show their answers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import numpy as np
import pytest

from edge_agent.wire import DeviceDecl
from hub.bot.handlers import BotCore
from hub.bot.plots import Renderer
from hub.bot.users import UserDirectory
from hub.db.base import EventRecord
from hub.service import CommandResult, DeviceView, SignalHistory
from tests.fixtures.fake_service import FakeService

NOW = 1_700_000_000.0


@pytest.fixture
def fake() -> FakeService:
    return FakeService()


@pytest.fixture
async def core(fake: FakeService) -> AsyncIterator[BotCore]:
    """The bot's core on the fake; chat 1 is its first user (admin)."""

    async def save() -> None:
        pass

    renderer = Renderer(max_workers=1, max_waiting=2)
    bot = BotCore(
        service=fake,  # type: ignore[arg-type]
        users=UserDirectory(),
        renderer=renderer,
        actions=[],
        save_users=save,
        tell_admins=lambda text: None,
        clock=lambda: NOW,
        plot_max_points=500,
    )
    await bot.handle(1, "Ann", text="/start")
    yield bot
    renderer.close()


async def test_a_plot_shows_the_services_history_and_the_events_of_its_devices(
    core: BotCore, fake: FakeService
) -> None:
    fake.signals.append("Gen", "Sq", np.array([NOW - 10]), np.array([1.0]), "V")
    x = np.array([NOW - 30, NOW - 20, NOW - 10])
    fake.histories["Gen.Sq"] = SignalHistory(
        "Gen.Sq", "V", 1, x, np.array([1.0, 2.0, 3.0]), x[0], x[-1]
    )
    fake.stored_events = [EventRecord(time=NOW - 25, device="Gen", signal="Sq", text="hot")]
    fake.memory_events = [EventRecord(time=NOW - 15, device="Other", signal="s", text="elsewhere")]
    core.session(1).selected = ["Gen.Sq"]
    (reply,) = await core.handle(1, data="plot")
    assert reply.photo and "3 samples, 1 events" in reply.text
    assert ("history", "Gen", "Sq", NOW - 86_400, NOW, 500, True) in fake.calls
    assert ("events", NOW - 86_400, NOW, 200) in fake.calls


async def test_device_buttons_are_device_commands_with_their_typed_result(
    core: BotCore, fake: FakeService
) -> None:
    decl = {"driver": "generator", "running": False, "params": [], "functions": []}
    fake.device_views["Gen"] = DeviceView("Gen", "pi-1", True, DeviceDecl.from_json(decl, "Gen"))
    fake.answers[("Gen", "stop")] = CommandResult.failure("Gen: no answer from its agent in 5.0s")
    (reply,) = await core.handle(1, data="start:Gen")
    assert reply.text.startswith("start Gen: done")
    (reply,) = await core.handle(1, data="stop:Gen")
    assert reply.text.startswith("stop Gen failed: Gen: no answer from its agent in 5.0s")
    assert [c for c in fake.calls if c[0] == "command"] == [
        ("command", "Gen", "start", None, None),
        ("command", "Gen", "stop", None, None),
    ]


async def test_a_typed_value_of_a_new_signal_is_hub_made_data(
    core: BotCore, fake: FakeService
) -> None:
    fake.signals.ensure("Room", "T")
    core.session(1).awaiting = None
    sig = fake.signals.get("Room.T")
    await core.handle(1, data=f"ns:{sig.id}")
    await core.handle(1, text="21.5 °C")
    assert ("data", "Room", "T", [NOW], [21.5]) in fake.calls


async def test_automation_without_an_engine_says_so(core: BotCore) -> None:
    (reply,) = await core.handle(1, data="auto")
    assert reply.text == "Automation is not available on this hub."
