"""A real Home Assistant against a real hub and agent: discovery, state and commands.

Run with the project's Python, giving the Python of a Home Assistant environment
(docs/integrations.md):

    OPENCONTROL_HA_PYTHON=/tmp/ha-venv/bin/python .venv/bin/python bench/ha_live_check.py

It starts Mosquitto (Debian's binary) on a free port, a hub with `[homeassistant]` on, an
agent with the simulated `generator` driver (device `Gen`) and Home Assistant with its MQTT
integration on that broker and an automation that, every few seconds, sets the agent's
`gen_freq` to 2.5 through the `number` entity, presses the `changeType` button and
publishes the states of the agent's entities to a report topic. It checks what Home
Assistant made of the discovery (entities, their states, the device in its registry) and
that its commands reached the agent, prints what it saw, and exits 1 on a failure.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_agent.agent import Agent  # noqa: E402
from edge_agent.config import make_agent_config  # noqa: E402
from hub.bootstrap import running_hub  # noqa: E402
from hub.config import hub_config  # noqa: E402

REPORT = "ha-report/states"
AUTOMATION = """
automation:
  - id: opencontrol_check
    alias: opencontrol check
    triggers:
      - trigger: time_pattern
        seconds: "/3"
    actions:
      - action: mqtt.publish
        data:
          topic: "%(report)s"
          payload: >-
            {%% set ns = namespace(d={}) %%}{%% for s in states
            if s.entity_id.split('.')[1].startswith('pi1_') %%}{%% set ns.d = dict(ns.d,
            **{s.entity_id: s.state}) %%}{%% endfor %%}{{ ns.d | tojson }}
      - action: number.set_value
        continue_on_error: true
        target:
          entity_id: number.pi1_gen_gen_freq
        data:
          value: 2.5
      - action: button.press
        continue_on_error: true
        target:
          entity_id: button.pi1_gen_changetype
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ha_config(directory: Path, broker_port: int, http_port: int) -> None:
    """configuration.yaml and an MQTT config entry, as the UI would have stored it."""
    (directory / ".storage").mkdir(parents=True)
    (directory / "configuration.yaml").write_text(
        "homeassistant:\n  name: OpenControl check\n  time_zone: UTC\n  latitude: 0\n"
        "  longitude: 0\n  elevation: 0\n  unit_system: metric\n"
        f"http:\n  server_host: 127.0.0.1\n  server_port: {http_port}\n"
        + AUTOMATION
        % {"report": REPORT}
    )
    entry = {
        "entry_id": "01opencontrolmqtt",
        "version": 1,
        "minor_version": 2,
        "domain": "mqtt",
        "title": "127.0.0.1",
        "data": {"broker": "127.0.0.1", "port": broker_port},
        "options": {"discovery": True, "discovery_prefix": "homeassistant"},
        "pref_disable_new_entities": False,
        "pref_disable_polling": False,
        "source": "user",
        "unique_id": None,
        "disabled_by": None,
    }
    (directory / ".storage" / "core.config_entries").write_text(
        json.dumps(
            {
                "version": 1,
                "minor_version": 1,
                "key": "core.config_entries",
                "data": {"entries": [entry]},
            }
        )
    )


