"""`opencontrol hub`: a broken config or a taken port ends with one clear line, no traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def run_hub(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args], capture_output=True, text=True, cwd=REPO, timeout=60
    )


def test_unknown_key_is_refused_naming_file_and_key(tmp_path: Path) -> None:
    cfg = tmp_path / "hub.toml"
    cfg.write_text("[mqtt]\nprot = 1883\n")
    out = run_hub("-c", str(cfg))
    assert out.returncode == 2
    assert f"{cfg}: unknown key 'mqtt.prot'" in out.stderr and "Traceback" not in out.stderr


def test_bad_toml_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "hub.toml"
    cfg.write_text("[hub\n")
    out = run_hub("-c", str(cfg), "--check")
    assert out.returncode == 2 and "not valid TOML" in out.stderr


def test_taken_broker_port_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = tmp_path / "hub.toml"
        cfg.write_text(
            f'[hub]\ndata_dir = "{tmp_path}"\n[mqtt]\nport = {port}\n[websocket]\nenabled = false\n'
        )
        out = run_hub("-c", str(cfg))
    assert out.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr and "Traceback" not in out.stderr


def opencontrol(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed console script, as the README has the user type it."""
    exe = str(Path(sys.executable).with_name("opencontrol"))
    return subprocess.run([exe, *args], capture_output=True, text=True, cwd=REPO, timeout=60)


def test_agent_command_takes_the_agent_options(tmp_path: Path) -> None:
    cfg = tmp_path / "agent.toml"
    cfg.write_text((REPO / "examples" / "agent.toml").read_text())
    out = opencontrol("agent", "-c", str(cfg), "--check")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"{cfg}: OK (agent ")
    helped = opencontrol("agent", "--help")
    assert "-c CONFIG, --config CONFIG" in helped.stdout and "--check" in helped.stdout
    cfg.write_text(cfg.read_text().replace("[agent]", "[agent]\ncolour = 1"))
    bad = opencontrol("agent", "-c", str(cfg), "--check")
    assert bad.returncode == 2 and "agent.colour" in bad.stderr


def test_hub_check_without_a_config_checks_the_defaults() -> None:
    out = opencontrol("hub", "--check")
    assert out.returncode == 0 and out.stdout == "built-in defaults: OK\n"
