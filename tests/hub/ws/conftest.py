"""Websocket fixtures: the server on a running hub, a raw RTOC-speaking socket, an agent."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from edge_agent.agent import Agent
from hub.service import HubService
from hub.ws.crypto import decrypt_json, encrypt_json, password_key
from hub.ws.server import WebsocketServer, serve
from tests.fixtures.agents import generator_agent
from tests.fixtures.mosquitto import Mosquitto
from tests.hub.engine.conftest import rig  # noqa: F401  (the engine on stand-ins)

ServerFactory = Callable[..., Awaitable[WebsocketServer]]


@pytest.fixture
async def ws_factory(service: HubService) -> AsyncIterator[ServerFactory]:
    """Start websocket servers on the test's hub (127.0.0.1, a free port) with config keys."""
    servers: list[WebsocketServer] = []

    async def make(**cfg: Any) -> WebsocketServer:
        cfg.setdefault("host", "127.0.0.1")
        cfg.setdefault("port", 0)
        cfg.setdefault("require_login", False)  # RTOC's open mode unless a test asks
        server = await serve(service, cfg)
        servers.append(server)
        return server

    yield make
    for s in servers:
        await s.close()


@pytest.fixture
async def server(ws_factory: ServerFactory) -> WebsocketServer:
    """A server without password, pushes at once (push_interval 0)."""
    return await ws_factory(push_interval=0.0)


class Raw:
    """A websocket speaking RTOC frames by hand (optionally encrypted), reading with deadlines."""

    def __init__(self, ws: ClientConnection, password: str | None) -> None:
        self.ws = ws
        self.key = password_key(password) if password is not None else None

    async def send(self, obj: Any) -> None:
        """Send one object (encrypted in password mode)."""
        await self.ws.send(encrypt_json(obj, self.key) if self.key else json.dumps(obj))

    async def send_text(self, text: str | bytes) -> None:
        """Send a frame as is."""
        await self.ws.send(text)

    async def recv(self, timeout: float = 30.0) -> Any:
        """The next frame, decoded."""
        frame = await asyncio.wait_for(self.ws.recv(), timeout)
        return decrypt_json(frame, self.key) if self.key else json.loads(frame)

    async def recv_raw(self, timeout: float = 30.0) -> str | bytes:
        """The next frame as sent."""
        return await asyncio.wait_for(self.ws.recv(), timeout)

    async def recv_until(self, pred: Callable[[Any], bool], timeout: float = 30.0) -> list[Any]:
        """Frames up to and including the first one matching `pred`."""
        out: list[Any] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            msg = await self.recv(max(0.01, deadline - loop.time()))
            out.append(msg)
            if pred(msg):
                return out

    async def request(self, obj: Any, timeout: float = 30.0) -> tuple[list[Any], Any]:
        """Send; return (pushes before the response, the response with `error`)."""
        await self.send(obj)
        frames = await self.recv_until(lambda m: isinstance(m, dict) and "error" in m, timeout)
        return frames[:-1], frames[-1]

    async def silent(self, timeout: float = 0.2) -> bool:
        """True when nothing arrives within `timeout`."""
        try:
            await asyncio.wait_for(self.ws.recv(), timeout)
        except TimeoutError:
            return True
        return False


@pytest.fixture
async def raw() -> AsyncIterator[Callable[..., Awaitable[Raw]]]:
    """Open raw sockets: `await raw(url, password=None, authorize=True, **connect_kwargs)`."""
    opened: list[ClientConnection] = []

    async def open_raw(
        url: str, password: str | None = None, authorize: Any = None, **kw: Any
    ) -> Raw:
        kw.setdefault("compression", None)
        ws = await connect(url, **kw)
        opened.append(ws)
        r = Raw(ws, password)
        if authorize is not None:
            await r.send({"authorize": authorize})
            # pushes (a new signal of a running agent) may come first in open mode
            frames = await r.recv_until(lambda m: "authorized" in m)
            assert frames[-1] == {"authorized": True}
            answer = (await r.recv_until(lambda m: "error" in m))[-1]
            if isinstance(authorize, dict):  # a hub user: told who and with which rights
                assert answer.pop("user") == authorize["user"] and answer.pop("permission")
            assert answer == {"error": False}
        return r

    yield open_raw
    for ws in opened:
        with contextlib.suppress(Exception):
            await ws.close()


@pytest.fixture
def agent(tmp_path: Path, mosquitto: Mosquitto, prefix: str) -> Iterator[Agent]:
    """A real edge agent with a generator device `Gen`, on the test's prefix."""
    with generator_agent(
        tmp_path, port=mosquitto.port, prefix=prefix, agent_id="pi-test", device="Gen"
    ) as a:
        yield a
