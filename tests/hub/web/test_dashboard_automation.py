"""The automation page in headless Chromium: events, actions and scripts edited by a writer,
sandbox messages beside their line, nothing offered to a reader."""

from __future__ import annotations

import pytest

from tests.fixtures.browser import Page
from tests.fixtures.net import async_wait_for

from .conftest import Dashboard, ws_request
from .test_dashboard import login
from .test_dashboard_data import said

pytestmark = pytest.mark.slow


async def test_events_and_actions_are_edited_tested_switched_and_deleted(
    page: Page, dashboard: Dashboard
) -> None:
    engine = dashboard.hub.engine
    await login(page, dashboard, "admin")
    await page.click("#nav a[data-view='automation']")
    await page.wait_for("document.querySelector('#event-new')", 30, "the automation page")
    await page.click("#event-new")
    await page.fill("#ev-name", "high")
    await page.fill("#ev-cond", "Generator.Square.latest > 1.5")
    await page.fill("#ev-text", "square is high")
    await page.fill("#ev-id", "sq-high")
    await page.click("#event-save")
    row = "#automation-events tr[data-name='high']"
    await page.wait_for(f'document.querySelector("{row}")', 10, "the new event listed")
    assert engine.events.events["high"].defn.cond == "Generator.Square.latest > 1.5"
    await page.click(f"{row} button.test")
    await said(page, "#automation-result", "high:")
    await page.click(f"{row} button.toggle")
    await async_wait_for(lambda: engine.events.events["high"].defn.active is False, what="off")
    # the page shows it too before the next click (its row is rebuilt with the answer)
    await page.wait_for(f'document.querySelector("{row}").innerText.includes("Switch on")')
    # a condition the engine refuses: its reason, nothing saved
    await page.click(f"{row} button.edit")
    await page.fill("#ev-cond", "Generator.Square.latest >")
    await page.click("#event-save")
    await page.wait_for("document.querySelector('#event-error').innerText.length > 0", 10)
    assert engine.events.events["high"].defn.cond == "Generator.Square.latest > 1.5"

    # an action whose script fails on line 2: the message sits beside line 2
    await page.click("#action-new")
    await page.fill("#ac-name", "tell")
    await page.fill("#ac-listen", "sq-high")
    await page.fill("#action-script", "print('hello')\nx = nothing_here + 1\n")
    await page.click("#action-test")
    note = "#action-script-notes .note.err[data-line='2']"
    await page.wait_for(f'document.querySelector("{note}")', 10, "the note on line 2")
    assert "nothing_here" in await page.text(note)
    assert await page.eval("document.querySelectorAll('.editor .ln.err').length") == 1
    assert "tell" not in engine.actions.actions  # refused when saved: nothing kept
    await page.fill("#action-script", "print('hello')\n")
    await page.click("#action-test")
    await said(page, "#automation-result", "hello")
    assert await page.eval(f'document.querySelector("{note}")') is None
    assert engine.actions_doc()["tell"]["listenID"] in (["sq-high"], "sq-high")
    await page.screenshot("web/22-automation.png")
    await page.click("#automation-actions tr[data-name='tell'] button.delete")
    await async_wait_for(lambda: "tell" not in engine.actions.actions, what="action deleted")
    await page.click(f"{row} button.delete")
    await async_wait_for(lambda: "high" not in engine.events.events, what="event deleted")


async def test_script_editor_runs_starts_stops_and_marks_errors(
    page: Page, dashboard: Dashboard
) -> None:
    mgr = dashboard.hub.engine.scripts
    await login(page, dashboard, "admin")
    await page.click("#nav a[data-view='automation']")
    await page.wait_for("document.querySelector('#script-new')", 30, "the automation page")
    await page.click("#script-new")
    await page.fill("#sc-name", "count")
    await page.fill("#sc-rate", "20")
    await page.fill("#script-source", "global n = 0\nn += 1\nprint('run', n)\nx = (")
    await page.click("#script-save")
    note = "#script-source-notes .note.err[data-line='4']"
    await page.wait_for(f'document.querySelector("{note}")', 10, "the syntax error on line 4")
    assert "syntax error" in await page.text(note)
    assert "count" not in mgr.jobs
    await page.fill("#script-source", "global n = 0\nn += 1\nprint('run', n)\n")
    await page.click("#script-run")
    await said(page, "#automation-result", "run 1")
    await page.click("#script-start")
    await async_wait_for(lambda: mgr.jobs["count"].running, what="script running")
    await async_wait_for(lambda: mgr.jobs["count"].runs >= 5, what="runs at its rate")
    srow = "#automation-scripts tr[data-name='count']"
    await page.wait_for(f"document.querySelector(\"{srow}\").innerText.includes('run ')", 10)
    await page.click("#script-stop")
    await async_wait_for(lambda: not mgr.jobs["count"].running, what="script stopped")
    # a run-time error names its line; shown beside it
    await page.click(f"{srow} button.edit")
    await page.fill("#script-source", "print('a')\nprint('b')\ny = [1][5]\n")
    await page.click("#script-run")
    note = "#script-source-notes .note.err[data-line='3']"
    await page.wait_for(f'document.querySelector("{note}")', 10, "the run-time error on line 3")
    await page.screenshot("web/23-script-editor.png")
    await page.click(f"{srow} button.delete")
    await async_wait_for(lambda: "count" not in mgr.jobs, what="script deleted")

    # on new data of a signal: runs as the demo agent's samples arrive
    await page.click("#script-new")
    await page.fill("#sc-name", "watch")
    await page.eval(
        "(() => { const s = document.getElementById('sc-mode'); s.value = 'signal';"
        " s.dispatchEvent(new Event('change')); })()"
    )
    await page.fill("#sc-signals", "Generator.Square")
    await page.fill("#script-source", "print('square', Generator.Square.latest)\n")
    await page.click("#script-start")
    await async_wait_for(lambda: "watch" in mgr.jobs and mgr.jobs["watch"].runs >= 3, what="runs")
    assert mgr.jobs["watch"].mode == "signal" and mgr.jobs["watch"].signals == {"Generator.Square"}
    wrow = "#automation-scripts tr[data-name='watch']"
    await page.wait_for(f"document.querySelector(\"{wrow}\").innerText.includes('square ')", 10)
    assert "on Generator.Square" in await page.text(wrow)
    await page.click("#script-stop")
    await async_wait_for(lambda: not mgr.jobs["watch"].running, what="signal script stopped")


async def test_a_reader_sees_automation_but_may_not_change_it(
    page: Page, dashboard: Dashboard
) -> None:
    await ws_request(
        dashboard.ws_url,
        "admin",
        {"automation": {"setEvent": {"name": "e1", "cond": "Generator.Square.latest > 9"}}},
    )
    await login(page, dashboard, "viewer")
    await page.click("#nav a[data-view='automation']")
    await page.wait_for("document.querySelector(\"#automation-events tr[data-name='e1']\")", 30)
    for absent in ("#event-new", "#action-new", "#script-new", "#automation-events button"):
        assert await page.eval(f'document.querySelector("{absent}")') is None
    resp = await ws_request(dashboard.ws_url, "viewer", {"automation": {"removeEvent": "e1"}})
    assert "needs write" in resp["automation"]["errors"]["removeEvent"]
    assert "e1" in dashboard.hub.engine.events.events
