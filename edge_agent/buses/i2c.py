"""One busio.I2C object per process: chips on the same wires share it (and its lock)."""

from __future__ import annotations

import threading
from typing import Any

from edge_agent.drivers.base import DriverUnavailable

_lock = threading.Lock()
_bus: Any = None
_users = 0


def acquire_busio() -> Any:
    """The board's I2C bus (SCL/SDA) as a busio.I2C, created at first use."""
    global _bus, _users
    with _lock:
        if _bus is None:
            try:
                import board
                import busio

                _bus = busio.I2C(board.SCL, board.SDA)
            except (ImportError, AttributeError, RuntimeError, OSError, ValueError) as exc:
                raise DriverUnavailable(f"no I2C bus on this board: {exc}") from exc
        _users += 1
        return _bus


def release_busio(bus: Any) -> None:
    """Give the bus back; the last user deinitialises it."""
    global _bus, _users
    with _lock:
        if bus is not _bus or _bus is None:
            return
        _users -= 1
        if _users <= 0:
            try:
                _bus.deinit()
            finally:
                _bus, _users = None, 0
