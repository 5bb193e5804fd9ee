"""The page's ES modules run in Chromium: plot maths and drawing, staleness, the RTOC client.

The client is tested against a websocket peer that answers with RTOC's documented frame
sequences (SPEC §2.4: two frames for authorize, pushes before responses, error replies).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.server import serve

from hub.ws.http import handle_http
from tests.fixtures.browser import Page
from tests.fixtures.net import free_port


async def rtoc_peer(ws: Any) -> None:
    """Frames as an RTOC 3.0 server sends them for a few requests."""
    async for raw in ws:
        req = json.loads(raw)
        if "authorize" in req:
            ok = req["authorize"] == {"user": "u", "password": "right"}
            await ws.send(json.dumps({"authorized": ok}))
            await ws.send(json.dumps({"error": False} if ok else {"authorized": False}))
        elif "getLatest" in req:
            # a push that arrives before the response must not be taken for it
            await ws.send(json.dumps({"signal": {"x": [1.0], "y": [2.0], "dname": "D"}}))
            await ws.send(json.dumps({"error": False, "latest": {"D.S": [1.0, 2.0, "V"]}}))
        elif "plugin" in req:
            await ws.send(json.dumps({"error": True, "reason": "permission: needs write"}))
        elif "garbage" in req:
            await ws.send("AAECAwQFBgcICQoLDA0ODw==")


@pytest.fixture
async def site(page: Page) -> AsyncIterator[str]:
    port = free_port()
    async with serve(rtoc_peer, "127.0.0.1", port, process_request=lambda c, r: handle_http(c, r)):
        # a page of the dashboard's origin that does not start the app
        await page.goto(f"http://127.0.0.1:{port}/style.css")
        yield f"ws://127.0.0.1:{port}/"


async def test_nice_steps_and_tick_labels(page: Page, site: str) -> None:
    got = await page.eval(
        """import('/js/plot.js').then(m => [
          [10, 5], [0.37, 6], [12345, 6], [1e-3, 4], [7, 1]
        ].map(([r, n]) => [r, n, m.niceStep(r, n)]))"""
    )
    for r, n, step in got:
        assert step >= r / n, (r, n, step)
        mantissa = step / 10 ** __import__("math").floor(__import__("math").log10(step))
        assert round(mantissa, 9) in (1, 2, 2.5, 5, 10), (r, n, step)
    labels = await page.eval(
        """import('/js/plot.js').then(m => {
          const t = new Date(2026, 0, 2, 3, 4, 5).getTime() / 1000;
          return [m.formatTick(t, 86400), m.formatTick(t, 60), m.formatTick(t, 1),
                  m.formatTick(t + 0.25, 0.1)]; })"""
    )
    assert labels == ["2026-01-02", "03:04", "03:04:05", "05.250"]


async def test_staleness_follows_the_sample_rate_and_the_agent(page: Page, site: str) -> None:
    got = await page.eval(
        """import('/js/views/signals.js').then(m => {
          const plugins = {
            Fast: {status: true, parameters: [["samplerate", 10, ""]], info: "g on agent a"},
            Slow: {status: true, parameters: [["samplerate", 0.1, ""]], info: "g on agent a"},
            Gone: {status: false, parameters: [], info: "g on agent b (offline)"},
            Stopped: {status: false, parameters: [], info: "g on agent a"},
            Broken: {status: "I2C read failed", parameters: [], info: "g on agent a"},
          };
          const now = 1000;
          const f = (d, age) => m.freshness({dname: d, x: now - age}, plugins, now);
          return {
            fast: [f("Fast", 4), f("Fast", 6)], slow: [f("Slow", 40), f("Slow", 60)],
            unknown: [f("Nobody", 9), f("Nobody", 11)], gone: f("Gone", 0),
            stopped: f("Stopped", 0), broken: f("Broken", 0),
          }; })"""
    )
    assert got == {
        "fast": ["ok", "stale"],
        "slow": ["ok", "stale"],
        "unknown": ["ok", "stale"],
        "gone": "offline",
        "stopped": "stopped",
        "broken": "error",
    }


async def test_values_typed_into_the_devices_page(page: Page, site: str) -> None:
    got = await page.eval(
        """import('/js/views/devices.js').then(m =>
          ["2", " 2.5 ", '"x"', "abc", "", "[1, 2]", "true", "{bad"].map(m.parseValue))"""
    )
    assert got == [2, 2.5, "x", "abc", "", [1, 2], True, "{bad"]


async def test_the_plot_draws_keeps_order_and_drops_bad_points(page: Page, site: str) -> None:
    got = await page.eval(
        """import('/js/plot.js').then(async m => {
          const c = document.createElement('canvas');
          c.style.width = '400px'; c.style.height = '200px';
          document.body.append(c);
          const p = new m.Plot(c, {});
          p.setSeries('A.b', {x: [10, 11, 12], y: [1, 2, 3], unit: 'V'});
          p.setRange(9, 16);  // not live: live mode trims points older than 4 spans
          p.append('A.b', [13, 12.5, 14, 15], [4, 9, NaN, 5]);  // out of order, NaN
          p.append('nope', [1], [1]);                            // unknown series: ignored
          p.setEvents([{x: 12, text: 'hello', priority: 2}]);
          p.setRange(9, 16);
          p.draw();
          const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          let blue = 0, red = 0;
          for (let i = 0; i < px.length; i += 4) {
            if (px[i + 2] > 200 && px[i] < 80) blue++;
            if (px[i] > 200 && px[i + 1] < 60 && px[i + 2] < 60) red++;
          }
          const s = p.series.get('A.b');
          p.destroy();
          return {x: s.x, y: s.y, live: p.live, counts: p.visibleCounts(), blue, red,
                  unknown: p.series.has('nope')};
        })"""
    )
    assert got["x"] == [10, 11, 12, 13, 15] and got["y"] == [1, 2, 3, 4, 5]
    assert got["live"] is False and got["counts"] == {"A.b": 5} and got["unknown"] is False
    assert got["blue"] > 50, "the series line is drawn"
    assert got["red"] > 20, "the priority-2 event marker is drawn"


async def test_client_matches_responses_in_order_with_pushes_between(page: Page, site: str) -> None:
    got = await page.eval(
        f"""import('/js/client.js').then(async m => {{
          const c = new m.RtocClient({{url: {json.dumps(site)}, timeoutMs: 3000}});
          const pushes = [];
          c.addEventListener('signal', e => pushes.push(e.detail));
          await c.connect();
          const wrong = await c.request({{authorize: {{user: 'u', password: 'wrong'}}}});
          const latest = await c.request({{getLatest: true}});
          let refused = null;
          try {{ await c.request({{plugin: {{}}}}); }}
          catch (e) {{ refused = [e.name, e.message]; }}
          const right = await c.request({{authorize: {{user: 'u', password: 'right'}}}});
          let garbled = null;
          try {{ await c.request({{garbage: true}}); }} catch (e) {{ garbled = e.name; }}
          c.close();
          return {{wrong: wrong.authorized, latest: latest.latest, pushes, refused,
                   right: right.authorized, authorized: c.authorized, garbled}};
        }})"""
    )
    assert got["wrong"] is False  # both refusal frames were taken by the authorize
    assert got["latest"] == {"D.S": [1.0, 2.0, "V"]}
    assert got["pushes"] == [{"x": [1.0], "y": [2.0], "dname": "D"}]
    assert got["refused"] == ["RequestFailed", "request failed: plugin: permission: needs write"]
    assert got["right"] is True and got["authorized"] is True
    assert got["garbled"] == "PasswordMode"


async def test_hovering_reads_the_nearest_value_of_each_series(page: Page, site: str) -> None:
    got = await page.eval(
        """import('/js/plot.js').then(m => {
          const c = document.createElement('canvas');
          c.style.width = '400px'; c.style.height = '200px';
          document.body.append(c);
          const p = new m.Plot(c, {});
          p.setRange(0, 100);
          p.setSeries('A.b', {x: [10, 20, 30, 40], y: [1, 2, 3, 4], unit: 'V'});
          p.setSeries('C.d', {x: [0, 100], y: [7, 8]});
          p.setSeries('E.f', {});
          const at = [p.valuesAt(24), p.valuesAt(26), p.valuesAt(-5), p.valuesAt(1e9)];
          const a = p._area();
          const r = c.getBoundingClientRect();
          const ctx = c.getContext('2d');
          p.draw();
          const before = ctx.getImageData(0, 0, c.width, c.height).data.reduce((s, v) => s + v, 0);
          c.dispatchEvent(new PointerEvent('pointermove',
            {clientX: r.left + p._xToPx(25, a), clientY: r.top + 50}));
          p.draw();
          const after = ctx.getImageData(0, 0, c.width, c.height).data.reduce((s, v) => s + v, 0);
          c.dispatchEvent(new PointerEvent('pointerleave'));
          const hoverGone = p.hover === null;
          p.destroy();
          return {at, changed: before !== after, hoverGone};
        })"""
    )
    assert got["at"] == [
        {"A.b": [20, 2], "C.d": [0, 7]},
        {"A.b": [30, 3], "C.d": [0, 7]},
        {"A.b": [10, 1], "C.d": [0, 7]},
        {"A.b": [40, 4], "C.d": [100, 8]},
    ]
    assert got["changed"] and got["hoverGone"]
