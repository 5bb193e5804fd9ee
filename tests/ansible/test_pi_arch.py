"""The edge_agent role applied for real to a Raspberry Pi's OS and CPU, emulated.

Debian bookworm arm64 (Pi 3/4/5 with a 64-bit OS) and armhf (32-bit, ARMv7) roots are
bootstrapped once and cached like the amd64 one (rootfs.py); their binaries run under
qemu-user through binfmt_misc (binfmt.py). site.yml is applied twice to a fresh copy
(the second run must change nothing), then the agent the role installed is started as its
unit says, inside the root, on the emulated CPU, with a generator and a DPS5020 power
supply simulated on a pty (the USB serial adapter), and its samples must reach a hub
running on this machine. The devices need only pure-Python libraries (the `serial`
extra), so the wheelhouse is built once on the host and pip installs offline; what needs
a compiler on which CPU is in docs/pi.md and the role's `edge_agent_extras_built_on_host`.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rigs import procs
from simulators.modbus_server import RegisterBank
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import wait_for
from tests.fixtures.sim import RtuRig

from . import binfmt, chroot_procs, rootfs
from .mqttc import Collector
from .provision import (
    Applied,
    apply_twice,
    assert_idempotent,
    chroot_vars,
    install_wheelhouse,
    snapshot,
)

pytestmark = [
    pytest.mark.slow,
    # A safety net, not a budget: building a root from empty caches runs debootstrap's
    # second stage emulated (10-40 minutes, by the machine's load), each apply 5-25.
    pytest.mark.timeout(5400),
]

# Debian architecture -> what `uname -m` says on it.
MACHINES = {"arm64": "aarch64", "armhf": "armv7l"}
SERIAL_IN_ROOT = "/dev/ttyUSB0"
# DPS5020 holding registers 0..9: VSet 12.00 V, ISet 1.50 A, VOut 11.99 V, IOut 0.52 A,
# POut 6.23 W, VIn 24.00 V, unlocked, no protection, CV mode, output on.
DPS_REGISTERS = [1200, 150, 1199, 52, 623, 2400, 0, 0, 0, 1]


@dataclass
class Pi:
    """A provisioned root of one CPU architecture."""

    arch: str
    root: Path
    prefix: str
    applied: Applied


def _machine(root: Path) -> str:
    result = subprocess.run(
        ["chroot", str(root), "python3", "-c", "import platform; print(platform.machine())"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _inventory(root: Path, arch: str, src: Path, prefix: str, broker: int) -> dict:
    return {
        "all": {
            "vars": chroot_vars(src, prefix, arch),
            "children": {
                "agents": {
                    "hosts": {
                        "pi": {
                            "ansible_host": str(root),
                            "edge_agent_mqtt_host": "127.0.0.1",
                            "edge_agent_mqtt_port": broker,
                            "edge_agent_settings": {"batch_max_age": 0.5, "status_interval": 2.0},
                            "edge_agent_devices": {
                                "PiGen": {
                                    "driver": "generator",
                                    "samplerate": 5,
                                    "params": {"gen_freq": 0.5},
                                },
                                "PSU": {
                                    "driver": "dps5020",
                                    "samplerate": 2,
                                    "params": {"serial_port": SERIAL_IN_ROOT, "unit": 1},
                                },
                            },
                        }
                    }
                }
            },
        }
    }


@pytest.fixture(params=sorted(MACHINES))
def pi(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, mosquitto: Mosquitto
) -> Iterator[Pi]:
    """A fresh root of the parametrized architecture with site.yml applied twice."""
    arch: str = request.param
    if os.geteuid() != 0:
        pytest.fail("applying the playbook to a chroot needs root; deselect with -m 'not slow'")
    missing = rootfs.missing_tools()
    if missing:
        pytest.fail(f"chroot tests need {', '.join(missing)} (apt-get install debootstrap)")
    try:
        binfmt.ensure(arch)
    except binfmt.Unsupported as exc:
        pytest.skip(f"cannot run {arch} code here: {exc}")
    work = tmp_path_factory.mktemp(f"pi-{arch}")
    t0 = time.monotonic()
    root = rootfs.restore(work / "root", arch)
    restored = time.monotonic() - t0
    try:
        assert _machine(root) == MACHINES[arch]  # really the Pi's CPU, emulated
        install_wheelhouse(root, ["serial"])
        prefix = f"t{os.urandom(4).hex()}"
        src = snapshot(work / "src")
        applied = apply_twice(_inventory(root, arch, src, prefix, mosquitto.port), work, limit="pi")
        print(f"{arch}: rootfs ready (restored or built) in {restored:.1f}s")
        yield Pi(arch, root, prefix, applied)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _stored(store: Path, device: str) -> dict[str, float]:
    """The latest value of each signal of `device` in the hub's SQLite store."""
    if not store.exists():
        return {}
    con = sqlite3.connect(store, timeout=10)
    try:
        rows = con.execute(
            "SELECT g.name, s.value FROM samples s JOIN signals g ON g.id = s.signal_id "
            "WHERE g.device = ? ORDER BY s.time",
            (device,),
        ).fetchall()
    except sqlite3.OperationalError:  # the hub has not made its schema yet
        return {}
    finally:
        con.close()
    return dict(rows)


