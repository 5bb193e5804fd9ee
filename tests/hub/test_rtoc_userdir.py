"""`opencontrol import rtoc DIR`: a user folder made by RTOC 3.0's own code, imported into a
hub whose events fire and whose actions run as they did in RTOC.

RTOC's part runs under Python 3.8 (tests/rtoc_client/make_userdir.py, from the RTOC 3.0
wheel in the cache tests/rtoc_client/setup_env.sh fills; skipped, saying why, without it).
It writes the folder with RTOC's own classes and records which events RTOC raised and what
its actions streamed for a sequence of temperatures; the hub gets the same sequence.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from hub.bootstrap import running_hub
from hub.config import load_hub_config
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for
from tests.hub.conftest import run_opencontrol

CACHE = Path(os.environ.get("OPENCONTROL_RTOC_CACHE", Path.home() / ".cache" / "opencontrol-rtoc"))
PY38 = CACHE / "venv38" / "bin" / "python"
WHEEL = CACHE / "wheels" / "RTOC-3.0-py3-none-any.whl"
MAKER = Path(__file__).parents[1] / "rtoc_client" / "make_userdir.py"
VALUES = [-20.0, -15.0, -5.0, -3.0, -12.0, -18.0, -2.0, -1.0, -25.0]
PLUGIN = """\
from LoggerPlugin import LoggerPlugin


class Plugin(LoggerPlugin):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.setDeviceName("Freezer")
        self.limit = -18
        self.setPerpetualTimer(self._tick, samplerate=1)
        self.start()

    def _tick(self):
        self.stream([self.limit], ["Temperature"], unit=["\\u00b0C"])
"""


@pytest.fixture(scope="module")
def rtoc_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """(user folder, what RTOC did with VALUES)."""
    if not PY38.exists() or not WHEEL.exists():
        pytest.skip(
            f"RTOC 3.0 environment missing ({PY38}, {WHEEL}): run "
            "tests/rtoc_client/setup_env.sh once (needs Python 3.8 and PyPI)"
        )
    base = tmp_path_factory.mktemp("rtoc")
    with zipfile.ZipFile(WHEEL) as whl:
        whl.extractall(base / "wheel", [n for n in whl.namelist() if n.startswith("RTOC/")])
    userdir = base / ".RTOC"
    proc = subprocess.run(
        [str(PY38), str(MAKER), str(base / "wheel"), str(userdir), json.dumps(VALUES)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1])
    plugin = userdir / "devices" / "Freezer" / "Freezer.py"
    plugin.parent.mkdir(parents=True)
    plugin.write_text(PLUGIN)
    (userdir / "autorun_devices").write_text("Freezer\n")
    return userdir, result


def _hub_toml(tmp_path: Path, mosquitto: Mosquitto, prefix: str) -> Path:
    path = tmp_path / "hub.toml"
    path.write_text(
        f'[hub]\ndata_dir = "{tmp_path / "hub"}"\nid = "hub-{prefix}"\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {mosquitto.port}\nprefix = "{prefix}"\n'
        "[websocket]\nenabled = false\n"
    )
    return path


async def test_rtoc_folder_imported_events_fire_and_actions_run_as_in_rtoc(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str, rtoc_run: tuple[Path, dict[str, Any]]
) -> None:
    userdir, rtoc = rtoc_run
    # RTOC raised these for VALUES (first evaluation counts as a rising edge)
    assert [e[0] for e in rtoc["events"]] == ["freezerOk", "freezerWarm"] * 2 + ["freezerOk"]
    assert rtoc["alarm"] == [0.0, 1.0, 0.0, 1.0, 0.0]
    cfg = _hub_toml(tmp_path, mosquitto, prefix)

    dry = run_opencontrol("import", "rtoc", str(userdir), "--dry-run", "-c", str(cfg))
    assert dry.returncode == 0, dry.stderr
    out = dry.stdout
    for line in ("+ event tooWarm", "+ event cold", "+ action alarmOn", "+ user action Alarm?",
                 "+ telegram user 1001 (Ada L): admin", "~ automation: actions on, events on",
                 "record_length = 100000", 'driver = "rtoc_plugin"',
                 f'plugin = "{userdir / "devices" / "Freezer" / "Freezer.py"}"',
                 "enabled = true  # autorun_devices", "trusted_event_agents = ["):  # fmt: skip
        assert line in out, f"{line!r} missing from:\n{out}"
    assert "would change" in out
    assert "- event shell: unknown function os.path.exists" in out  # refused, with the reason
    assert "- telegram action 'Shell': the statement Import is not allowed" in out
    assert "+ user action Camera" in out  # imported, the picture path named for the operator
    assert (
        "- telegram action 'Camera' answers with the picture '/home/pi/cam.jpg': imported, but "
        "copy the file into the hub's <config_dir>/pictures and return its name"
    ) in out
    again = run_opencontrol("import", "rtoc", str(userdir), "--dry-run", "-c", str(cfg))
    assert again.stdout == out  # the dry run wrote nothing

    done = run_opencontrol("import", "rtoc", str(userdir), "-c", str(cfg))
    assert done.returncode == 0, done.stderr
    assert "changed in the hub's store:" in done.stdout and "+ event tooWarm" in done.stdout
    twice = run_opencontrol("import", "rtoc", str(userdir), "-c", str(cfg))
    assert "changed in the hub's store: nothing" in twice.stdout
    assert "already in the hub: event myevent1, event tooWarm" in twice.stdout

    bad = run_opencontrol("import", "rtoc", str(tmp_path / "nowhere"), "-c", str(cfg))
    assert bad.returncode == 2 and "not a directory" in bad.stderr

    async with running_hub(load_hub_config(cfg)) as hub:
        await async_wait_for(lambda: hub.ingest.subscribed, what="hub subscribed")
        engine = hub.engine
        await async_wait_for(lambda: "tooWarm" in engine.events.events, what="events loaded")
        assert {"tooWarm", "cold", "myevent1"} <= set(engine.events.events)
        assert "shell" not in engine.events.events
        assert engine.events_active and engine.actions_active
        t0 = time.time()
        for i, v in enumerate(VALUES):
            hub.ingest_local("Freezer", "Temperature", [t0 + i * 0.01], [v], "°C")
            await asyncio.sleep(0)
            await engine.wait_idle()

        async def alarm() -> list[float]:
            try:
                hist = await hub.history("Alarm", "State", None, None, None)
            except Exception:
                return []
            return [float(y) for y in hist.y]

        await async_wait_for(
            lambda: _len_at_least(alarm, len(rtoc["alarm"])), timeout=30, what="alarm values"
        )
        assert await alarm() == rtoc["alarm"]

        async def fired() -> list[list[Any]]:
            evs = await hub.run_store(hub.store.events)
            return [
                [e.event_id, e.text, e.device, e.signal, e.priority, e.value]
                for e in sorted(evs, key=lambda e: e.time)
                if e.event_id in ("freezerOk", "freezerWarm")
            ]

        await async_wait_for(
            lambda: _len_at_least(fired, len(rtoc["events"])), timeout=30, what="events stored"
        )
        assert await fired() == rtoc["events"]

        res = await engine.run_user_action("Alarm?")
        assert res.ok and res.value == ("text", "Alarm is 0.0"), res
        users = await hub.run_store(hub.store.get_doc, "telegram_users")
        assert users["users"]["1001"]["permission"] == "admin"
        assert users["users"]["1002"]["eventlevel"] == 2
        assert users["settings"]["inline_menu"] is True


async def _len_at_least(fn: Any, n: int) -> bool:
    return len(await fn()) >= n
