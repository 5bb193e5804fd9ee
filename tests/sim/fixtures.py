"""Pytest fixtures that start the simulators (registered in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.net import free_port

from .clock import FakeClock
from .modbus_server import ModbusSim, RegisterBank
from .serial_pair import SerialPair


class RtuRig:
    """A socat pty pair with a pymodbus RTU server on the sim end; can be unplugged."""

    def __init__(self, workdir: Path, bank: RegisterBank) -> None:
        self.bank = bank
        self.pair = SerialPair(workdir, "rtu")
        self.sim: ModbusSim | None = None

    @property
    def port(self) -> str:
        return self.pair.agent_path

    def start(self) -> RtuRig:
        """Plug in: pty pair and server."""
        self.pair.start()
        self.sim = ModbusSim(self.bank, serial_port=self.pair.sim_path).start()
        return self

    def stop(self) -> None:
        """Unplug: server and pty pair go away."""
        if self.sim is not None:
            self.sim.stop()
            self.sim = None
        if self.pair.proc is not None:
            self.pair.stop()


class TcpRig:
    """A pymodbus TCP server on a free loopback port; stop/start keep the port."""

    def __init__(self, bank: RegisterBank) -> None:
        self.bank = bank
        self.port = free_port()
        self.sim = ModbusSim(bank, tcp_port=self.port)

    def start(self) -> TcpRig:
        self.sim.start()
        return self

    def stop(self) -> None:
        self.sim.stop()


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock the test advances."""
    return FakeClock()


@pytest.fixture
def rtu_rig(tmp_path: Path) -> Iterator[RtuRig]:
    """A running Modbus RTU simulator on a pty; `rtu_rig.port` is the driver's end."""
    rig = RtuRig(tmp_path, RegisterBank()).start()
    yield rig
    rig.stop()


@pytest.fixture
def tcp_rig() -> Iterator[TcpRig]:
    """A running Modbus TCP simulator; `tcp_rig.port` on 127.0.0.1."""
    rig = TcpRig(RegisterBank()).start()
    yield rig
    rig.stop()
