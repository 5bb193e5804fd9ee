"""Dashboard access in Chromium: rights, staleness, anonymous read, reconnects, password mode."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.fixtures.browser import Page
from tests.fixtures.mosquitto import Mosquitto

from .conftest import (
    PASSWORDS,
    Dashboard,
    start_dashboard,
    ws_request,
)
from .test_dashboard import login

pytestmark = pytest.mark.slow


async def test_devices_show_status_and_calls_need_write(page: Page, dashboard: Dashboard) -> None:
    await login(page, dashboard, "viewer")
    await page.click("#nav a[data-view='devices']")
    await page.wait_for(
        "document.querySelector('section.device[data-device=\"Generator\"]')", 15, "Generator"
    )
    assert await page.eval("document.getElementById('readonly-note') !== null")
    assert await page.eval("document.querySelectorAll('button[data-call]').length") == 0
    assert "running" in await page.text("section.device[data-device='Generator'] h4")
    # the server refuses a viewer's call too, whatever the page shows
    refused = await ws_request(
        dashboard.ws_url, "viewer", {"plugin": {"Generator": {"setFrequency()": [2.0]}}}
    )
    assert refused["error"] is True and "write" in refused["reason"]
    await page.screenshot("web/07-devices-read-only.png")


async def test_a_reload_needs_a_new_login(page: Page, dashboard: Dashboard) -> None:
    await login(page, dashboard, "viewer")
    await page.eval("location.hash = '#/plot?s=Generator.Square'")
    await page.wait_for("__oc.plot", 30, "the plot view")
    await page.send("Page.reload")
    await page.wait_for("document.readyState === 'complete'", 30, "the reload")
    # credentials are never kept in the browser: the login form again, nothing else
    await page.wait_for("!document.getElementById('login').hidden", 30, "the login form")
    assert await page.eval("document.getElementById('view').children.length") == 0
    assert (
        await page.eval("Object.keys(localStorage).length + Object.keys(sessionStorage).length")
        == 0
    )
    await page.fill("#login-user", "viewer")
    await page.fill("#login-password", PASSWORDS["viewer"])
    await page.click("#login-submit")
    # after logging in the page goes where the address pointed: the plot
    await page.wait_for("__oc.plot && __oc.plot.series.has('Generator.Square')", 30, "the plot")


async def test_a_writer_sets_a_parameter_and_calls_a_function(
    page: Page, dashboard: Dashboard
) -> None:
    await login(page, dashboard, "admin")
    assert "(write)" in await page.text("#who") or "(admin)" in await page.text("#who")
    await page.click("#nav a[data-view='devices']")
    level = "section.device[data-device='Generator'] input[data-param='gen_level']"
    await page.wait_for(f"document.querySelector({json.dumps(level)})", 30, "gen_level")
    assert await page.eval("document.getElementById('readonly-note')") is None
    await page.fill(level, "3")
    await page.eval(
        f"document.querySelector({json.dumps(level)}).closest('tr').querySelector('button').click()"
    )
    await page.wait_for(
        "document.getElementById('device-result').className === 'result ok'", 15, "the set"
    )
    # the agent applied it: its next status carries the new value, and the page shows it
    await page.eval("document.activeElement.blur()")
    await page.wait_for(f"document.querySelector({json.dumps(level)}).value === '3'", 15)
    # a function call with an argument, answered by the agent
    freq = "section.device[data-device='Generator'] input[data-arg='freq']"
    await page.fill(freq, "2")
    await page.click("button[data-call='setFrequency']")
    answered = (
        "document.getElementById('device-result').className !== 'result' && "
        "document.getElementById('device-result').innerText.startsWith("
        "'Generator.setFrequency(2')"
    )
    await page.wait_for(answered, 30, "the call's answer")
    assert await page.eval("document.getElementById('device-result').className") == "result ok"
    await page.screenshot("web/08-devices-write.png")
    # a bad argument is refused with the agent's reason, and the page keeps working
    await page.fill(freq, '"fast"')
    await page.click("button[data-call='setFrequency']")
    await page.wait_for(
        "document.getElementById('device-result').className === 'result error'", 15, "refusal"
    )
    await page.click("#nav a[data-view='signals']")
    await page.wait_for("document.querySelector('#signals-table')", 30, "signals again")


async def test_a_silent_device_shows_stale_then_offline(
    page: Page, dashboard: Dashboard, agent_proc: subprocess.Popen
) -> None:
    await login(page, dashboard, "viewer")
    row = "document.querySelector('tr.sig[data-key=\"Generator.Square\"]')"
    await page.wait_for(f"{row} && {row}.classList.contains('ok')", 30, "a fresh signal")
    agent_proc.send_signal(signal.SIGSTOP)  # silent, but its connection is not closed yet
    try:
        await page.wait_for(f"{row}.classList.contains('stale')", 30, "stale")
        await page.screenshot("web/09-signal-stale.png")
    finally:
        agent_proc.send_signal(signal.SIGCONT)
    await page.wait_for(f"{row}.classList.contains('ok')", 30, "fresh again")
    agent_proc.terminate()  # a clean stop: the agent says it is offline
    await page.wait_for(f"{row}.classList.contains('offline')", 30, "offline")
    await page.click("#nav a[data-view='devices']")
    await page.wait_for(
        "document.querySelector('div.agent[data-agent=\"demo-agent\"] .badge.offline')",
        10,
        "the agent offline on the devices page",
    )
    await page.screenshot("web/10-agent-offline.png")


async def test_anonymous_read_shows_data_without_login_but_no_controls(
    page: Page, tmp_path: Path, mosquitto: Mosquitto, prefix: str, agent_proc: subprocess.Popen
) -> None:
    async for d in start_dashboard(
        tmp_path, mosquitto, prefix, require_login=False, password_permission="read"
    ):
        await page.goto(d.url)
        await page.wait_for(
            "document.querySelector('tr.sig[data-key=\"Generator.Square\"]')", 15, "signals"
        )
        assert await page.eval("document.getElementById('login').hidden") is True
        assert (await page.text("#who")).startswith("anonymous (read)")
        await page.click("#nav a[data-view='devices']")
        await page.wait_for("document.getElementById('readonly-note')", 30, "read-only note")
        assert await page.eval("document.querySelectorAll('button[data-call]').length") == 0
        # logging in from there gives the user's own rights
        await page.click("#login-link")
        await page.fill("#login-user", "admin")
        await page.fill("#login-password", PASSWORDS["admin"])
        await page.click("#login-submit")
        await page.wait_for("document.querySelectorAll('button[data-call]').length > 0", 15)
        assert (await page.text("#who")).startswith("admin (")


async def test_a_year_of_minutes_loads_fast_downsampled(
    page: Page, tmp_path: Path, mosquitto: Mosquitto, prefix: str, agent_proc: subprocess.Popen
) -> None:
    async for d in start_dashboard(tmp_path, mosquitto, prefix, year=True, require_login=True):
        await login(page, d, "viewer")
        await page.eval("location.hash = '#/plot?s=Archive.Year'")
        await page.wait_for("__oc.plot && __oc.plot.series.has('Archive.Year')", 30, "plot")
        t0 = time.monotonic()
        await page.click("button[data-history='31536000']")
        await page.wait_for(
            "__oc.plotState.mode === 'history' && __oc.plotState.loads >= 1 && "
            "!__oc.plotState.loading",
            150,  # the page's own history timeout is 120 s; a busy machine downsamples slowly
            "a year from the store",
        )
        elapsed = time.monotonic() - t0
        assert await page.eval("__oc.plotState.failed") == {}
        n = await page.eval("__oc.plotState.points['Archive.Year']")
        width = await page.eval("document.getElementById('plot-canvas').clientWidth")
        print(f"a year of 525600 minute samples: {n} points on the page in {elapsed:.2f} s")
        assert 0 < n <= max(200, width) + 2
        xs = await page.eval("__oc.plot.series.get('Archive.Year').x")
        # the downsampled points span the whole year, not just its start
        assert xs[-1] - xs[0] > 360 * 86400
        await page.screenshot("web/11-plot-a-year.png")
        # Answers carry no request id: a request given up after its timeout keeps its place,
        # and its late answer is not taken for the next request's (a year at full
        # resolution cannot be answered within 1 ms).
        slow, nxt = await page.eval(
            """(async () => {
              const c = __oc.client;
              const slow = c.request(
                {getSignal: {dname: 'Archive', sname: 'Year', xmin: 0, xmax: 4e9, maxN: 50000}},
                {timeoutMs: 1}).then(() => 'answered', (e) => e.message);
              const next = await c.request({getPluginList: true});
              return [await slow, Object.keys(next).sort()];
            })()"""
        )
        assert slow.startswith("no answer to getSignal"), slow
        assert "pluginList" in nxt and "signals" not in nxt, nxt


async def test_the_page_reconnects_and_logs_in_again_after_the_server_restarts(
    page: Page, dashboard: Dashboard
) -> None:
    await login(page, dashboard, "viewer")
    row = "document.querySelector('tr.sig[data-key=\"Generator.Square\"]')"
    await page.wait_for(row, 30, "the signal")
    server = dashboard.hub.ws_server
    await server.close()
    await page.wait_for(
        "document.getElementById('conn').innerText.includes('retrying')", 10, "disconnected"
    )
    before = await page.eval("__oc.latest.get('Generator.Square').x")
    await server.start()
    await page.wait_for("document.getElementById('conn').innerText === 'connected'", 15)
    # logged in again with the credentials kept in memory: data flows, no login form
    await page.wait_for(f"__oc.latest.get('Generator.Square').x > {before} + 0.5", 30, "data")
    assert await page.eval("document.getElementById('login').hidden") is True
    assert "viewer (read)" in await page.text("#who")


async def test_rtoc_password_mode_is_explained_not_a_blank_page(
    page: Page, tmp_path: Path, mosquitto: Mosquitto, prefix: str
) -> None:
    async for d in start_dashboard(tmp_path, mosquitto, prefix, password="geheim"):
        await page.goto(d.url)
        await page.wait_for(
            "!document.getElementById('login').hidden && "
            "document.getElementById('login-error').innerText.includes('password mode')",
            30,
            "the explanation, visible",
        )
        assert "encrypted frames" in await page.text("#conn")
        assert await page.eval("document.getElementById('view').children.length") == 0
        await page.screenshot("web/13-password-mode.png")


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ("blocked", "Wrong user name or password"),
        ("shortcuts", "shortcuts may not read data here (permission custom)"),
    ],
)
async def test_users_below_read_see_nothing(
    page: Page, dashboard: Dashboard, user: str, message: str
) -> None:
    await page.goto(dashboard.url)
    await page.wait_for("!document.getElementById('login').hidden", 30, "the login form")
    await page.fill("#login-user", user)
    await page.fill("#login-password", PASSWORDS[user])
    await page.click("#login-submit")
    await page.wait_for(
        "document.getElementById('login-error').innerText.length > 0", 10, "the refusal"
    )
    assert message in await page.text("#login-error")
    assert await page.eval("document.getElementById('nav').hidden") is True
    assert await page.eval("document.getElementById('view').children.length") == 0
    assert "Generator" not in await page.text("body")
    # the same form then logs in a reader
    await page.fill("#login-user", "viewer")
    await page.fill("#login-password", PASSWORDS["viewer"])
    await page.click("#login-submit")
    await page.wait_for("document.querySelector('#signals-table')", 30, "the signals")
