"""A pymodbus server (TCP or RTU on a pty) over a plain register bank, with fault injection.

The bank holds registers per unit and kind; the test changes them directly. Faults:
`dead` units never answer (the client times out), `corrupt_next` garbles the next
answers (CRC error on RTU), `wrong_tid_next` sends answers with a wrong MBAP
transaction id (TCP).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer

_KIND = {1: "coil", 5: "coil", 15: "coil", 2: "discrete", 4: "input"}
_KIND.update({fc: "holding" for fc in (3, 6, 16, 22, 23)})


class RegisterBank:
    """Registers of several units: `bank.set(unit, "holding", address, [values])`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tables: dict[tuple[int, str], dict[int, int]] = {}
        self.dead: set[int] = set()
        self.corrupt_next = 0
        self.wrong_tid_next = 0
        self.requests = 0
        self.writes: list[tuple[int, str, int, list[int]]] = []

    def set(self, unit: int, kind: str, address: int, values: Sequence[int]) -> None:
        """Store values from address on."""
        with self.lock:
            table = self.tables.setdefault((unit, kind), {})
            for i, v in enumerate(values):
                table[address + i] = int(v)

    def get(self, unit: int, kind: str, address: int, count: int = 1) -> list[int]:
        """Read values back (what the device now holds)."""
        with self.lock:
            table = self.tables.get((unit, kind), {})
            return [table[address + i] for i in range(count)]

    def units(self) -> frozenset[int]:
        """Units that hold any table."""
        return frozenset(u for u, _ in self.tables)


class _BankContext(ModbusServerContext):
    """The server's datastore: reads and writes the bank (bypasses the deprecated blocks)."""

    def __init__(self, bank: RegisterBank) -> None:  # no super(): we are the datastore
        self.bank = bank
        self.old_simulator = True
        self.simdevices = []
        self._devices = {}

    def _check(self, device_id: int) -> None:
        self.bank.requests += 1
        if device_id in self.bank.dead or device_id not in self.bank.units():
            raise NoSuchIdException(f"unit {device_id} does not answer")

    async def async_getValues(
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        self._check(device_id)
        kind = _KIND[func_code]
        with self.bank.lock:
            table = self.bank.tables.get((device_id, kind), {})
            if any(address + i not in table for i in range(count)):
                return ExcCodes.ILLEGAL_ADDRESS
            values = [table[address + i] for i in range(count)]
        if kind in ("coil", "discrete"):
            return [bool(v) for v in values]
        return values

    async def async_setValues(
        self, device_id: int, func_code: int, address: int, values: Sequence[Any]
    ) -> ExcCodes | None:
        self._check(device_id)
        kind = _KIND[func_code]
        with self.bank.lock:
            table = self.bank.tables.get((device_id, kind), {})
            if any(address + i not in table for i in range(len(values))):
                return ExcCodes.ILLEGAL_ADDRESS
            for i, v in enumerate(values):
                table[address + i] = int(v)
            self.bank.writes.append((device_id, kind, address, [int(v) for v in values]))
        return None

    def device_ids(self) -> list[int]:
        return sorted(self.bank.units())


class ModbusSim:
    """Runs a pymodbus server in a thread of its own; `start()`/`stop()` may repeat."""

    def __init__(
        self,
        bank: RegisterBank,
        *,
        tcp_port: int | None = None,
        serial_port: str | None = None,
        baudrate: int = 9600,
    ) -> None:
        if (tcp_port is None) == (serial_port is None):
            raise ValueError("give exactly one of tcp_port and serial_port")
        self.bank = bank
        self.tcp_port = tcp_port
        self.serial_port = serial_port
        self.baudrate = baudrate
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def _trace(self, sending: bool, data: bytes) -> bytes:
        if not sending or not data:
            return data
        bank = self.bank
        if bank.corrupt_next > 0:
            bank.corrupt_next -= 1
            return data[:-1] + bytes([data[-1] ^ 0xFF])  # breaks the RTU CRC
        if bank.wrong_tid_next > 0 and self.tcp_port is not None:
            bank.wrong_tid_next -= 1
            tid = (int.from_bytes(data[:2], "big") + 1) & 0xFFFF
            return tid.to_bytes(2, "big") + data[2:]
        return data

    def start(self) -> ModbusSim:
        """Start serving; returns when the server listens."""
        ready = threading.Event()
        failure: list[BaseException] = []

        async def main() -> None:
            ctx = _BankContext(self.bank)
            if self.tcp_port is not None:
                self._server = ModbusTcpServer(
                    ctx,
                    address=("127.0.0.1", self.tcp_port),
                    ignore_missing_devices=True,
                    trace_packet=self._trace,
                )
            else:
                self._server = ModbusSerialServer(
                    ctx,
                    framer=FramerType.RTU,
                    port=self.serial_port or "",
                    baudrate=self.baudrate,
                    ignore_missing_devices=True,
                    reconnect_delay=0.1,
                    trace_packet=self._trace,
                )
            try:
                await self._server.serve_forever(background=True)
            except BaseException as exc:  # handed to the starting thread
                failure.append(exc)
            finally:
                ready.set()
            await self._server.serving

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            try:
                self._loop.run_until_complete(main())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
            finally:
                self._loop.close()

        self._thread = threading.Thread(target=run, name="modbus-sim", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise TimeoutError("modbus simulator did not start")
        if failure:
            raise RuntimeError(f"modbus simulator failed to start: {failure[0]!r}")
        return self

    def stop(self) -> None:
        """Stop serving and close every connection."""
        if self._loop is None or self._server is None or self._thread is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop)
        fut.result(timeout=5)
        self._thread.join(timeout=5)
        self._server = None
        self._thread = None
