"""A plot from Telegram shows the newest samples even while the store has not committed
them: the service merges the live tail after the store's answer (a real hub and SQLite
store, no broker; the store's write lock is held by another connection meanwhile)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hub.app import Hub
from hub.bootstrap import make_store
from hub.bot.handlers import BotCore
from hub.bot.plots import Renderer
from hub.bot.users import UserDirectory
from hub.config import hub_config
from hub.service import AutomationService, HubService
from tests.fixtures.net import async_wait_for


@contextmanager
def writes_held(path: Path) -> Iterator[None]:
    """Another connection holds SQLite's write lock: the hub's writer waits, readers read."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        con.execute("ROLLBACK")
        con.close()


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    """A started hub core on SQLite, without MQTT or adapters."""
    config = hub_config(
        {"hub": {"data_dir": str(tmp_path / "hub")}, "websocket": {"enabled": False}},
        source="test",
    )
    h = Hub(config=config, store=make_store(config))
    await h.start()
    yield h
    await h.stop()


async def stored(hub: Hub) -> int:
    hist = await asyncio.to_thread(hub.store.history, "Room", "T", None, None, None)
    return len(hist.x)


async def test_the_plot_of_a_signal_includes_samples_not_committed_yet(hub: Hub) -> None:
    now = time.time()
    hub.ingest_local("Room", "T", [now - 100 + i for i in range(10)], [float(i) for i in range(10)])
    await async_wait_for(lambda: stored(hub), what="the first 10 samples committed")
    assert await stored(hub) == 10
    service = HubService(hub=hub, automation=AutomationService(None))

    async def save() -> None:
        pass

    renderer = Renderer(max_workers=1, max_waiting=2)
    core = BotCore(
        service=service,
        users=UserDirectory(),
        renderer=renderer,
        actions=[],
        save_users=save,
        tell_admins=lambda text: None,
    )
    try:
        await core.handle(1, "Ann", text="/start")
        with writes_held(hub.store.path):  # type: ignore[attr-defined]
            newest = [now - 50 + i for i in range(5)]
            hub.ingest_local("Room", "T", newest, [10.0 + i for i in range(5)])
            assert await stored(hub) == 10  # not committed: the writer waits for the lock
            hist = await service.history("Room", "T")
            assert list(hist.x[-5:]) == newest and len(hist.x) == 15
            core.session(1).selected = ["Room.T"]
            (reply,) = await core.handle(1, data="plot")
            assert reply.photo and "15 samples" in reply.text
            assert await stored(hub) == 10
        await async_wait_for(lambda: stored_is(hub, 15), what="the newest samples committed")
    finally:
        renderer.close()


async def stored_is(hub: Hub, n: int) -> bool:
    return await stored(hub) == n
