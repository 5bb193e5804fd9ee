"""A CCS811 behind a busio.I2C stand-in: status, app start, mode, results, baseline, env data.

Register map from the datasheet: 0x00 STATUS (ERROR bit0, DATA_READY bit3, APP_VALID
bit4, FW_MODE bit7), 0x01 MEAS_MODE (drive mode bits 6..4), 0x02 ALG_RESULT_DATA
(eCO2, TVOC, status, error id, raw), 0x05 ENV_DATA, 0x11 BASELINE, 0x20 HW_ID = 0x81,
0xE0 ERROR_ID, 0xF4 APP_START, 0xFF SW_RESET. Reading the results clears DATA_READY.
"""

from __future__ import annotations

import errno
import struct


class CCS811Chip:
    """Register model of one CCS811 on an I2C bus object shared with other chips."""

    def __init__(self, *, address: int = 0x5A) -> None:
        self.address = address
        self.fw_mode = False  # boot mode until APP_START
        self.meas_mode = 0
        self.eco2 = 400
        self.tvoc = 0
        self.data_ready = False
        self.error_id = 0
        self.baseline = 0x1234
        self.env: tuple[int, int] | None = None  # raw humidity, raw temperature
        self.unplugged = False
        self.pointer = 0

    def measure(self, eco2: int, tvoc: int) -> None:
        """A new measurement is ready (what the chip does every drive-mode period)."""
        self.eco2, self.tvoc, self.data_ready = eco2, tvoc, True

    def fail(self, error_id: int) -> None:
        """Raise the chip's error flag with an ERROR_ID bit set (e.g. 0x08 HEATER_FAULT)."""
        self.error_id = error_id

    @property
    def env_compensation(self) -> tuple[float, float] | None:
        """Humidity % and temperature °C last written to ENV_DATA."""
        if self.env is None:
            return None
        return self.env[0] / 512, self.env[1] / 512 - 25

    def status(self) -> int:
        return (
            (0x80 if self.fw_mode else 0)
            | 0x10
            | (0x08 if self.data_ready else 0)
            | (0x01 if self.error_id else 0)
        )

    def write(self, data: bytes) -> None:
        """A write transaction: register pointer then payload."""
        if not data:
            return  # probe
        reg, payload = data[0], bytes(data[1:])
        self.pointer = reg
        if reg == 0xF4 and not payload:
            self.fw_mode = True
        elif reg == 0x01 and payload:
            self.meas_mode = payload[0]
        elif reg == 0x05 and len(payload) == 4:
            self.env = struct.unpack(">HH", payload)
        elif reg == 0x11 and len(payload) == 2:
            self.baseline = struct.unpack("<H", payload)[0]
        elif reg == 0xFF and payload == b"\x11\xe5\x72\x8a":
            self.__init__(address=self.address)  # type: ignore[misc]

    def read(self, n: int) -> bytes:
        """A read transaction from the current register pointer."""
        reg = self.pointer
        if reg == 0x00:
            out = bytes([self.status()])
        elif reg == 0x01:
            out = bytes([self.meas_mode])
        elif reg == 0x02:
            out = struct.pack(">HHBB", self.eco2, self.tvoc, self.status(), self.error_id)
            self.data_ready = False
        elif reg == 0x11:
            out = struct.pack("<H", self.baseline)
        elif reg == 0x20:
            out = bytes([0x81])
        elif reg == 0xE0:
            out = bytes([self.error_id])
            self.error_id = 0  # reading ERROR_ID clears it
        else:
            out = b""
        return (out + bytes(n))[:n]


class FakeI2C:
    """The busio.I2C methods adafruit_bus_device uses, routing to the chips by address."""

    def __init__(self, *chips: CCS811Chip) -> None:
        self.chips = {c.address: c for c in chips}
        self.locked = False
        self.transactions = 0

    def _chip(self, address: int) -> CCS811Chip:
        chip = self.chips.get(address)
        if chip is None or chip.unplugged:
            raise OSError(errno.EREMOTEIO, f"no ACK from address {address:#x}")
        self.transactions += 1
        return chip

    def try_lock(self) -> bool:
        if self.locked:
            return False
        self.locked = True
        return True

    def unlock(self) -> None:
        self.locked = False

    def writeto(self, address: int, buffer: bytes, *, start: int = 0, end: int | None = None):
        self._chip(address).write(bytes(buffer[start:end]))

    def readfrom_into(self, address: int, buffer: bytearray, *, start: int = 0, end=None):
        end = len(buffer) if end is None else end
        buffer[start:end] = self._chip(address).read(end - start)

    def writeto_then_readfrom(
        self,
        address: int,
        out_buffer: bytes,
        in_buffer: bytearray,
        *,
        out_start: int = 0,
        out_end: int | None = None,
        in_start: int = 0,
        in_end: int | None = None,
    ) -> None:
        chip = self._chip(address)
        chip.write(bytes(out_buffer[out_start:out_end]))
        in_end = len(in_buffer) if in_end is None else in_end
        in_buffer[in_start:in_end] = chip.read(in_end - in_start)

    def deinit(self) -> None:
        pass
