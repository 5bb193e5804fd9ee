"""Port probes and health checks (a TCP connection that sends nothing, or garbage) are
not errors: no ERROR line, no traceback; the server keeps serving."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.fixtures.net import async_wait_for


async def _probe(port: int, data: bytes = b"") -> None:
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if data:
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


@pytest.mark.parametrize("data", [b"", b"GET", b"\x16\x03\x01garbage\r\n\r\n"])
async def test_a_probe_is_logged_quietly_and_the_server_keeps_serving(
    ws_factory, raw, caplog: pytest.LogCaptureFixture, data: bytes
) -> None:
    server = await ws_factory()
    caplog.set_level(logging.DEBUG)
    await _probe(server.port, data)
    # the server saw the connection end (its handler logged it one way or the other)
    await async_wait_for(
        lambda: any("handshake" in r.getMessage() for r in caplog.records), what="probe seen"
    )
    # only the websocket side's records: the hub's other parts (e.g. the MQTT side's
    # anonymous-broker warning) log on their own schedule
    ws_side = [r for r in caplog.records if r.name.startswith(("hub.ws", "websockets", "asyncio"))]
    loud = [r for r in ws_side if r.levelno >= logging.WARNING]
    assert loud == [], [(r.levelname, r.getMessage(), r.exc_info) for r in loud]
    assert all(r.exc_info is None for r in caplog.records if "handshake" in r.getMessage())
    r = await raw(server.url, authorize=True)
    assert (await r.request({"getSignalList": True}))[1]["error"] is False
