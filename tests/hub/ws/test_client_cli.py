"""The asyncio client and `opencontrol ws …` against a real server (clear, password, TLS)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from hub.app import Hub
from hub.client import ClientError, OpenControlClient
from hub.users import load_users
from tests.hub.ws.tls import make_cert


async def test_client_in_password_mode(ws_factory, hub: Hub) -> None:
    server = await ws_factory(password="geheim", push_interval=0.0)
    async with OpenControlClient(server.url, "geheim") as c:
        await c.send_values("Lab", {"T": 20.5, "P": 1013.0}, unit={"T": "°C"})
        assert sorted(await c.signal_list()) == ["Lab.P", "Lab.T"]
        latest = await c.latest(["Lab.T"])
        assert latest["Lab.T"][1:] == [20.5, "°C"]
        await c.subscribe("Lab.T")
        news = [await c.next_push(30), await c.next_push(30)]  # the two new-signal pushes
        assert {p["signal"]["sname"] for p in news} == {"T", "P"}
        hub.signals.append("Lab", "T", [1e9], [21.0])
        push = await c.next_push(30)
        assert push["signal"]["x"] == [1e9] and push["signal"]["y"] == [21.0]
        with pytest.raises(ClientError, match=r"unknown signal 'No\.pe'"):
            await c.latest(["No.pe"])
        _, ys, unit, *_ = await c.get_signal("Lab.T", database=False)
        assert ys[-1] == 21.0 and unit == "°C"


async def test_client_wrong_password_is_refused(ws_factory) -> None:
    server = await ws_factory(password="geheim")
    with pytest.raises(ClientError, match="authorization refused"):
        async with OpenControlClient(server.url, "wrong", timeout=30):
            pass


async def test_client_over_verified_tls(ws_factory, hub: Hub, tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    server = await ws_factory(tls_cert=str(cert), tls_key=str(key))
    assert server.url.startswith("wss://127.0.0.1:")
    hub.signals.append("S", "x", [1.0], [2.0])
    async with OpenControlClient(server.url, ca_file=str(cert)) as c:
        assert await c.latest() == {"S.x": [1.0, 2.0, "", hub.signals.get("S.x").id, 1.0, 1.0]}
    with pytest.raises(OSError):  # an unknown certificate is refused by default
        async with OpenControlClient(server.url, timeout=3):
            pass


async def _cli(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub.cli",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


async def test_cli_latest_signals_get_subscribe(ws_factory, hub: Hub) -> None:
    server = await ws_factory(password="pw", push_interval=0.0)
    hub.signals.append("Dev", "A", [1.0, 2.0, 3.0], [10.0, 20.0, 30.0], "V")
    base = ["ws", "--url", server.url, "--password", "pw"]
    code, out, err = await _cli(*base, "signals")
    assert (code, out) == (0, "Dev.A\n"), err
    code, out, err = await _cli(*base, "--json", "latest")
    assert code == 0, err
    assert json.loads(out)["Dev.A"][:3] == [3.0, 30.0, "V"]
    code, out, err = await _cli(*base, "get", "Dev.A", "--memory", "--xmin", "2")
    assert (code, out) == (0, "x,Dev.A [V]\n2.0,20.0\n3.0,30.0\n"), err
    sub = asyncio.create_task(_cli(*base, "subscribe", "Dev.A", "--count", "3"))
    while not any(s.signal_subs for s in server.state.sessions.values()):
        await asyncio.sleep(0.02)
        assert not sub.done(), await sub
    hub.signals.append("Dev", "A", [4.0, 5.0, 6.0], [1.0, 2.0, 3.0])
    code, out, err = await sub
    assert code == 0, err
    assert out.splitlines() == ["4.0\tDev.A\t1.0", "5.0\tDev.A\t2.0", "6.0\tDev.A\t3.0"]
    code, out, err = await _cli("ws", "--url", server.url, "--password", "bad", "signals")
    assert code == 1 and "authorization refused" in err


async def test_cli_users(tmp_path: Path, hub: Hub) -> None:
    cfg = tmp_path / "hub.toml"
    cfg.write_text(f'[hub]\ndata_dir = "{tmp_path / "data"}"\n')
    env = {"OPENCONTROL_NEW_PASSWORD": "secret-pass-1"}
    assert (await _cli("ws", "users", "--config", str(cfg), "add", "ann", env=env))[0] == 0
    assert (await _cli("ws", "users", "--config", str(cfg), "add", "bob", env=env))[0] == 0
    code, _, err = await _cli("ws", "users", "--config", str(cfg), "add", "bob", env=env)
    assert code == 1 and "exists" in err
    await _cli("ws", "users", "--config", str(cfg), "set", "bob", "--permission", "write")
    code, out, _ = await _cli("ws", "users", "--config", str(cfg), "list")
    assert out == "ann\tadmin\nbob\twrite\n"
    # the same document read through a hub on that store
    from hub.db.sqlite import SQLiteStore

    store = SQLiteStore(path=tmp_path / "data" / "opencontrol.sqlite")
    store.open()
    hub.store, old = store, hub.store
    try:
        users = await load_users(hub)
        assert users.verify("bob", "secret-pass-1") is not None
    finally:
        hub.store = old
        store.close()
