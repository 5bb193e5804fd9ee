"""What every Modbus unit driver shares: a borrowed bus owner, its release and counters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from edge_agent.buses.modbus_base import ModbusBus

from .base import Driver, DriverError


class ModbusUnitDriver(Driver):
    """A driver for one unit on a shared Modbus bus (RTU or TCP); `open()` sets `self.bus`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bus: ModbusBus | None = None

    def close(self) -> None:
        """Give the bus back."""
        from edge_agent.buses.shared import release

        if self.bus is not None:
            release(self.bus)
            self.bus = None

    def diagnostics(self) -> Mapping[str, float]:
        """The bus owner's counters and this unit's backoff."""
        return {} if self.bus is None else self.bus.diagnostics(self.params["unit"])

    def _bus(self) -> ModbusBus:
        if self.bus is None:
            raise DriverError(f"{self.device}: not open")
        return self.bus
