"""RTOC 3.0's own RTWebsocketClient (Python 3.8, websocket-client 0.57) against the hub.

Only RTOC/RTLogger/RTWebsocketClient.py and RTWebsocket.py are taken from the RTOC 3.0
wheel. Set-up once with tests/rtoc_client/setup_env.sh; without it the test is skipped.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from hub.app import Hub
from tests.hub.ws.tls import make_cert

CACHE = Path(os.environ.get("OPENCONTROL_RTOC_CACHE", Path.home() / ".cache" / "opencontrol-rtoc"))
PY38 = CACHE / "venv38" / "bin" / "python"
WHEEL = CACHE / "wheels" / "RTOC-3.0-py3-none-any.whl"
DRIVER = Path(__file__).with_name("driver.py")
MEMBERS = ("RTOC/RTLogger/RTWebsocketClient.py", "RTOC/RTLogger/RTWebsocket.py")


@pytest.fixture(scope="module")
def rtoc_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two client files of RTOC 3.0, extracted alone."""
    if not PY38.exists() or not WHEEL.exists():
        pytest.skip(
            f"RTOC 3.0 client environment missing ({PY38}, {WHEEL}): "
            "run tests/rtoc_client/setup_env.sh once (needs Python 3.8 and PyPI)"
        )
    out = tmp_path_factory.mktemp("rtoc")
    with zipfile.ZipFile(WHEEL) as whl:
        for member in MEMBERS:
            (out / Path(member).name).write_bytes(whl.read(member))
    return out


async def _run(rtoc_dir: Path, host: str, port: int, password: str | None, ssl: bool) -> dict:
    proc = await asyncio.create_subprocess_exec(
        str(PY38),
        str(DRIVER),
        str(rtoc_dir),
        host,
        str(port),
        password or "-",
        "1" if ssl else "0",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0, err.decode()[-3000:]
    lines = [ln for ln in out.decode().splitlines() if ln.startswith("{")]
    assert lines, f"no result from the RTOC client: {out.decode()[-2000:]} {err.decode()[-2000:]}"
    return json.loads(lines[-1])


def _check(result: dict, hub: Hub) -> None:
    got = result["got"]
    for step in (
        "authorized",
        "stream_pushes",
        "signalList",
        "pluginList",
        "subscribed_data",
        "plugin",
        "signals",
        "latest",
        "error_reported",
    ):
        assert result[step] is True, f"RTOC client step {step!r} failed; received {got}"
    new = [s for s in got["signal"] if s["dname"] == "RTOC"]
    assert {s["sname"] for s in new} == {"T", "H"} and all(s["x"] == [] for s in new)
    assert ["RTOC", "T"] in got["signalList"][-1]
    plugins = got["pluginList"][-1]
    assert "setFrequency" in [f[0] for f in plugins["Gen"]["functions"]]
    data = [s for s in got["signal"] if s["dname"] == "Gen" and s["x"]]
    assert data[0]["sname"] == "Square" and len(data[0]["x"]) == len(data[0]["y"])
    assert got["plugin"][-1] == {"Gen": {"setFrequency()": [True, 3.0], "get": 3.0}}
    xs, ys, unit = got["signals"][-1]["RTOC.T"][:3]
    assert ys == [21.5] and unit == "°C" and len(xs) == 1
    assert got["latest"][-1]["RTOC.H"][1:] == [40.0, "%"]
    assert hub.signals.get("RTOC.T").latest()[1] == 21.5


async def _agent_ready(hub: Hub) -> None:
    from tests.fixtures.net import async_wait_for

    await async_wait_for(
        lambda: (hub.agents.device("Gen") or {}).get("running"), what="agent's Gen running"
    )


async def test_rtoc_client_without_password(rtoc_dir: Path, ws_factory, hub: Hub, agent) -> None:
    server = await ws_factory(push_interval=0.05)
    await _agent_ready(hub)
    _check(await _run(rtoc_dir, "127.0.0.1", server.port, None, False), hub)


async def test_rtoc_client_with_password(rtoc_dir: Path, ws_factory, hub: Hub, agent) -> None:
    # RTOC's client encrypts unless it dials 127.0.0.1/localhost: dial 127.0.0.2
    server = await ws_factory(host="127.0.0.2", password="geheim", push_interval=0.05)
    await _agent_ready(hub)
    _check(await _run(rtoc_dir, "127.0.0.2", server.port, "geheim", False), hub)


async def test_rtoc_client_with_password_over_tls(
    rtoc_dir: Path, ws_factory, hub: Hub, agent, tmp_path: Path
) -> None:
    cert, key = make_cert(tmp_path / "tls")
    server = await ws_factory(
        host="127.0.0.2", password="geheim", tls_cert=str(cert), tls_key=str(key)
    )
    await _agent_ready(hub)
    _check(await _run(rtoc_dir, "127.0.0.2", server.port, "geheim", True), hub)
    assert server.url.startswith("wss://")
