"""Modbus RTU over one serial line: minimalmodbus under the bus lock, with the frame gap."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from edge_agent.drivers.base import DriverError, DriverUnavailable

from .modbus_base import ModbusBus

_READ_FUNCTION = {"holding": 3, "input": 4, "coil": 1, "discrete": 2}


def char_time(baudrate: int, bits_per_char: int = 11) -> float:
    """Seconds one character takes on the line (start + 8 data + parity/stop bits)."""
    return bits_per_char / baudrate


def frame_gap(baudrate: int) -> float:
    """The silent interval between frames: 3.5 characters, at least 1.75 ms (spec)."""
    return max(3.5 * char_time(baudrate), 0.00175)


class RtuBus(ModbusBus):
    """Owner of one serial port speaking Modbus RTU; every unit on it shares the lock."""

    def __init__(
        self,
        *,
        port: str,
        baudrate: int = 9600,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: int = 1,
        timeout: float = 1.0,
        gap: float | None = None,
        clock: Callable[[], float] | None = None,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
    ) -> None:
        super().__init__(
            name=f"serial {port}", clock=clock, backoff_base=backoff_base, backoff_max=backoff_max
        )
        self.port = port
        self.baudrate = baudrate
        self.bytesize = bytesize
        self.parity = parity
        self.stopbits = stopbits
        self.timeout = timeout
        self.gap = frame_gap(baudrate) if gap is None else max(gap, frame_gap(baudrate))
        self._serial: Any = None
        self._instruments: dict[int, Any] = {}
        self._last_io = 0.0

    @property
    def settings(self) -> tuple[int, int, str, int]:
        """Line settings; two drivers on one port must agree on them."""
        return (self.baudrate, self.bytesize, self.parity, self.stopbits)

    def _instrument(self, unit: int) -> Any:
        import minimalmodbus
        import serial

        if self._serial is None:
            try:
                self._serial = serial.Serial(
                    port=self.port,
                    baudrate=self.baudrate,
                    bytesize=self.bytesize,
                    parity=self.parity,
                    stopbits=self.stopbits,
                    timeout=self.timeout,
                    write_timeout=self.timeout,
                )
            except (serial.SerialException, OSError, ValueError) as exc:
                raise DriverUnavailable(f"cannot open port {self.port}: {exc}") from exc
            self._instruments.clear()
        inst = self._instruments.get(unit)
        if inst is None:
            inst = minimalmodbus.Instrument(self._serial, unit)
            inst.clear_buffers_before_each_transaction = True
            self._instruments[unit] = inst
        return inst

    def _call(self, unit: int, fn: Callable[[Any], Any]) -> Any:
        import termios

        import minimalmodbus
        import serial

        inst = self._instrument(unit)
        pause = self._last_io + self.gap - time.monotonic()
        if pause > 0:
            time.sleep(pause)  # the line must stay silent between frames
        try:
            return fn(inst)
        except minimalmodbus.NoResponseError as exc:
            raise DriverUnavailable(f"no answer within {self.timeout} s") from exc
        except minimalmodbus.InvalidResponseError as exc:
            raise DriverError(f"invalid response (CRC or framing): {exc}") from exc
        except minimalmodbus.SlaveReportedException as exc:
            raise DriverError(f"device refused the request: {exc}") from exc
        except minimalmodbus.ModbusException as exc:
            raise DriverError(str(exc)) from exc
        except (serial.SerialException, OSError, termios.error) as exc:
            self._close()  # unplugged: reopen on the next request
            raise DriverUnavailable(f"port {self.port} failed: {exc}") from exc
        finally:
            self._last_io = time.monotonic()

    def _read(self, unit: int, kind: str, address: int, count: int) -> list[Any]:
        fc = _READ_FUNCTION[kind]
        if kind in ("holding", "input"):
            return self._call(unit, lambda i: i.read_registers(address, count, functioncode=fc))
        return self._call(unit, lambda i: i.read_bits(address, count, functioncode=fc))

    def _write_registers(self, unit: int, address: int, values: list[int]) -> None:
        if len(values) == 1:
            self._call(unit, lambda i: i.write_register(address, values[0], functioncode=6))
        else:
            self._call(unit, lambda i: i.write_registers(address, list(values)))

    def _write_coil(self, unit: int, address: int, value: bool) -> None:
        self._call(unit, lambda i: i.write_bit(address, int(value), functioncode=5))

    def _close(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except Exception:  # a dead port may fail to close; it is gone anyway
                pass
        self._serial = None
        self._instruments.clear()
