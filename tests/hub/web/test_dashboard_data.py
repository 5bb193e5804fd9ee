"""Import/export, delete and settings pages in headless Chromium against a real hub."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from tests.fixtures.browser import Page
from tests.fixtures.net import async_wait_for

from .conftest import Dashboard, ws_request
from .test_dashboard import login

pytestmark = pytest.mark.slow


async def said(page: Page, selector: str, word: str, timeout: float = 30) -> str:
    """Wait until the element's text holds `word`; its text."""
    expr = f"document.querySelector('{selector}').innerText.includes('{word}')"
    await page.wait_for(expr, timeout, f"{word!r} in {selector}")
    return await page.text(selector)


async def _choose_file(page: Page, selector: str, path: Path) -> None:
    """Put a file into an <input type=file> as the file chooser would."""
    expr = f"document.querySelector('{selector}')"
    res = await page.send("Runtime.evaluate", {"expression": expr})
    await page.send(
        "DOM.setFileInputFiles", {"files": [str(path)], "objectId": res["result"]["objectId"]}
    )


async def test_export_import_and_delete(page: Page, dashboard: Dashboard, tmp_path: Path) -> None:
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    await page.browser.send(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    await login(page, dashboard, "admin")
    await page.click("a[data-view='data']")
    box = "#data-signals input[value='Archive.Temperature']"
    await page.wait_for(f'document.querySelector("{box}")', 30, "the signal picker")
    await page.click(box)
    # the archive is 1-3 h old: export the whole last day as CSV
    start = time.strftime("%Y-%m-%dT%H:%M", time.localtime(time.time() - 86400))
    await page.fill("#export-from", start)
    await page.click("#export-go")
    await said(page, "#export-result", "samples", 30)
    assert f"{dashboard.archive_points} samples" in await page.text("#export-result")
    target = downloads / "opencontrol_export.csv"
    await async_wait_for(target.exists, timeout=30, what="the CSV download")
    with target.open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["time", "utc", "signal", "unit", "value"]
    assert len(rows) == dashboard.archive_points + 1
    assert {r[2] for r in rows[1:]} == {"Archive.Temperature"}

    # import a CSV into new signals: listed at once
    upload = tmp_path / "lab.csv"
    t = time.time() - 60
    upload.write_text(f"time,signal,unit,value\n{t},Lab.T,°C,20.5\n{t + 1},Lab.T,°C,21.5\n")
    await _choose_file(page, "#import-file", upload)
    await page.click("#import-go")
    await said(page, "#import-result", "imported", 30)
    assert "2 samples imported into Lab.T" in await page.text("#import-result")
    assert dashboard.hub.signals.find("Lab", "T") is not None
    await page.wait_for("document.querySelector(\"#data-signals input[value='Lab.T']\")", 10)
    # the same file again: refused with the hub's reason, nothing changes
    await page.click("#import-go")
    await said(page, "#import-result", "failed", 30)
    assert "exist already" in await page.text("#import-result")
    await page.click("a[data-view='signals']")
    await page.wait_for("document.querySelector('tr.sig[data-key=\"Lab.T\"]')", 10, "Lab.T listed")

    # delete it (admin), with a confirmation
    await page.click("a[data-view='data']")
    await page.wait_for("document.querySelector(\"#data-signals input[value='Lab.T']\")", 10)
    for key in ("Archive.Temperature", "Lab.T"):
        box = f"#data-signals input[value='{key}']"
        if await page.eval(f'document.querySelector("{box}").checked') != (key == "Lab.T"):
            await page.click(box)
    await page.click("#delete-signals")
    await page.wait_for("document.querySelector('#delete-confirm')", 10)
    assert dashboard.hub.signals.find("Lab", "T") is not None  # not before the confirmation
    await page.click("#delete-confirm")
    await said(page, "#delete-result", "deleted", 10)
    assert "deleted 1 signals" in await page.text("#delete-result")
    assert dashboard.hub.signals.find("Lab", "T") is None
    await page.screenshot("web/20-import-export.png")


async def test_settings_change_for_admin_and_not_for_readers(
    page: Page, browser, dashboard: Dashboard
) -> None:
    await login(page, dashboard, "admin")
    await page.click("a[data-view='settings']")
    await page.wait_for("document.querySelector('#set-record-length')", 30, "the settings form")
    assert await page.eval("document.querySelector('#set-record-length').value") == str(
        dashboard.hub.signals.record_length
    )
    await page.wait_for("document.querySelector('#settings-rates tr[data-device=\"Generator\"]')")
    await page.fill("#set-record-length", "777")
    await page.click("#set-record-length-apply")
    await said(page, "#settings-result", "record length: done", 30)
    assert dashboard.hub.signals.record_length == 777
    engine = dashboard.hub.engine
    assert engine.actions_active is True
    await page.wait_for("document.querySelector('#set-actions')", 10)
    await page.click("#set-actions")
    await page.click("#set-actions-apply")
    await said(page, "#settings-result", "automation: done", 30)
    assert engine.actions_active is False and engine.events_active is True
    assert await page.eval("document.querySelector('#set-actions').checked") is False
    await page.screenshot("web/21-settings.png")

    viewer = await browser.new_page()
    await login(viewer, dashboard, "viewer")
    await viewer.click("a[data-view='settings']")
    await viewer.wait_for("document.querySelector('#set-record-length')", 30)
    assert await viewer.eval("document.querySelector('#set-record-length').disabled") is True
    assert await viewer.eval("document.querySelector('#settings-form button')") is None
    await viewer.click("a[data-view='data']")
    await viewer.wait_for("document.querySelector('#export-go')", 10)
    for absent in ("#import-go", "#delete-signals", "#delete-events"):
        assert await viewer.eval(f"document.querySelector('{absent}')") is None
    # and the hub refuses what the page does not offer
    resp = await ws_request(dashboard.ws_url, "viewer", {"logger": {"resize": 10}})
    assert resp["error"] is True and "needs write" in resp["reason"]
    resp = await ws_request(dashboard.ws_url, "viewer", {"logger": {"delete": {"events": "all"}}})
    assert resp["error"] is True and "needs admin" in resp["reason"]


async def test_an_admin_deletes_one_event_a_reader_cannot(
    page: Page, browser, dashboard: Dashboard
) -> None:
    from hub.db.base import EventRecord

    for text in ("keep me", "drop me"):
        dashboard.hub.add_event(
            EventRecord(time=time.time(), device="Lab", signal="T", text=text, priority=1)
        )
    await login(page, dashboard, "admin")
    await page.click("#nav a[data-view='events']")
    rows = "[...document.querySelectorAll('#events-body tr')]"
    row = f"{rows}.find(r => r.innerText.includes('drop me'))"
    await page.wait_for(f"{row} && {row}.querySelector('.ev-delete')", 30, "the event row")
    await page.eval(f"{row}.querySelector('.ev-delete').setAttribute('id', 'drop-it')")
    await page.click("#drop-it")
    await page.wait_for(f"!{row}", 10, "the row gone")
    assert "keep me" in await page.text("#events-body")
    resp = await ws_request(dashboard.ws_url, "viewer", {"getEventList": 100})
    texts = [r[3] for r in resp["events"].values()]
    assert "keep me" in texts and "drop me" not in texts

    viewer = await browser.new_page()
    await login(viewer, dashboard, "viewer")
    await viewer.click("#nav a[data-view='events']")
    await viewer.wait_for("document.getElementById('events-body').innerText.includes('keep me')")
    assert await viewer.eval("document.querySelector('.ev-delete')") is None
