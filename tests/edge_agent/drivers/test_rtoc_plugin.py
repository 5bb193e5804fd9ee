"""The rtoc_plugin driver against plugin files written in RTOC's API (the published plugins
run through the agent and the hub in tests/e2e/test_rtoc_plugins.py)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from edge_agent.drivers.base import DriverError
from edge_agent.drivers.rtoc_plugin import RtocPluginDriver
from edge_agent.scheduler import DriverRunner

HEAD = """\
try:
    from LoggerPlugin import LoggerPlugin
except ImportError:
    from RTOC.LoggerPlugin import LoggerPlugin
from PyQt5 import QtWidgets  # most plugins import it even headless
import time

"""


class Events:
    def __init__(self) -> None:
        self.got: list[dict[str, Any]] = []

    def __call__(self, text: str, **kw: Any) -> None:
        self.got.append({"text": text, **kw})


def driver(tmp_path: Path, body: str, **kw: Any) -> tuple[RtocPluginDriver, Events]:
    path = tmp_path / "devices" / "Dev" / "Dev.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEAD + body)
    events = Events()
    extra = {"plugin": str(path), **kw.pop("extra", {})}
    return RtocPluginDriver(device="Dev", extra=extra, events=events, **kw), events


FORMS = """\
class Plugin(LoggerPlugin):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setDeviceName("Freezer")
        self.setPerpetualTimer(self._tick, samplerate=5)
        self.start()

    def _tick(self):
        self.stream(1.5, "A", unit="V")
        self.stream([2, 3], ["B", "C"], unit=["V", "A"], x=[100.0, 101.0])
        self.stream(slist=[[4, "D", "W"], [5, "E"]])           # the second is malformed
        self.stream(sdict={"Freezer": {"F": [6, "K"]}, "Other": {"G": [7, ""], "H": 8}})
        self.plot([200.0, 201.0], [9, 10], sname="P", unit="m")
        self.plot([11, 12], sname="Q")                        # y only: no times
        self.event("hello", sname="A", priority=1, value=3)
        self.event("custom", id="myId", x=300.0, priority=7)
"""


def test_stream_plot_and_event_forms(tmp_path: Path) -> None:
    drv, events = driver(tmp_path, FORMS)
    runner = DriverRunner(driver=drv, samplerate=1, wall=lambda: 1000.0)
    samples = runner.poll()
    got = {(d, s): (u, t, y) for d, s, u, t, y in samples}
    assert got == {
        ("Dev", "A"): ("V", 1000.0, 1.5),  # the plugin's own device is the configured one
        ("Dev", "B"): ("V", 100.0, 2.0),
        ("Dev", "C"): ("A", 101.0, 3.0),
        ("Dev", "D"): ("W", 1000.0, 4.0),
        ("Dev", "F"): ("K", 1000.0, 6.0),
        ("Other", "G"): ("", 1000.0, 7.0),  # another dname stays a device of its own
        ("Dev", "P"): ("m", 201.0, 10.0),
    }
    assert [(s, t) for d, s, u, t, y in samples if s == "P"] == [("P", 200.0), ("P", 201.0)]
    assert runner.samplerate == 5.0  # the plugin's timer rate
    sha = hashlib.sha1(b"AFreezerhello").hexdigest()  # RTOC's id: sname + dname + text
    assert events.got[0] == {
        "text": "hello",
        "signal": "A",
        "priority": 1,
        "value": 3,
        "device": "Dev",
        "event_id": sha,
        "time": None,
    }
    assert events.got[1]["event_id"] == "myId" and events.got[1]["priority"] == 0
    assert events.got[1]["time"] == 300.0 and events.got[1]["signal"] == "unknownEvent"


FAILING = """\
class Plugin(LoggerPlugin):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.n = 0
        self.setPerpetualTimer(self._tick, interval=0.5)
        self.start()

    def _tick(self):
        self.n += 1
        if self.n == 2:
            raise ValueError("bad value")
        self.stream(float(self.n), "N")

    def pause(self):
        return self.cancel()

    def resume(self):
        return self.start()
