"""The dashboard in headless Chromium against a real hub, a real agent process and the store."""

from __future__ import annotations

import json
import time

import pytest
import websockets

from tests.fixtures.browser import Page

from .conftest import (
    PASSWORDS,
    RECORD_LENGTH,
    Dashboard,
    archive_value,
    ws_request,
)

pytestmark = pytest.mark.slow

SECRET_NAMES = ("Generator", "Square", "Archive", "Temperature", "demo-agent")


async def login(page: Page, d: Dashboard, user: str) -> None:
    """Open the page, log in through the form and wait for the signals view."""
    await page.goto(d.url)
    await page.wait_for("!document.getElementById('login').hidden", 30, "the login form")
    await page.fill("#login-user", user)
    await page.fill("#login-password", PASSWORDS[user])
    await page.click("#login-submit")
    await page.wait_for("document.getElementById('login').hidden", 10, f"login of {user}")
    await page.wait_for("document.querySelector('#signals-table')", 30, "the signals table")


async def test_nothing_is_visible_before_login(page: Page, dashboard: Dashboard) -> None:
    await page.goto(dashboard.url)
    await page.wait_for("!document.getElementById('login').hidden", 30, "the login form")
    # a wrong password is refused with a message, and still nothing is shown
    await page.fill("#login-user", "admin")
    await page.fill("#login-password", "not-the-password")
    await page.click("#login-submit")
    await page.wait_for(
        "document.getElementById('login-error').innerText.length > 0", 10, "the login error"
    )
    assert "Wrong user name or password" in await page.text("#login-error")
    body = await page.text("body")
    for name in SECRET_NAMES:
        assert name not in body
    assert await page.eval("document.getElementById('nav').hidden") is True
    assert await page.eval("document.getElementById('view').children.length") == 0
    await page.screenshot("web/01-login-refused.png")
    # the page is not the only guard: the protocol refuses an anonymous client too
    async with websockets.connect(dashboard.ws_url, origin=dashboard.url.rstrip("/")) as ws:
        await ws.send(json.dumps({"getSignalList": True}))
        assert json.loads(await ws.recv()) == {"authorized": False}
    # and the right password still works afterwards
    await page.fill("#login-password", PASSWORDS["admin"])
    await page.click("#login-submit")
    await page.wait_for("document.getElementById('login').hidden", 30, "login after a refusal")