def test_agent_provisioned_on_a_pi_cpu_reports_to_the_hub(
    pi: Pi, mosquitto: Mosquitto, tmp_path: Path
) -> None:
    assert_idempotent(pi.applied, "pi")
    root = pi.root
    # The agent's venv holds its drivers' pure-Python libraries; nothing was compiled.
    venv_names = chroot_procs.pip_names(root, "/opt/opencontrol/agent")
    assert {"opencontrol", "paho-mqtt", "pyserial", "minimalmodbus"} <= venv_names
    assert not {"psutil", "numpy", "adafruit-blinka"} & venv_names
    assert not (root / "usr/bin/gcc").exists()
    venv = root / "opt/opencontrol/agent"
    size = sum(f.stat().st_size for f in venv.rglob("*") if f.is_file() and not f.is_symlink())
    print(f"{pi.arch}: installed agent venv {size / 1e6:.1f} MB")

    hub_cfg = procs.write_hub_config(tmp_path / "hub.toml", port=mosquitto.port, prefix=pi.prefix)
    store = tmp_path / "hub-data" / "store.sqlite"
    watcher = Collector(port=mosquitto.port, username="", password="", topics=[f"{pi.prefix}/#"])
    bank = RegisterBank()
    bank.set(1, "holding", 0, DPS_REGISTERS)
    rig = RtuRig(tmp_path, bank).start()
    hub = procs.start("hub", hub_cfg, tmp_path / "hub.log")
    agent = None
    try:
        pty = os.path.realpath(rig.port)
        os.chmod(pty, 0o666)  # the agent runs as its unprivileged service user
        with chroot_procs.bind_device(root, pty, SERIAL_IN_ROOT):
            t0 = time.monotonic()
            agent = chroot_procs.start_unit(root, "opencontrol-agent", tmp_path / "agent.out")

            def logs() -> str:
                return "".join(
                    f"--- {n}\n{(tmp_path / n).read_text(errors='replace')[-3000:]}\n"
                    for n in ("agent.out", "hub.log")
                )

            try:
                wait_for(lambda: "VOut" in _stored(store, "PSU"), 300, "DPS5020 samples in the hub")
                first = time.monotonic() - t0
                wait_for(lambda: _stored(store, "PiGen"), 60, "generator samples in the hub")
            except TimeoutError as exc:
                raise AssertionError(f"{exc}\n{logs()}") from None
            print(f"{pi.arch}: agent start to first DPS5020 sample in the hub: {first:.1f}s")
        psu = _stored(store, "PSU")
        assert psu["VOut"] == pytest.approx(11.99) and psu["VIn"] == pytest.approx(24.0)
        assert psu["Output"] == 1
        status = json.loads(watcher.on(f"{pi.prefix}/pi/status")[-1])
        assert status["state"] == "online" and {"PiGen", "PSU"} <= set(status["devices"])
        # The spool is where the unit says, written by the service user.
        spool = root / "var/lib/opencontrol/spool.sqlite"
        assert spool.exists() and spool.stat().st_uid != 0
    finally:
        if agent is not None:
            chroot_procs.stop(agent)
        procs.stop(hub)
        rig.stop()
        watcher.close()