class Reports:
    """The states Home Assistant publishes to the report topic."""

    def __init__(self, port: int) -> None:
        self.last: dict[str, str] = {}
        self.count = 0
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(REPORT, 1)
        self.client.loop_start()

    def _on(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            self.last = json.loads(msg.payload)
            self.count += 1
        except ValueError:
            print("bad report:", msg.payload[:200])

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


async def wait(pred: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        await asyncio.sleep(0.5)
    raise SystemExit(f"FAIL timed out waiting for {what}")


def param(hub: Any, name: str) -> Any:
    for p in (hub.agents.device("Gen") or {}).get("params") or []:
        if p.get("name") == name:
            return p.get("value")
    return None


async def main() -> None:
    ha_python = os.environ.get("OPENCONTROL_HA_PYTHON")
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not ha_python or not Path(mosquitto).exists():
        raise SystemExit("needs OPENCONTROL_HA_PYTHON and Debian's mosquitto")
    tmp = Path(tempfile.mkdtemp(prefix="oc-ha-live-"))
    port = free_port()
    (tmp / "mosquitto.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    broker = subprocess.Popen(
        [mosquitto, "-c", str(tmp / "mosquitto.conf")], stderr=subprocess.DEVNULL
    )
    ha_dir = tmp / "ha"
    http_port = free_port()
    ha_config(ha_dir, port, http_port)
    cfg = hub_config(
        {
            "hub": {"data_dir": str(tmp / "hub")},
            "mqtt": {"host": "127.0.0.1", "port": port},
            "websocket": {"enabled": False},
            "homeassistant": {"enabled": True, "state_interval": 1.0},
        },
        source="ha_live_check",
    )
    ha = None
    reports = None
    agent = None
    try:
        async with running_hub(cfg) as hub:
            agent = Agent(
                config=make_agent_config(
                    agent_id="pi1",
                    port=port,
                    spool_path=tmp / "spool.sqlite",
                    devices={"Gen": {"driver": "generator", "samplerate": 2.0}},
                )
            )
            agent.start()
            await wait(lambda: hub.agents.device("Gen"), 30, "the agent's status")
            reports = Reports(port)
            t0 = time.monotonic()
            ha_log = (tmp / "ha.log").open("wb")
            ha = subprocess.Popen(
                [ha_python, "-m", "homeassistant", "-c", str(ha_dir), "--skip-pip"],
                stdout=ha_log,
                stderr=subprocess.STDOUT,
            )
            states = await wait(
                lambda: (
                    reports.last.get("sensor.pi1_gen_square")
                    not in (None, "unknown", "unavailable")
                    and reports.last
                ),
                240,
                "Home Assistant's first states",
            )
            print(f"Home Assistant up and reporting after {time.monotonic() - t0:.0f} s")
            await wait(lambda: param(hub, "gen_freq") == 2.5, 60, "gen_freq set from HA")
            print("number.set_value in Home Assistant -> hub -> agent: gen_freq = 2.5")
            states = await wait(
                lambda: reports.last.get("number.pi1_gen_gen_freq") == "2.5" and reports.last,
                60,
                "the new value back in Home Assistant",
            )
            states = await wait(
                lambda: (
                    reports.last.get("sensor.pi1_gen_last_command", "").startswith("changeType")
                    and reports.last
                ),
                60,
                "the button's result",
            )
            for entity, state in sorted(states.items()):
                print(f"  {entity:45} {state}")
            float(states["sensor.pi1_gen_square"])  # a number
            kinds = {e.split(".")[0] for e in states}
            assert kinds >= {"sensor", "number", "select", "button"}, kinds
            if SCREENSHOT is not None:
                await screenshot_device_page(f"http://127.0.0.1:{http_port}", tmp, SCREENSHOT)
            ha.terminate()  # Home Assistant writes its registries on the way out
            ha.wait(60)
            devices = json.loads((ha_dir / ".storage" / "core.device_registry").read_text())
            (dev,) = [d for d in devices["data"]["devices"] if d["manufacturer"] == "OpenControl"]
            print(
                f"device registry: {dev['name']!r} by {dev['manufacturer']}, model "
                f"{dev['model']!r}, identifiers {dev['identifiers']}"
            )
            entities = json.loads((ha_dir / ".storage" / "core.entity_registry").read_text())
            ours = [e for e in entities["data"]["entities"] if e["device_id"] == dev["id"]]
            print(f"entity registry: {len(ours)} entities on that device")
            agent.stop(drain=0.2)
            agent = None
    finally:
        if agent is not None:
            agent.stop(drain=0.2)
        if reports is not None:
            reports.close()
        if ha is not None and ha.poll() is None:
            ha.kill()
        broker.terminate()
        broker.wait(10)
    print(f"OK (Home Assistant's log: {tmp / 'ha.log'})")


def _http(
    url: str, body: dict[str, Any] | None = None, *, token: str = "", form: bool = False
) -> Any:
    """One request to Home Assistant's HTTP API; the JSON answer."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = None
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


async def screenshot_device_page(base: str, tmp: Path, out: Path) -> None:
    """Onboard Home Assistant (owner user), log a browser in, screenshot the agent's device page."""
    import websockets

    from rigs.browser import Browser

    client = base + "/"
    user = {"username": "owner", "password": "opencontrol-check-pw"}
    code = (
        await asyncio.to_thread(
            _http,
            base + "/api/onboarding/users",
            {"client_id": client, "name": "Owner", "language": "en", **user},
        )
    )["auth_code"]
    token = (
        await asyncio.to_thread(
            _http,
            base + "/auth/token",
            {"grant_type": "authorization_code", "code": code, "client_id": client},
            form=True,
        )
    )["access_token"]
    for step, body in (
        ("core_config", {}),
        ("analytics", {}),
        ("integration", {"client_id": client, "redirect_uri": client}),
    ):
        await asyncio.to_thread(_http, f"{base}/api/onboarding/{step}", body, token=token)
    async with websockets.connect(base.replace("http", "ws") + "/api/websocket") as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "auth", "access_token": token}))
        await ws.recv()
        await ws.send(json.dumps({"id": 1, "type": "config/device_registry/list"}))
        devices = json.loads(await ws.recv())["result"]
    (device,) = [d for d in devices if d["manufacturer"] == "OpenControl"]
    flow = await asyncio.to_thread(
        _http,
        base + "/auth/login_flow",
        {
            "client_id": client,
            "handler": ["homeassistant", None],
            "redirect_uri": client + "?auth_callback=1",
        },
    )
    login = await asyncio.to_thread(
        _http, f"{base}/auth/login_flow/{flow['flow_id']}", {"client_id": client, **user}
    )
    state = base64.b64encode(json.dumps({"hassUrl": base, "clientId": client}).encode())
    url = (
        f"{base}/config/devices/device/{device['id']}?auth_callback=1"
        f"&code={login['result']}&state={urllib.parse.quote(state.decode())}"
    )
    browser = Browser(profile=tmp / "chromium", width=1280, height=900)
    await browser.start()
    try:
        page = await browser.new_page()
        await page.goto(url, timeout=30)
        await asyncio.sleep(15)  # the frontend loads its panels lazily; a bench may wait
        res = await page.send("Page.captureScreenshot", {"format": "png"})
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(res["data"]))
        print(f"screenshot of the device page: {out}")
    finally:
        await browser.close()


SCREENSHOT = Path(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[1] == "--screenshot" else None

if __name__ == "__main__":
    asyncio.run(main())
