"""The dashboard's static files over plain HTTP on a real websockets 15 server."""

from __future__ import annotations

import asyncio
import http.client
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.asyncio.server import serve

from hub.ws.http import STATIC_DIR, handle_http, resolve
from tests.fixtures.net import free_port


async def echo(ws: Any) -> None:
    async for msg in ws:
        await ws.send(msg)


@pytest.fixture
async def server() -> AsyncIterator[int]:
    port = free_port()
    async with serve(echo, "127.0.0.1", port, process_request=lambda c, r: handle_http(c, r)):
        yield port


def get(port: int, path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", path, headers=headers or {})
    resp = conn.getresponse()
    resp.body = resp.read()  # type: ignore[attr-defined]
    conn.close()
    return resp


async def aget(port: int, path: str, headers: dict[str, str] | None = None) -> Any:
    return await asyncio.to_thread(get, port, path, headers)


async def test_index_and_modules_are_served_with_types_and_csp(server: int) -> None:
    r = await aget(server, "/")
    assert r.status == 200
    assert r.getheader("Content-Type") == "text/html; charset=utf-8"
    assert b'<script type="module" src="/js/main.js">' in r.body
    assert "default-src 'self'" in r.getheader("Content-Security-Policy")
    js = await aget(server, "/js/views/plot.js?v=1")
    assert js.status == 200
    assert js.getheader("Content-Type").startswith("text/javascript")
    assert js.body == (STATIC_DIR / "js/views/plot.js").read_bytes()
    css = await aget(server, "/style.css")
    assert css.getheader("Content-Type").startswith("text/css")


async def test_etag_gives_304_and_a_changed_tag_gives_the_file(server: int) -> None:
    first = await aget(server, "/js/client.js")
    tag = first.getheader("ETag")
    assert tag
    again = await aget(server, "/js/client.js", {"If-None-Match": tag})
    assert again.status == 304 and again.body == b""
    other = await aget(server, "/js/client.js", {"If-None-Match": '"nope"'})
    assert other.status == 200 and other.body == first.body


@pytest.mark.parametrize(
    "path",
    [
        "/../http.py",
        "/js/../../http.py",
        "/%2e%2e/http.py",
        "/.hidden",
        "/nope.js",
        "/js/",
        "//etc/passwd",
    ],
)
async def test_unknown_or_escaping_paths_are_404_and_the_server_keeps_serving(
    server: int, path: str
) -> None:
    r = await aget(server, path)
    assert r.status == 404
    assert b"not found" in r.body
    # nothing else is lost: the page and the websocket still work afterwards
    assert (await aget(server, "/")).status == 200
    async with websockets.connect(f"ws://127.0.0.1:{server}/") as ws:
        await ws.send('{"getLatest": true}')
        assert await ws.recv() == '{"getLatest": true}'


def test_resolve_never_leaves_the_static_dir(tmp_path: Path) -> None:
    (tmp_path / "a.js").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "index.html").write_text("y")
    outside = tmp_path.parent / "secret.txt"
    outside.write_text("s")
    (tmp_path / "link.txt").symlink_to(outside)
    assert resolve("/a.js", tmp_path) == (tmp_path / "a.js").resolve()
    assert resolve("/sub/", tmp_path) == (tmp_path / "sub" / "index.html").resolve()
    assert resolve("/link.txt", tmp_path) is None
    assert resolve("/../secret.txt", tmp_path) is None
    assert resolve("a.js", tmp_path) is None
    assert resolve("/sub\\..\\a.js", tmp_path) is None


async def test_dashboard_off_answers_404_but_the_websocket_still_upgrades() -> None:
    port = free_port()
    off = lambda c, r: handle_http(c, r, dashboard=False)  # noqa: E731
    async with serve(echo, "127.0.0.1", port, process_request=off):
        r = await aget(port, "/")
        assert r.status == 404 and b"turned off" in r.body
        async with websockets.connect(f"ws://127.0.0.1:{port}/") as ws:
            await ws.send("hi")
            assert await ws.recv() == "hi"