"""


def test_a_failing_tick_is_a_failed_read_and_the_timer_goes_on(tmp_path: Path) -> None:
    drv, _ = driver(tmp_path, FAILING)
    runner = DriverRunner(driver=drv, samplerate=1, max_backoff=0.0)
    assert [s[4] for s in runner.poll()] == [1.0]
    assert runner.samplerate == 2.0  # interval 0.5 s
    assert runner.poll() == [] and not runner.available
    assert "ValueError: bad value (at Dev.py:" in str(runner.stats.last_error)
    assert [s[4] for s in runner.poll()] == [3.0] and runner.available  # RTOC's timer died here
    assert drv.call("pause", []) is True
    assert runner.poll() == []  # cancel(): no ticks
    drv.call("resume", [])
    assert [s[4] for s in runner.poll()] == [4.0]


PARAMS = """\
class Plugin(LoggerPlugin):
    \"\"\"A freezer with a limit.\"\"\"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setDeviceName("Freezer")
        self.limit = self.initPersistentVariable("limit", -18)
        self.label = "box"
        self.enabled = True
        self.readings = [1, 2]           # a list: not a parameter
        self.__doc_limit__ = "Alarm above this"
        self._private = 1

    @property
    def ro(self):
        return 5

    def setLimit(self, value: float, save: bool = True):
        \"\"\"Set the limit.\"\"\"
        self.limit = value
        if save:
            self.savePersistentVariable("limit", value)
        return value

    def anything(self, a, b=2):
        return [a, b]
"""


def test_parameters_functions_and_persistent_variables(tmp_path: Path) -> None:
    store = tmp_path / "persistentVariables.json"
    store.write_text(json.dumps({"Freezer": {"limit": -20}}))
    drv, _ = driver(tmp_path, PARAMS, params={"label": "chest"}, extra={"persistent": str(store)})
    assert drv.spec.params == ()  # learnt from the plugin once it runs
    drv.open()
    params = {p.name: p for p in drv.spec.params}
    assert set(params) == {"limit", "label", "enabled", "ro"}
    assert params["limit"].doc == "Alarm above this" and params["limit"].type is float
    assert not params["ro"].writable and params["enabled"].type is bool
    assert drv.params["limit"] == -20 and drv.params["label"] == "chest"  # file, then config
    assert drv.spec.description == "A freezer with a limit."
    fns = {f.name: f for f in drv.spec.functions}
    assert set(fns) == {"setLimit", "anything"}
    assert [(a.name, a.type, a.required) for a in fns["setLimit"].args] == [
        ("value", float, True),
        ("save", bool, False),
    ]
    assert drv.call("setLimit", [-15]) == -15.0
    assert json.loads(store.read_text()) == {"Freezer": {"limit": -15.0}}
    assert drv.params["limit"] == -15.0
    assert drv.call("anything", {"a": [1, "x"]}) == [[1, "x"], 2]  # untyped: as given
    with pytest.raises(DriverError, match="value takes a number"):
        drv.call("setLimit", ["warm"])
    with pytest.raises(DriverError, match="no function 'close'"):
        drv.call("close", [])
    with pytest.raises(DriverError, match="read-only"):
        drv.set_param("ro", 1)
    assert drv.set_param("limit", -10) == -10.0
    assert json.loads(store.read_text()) == {"Freezer": {"limit": -10.0}}  # persistent: saved


def test_a_plugin_that_cannot_start_says_why(tmp_path: Path) -> None:
    drv, _ = driver(tmp_path, "class Plugin(LoggerPlugin):\n    def __init__(self):\n"
                    "        super().__init__()\n        import no_such_module\n")  # fmt: skip
    runner = DriverRunner(driver=drv, samplerate=1)
    assert runner.poll() == []
    assert "failed to start: ModuleNotFoundError" in str(runner.stats.last_error)
    missing = RtocPluginDriver(device="X", extra={"plugin": str(tmp_path / "nope.py")})
    with pytest.raises(DriverError, match="does not exist"):
        missing.open()
    with pytest.raises(DriverError, match="needs plugin"):
        RtocPluginDriver(device="X", extra={})


def test_the_agent_loads_the_shim_only_for_rtoc_plugins() -> None:
    code = (
        "import sys, edge_agent.agent, edge_agent.drivers.rtoc_plugin\n"
        "from edge_agent.drivers.registry import available\n"
        "available()\n"
        "print(sorted(m for m in sys.modules if 'rtoc_shim' in m or m.startswith('PyQt5')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
