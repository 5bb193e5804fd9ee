"""Generic Modbus driver (RTU or TCP): the register map comes from the device's config."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edge_agent.buses.modbus_base import KINDS
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

MAX_BLOCK = 120  # registers per request (Modbus allows 125)
_KEYS = {
    "name",
    "address",
    "function",
    "type",
    "word_order",
    "scale",
    "offset",
    "unit",
    "writable",
}

SAMPLE_CONFIG = """\
[devices.Boiler]
driver = "modbus"
samplerate = 1
[devices.Boiler.params]
transport = "tcp"          # or "rtu" (then serial_port, baudrate, parity, stopbits)
host = "192.168.1.50"
tcp_port = 502
unit = 1
timeout = 1.0
[[devices.Boiler.registers]]
name = "Temperature"
address = 0
function = "input"         # holding | input | coil | discrete
type = "int16"             # int16 | uint16 | int32 | uint32 | float32
scale = 0.1
unit = "°C"
[[devices.Boiler.registers]]
name = "Energy"
address = 2
function = "input"
type = "uint32"
word_order = "big"         # big: high word first; little: low word first
unit = "kWh"
[[devices.Boiler.registers]]
name = "Setpoint"
address = 10
type = "int16"
scale = 0.1
unit = "°C"
writable = true
[[devices.Boiler.registers]]
name = "Pump"
address = 0
function = "coil"
writable = true
"""


@dataclass(frozen=True)
class Register:
    """One configured register (or bit) and how to decode it."""

    name: str
    address: int
    kind: str
    fmt: RegisterFormat
    unit: str
    writable: bool

    @property
    def count(self) -> int:
        """Registers (or bits) it occupies."""
        return 1 if self.kind in ("coil", "discrete") else self.fmt.count


def parse_registers(device: str, raw: Any) -> tuple[Register, ...]:
    """Validate the `registers` config list; errors name the entry and the key."""
    if not isinstance(raw, list) or not raw:
        raise DriverError(f"{device}: 'registers' must be a non-empty list of tables")
    out: list[Register] = []
    names: set[str] = set()
    for i, entry in enumerate(raw):
        where = f"{device}: registers[{i}]"
        if not isinstance(entry, Mapping):
            raise DriverError(f"{where}: must be a table, got {entry!r}")
        unknown = set(entry) - _KEYS
        if unknown:
            raise DriverError(f"{where}: unknown keys {sorted(unknown)}")
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            raise DriverError(f"{where}: 'name' must be non-empty text")
        if name in names:
            raise DriverError(f"{where}: name {name!r} used twice")
        names.add(name)
        address = entry.get("address")
        if isinstance(address, bool) or not isinstance(address, int) or not 0 <= address <= 65535:
            raise DriverError(f"{where} ({name}): 'address' must be 0..65535, got {address!r}")
        kind = entry.get("function", "holding")
        if kind not in KINDS:
            raise DriverError(f"{where} ({name}): 'function' must be one of {KINDS}")
        writable = entry.get("writable", False)
        if not isinstance(writable, bool):
            raise DriverError(f"{where} ({name}): 'writable' must be true or false")
        if writable and kind in ("input", "discrete"):
            raise DriverError(f"{where} ({name}): {kind} registers cannot be written")
        try:
            fmt = RegisterFormat(
                type=entry.get("type", "uint16"),
                word_order=entry.get("word_order", "big"),
                scale=float(entry.get("scale", 1.0)),
                offset=float(entry.get("offset", 0.0)),
            )
        except (DecodeError, TypeError, ValueError) as exc:
            raise DriverError(f"{where} ({name}): {exc}") from exc
        unit = entry.get("unit", "")
        if not isinstance(unit, str):
            raise DriverError(f"{where} ({name}): 'unit' must be text")
        out.append(Register(name, address, kind, fmt, unit, writable))
    return tuple(out)


def plan_blocks(registers: Sequence[Register]) -> list[tuple[str, int, int, list[Register]]]:
    """Group registers into as few requests as possible: (kind, first, count, members)."""
    blocks: list[tuple[str, int, int, list[Register]]] = []
    for reg in sorted(registers, key=lambda r: (r.kind, r.address)):
        if blocks:
            kind, first, count, members = blocks[-1]
            end = max(first + count, reg.address + reg.count)
            if kind == reg.kind and reg.address <= first + count and end - first <= MAX_BLOCK:
                blocks[-1] = (kind, first, end - first, [*members, reg])
                continue
        blocks.append((reg.kind, reg.address, reg.count, [reg]))
    return blocks


class ModbusDriver(ModbusUnitDriver):
    """Reads the configured registers in merged blocks; writes the writable ones."""

    spec = DriverSpec(
        name="modbus",
        description="Generic Modbus RTU/TCP device with a register map in its config",
        params=(
            ParamSpec(
                "transport", str, "tcp", "tcp or rtu", writable=False, choices=("tcp", "rtu")
            ),
            ParamSpec("host", str, "127.0.0.1", "TCP: device or gateway address", writable=False),
            ParamSpec("tcp_port", int, 502, "TCP: port", writable=False, min=1, max=65535),
            ParamSpec("serial_port", str, "/dev/ttyUSB0", "RTU: serial device", writable=False),
            ParamSpec("baudrate", int, 9600, "RTU: line speed", writable=False, min=300),
            ParamSpec("parity", str, "N", "RTU: parity", writable=False, choices=("N", "E", "O")),
            ParamSpec("stopbits", int, 1, "RTU: stop bits", writable=False, choices=(1, 2)),
            ParamSpec("unit", int, 1, "unit (slave) id", writable=False, min=0, max=255),
            ParamSpec("timeout", float, 1.0, "answer timeout", unit="s", writable=False, min=0.05),
        ),
        functions=(
            FunctionSpec(
                "write",
                (ArgSpec("name", str), ArgSpec("value", float)),
                "write a register marked writable (coils take 0 or 1)",
            ),
        ),
        bus="modbus-rtu|modbus-tcp",
        default_samplerate=1.0,
        max_samplerate=20.0,
        extra_config=("registers",),
        sample_config=SAMPLE_CONFIG,
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.registers = parse_registers(self.device, self.extra.get("registers"))
        unknown = set(self.extra) - set(self.spec.extra_config)
        if unknown:
            raise DriverError(f"{self.device}: unknown config keys {sorted(unknown)}")
        self.blocks = plan_blocks(self.registers)
        self.failing: set[str] = set()

    def signals(self) -> tuple[SignalSpec, ...]:
        """One signal per configured register."""
        return tuple(SignalSpec(r.name, r.unit) for r in self.registers)

    def open(self) -> None:
        """Take the bus owner of the configured port or host."""
        from edge_agent.buses.shared import acquire_rtu, acquire_tcp

        p = self.params
        if self.bus is not None:
            return  # open() again after a failure must not take a second share of the bus
        if p["transport"] == "tcp":
            self.bus = acquire_tcp(
                host=p["host"], port=p["tcp_port"], timeout=p["timeout"], clock=self.clock
            )
        else:
            self.bus = acquire_rtu(
                port=p["serial_port"],
                baudrate=p["baudrate"],
                parity=p["parity"],
                stopbits=p["stopbits"],
                timeout=p["timeout"],
                clock=self.clock,
            )

    def read(self) -> Mapping[str, float]:
        """Read every block; a register that does not decode is left out and reported once."""
        bus, unit = self._bus(), self.params["unit"]
        out: dict[str, float] = {}
        errors: dict[str, str] = {}
        for kind, first, count, members in self.blocks:
            words = bus.read(unit, kind, first, count)
            for reg in members:
                chunk = words[reg.address - first : reg.address - first + reg.count]
                if kind in ("coil", "discrete"):
                    out[reg.name] = float(bool(chunk[0]))
                    continue
                try:
                    out[reg.name] = decode_words(chunk, reg.fmt)
                except DecodeError as exc:
                    errors[reg.name] = str(exc)
        for name, text in errors.items():
            if name not in self.failing:
                self.events(f"{self.device}.{name}: {text}", signal=name, priority=1)
        for name in self.failing - set(errors):
            self.events(f"{self.device}.{name}: readable again", signal=name)
        self.failing = set(errors)
        if not out:
            raise DriverError(f"{self.device}: no register decoded: {errors}")
        return out

    def fn_write(self, name: str, value: float) -> float:
        """Encode and write one writable register; returns the value written."""
        reg = next((r for r in self.registers if r.name == name), None)
        if reg is None:
            raise DriverError(f"{self.device}: no register {name!r}")
        if not reg.writable:
            raise DriverError(f"{self.device}: register {name!r} is not writable")
        if reg.kind == "coil":
            if value not in (0, 1):
                raise DriverError(f"{self.device}: coil {name!r} takes 0 or 1, got {value}")
            self._bus().write_coil(self.params["unit"], reg.address, bool(value))
            return value
        try:
            words = encode_value(value, reg.fmt)
        except DecodeError as exc:
            raise DriverError(f"{self.device}: {name}: {exc}") from exc
        self._bus().write_registers(self.params["unit"], reg.address, words)
        return value
