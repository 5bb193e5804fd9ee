"""An INA219 on an SMBus stand-in: the datasheet's register arithmetic, nothing faked above it.

The test sets the physical quantities (bus volts, current through a real shunt); the
chip turns them into register contents the way the silicon does: shunt voltage in
10 µV steps clipped at the PGA range (with the OVF flag), bus voltage in 4 mV steps,
current = shunt × calibration / 4096, power = current × bus / 5000.
"""

from __future__ import annotations

import errno

PGA_VOLTS = (0.04, 0.08, 0.16, 0.32)
CONFIG_DEFAULT = 0x399F


class INA219Chip:
    """Register model of one INA219; `smbus(busnum)` hands the library an SMBus over it."""

    def __init__(self, *, address: int = 0x41, shunt_ohms: float = 0.1) -> None:
        self.address = address
        self.shunt_ohms = shunt_ohms
        self.bus_volts = 0.0
        self.amps = 0.0
        self.config = CONFIG_DEFAULT
        self.calibration = 0
        self.unplugged = False
        self.wakes = 0
        self.sleeps = 0
        self.writes: list[tuple[int, int]] = []

    # -- the chip's arithmetic -------------------------------------------------------------
    @property
    def gain_volts(self) -> float:
        return PGA_VOLTS[(self.config >> 11) & 0x3]

    def shunt_raw(self) -> tuple[int, bool]:
        """Shunt register (signed, 10 µV LSB) and whether it overflowed the PGA range."""
        volts = self.amps * self.shunt_ohms
        limit = self.gain_volts
        overflow = abs(volts) > limit
        volts = max(-limit, min(limit, volts))
        return round(volts / 10e-6), overflow

    def register(self, reg: int) -> int:
        """16-bit content of a register as the chip would return it."""
        shunt, overflow = self.shunt_raw()
        bus = round(self.bus_volts / 0.004) & 0x1FFF
        current = int(shunt * self.calibration / 4096)
        if reg == 0x00:
            return self.config
        if reg == 0x01:
            return shunt & 0xFFFF
        if reg == 0x02:
            return (bus << 3) | 0x2 | int(overflow)
        if reg == 0x03:
            return int(abs(current) * bus / 5000) & 0xFFFF
        if reg == 0x04:
            return current & 0xFFFF
        if reg == 0x05:
            return self.calibration
        raise OSError(errno.EIO, f"INA219 has no register {reg:#x}")

    def write(self, reg: int, value: int) -> None:
        """A register write from the bus."""
        self.writes.append((reg, value))
        if reg == 0x00:
            if value & 0x8000:
                self.config, self.calibration = CONFIG_DEFAULT, 0
                return
            was_asleep = self.config & 0x7 == 0
            self.config = value
            if value & 0x7 == 0:
                self.sleeps += 1
            elif was_asleep:
                self.wakes += 1
        elif reg == 0x05:
            self.calibration = value & 0xFFFE
        else:
            raise OSError(errno.EIO, f"INA219 register {reg:#x} is read-only")

    # -- the SMBus face (what Adafruit_GPIO.I2C.Device calls) ----------------------------
    def smbus(self, busnum: int) -> _SMBus:
        """An SMBus object for Adafruit_GPIO.I2C.Device(i2c_interface=...)."""
        return _SMBus(self)


class _SMBus:
    def __init__(self, chip: INA219Chip) -> None:
        self.chip = chip

    def _check(self, addr: int) -> None:
        if self.chip.unplugged or addr != self.chip.address:
            raise OSError(errno.EREMOTEIO, "Remote I/O error")

    def write_i2c_block_data(self, addr: int, cmd: int, vals: list[int]) -> None:
        self._check(addr)
        if len(vals) != 2:
            raise OSError(errno.EIO, "INA219 registers take two bytes")
        self.chip.write(cmd, (vals[0] << 8) | vals[1])

    def read_word_data(self, addr: int, cmd: int) -> int:
        self._check(addr)
        value = self.chip.register(cmd)
        # SMBus words are little-endian on the wire; the INA219 sends MSB first
        return ((value & 0xFF) << 8) | (value >> 8)
