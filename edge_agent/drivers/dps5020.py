"""DPS5020 programmable power supply over Modbus RTU (minimalmodbus through the bus owner)."""

from __future__ import annotations

from collections.abc import Mapping

from edge_agent.decode import DecodeError, RegisterFormat, decode_words, encode_value

from .base import (
    ArgSpec,
    DriverError,
    DriverSpec,
    FunctionSpec,
    ParamSpec,
    SignalSpec,
)
from .modbus_device import ModbusUnitDriver

# holding registers 0..10 (RTOC plugin, DPS5020 manual): values with two decimals
REG_VSET, REG_ISET, REG_LOCK, REG_OUTPUT = 0, 1, 6, 9
HUNDREDTHS = RegisterFormat(type="uint16", scale=0.01)
MAX_VOLTS = 50.0
MAX_AMPS = 20.0

# register -> (signal, unit, format or None for a plain integer)
READ_MAP: tuple[tuple[int, str, str, RegisterFormat | None], ...] = (
    (0, "VSet", "V", HUNDREDTHS),
    (1, "ISet", "A", HUNDREDTHS),
    (2, "VOut", "V", HUNDREDTHS),
    (3, "IOut", "A", HUNDREDTHS),
    (4, "POut", "W", HUNDREDTHS),
    (5, "VIn", "V", HUNDREDTHS),
    (6, "Locked", "", None),
    (7, "Protection", "", None),
    (8, "Mode", "", None),  # 0 = constant voltage, 1 = constant current
    (9, "Output", "", None),
)

SAMPLE_CONFIG = """\
[devices.DPS5020]
driver = "dps5020"
samplerate = 1
[devices.DPS5020.params]
serial_port = "/dev/ttyUSB0"
unit = 1
baudrate = 9600
timeout = 2.0
"""


class DPS5020Driver(ModbusUnitDriver):
    """Reads the DPS5020's outputs and set points; sets voltage, current, output and lock."""

    spec = DriverSpec(
        name="dps5020",
        description="DPS5020 power supply (Modbus RTU, 9600 8N1)",
        signals=tuple(SignalSpec(name, unit) for _, name, unit, _ in READ_MAP),
        params=(
            ParamSpec("serial_port", str, "/dev/ttyUSB0", "serial device", writable=False),
            ParamSpec("unit", int, 1, "Modbus slave address", writable=False, min=1, max=247),
            ParamSpec(
                "baudrate",
                int,
                9600,
                "line speed",
                writable=False,
                choices=(2400, 4800, 9600, 19200),
            ),
            ParamSpec("timeout", float, 2.0, "answer timeout", unit="s", writable=False, min=0.05),
        ),
        functions=(
            FunctionSpec("set_voltage", (ArgSpec("volts", float),), "output voltage set point"),
            FunctionSpec("set_current", (ArgSpec("amps", float),), "current limit"),
            FunctionSpec("set_output", (ArgSpec("on", bool),), "switch the output on or off"),
            FunctionSpec("set_lock", (ArgSpec("locked", bool),), "lock the front panel keys"),
            # the RTOC plugin's names, so RTOC clients and scripts keep working
            FunctionSpec("setVoltage", (ArgSpec("volts", float),), "RTOC name of set_voltage"),
            FunctionSpec("setCurrent", (ArgSpec("amps", float),), "RTOC name of set_current"),
            FunctionSpec("setPower", (ArgSpec("on", bool),), "RTOC name of set_output"),
            FunctionSpec("setLocked", (ArgSpec("locked", bool),), "RTOC name of set_lock"),
        ),
        bus="modbus-rtu",
        default_samplerate=1.0,
        max_samplerate=10.0,
        sample_config=SAMPLE_CONFIG,
    )

    def open(self) -> None:
        """Take the serial bus owner for the configured port (opened at first request)."""
        from edge_agent.buses.shared import acquire_rtu

        if self.bus is not None:
            return  # open() again after a failure must not take a second share of the bus
        self.bus = acquire_rtu(
            port=self.params["serial_port"],
            baudrate=self.params["baudrate"],
            timeout=self.params["timeout"],
            clock=self.clock,
        )

    def read(self) -> Mapping[str, float]:
        """Read holding registers 0..9 in one request and scale them."""
        words = self._bus().read(self.params["unit"], "holding", 0, 10)
        out: dict[str, float] = {}
        for reg, name, _unit, fmt in READ_MAP:
            try:
                out[name] = float(words[reg]) if fmt is None else decode_words([words[reg]], fmt)
            except DecodeError as exc:
                raise DriverError(f"{self.device}: register {reg} ({name}): {exc}") from exc
        return out

    def _write(self, reg: int, value: int) -> None:
        self._bus().write_registers(self.params["unit"], reg, [value])

    def _scaled(self, what: str, value: float, limit: float) -> int:
        if not 0 <= value <= limit:
            raise DriverError(f"{self.device}: {what} must be 0..{limit}, got {value}")
        try:
            return encode_value(round(value, 2), HUNDREDTHS)[0]
        except DecodeError as exc:
            raise DriverError(f"{self.device}: {what}: {exc}") from exc

    def fn_set_voltage(self, volts: float) -> float:
        """Write the voltage set point (register 0, hundredths of a volt)."""
        self._write(REG_VSET, self._scaled("voltage", volts, MAX_VOLTS))
        return round(volts, 2)

    def fn_set_current(self, amps: float) -> float:
        """Write the current limit (register 1, hundredths of an ampere)."""
        self._write(REG_ISET, self._scaled("current", amps, MAX_AMPS))
        return round(amps, 2)

    def fn_set_output(self, on: bool) -> bool:
        """Switch the output (register 9)."""
        self._write(REG_OUTPUT, int(on))
        return on

    def fn_set_lock(self, locked: bool) -> bool:
        """Lock or unlock the keys (register 6)."""
        self._write(REG_LOCK, int(locked))
        return locked

    fn_setVoltage = fn_set_voltage
    fn_setCurrent = fn_set_current
    fn_setPower = fn_set_output
    fn_setLocked = fn_set_lock
