"""Hand every driver on the same physical bus the same owner (one per port or host:port)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from edge_agent.drivers.base import DriverError

from .modbus_base import ModbusBus
from .modbus_rtu import RtuBus
from .modbus_tcp import TcpBus

_lock = threading.Lock()
_buses: dict[str, tuple[ModbusBus, int]] = {}


def _acquire(key: str, make: Callable[[], ModbusBus], check: Callable[[ModbusBus], None]) -> Any:
    with _lock:
        entry = _buses.get(key)
        if entry is None:
            bus = make()
            _buses[key] = (bus, 1)
            return bus
        bus, users = entry
        check(bus)
        _buses[key] = (bus, users + 1)
        return bus


def acquire_rtu(
    *,
    port: str,
    baudrate: int = 9600,
    bytesize: int = 8,
    parity: str = "N",
    stopbits: int = 1,
    timeout: float = 1.0,
    clock: Callable[[], float] | None = None,
) -> RtuBus:
    """The owner of serial `port`; refuses line settings that differ from an earlier user's."""

    def make() -> ModbusBus:
        return RtuBus(
            port=port,
            baudrate=baudrate,
            bytesize=bytesize,
            parity=parity,
            stopbits=stopbits,
            timeout=timeout,
            clock=clock,
        )

    def check(bus: ModbusBus) -> None:
        assert isinstance(bus, RtuBus)
        wanted = (baudrate, bytesize, parity, stopbits)
        if bus.settings != wanted:
            raise DriverError(
                f"serial {port} is already in use with settings {bus.settings} "
                f"(baud, bits, parity, stop); this device asks for {wanted}"
            )

    return _acquire(f"rtu:{port}", make, check)


def acquire_tcp(
    *, host: str, port: int = 502, timeout: float = 2.0, clock: Callable[[], float] | None = None
) -> TcpBus:
    """The owner of the Modbus TCP connection to host:port."""

    def make() -> ModbusBus:
        return TcpBus(host=host, port=port, timeout=timeout, clock=clock)

    return _acquire(f"tcp:{host}:{port}", make, lambda bus: None)


def release(bus: ModbusBus) -> None:
    """Give a bus back; the last user closes it."""
    with _lock:
        for key, (owned, users) in list(_buses.items()):
            if owned is bus:
                if users <= 1:
                    del _buses[key]
                    bus.close()
                else:
                    _buses[key] = (owned, users - 1)
                return
