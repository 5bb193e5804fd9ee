"""Headless Chromium driven over the Chrome DevTools Protocol (websockets), for page tests.

Debian's `chromium` is started with a temp profile and `--remote-debugging-port=0`; the
port it picked is read from `DevToolsActivePort` in the profile, so parallel workers never
collide. One websocket to the browser carries every command (flattened target sessions).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import websockets

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--mute-audio",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
]


class BrowserError(RuntimeError):
    """A CDP command failed, or the page threw."""


class Page:
    """One tab: navigate, evaluate JavaScript, wait for conditions, screenshot."""

    def __init__(self, *, browser: Browser, session: str, target: str) -> None:
        self.browser = browser
        self.session = session
        self.target = target
        self.console: list[str] = []
        self.errors: list[str] = []

    async def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a CDP command to this tab and return its result."""
        return await self.browser.send(method, params, session=self.session)

    def _on_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            self.console.append(f"{params['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            d = params["exceptionDetails"]
            text = d.get("exception", {}).get("description") or d.get("text", "")
            self.errors.append(f"{text} at {d.get('url', '')}:{d.get('lineNumber')}")

    async def goto(self, url: str, timeout: float = 10.0) -> None:
        """Load `url` and wait until the document has finished loading."""
        await self.send("Page.navigate", {"url": url})
        await self.wait_for("document.readyState === 'complete'", timeout, f"load of {url}")

    async def eval(self, expr: str) -> Any:
        """Evaluate a JS expression (promises awaited) and return its JSON value."""
        res = await self.send(
            "Runtime.evaluate",
            {"expression": expr, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in res:
            d = res["exceptionDetails"]
            desc = d.get("exception", {}).get("description") or d.get("text")
            raise BrowserError(f"JS error in {expr!r}: {desc}")
        return res["result"].get("value")

    async def wait_for(self, expr: str, timeout: float = 30.0, what: str = "") -> Any:
        """Poll a JS expression until truthy; on timeout raise with console output attached.

        A condition, not a speed budget: it waits at least 30 s whatever `timeout` says.
        """
        timeout = max(timeout, 30.0)
        deadline = time.monotonic() + timeout
        # a DOM node does not survive returnByValue: count it as found
        probe = f"(v => v instanceof Node ? true : v)(({expr}))"
        while True:
            with contextlib.suppress(BrowserError):
                value = await self.eval(probe)
                if value:
                    return value
            if time.monotonic() > deadline:
                try:
                    body = (await self.eval("document.body.innerText"))[:1500]
                except BrowserError as exc:
                    body = f"<{exc}>"
                raise TimeoutError(
                    f"timed out after {timeout}s waiting for {what or expr}\n"
                    f"console: {self.console[-20:]}\nerrors: {self.errors[-10:]}\n"
                    f"page text: {body}"
                )
            await asyncio.sleep(0.05)

    async def text(self, selector: str) -> str:
        """The visible text of the first element matching `selector` ('' if none)."""
        return await self.eval(
            f"(document.querySelector({json.dumps(selector)}) || {{innerText: ''}}).innerText"
        )

    async def fill(self, selector: str, value: str) -> None:
        """Set an input's value and fire `input`, as typing would."""
        ok = await self.eval(
            f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            if (!e) return false; e.focus(); e.value = {json.dumps(value)};
            e.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()"""
        )
        if not ok:
            raise BrowserError(f"no element {selector!r} to fill")

    async def click(self, selector: str) -> None:
        """Click the centre of the first element matching `selector` with real mouse events."""
        box = await self.eval(
            f"""(() => {{ const e = document.querySelector({json.dumps(selector)});
            if (!e) return null; e.scrollIntoView({{block: 'center'}});
            const r = e.getBoundingClientRect();
            return [r.x + r.width / 2, r.y + r.height / 2]; }})()"""
        )
        if not box:
            raise BrowserError(f"no element {selector!r} to click")
        await self.mouse("mousePressed", box[0], box[1])
        await self.mouse("mouseReleased", box[0], box[1])

    async def mouse(self, kind: str, x: float, y: float, button: str = "left") -> None:
        """Dispatch one mouse event (mousePressed/mouseMoved/mouseReleased) at page coords."""
        params: dict[str, Any] = {"type": kind, "x": x, "y": y, "button": button}
        params["clickCount"] = 1 if kind != "mouseMoved" else 0
        if kind == "mouseMoved":
            params["buttons"] = 1 if button == "left" else 0
        await self.send("Input.dispatchMouseEvent", params)

    async def drag(self, x0: float, y0: float, x1: float, y1: float, steps: int = 5) -> None:
        """Press at (x0, y0), move in steps to (x1, y1) and release."""
        await self.mouse("mousePressed", x0, y0)
        for i in range(1, steps + 1):
            f = i / steps
            await self.mouse("mouseMoved", x0 + (x1 - x0) * f, y0 + (y1 - y0) * f)
        await self.mouse("mouseReleased", x1, y1)

    async def screenshot(self, name: str) -> Path:
        """Save a PNG of the viewport under test-artifacts/ and return its path."""
        res = await self.send("Page.captureScreenshot", {"format": "png"})
        path = ARTIFACTS / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(res["data"]))
        return path


class Browser:
    """A Chromium process and the one CDP websocket that drives it."""

    def __init__(self, *, profile: Path, width: int = 1280, height: int = 860) -> None:
        self.profile = profile
        self.width = width
        self.height = height
        self.proc: subprocess.Popen[bytes] | None = None
        self._ws: Any = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._pages: dict[str, Page] = {}
        self._reader: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 20.0) -> None:
        """Launch Chromium and connect to its DevTools websocket."""
        if not Path(CHROMIUM).exists():
            raise BrowserError("chromium is not installed: apt-get install -y chromium")
        self.profile.mkdir(parents=True, exist_ok=True)
        log = open(self.profile / "chromium.log", "wb")  # noqa: SIM115 - lives with the process
        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=log,
            stderr=log,
            env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": "disabled:"},
        )
        active = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (active.exists() and len(active.read_text().splitlines()) >= 2):
            if self.proc.poll() is not None:
                raise BrowserError(f"chromium exited with {self.proc.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not open its DevTools port")
            await asyncio.sleep(0.05)
        port, path = active.read_text().splitlines()[:2]
        self._ws = await websockets.connect(f"ws://127.0.0.1:{port}{path}", max_size=None)
        self._reader = asyncio.create_task(self._read(), name="cdp-reader")

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                msg = json.loads(raw)
                if "id" in msg:
                    fut = self._pending.pop(msg["id"], None)
                    if fut and not fut.done():
                        fut.set_result(msg)
                elif (page := self._pages.get(msg.get("sessionId", ""))) is not None:
                    page._on_event(msg["method"], msg.get("params", {}))
        except websockets.ConnectionClosed:
            pass
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(BrowserError("DevTools connection closed"))

    async def send(
        self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None
    ) -> dict[str, Any]:
        """Send one CDP command (optionally to a tab's session) and await its result."""
        msg_id = next(self._ids)
        msg: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        await self._ws.send(json.dumps(msg))
        reply = await asyncio.wait_for(fut, 30)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    async def new_page(self) -> Page:
        """Open a new tab with a fixed viewport, console capture on."""
        target = (await self.send("Target.createTarget", {"url": "about:blank"}))["targetId"]
        attach = await self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        page = Page(browser=self, session=attach["sessionId"], target=target)
        self._pages[page.session] = page
        await page.send("Runtime.enable")
        await page.send("Page.enable")
        await page.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
        )
        return page

    async def close(self) -> None:
        """Close the connection and end the Chromium process."""
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.send("Browser.close"), 3)
            await self._ws.close()
        if self._reader:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