async def test_login_shows_a_signal_arriving_live(page: Page, dashboard: Dashboard) -> None:
    await login(page, dashboard, "viewer")
    row = "document.querySelector('tr.sig[data-key=\"Generator.Square\"]')"
    await page.wait_for(row, 30, "the demo agent's signal in the table")
    first = await page.eval("__oc.latest.get('Generator.Square').x")
    await page.wait_for(
        f"__oc.latest.get('Generator.Square').x > {first} + 0.5", 10, "newer values"
    )
    assert await page.eval(f"{row}.classList.contains('ok')")
    assert "(read)" in await page.text("#who")
    await page.screenshot("web/02-signals.png")

    await page.click("a[href='#/plot?s=Generator.Square']")
    await page.wait_for("__oc.plot && __oc.plot.series.has('Generator.Square')", 30, "the plot")
    n0 = await page.wait_for(
        "__oc.plot.series.get('Generator.Square').x.length", 10, "points on the plot"
    )
    # new points arrive by push and the visible window follows them
    await page.wait_for(
        f"__oc.plot.series.get('Generator.Square').x.length > {n0} + 10", 10, "live points"
    )
    last_x = await page.eval("(s => s.x[s.x.length - 1])(__oc.plot.series.get('Generator.Square'))")
    assert abs(last_x - time.time()) < 5
    assert await page.eval("__oc.plot.live") is True
    assert abs(await page.eval("__oc.plot.xmax") - last_x) < 5
    assert await page.text("#plot-status") == "live · last 60 s"
    await page.wait_for("__oc.pushLag.length >= 20", 30, "pushes")
    lags = sorted(await page.eval("__oc.pushLag"))
    median = lags[len(lags) // 2]
    print(f"agent sample → page: median {median * 1000:.0f} ms over {len(lags)} pushes")
    assert median < 2.0
    await page.screenshot("web/03-plot-live.png")


async def test_zoom_into_a_range_served_from_the_store(page: Page, dashboard: Dashboard) -> None:
    await login(page, dashboard, "viewer")
    await page.eval("location.hash = '#/plot?s=Archive.Temperature'")
    await page.wait_for("__oc.plot && __oc.plot.series.has('Archive.Temperature')", 30, "plot")
    await page.click("button[data-history='86400']")
    await page.wait_for(
        "__oc.plotState.mode === 'history' && __oc.plotState.loads >= 1 && !__oc.plotState.loading",
        15,
        "the day loaded from the store",
    )
    day = await page.eval("__oc.plotState.points['Archive.Temperature']")
    width = await page.eval("document.getElementById('plot-canvas').clientWidth")
    # downsampled: the store holds every 2 s sample of two hours, the page got ~one per pixel
    assert 0 < day <= max(200, width) < dashboard.archive_points
    # drag across 20 minutes well before the live ring (it only keeps the newest samples)
    lo, hi = dashboard.archive_from + 1800, dashboard.archive_from + 3000
    x0, x1, y = await page.eval(
        f"""(() => {{ const p = __oc.plot, a = p._area(), r = p.canvas.getBoundingClientRect();
        return [r.left + p._xToPx({lo}, a), r.left + p._xToPx({hi}, a), r.top + 200]; }})()"""
    )
    loads = await page.eval("__oc.plotState.loads")
    await page.drag(x0, y, x1, y)
    await page.wait_for(
        f"__oc.plotState.loads > {loads} && !__oc.plotState.loading", 15, "the zoomed range"
    )
    xmin, xmax = await page.eval("[__oc.plotState.xmin, __oc.plotState.xmax]")
    assert abs(xmin - lo) < 120 and abs(xmax - hi) < 120
    xs, ys = await page.eval("(s => [s.x, s.y])(__oc.plot.series.get('Archive.Temperature'))")
    assert len(xs) > 100, "a zoomed range shows more detail than the downsampled day"
    assert all(xmin <= x <= xmax for x in xs)
    for x, v in zip(xs, ys, strict=True):
        assert v == pytest.approx(archive_value(x), abs=1e-6)
    # none of it can have come from the live ring: the ring holds only the newest samples
    ring_x, _ = dashboard.hub.signals.get("Archive.Temperature").buffer.arrays()
    assert len(ring_x) == RECORD_LENGTH and min(ring_x) > xmax
    status = await page.text("#plot-status")
    assert status.startswith("history ") and f"{len(xs)} points from the store" in status
    await page.screenshot("web/04-plot-zoomed-history.png")
    # the wheel zooms in around the pointer and loads the narrower range
    loads = await page.eval("__oc.plotState.loads")
    mid = (x0 + x1) / 2
    await page.send(
        "Input.dispatchMouseEvent",
        {"type": "mouseWheel", "x": mid, "y": y, "deltaX": 0, "deltaY": -120},
    )
    await page.wait_for(
        f"__oc.plotState.loads > {loads} && !__oc.plotState.loading", 15, "wheel zoom"
    )
    wmin, wmax = await page.eval("[__oc.plotState.xmin, __oc.plotState.xmax]")
    assert xmin < wmin < wmax < xmax
    assert (wmax - wmin) == pytest.approx((xmax - xmin) / 1.5, rel=0.01)
    # a double click goes back to live
    await page.eval("__oc.plot.canvas.dispatchEvent(new MouseEvent('dblclick'))")
    await page.wait_for("__oc.plotState.mode === 'live'", 30, "live again")


async def test_event_raised_by_a_condition_is_listed_and_drawn(
    page: Page, dashboard: Dashboard
) -> None:
    assert dashboard.hub.engine is not None, "the hub wires the automation engine"
    # an admin defines the condition through the websocket protocol (RTOC's automation)
    reply = await ws_request(
        dashboard.ws_url,
        "admin",
        {
            "automation": {
                "setEvent": {
                    "name": "squareHigh",
                    "cond": "Generator.Square.latest >= 1.5",
                    "text": "Square went high",
                    "priority": 2,
                    "retur": None,
                    "id": "squareHigh",
                    "trigger": "rising",
                    "sname": "Square",
                    "dname": "Generator",
                    "active": True,
                }
            }
        },
    )
    assert reply["error"] is False, reply
    assert "error" not in reply["automation"], reply
    assert "squareHigh" in reply["automation"]["events"]
    await login(page, dashboard, "viewer")
    await page.click("#nav a[data-view='events']")
    await page.wait_for(
        "[...document.querySelectorAll('#events-body tr')]"
        ".some(r => r.innerText.includes('Square went high'))",
        15,
        "the condition's event in the list",
    )
    await page.screenshot("web/05-events.png")
    # filters: the device filter keeps it, a text that does not match hides it
    await page.eval(
        "(s => { s.value = 'Generator'; s.dispatchEvent(new Event('change')); })"
        "(document.getElementById('event-device'))"
    )
    assert "Square went high" in await page.text("#events-body")
    await page.fill("#event-text", "no such text")
    assert "Square went high" not in await page.text("#events-body")
    assert (await page.text("#events-count")).startswith("0 of ")
    # on the plot the event is a marker inside the visible window
    await page.eval("location.hash = '#/plot?s=Generator.Square'")
    await page.wait_for(
        "__oc.plot && __oc.plot.events.some(e => e.text === 'Square went high' && "
        "e.x >= __oc.plot.xmin && e.x <= __oc.plot.xmax)",
        15,
        "the event on the plot",
    )
    await page.wait_for("__oc.plot.series.get('Generator.Square').x.length > 50", 30, "data")
    await page.screenshot("web/06-plot-with-event.png")
    # the automation page lists the condition that raised it
    await page.click("#nav a[data-view='automation']")
    await page.wait_for(
        "document.getElementById('automation-events').innerText.includes('squareHigh')",
        10,
        "the condition in the automation list",
    )
    listed = await page.text("#automation-events")
    assert "Generator.Square.latest >= 1.5" in listed and "rising" in listed
    await page.screenshot("web/12-automation.png")
