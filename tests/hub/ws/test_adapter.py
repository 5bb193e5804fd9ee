"""The websocket adapter against a fake of the hub service (no broker, store or agent):
each RTOC request becomes the service call it stands for, and its answer RTOC's shape."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from edge_agent.wire import DeviceDecl
from hub.db.base import EventRecord
from hub.permission import Permission
from hub.service import CommandResult, DeviceView, SignalHistory
from hub.ws.config import WsConfig
from hub.ws.handlers import anonymous
from hub.ws.server import WebsocketServer
from hub.ws.session import ClientSession
from hub.ws.state import RequestError
from tests.fixtures.fake_service import FakeService


@pytest.fixture
def fake() -> FakeService:
    return FakeService()


@pytest.fixture
def server(fake: FakeService) -> WebsocketServer:
    """A server built on the fake (never listening: requests are handed to it directly)."""
    return WebsocketServer(service=fake, config=WsConfig.from_mapping({"require_login": False}))  # type: ignore[arg-type]


def client(server: WebsocketServer, permission: Permission | None = None) -> ClientSession:
    s = ClientSession(
        cid=1,
        peer="127.0.0.1",
        key=None,
        whitelisted=False,
        authorized=False,
        permission=Permission.BLOCKED,
        queue_frames=100,
        rate=1000.0,
        slow_timeout=10.0,
    )
    anonymous(server.state, s)  # open mode: the configured password_permission (write)
    if permission is not None:
        s.permission = permission
    return s


async def ask(server: WebsocketServer, s: ClientSession, req: dict[str, Any]) -> dict[str, Any]:
    return await server.dispatcher.handle(s, req)


def rows(answer: list[Any]) -> list[Any]:
    """A getSignal row with its arrays as lists."""
    return [list(v.array) if hasattr(v, "array") else v for v in answer]


async def test_get_signal_asks_the_service_for_history_and_answers_rtoc_rows(
    server: WebsocketServer, fake: FakeService
) -> None:
    x, y = np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0])
    fake.histories["Gen.Sq"] = SignalHistory("Gen.Sq", "V", 4, x, y, 0.5, 3.0)
    s = client(server)
    req = {"dname": "Gen", "sname": "Sq", "xmin": 1, "xmax": "3", "maxN": 50}
    resp = await ask(server, s, {"getSignal": req})
    assert rows(resp["signals"]["Gen.Sq"]) == [
        [1.0, 2.0, 3.0],
        [10.0, 20.0, 30.0],
        "V",
        4,
        0.5,
        3.0,
    ]
    assert fake.calls == [("history", "Gen", "Sq", 1.0, 3.0, 50, True)]
    await ask(server, s, {"getSignal": {"dname": "Gen", "sname": "Sq", "database": False}})
    assert fake.calls[-1][-1] is False  # memory only
    assert fake.calls[-1][5] == int(server.config.max_points_per_second)  # never unbounded
    with pytest.raises(RequestError, match=r"unknown signal 'Gen\.Nope'"):
        await ask(server, s, {"getSignal": {"dname": "Gen", "sname": "Nope"}})
    with pytest.raises(RequestError, match="maxN must be a positive integer"):
        await ask(server, s, {"getSignal": {"dname": "Gen", "sname": "Sq", "maxN": 0}})


async def test_event_range_comes_from_the_service_and_known_events_keep_their_ids(
    server: WebsocketServer, fake: FakeService
) -> None:
    live = EventRecord(time=20.0, device="Gen", signal="Sq", text="live", priority=1)
    old = EventRecord(time=5.0, device="Gen", signal="Sq", text="old")
    fake.stored_events, fake.memory_events = [old], [live]
    eid = server.state.events.add(live)
    resp = await ask(server, client(server), {"getEventList": {"xmin": 0, "xmax": 30, "limit": 5}})
    assert fake.calls == [("events", 0.0, 30.0, 5)]
    assert resp["events"] == {
        -1: ["Gen", "Sq", -1, "old", 5.0, None, 0, ""],
        eid: ["Gen", "Sq", eid, "live", 20.0, None, 1, ""],
    }
    fake.store_error, fake.stored_events, fake.memory_events = "disk gone", [], []
    with pytest.raises(RequestError, match="the store cannot answer \\(disk gone\\)"):
        await ask(server, client(server), {"getEventList": {"xmin": 0}})
    with pytest.raises(RequestError, match="limit must be a whole number"):
        await ask(server, client(server), {"getEventList": {"limit": 0}})


async def test_plugins_are_device_views_and_calls_are_device_commands(
    server: WebsocketServer, fake: FakeService
) -> None:
    decl = {
        "driver": "generator",
        "running": True,
        "samplerate": 10.0,
        "params": [{"name": "gen_freq", "type": "float", "value": 1.0, "doc": "Hz"}],
        "functions": [{"name": "reset", "args": []}],
    }
    fake.device_views["Gen"] = DeviceView("Gen", "pi-1", True, DeviceDecl.from_json(decl, "Gen"))
    fake.answers[("Gen", "call")] = CommandResult.success(None, "done")
    fake.answers[("Gen", "set")] = CommandResult.failure("gen_freq: must be > 0")
    s = client(server)
    plugins = (await ask(server, s, {"getPluginList": True}))["pluginList"]
    assert plugins["Gen"]["status"] is True and plugins["Gen"]["info"] == "generator on agent pi-1"
    assert ["gen_freq", 1.0, "Hz"] in plugins["Gen"]["parameters"]
    resp = await ask(server, s, {"plugin": {"Gen": {"reset()": [], "gen_freq": -1}}})
    assert resp["plugin"] == {
        "Gen": {"reset()": [True, "done"], "gen_freq": [False, "gen_freq: must be > 0"]}
    }
    assert fake.calls == [
        ("command", "Gen", "call", "reset", []),
        ("command", "Gen", "set", "gen_freq", -1),
    ]


async def test_logger_sample_rate_clear_and_resize_are_service_commands(
    server: WebsocketServer, fake: FakeService
) -> None:
    fake.device_views = {
        "A": DeviceView("A", "pi-1", True, DeviceDecl()),
        "B": DeviceView("B", "pi-2", False, DeviceDecl()),
    }
    fake.answers[("B", "samplerate")] = CommandResult.failure("B: agent offline")
    s = client(server)
    resp = await ask(server, s, {"logger": {"global": {"samplerate": 5}}})
    assert resp["logger"]["global"] == {"samplerate": {"A": True, "B": "B: agent offline"}}
    with pytest.raises(RequestError, match="samplerate: the sample rate must be a positive"):
        await ask(server, s, {"logger": {"global": {"samplerate": -1}}})
    fake.signals.ensure("A", "x")
    resp = await ask(server, s, {"logger": {"clear": ["A.x", "A.y"], "resize": 50}})
    assert resp["logger"] == {"clear": [None, False], "resize": True}
    assert ("remove", "A.x") in fake.calls and ("resize", 50) in fake.calls
    resp = await ask(server, s, {"logger": {"clear": "all"}})
    assert fake.calls[-1] == ("clear",)
    assert (await ask(server, s, {"logger": {"info": True}}))["logger"]["info"]["hub"][
        "batches"
    ] == 7


async def test_the_permission_ladder_decides_each_key(
    server: WebsocketServer, fake: FakeService
) -> None:
    reader = client(server, Permission.READ)
    with pytest.raises(RequestError, match="'y' needs write, this client has read"):
        await ask(server, reader, {"y": [2.0], "sname": ["Sq"], "dname": "Gen", "x": [1.0]})
    with pytest.raises(RequestError, match=r"logger\.global needs write"):
        await ask(server, reader, {"logger": {"global": {"samplerate": 5}}})
    custom = client(server, Permission.CUSTOM)
    with pytest.raises(RequestError, match="'automation' needs read, this client has custom"):
        await ask(server, custom, {"automation": {}})
    assert fake.calls == []
    writer = client(server, Permission.WRITE)
    await ask(server, writer, {"y": [2.0], "sname": ["Sq"], "dname": "Gen", "x": [1.0]})
    assert fake.calls == [("data", "Gen", "Sq", [1.0], [2.0])]


async def test_automation_without_an_engine_says_so(server: WebsocketServer) -> None:
    resp = await ask(server, client(server), {"automation": {"reset": True}, "userAction": "x"})
    assert resp["automation"] == {"error": "the automation engine is not running on this hub"}
    assert resp["userAction"] == {
        "name": "x",
        "success": False,
        "type": "text",
        "data": "the automation engine is not running on this hub",
    }
