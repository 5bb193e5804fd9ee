"""RTOC plugin files, unchanged, through the real agent to a real hub store.

The plugins are the published ones: RTOC 3.0's built-in Generator (RTOC-3.0 wheel) and
the System plugin of the RTOC-1.8 wheel (the last release that shipped it), both from the
cache tests/rtoc_client/setup_env.sh fills; plus a plugin written here in RTOC's API that
uses plot() and event(). Without the cache the test is skipped, saying why.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

from edge_agent.agent import Agent
from edge_agent.config import validate_agent_config
from hub.bootstrap import running_hub
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for
from tests.hub.conftest import make_hub_config

CACHE = Path(os.environ.get("OPENCONTROL_RTOC_CACHE", Path.home() / ".cache" / "opencontrol-rtoc"))
WHEELS = {
    "Generator": (CACHE / "wheels" / "RTOC-3.0-py3-none-any.whl", "RTOC/RTLogger/plugins/"),
    "System": (CACHE / "wheels" / "RTOC-1.8-py3-none-any.whl", "RTOC/plugins/"),
}

TRACE = '''\
try:
    from LoggerPlugin import LoggerPlugin
except ImportError:
    from RTOC.LoggerPlugin import LoggerPlugin
import time


class Plugin(LoggerPlugin):
    """Plots the newest points of a trace; an event when the last one is above threshold."""

    def __init__(self, *args, **kwargs):
        super(Plugin, self).__init__(*args, **kwargs)
        self.setDeviceName("Trace")
        self.points = 4
        self.threshold = 1000.0
        self.__doc_threshold__ = "Event above this value"
        self._n = 0
        self.setPerpetualTimer(self._tick, samplerate=20)
        self.start()

    def _tick(self):
        now = time.time()
        xs = [now - 0.001 * (self.points - 1 - i) for i in range(self.points)]
        ys = [float(self._n + i) for i in range(self.points)]
        self.plot(xs, ys, sname="Trace", unit="V")
        self._n += self.points
        if ys[-1] > self.threshold:
            self.event("Trace high", sname="Trace", priority=1, id="traceHigh", value=ys[-1])
            self.threshold = float("inf")

    def setThreshold(self, value: float):
        """Raise an event once the trace passes value."""
        self.threshold = value
        return value
'''


@pytest.fixture
def plugin_files(tmp_path: Path) -> dict[str, Path]:
    """The plugin files as RTOC users keep them: <documentfolder>/devices/<folder>/<name>.py."""
    out: dict[str, Path] = {}
    for name, (wheel, member) in WHEELS.items():
        if not wheel.exists():
            pytest.skip(
                f"{wheel.name} missing from {CACHE}: run tests/rtoc_client/setup_env.sh once "
                "(downloads the published RTOC wheels from PyPI)"
            )
        target = tmp_path / ".RTOC" / "devices" / name / f"{name}.py"
        target.parent.mkdir(parents=True)
        with zipfile.ZipFile(wheel) as whl:
            target.write_bytes(whl.read(f"{member}{name}.py"))
        out[name] = target
    trace = tmp_path / ".RTOC" / "devices" / "Trace" / "Trace.py"
    trace.parent.mkdir(parents=True)
    trace.write_text(TRACE)
    out["Trace"] = trace
    return out


async def test_rtoc_plugins_run_unchanged_through_agent_to_hub(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str, plugin_files: dict[str, Path]
) -> None:
    persistent = tmp_path / ".RTOC" / "persistentVariables.json"
    devices: dict[str, Any] = {
        name: {"driver": "rtoc_plugin", "plugin": str(path), "samplerate": 1.0}
        for name, path in plugin_files.items()
    }
    devices["Generator"]["persistent"] = str(persistent)
    devices["Generator"]["params"] = {"gen_level": 2}
    config = validate_agent_config(
        {
            "agent": {"id": "rtoc", "spool_path": str(tmp_path / "spool.sqlite")},
            "mqtt": {"port": mosquitto.port, "prefix": prefix},
            "devices": devices,
        },
        source="rtoc plugins",
    )
    hub_config = make_hub_config(
        tmp_path, mosquitto, prefix, mqtt={"trusted_event_agents": ["rtoc"]}
    )
    async with running_hub(hub_config) as hub:
        await async_wait_for(lambda: hub.ingest.subscribed, what="hub subscribed")

        async def stored() -> set[str]:
            return {s.key for s in await hub.run_store(hub.store.signals)}

        async def has(*keys: str) -> bool:
            return set(keys) <= await stored()

        agent = Agent(config=config)
        agent.start()
        try:
            await async_wait_for(
                lambda: has("Generator.Square", "Trace.Trace"), timeout=60, what="plugin signals"
            )
            # the Generator's own timer rate (10 Hz) replaced the configured 1 Hz
            assert agent.scheduler.runner("Generator").samplerate == 10.0
            # its parameters and functions, announced to the hub from the running plugin
            await async_wait_for(
                lambda: (
                    hub.agents.device("Generator") is not None
                    and bool(hub.agents.device("Generator").get("functions"))
                ),
                timeout=30,
                what="Generator described",
            )
            gen = hub.agents.device("Generator")
            params = {p["name"]: p for p in gen["params"]}
            assert params["gen_level"]["value"] == 2.0  # from the config, set after start
            assert params["offset"]["doc"] == "Y-Offset of selected signal"
            functions = {f["name"]: f for f in gen["functions"]}
            assert {"setFrequency", "changeType", "setColor"} <= set(functions)
            assert "stream" not in functions and "samplerate" not in params
            assert [a["name"] for a in functions["setFrequency"]["args"]] == ["freq", "inverse"]
            # the Square wave: offset 1, high = gen_level + offset = 3
            hist = await hub.history("Generator", "Square", None, None, None)
            assert set(map(float, hist.y)) <= {1.0, 3.0} and len(hist.y) > 0

            # a function call and a parameter set through the hub, into the plugin
            res = await hub.send_command("Generator", "call", "changeType", ["Sinus"], timeout=10)
            assert res["ok"], res
            await async_wait_for(lambda: has("Generator.Sinus"), timeout=30, what="Sinus")
            res = await hub.send_command("Generator", "set", "offset", 5, timeout=10)
            assert res["ok"] and res["result"] == 5.0, res
            res = await hub.send_command("Generator", "get", "offset", timeout=10)
            assert res["result"] == 5.0
            res = await hub.send_command("Generator", "call", "setFrequency", ["x"], timeout=10)
            assert not res["ok"] and "freq takes a number" in res["error"]
            # the persistent variable the plugin saved (changeType) is in RTOC's file format
            assert '"_sname": "Sinus"' in persistent.read_text()

            # plot(): every plotted point stored with the plot's x as its time
            trace = await hub.history("Trace", "Trace", None, None, None)
            ys = sorted(map(float, trace.y))  # each tick plots 4 new points: none lost
            assert len(ys) >= 8 and len(ys) % 4 == 0 and ys == [float(i) for i in range(len(ys))]
            assert len(set(map(float, trace.x))) == len(ys)
            # event(): the plugin's id arrives as sent (trusted agent)
            res = await hub.send_command("Trace", "call", "setThreshold", [0], timeout=10)
            assert res["ok"] and res["result"] == 0.0, res

            async def trace_event() -> list:
                evs = await hub.run_store(hub.store.events)
                return [e for e in evs if e.event_id == "traceHigh"]

            await async_wait_for(trace_event, timeout=30, what="the plugin's event stored")
            (ev,) = await trace_event()
            assert (ev.device, ev.signal, ev.priority, ev.text) == (
                "Trace",
                "Trace",
                1,
                "Trace high",
            )

            # RTOC's System plugin needs its GUI: headless its thread dies at once (in RTOC
            # silently); here the device reports it
            def system_error() -> str:
                dev = hub.agents.device("System") or {}
                return str(dev.get("error") or "")

            await async_wait_for(
                lambda: "threads have ended" in system_error(), timeout=30, what="System error"
            )
            assert "cpuStatCheck" in system_error()
            assert "getData" in {f["name"] for f in hub.agents.device("System")["functions"]}
        finally:
            agent.stop(drain=2.0)
        assert await hub.run_store(hub.store.rejected_count) == 0
