"""One check for events, whichever way they come in: an agent's batch, the websocket `event`
request, a script's `event()`, an automation event's definition and a typed event in
Telegram refuse the same bad event with the same sentence (edge_agent.wire.check_event),
and store nothing of it."""

from __future__ import annotations

import json
import time

import pytest

from edge_agent.wire import MAX_EVENT_TEXT, WireError, decode_batch
from hub.app import Hub
from hub.bot.handlers import BotCore
from hub.bot.plots import Renderer
from hub.bot.users import UserDirectory
from hub.client import ClientError, OpenControlClient
from hub.engine.events import EventDef, EventDefError
from hub.engine.script import compile_script
from hub.service import HubService
from hub.ws.server import serve

TOO_LONG = "x" * (MAX_EVENT_TEXT + 1)
SENTENCE = f"text must be a string of at most {MAX_EVENT_TEXT} characters"


def test_an_agent_batch_with_the_bad_event_is_refused() -> None:
    body = {
        "v": 1,
        "agent": "pi-1",
        "seq": 1,
        "signals": [],
        "events": [{"t": time.time(), "device": "Lab", "signal": "T", "text": TOO_LONG}],
    }
    with pytest.raises(WireError) as err:
        decode_batch(json.dumps(body).encode())
    assert str(err.value) == f"events[0].{SENTENCE}"


async def test_the_websocket_event_request_refuses_it(hub: Hub, service: HubService) -> None:
    server = await serve(service, {"host": "127.0.0.1", "port": 0, "require_login": False})
    try:
        async with OpenControlClient(server.url) as c:
            with pytest.raises(ClientError) as err:
                await c.request(event=[TOO_LONG, "T", "Lab"])
            await c.request(event=["fine", "T", "Lab"])  # the client goes on
    finally:
        await server.close()
    assert str(err.value) == f"event.{SENTENCE}"
    assert [e.text for e in hub.recent_events] == ["fine"]


async def test_a_script_event_call_refuses_it(hub: Hub) -> None:
    assert hub.engine is not None
    res = await hub.engine.run_script(
        compile_script(f"event('x' * {MAX_EVENT_TEXT + 1}, 'T', 'Lab')")
    )
    assert not res.ok
    assert res.error is not None and f"event(): event.{SENTENCE}" in res.error, res.error
    assert not hub.recent_events


def test_an_automation_event_that_would_raise_it_is_refused_when_defined() -> None:
    with pytest.raises(EventDefError) as err:
        EventDef(name="hot", cond="True", text=TOO_LONG).validate()
    assert str(err.value) == f"event hot: event.{SENTENCE}"


async def test_a_typed_telegram_event_refuses_it(hub: Hub, service: HubService) -> None:
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
        plot_max_points=500,
    )
    try:
        await core.handle(1, "Ann", text="/start")  # the first user is admin
        hub.signals.ensure("Lab", "T")
        await core.handle(1, data=f"ns:{hub.signals.get('Lab.T').id}")
        (reply,) = await core.handle(1, text=TOO_LONG)
    finally:
        renderer.close()
    assert reply.text.startswith(f"event.{SENTENCE}. Try again"), reply.text[:200]
    assert not hub.recent_events
