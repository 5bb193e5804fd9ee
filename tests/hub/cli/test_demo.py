"""`opencontrol demo`: runs the whole system, shows samples arriving, stops cleanly on Ctrl-C."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

from hub.cli.demo import _port_free, new_password
from hub.client import OpenControlClient
from tests.ansible.mqttc import login_refused
from tests.fixtures.net import free_port, wait_for

REPO = Path(__file__).resolve().parents[3]


async def _latest(port: int, user: str, password: str) -> dict:
    url = f"ws://127.0.0.1:{port}"
    async with OpenControlClient(url, user=user, user_password=password) as client:
        return await client.latest()


def _start_demo(tmp_path: Path, ws_port: int, *extra: str) -> subprocess.Popen[str]:
    args = ["--data-dir", str(tmp_path), "--ws-port", str(ws_port)]
    return subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "demo", *args, "--mqtt-port", str(free_port()), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO,
    )


def test_demo_shows_samples_arriving_and_stops_cleanly(tmp_path: Path) -> None:
    ws_port = free_port()
    proc = _start_demo(tmp_path, ws_port)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")))
    reader.start()
    try:
        stored = re.compile(
            r"agents online 1 \| signals (\d+) \| +([\d.]+) samples/s \| stored (\d+)"
        )

        def arriving() -> bool:
            found = [stored.search(x) for x in list(lines)]
            found = [m for m in found if m]
            return bool(found) and float(found[-1].group(2)) > 0 and int(found[-1].group(3)) > 0

        wait_for(arriving, timeout=60, what="status line with samples arriving")
        out = "".join(lines)
        assert f"ws://127.0.0.1:{ws_port}" in out and str(tmp_path) in out
        assert "mqtt://127.0.0.1:" in out
        # The agent got in with the login the demo made for it; nobody else does.
        wait_for(lambda: "| mqtt ok" in "".join(lines), timeout=30, what="mqtt ok")
        agent_toml = (tmp_path / "agent.toml").read_text()
        assert 'username = "demo-agent"' in agent_toml
        assert (tmp_path / "agent.toml").stat().st_mode & 0o077 == 0
        port = int(re.search(r"mqtt://127\.0\.0\.1:(\d+)", out).group(1))
        assert login_refused(port, None, None)
        # The printed login opens the websocket API (nothing is open without it).
        user, password = re.search(r"login \(admin\): +(\S+) / (\S+)", out).groups()
        latest = asyncio.run(_latest(ws_port, user, password))
        assert "Generator.Square" in latest and "Generator.Sinus" in latest
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(30)
        reader.join(5)
    out = "".join(lines)
    assert code == 0, out[-2000:]
    final = re.search(r"stopped\. (\d+) samples stored", out)
    assert final is not None, out[-2000:]
    last_status = [m for m in (stored.search(x) for x in lines) if m][-1]
    # Everything counted as stored while running is in the file after the stop.
    assert int(final.group(1)) >= int(last_status.group(3))


def test_demo_reads_simulated_instruments_with_the_real_drivers(tmp_path: Path) -> None:
    ws_port = free_port()
    sims = ("modbus", "heliotherm", "dps5020", "vc820", "http_json")
    proc = _start_demo(tmp_path / "new", ws_port, *(a for s in sims for a in ("--sim", s)))
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")))
    reader.start()
    try:
        wait_for(lambda: "login (admin)" in "".join(lines), timeout=60, what="demo banner")
        user, password = re.search(r"login \(admin\): +(\S+) / (\S+)", "".join(lines)).groups()

        def boiler() -> list | None:
            latest = asyncio.run(_latest(ws_port, user, password))
            return latest.get("Boiler.Temperature")

        _x, y, unit = wait_for(boiler, timeout=60, what="simulated boiler temperature")[:3]
        assert unit == "°C" and 17.0 <= y <= 23.0  # 20.0 +- 3.0 as the simulator holds it
        # Every other instrument arrives too (serial ones on ptys in <data_dir>/sim-<name>).
        wanted = (
            "Heliotherm.Ruecklauf-Speichersolltemperatur",
            "DPS5020.VOut",
            "HoldPeak.Spannung",
            "Printer.Hotend",
        )

        def all_there() -> bool:
            latest = asyncio.run(_latest(ws_port, user, password))
            return all(k in latest for k in wanted)

        wait_for(all_there, timeout=60, what=f"{wanted} in the latest values")

        def status_lines() -> list[str]:
            return [x for x in lines if "agents online" in x]

        status = wait_for(status_lines, timeout=60, what="a status line")[-1]
        assert "rejected 0 " in status, status
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(30)
        reader.join(5)
    assert code == 0, "".join(lines)[-2000:]


def test_demo_with_an_unknown_simulator_says_so(tmp_path: Path) -> None:
    proc = _start_demo(tmp_path, free_port(), "--sim", "toaster")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "unknown simulator 'toaster'" in out


def test_a_port_in_time_wait_counts_as_free() -> None:
    """A demo run again right after one with websocket clients finds its port free."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        conn, _ = server.accept()
        conn.close()  # the server side closes first: its end waits in TIME_WAIT
        wait_for(lambda: client.recv(1) == b"", what="close seen")
        client.close()
    # TIME_WAIT on the port: the state that used to count as taken
    wait_for(lambda: f":{port:04X} " in _time_wait_sockets(), what="TIME_WAIT")
    assert _port_free(port)
    with socket.socket() as busy:
        busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        busy.bind(("127.0.0.1", port))
        busy.listen()
        assert not _port_free(port)  # a listener still makes it taken


def _time_wait_sockets() -> str:
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return "".join(f"{x.split()[1][-5:]} " for x in lines if x.split()[3] == "06")


def test_demo_passwords_never_start_with_a_dash_and_pass_the_command_line() -> None:
    from hub.cli import build_parser

    parser = build_parser()
    for _ in range(500):  # token_urlsafe started with '-' one time in 64
        pw = new_password()
        assert len(pw) >= 12 and pw.isalnum()
        args = parser.parse_args(["ws", "--user", "admin", "--user-password", pw, "latest"])
        assert args.user_password == pw
