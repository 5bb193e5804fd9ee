"""The dashboard in German: chosen in the top bar, kept with the hub user, per user."""

from __future__ import annotations

import pytest

from hub.users import load_users
from tests.fixtures.browser import Page
from tests.fixtures.net import async_wait_for

from .conftest import Dashboard, ws_request
from .test_dashboard import login

pytestmark = pytest.mark.slow


async def _is(value, want) -> bool:
    return await value == want


async def choose(page: Page, lang: str) -> None:
    await page.eval(
        f"(() => {{ const s = document.getElementById('lang'); s.value = '{lang}';"
        " s.dispatchEvent(new Event('change')); })()"
    )


async def test_german_is_chosen_kept_with_the_user_and_per_user(
    page: Page, browser, dashboard: Dashboard
) -> None:
    await login(page, dashboard, "admin")
    assert await page.text("#nav a[data-view='signals']") == "Signals"
    await choose(page, "de")
    await page.wait_for(
        "document.querySelector(\"#nav a[data-view='signals']\").innerText === 'Signale'"
    )
    assert await page.text("#nav a[data-view='settings']") == "Einstellungen"
    assert await page.eval("document.documentElement.lang") == "de"
    # views rendered later speak German too; names and values stay as they are
    await page.click("#nav a[data-view='automation']")
    await page.wait_for("document.querySelector('#event-new')", 30)
    await page.wait_for("document.querySelector('#event-new').innerText === 'Neues Ereignis'", 10)
    assert "Ereignisse (Bedingungen)" in await page.text("#view")
    await page.click("#event-new")
    await page.wait_for("document.querySelector('#event-save').innerText === 'Speichern'", 10)
    # the plot's buttons, hint and status, the devices' details
    await page.eval("location.hash = '#/plot?s=Generator.Square'")
    await page.wait_for("document.getElementById('plot-status').innerText === 'live · letzte 60 s'")
    buttons = await page.text("#view .toolbar.buttons")
    assert "Live 1 Min." in buttons and "1 Tag" in buttons and "1 Jahr" in buttons, buttons
    assert "Ziehe über den Plot, um in einen Bereich zu zoomen" in await page.text("#view")
    await page.click("#nav a[data-view='devices']")
    gen = "section.device[data-device='Generator']"
    await page.wait_for(f'document.querySelector("{gen} h4")', 30)
    await page.wait_for(f"document.querySelector(\"{gen} h4\").innerText.includes('läuft')")
    head = await page.text(f"{gen} h4")
    assert "Stoppen" in head, head
    assert "auf Agent" in await page.text(f"{gen} p.muted")
    assert "Messwerte pro Sekunde (Hz)" in await page.text(f"{gen} table.params")
    await page.click("#nav a[data-view='signals']")
    await page.wait_for("document.querySelector('tr.sig[data-key=\"Generator.Square\"]')", 30)
    assert "Generator\tSquare" in await page.text("#view")
    await page.screenshot("web/24-german.png")

    # kept with the user in the hub's store
    async def stored() -> str:
        return (await load_users(dashboard.hub)).get("admin").language

    await async_wait_for(lambda: _is(stored(), "de"), what="language stored")
    assert (await load_users(dashboard.hub)).get("viewer").language == "en"
    # a new page: German after login, without choosing again; another user: English
    again = await browser.new_page()
    await login(again, dashboard, "admin")
    await again.wait_for("document.getElementById('lang').value === 'de'")
    assert await again.text("#nav a[data-view='devices']") == "Geräte"
    other = await browser.new_page()
    await login(other, dashboard, "viewer")
    assert await other.text("#nav a[data-view='devices']") == "Devices"
    # and back to English
    await choose(page, "en")
    await page.wait_for(
        "document.querySelector(\"#nav a[data-view='signals']\").innerText === 'Signals'"
    )
    resp = await ws_request(dashboard.ws_url, "viewer", {"logger": {"language": "fr"}})
    assert resp["error"] is True and "one of" in resp["reason"]
