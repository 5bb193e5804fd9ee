"""Heliotherm heat pump (Remote Control Gateway) over Modbus TCP with pyModbusTCP.

Register map of the RTOC plugin, decoded correctly: temperatures are signed 16-bit
(RTOC computed 65536 - v, so frost came out as heat). Operating-mode writes are
functions; writable set points are parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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

T10 = RegisterFormat(type="int16", scale=0.1)  # tenths, signed
I1 = RegisterFormat(type="int16")
U1 = RegisterFormat(type="uint16")
U10 = RegisterFormat(type="uint16", scale=0.1)
MILLI = RegisterFormat(type="uint16", scale=0.001)

MODES = {
    0: "AUS",
    1: "Automatik",
    2: "Kühlen",
    3: "Sommer",
    4: "Dauerbetrieb",
    5: "Absenkung",
    6: "Urlaub",
    7: "Party",
    8: "Ausheizen",
    9: "EVU Sperre",
    10: "Hauptschalter aus",
}
GROUPS = ("EVU", "MKR1", "MKR2", "ext", "2teStufe")

# (register, signal, unit, format, group or "" for always)
INPUT_MAP: tuple[tuple[int, str, str, RegisterFormat, str], ...] = (
    (10, "Temperatur Aussen", "°C", T10, ""),
    (11, "Temperatur Brauchwasser", "°C", T10, ""),
    (12, "Temperatur Vorlauf", "°C", T10, ""),
    (13, "Temperatur Ruecklauf", "°C", T10, ""),
    (14, "Temperatur Pufferspeicher", "°C", T10, ""),
    (15, "Temperatur EQ_Eintritt", "°C", T10, ""),
    (16, "Temperatur EQ_Austritt", "°C", T10, ""),
    (17, "Temperatur Sauggas", "°C", T10, ""),
    (18, "Temperatur Verdampfung", "°C", T10, ""),
    (19, "Temperatur Kondensation", "°C", T10, ""),
    (20, "Temperatur Heissgas", "°C", T10, ""),
    (21, "Niederdruck", "Bar", T10, ""),
    (22, "Hochdruck", "Bar", T10, ""),
    (23, "Heizkreispumpe laeuft", "", I1, ""),
    (24, "Pufferladepumpe laeuft", "", I1, ""),
    (25, "Waermepumpe laeuft", "", I1, ""),
    (26, "Stoerung", "", I1, ""),
    (27, "Vierwegeventil", "", I1, ""),
    (28, "Waermemengenzaehler Durchfluss", "l/min", U10, ""),
    (29, "Verdichterdrehzahl", "%", U10, ""),
    (30, "COP", "", U10, ""),
    (31, "Temperatur Frischwasser", "°C", T10, ""),
    (32, "EVU Freigabe", "", I1, "EVU"),
    (33, "Temperatur Aussen verzoegert", "°C", T10, ""),
    (34, "Temperatur Speicher", "°C", T10, ""),
    (35, "MKR1 VL Temperatur", "°C", T10, "MKR1"),
    (36, "MKR2 VL Temperatur", "°C", T10, "MKR2"),
    (37, "Energiequellenpumpe laeuft", "", I1, ""),
    (38, "Brauchwasser-Vorrang", "", I1, ""),
    (39, "Kuehlen UMV passiv", "", I1, ""),
    (40, "Expansionsventil", "%", U1, ""),
    (41, "Anforderung der Waermepumpe", "", I1, ""),
    (43, "WW-Betriebsstunden", "h", U1, ""),
    (45, "HZG-Betriebsstunden", "h", U1, ""),
    (61, "Waermemengenzaehler Heizung", "kWh", U1, ""),
    (63, "Stromzaehler Heizung", "kWh", U1, ""),
    (65, "Waermemengenzaehler Brauchwasser", "kWh", U1, ""),
    (67, "Stromzaehler Brauchwasser", "kWh", U1, ""),
    (69, "Stromzaehler Gesamt", "kWh", U1, ""),
    (71, "Stromzaehler Leistung", "kW", MILLI, ""),
    (73, "Waermemengenzaehler Gesamt", "kWh", U1, ""),
    (75, "Waermemengenzaehler Leistung", "kW", U10, ""),
)
HOLDING_MAP: tuple[tuple[int, str, str, RegisterFormat, str], ...] = (
    (100, "Betriebsart", "", I1, ""),
    (101, "Raumsolltemperatur", "°C", T10, ""),
    (102, "Ruecklauf-Speichersolltemperatur", "°C", T10, ""),
    (107, "MKR1 Betriebsart", "", I1, "MKR1"),
    (126, "Verdichter Drehzahlvorgabe", "%", U10, "ext"),
    (129, "Aussentemperatur Wert", "°C", T10, "ext"),
    (131, "Puffertemperatur Wert", "°C", T10, "ext"),
    (133, "Brauchwassertemperatur Wert", "°C", T10, "ext"),
    (147, "2te Stufe Wert", "", I1, "2teStufe"),
    (149, "EVU-Freigabe Wert", "", I1, "EVU"),
)
INPUT_FIRST, INPUT_COUNT = 10, 66  # 10..75
HOLDING_FIRST, HOLDING_COUNT, HOLDING_SHORT = 100, 60, 35  # 100..159, fallback 100..134
REG_MODE, REG_MKR1_MODE, REG_MKR2_MODE = 100, 107, 112

# writable set points: parameter -> register (tenths of °C, signed)
SET_POINTS = {
    "room_setpoint": 101,
    "return_setpoint": 102,
    "hot_water_normal": 105,
    "hot_water_min": 106,
    "mkr1_room_setpoint": 108,
    "mkr2_room_setpoint": 113,
}
_SET_POINT_DOCS = {
    "room_setpoint": "Raumsolltemperatur (register 101)",
    "return_setpoint": "Ruecklauf-Speichersolltemperatur (register 102)",
    "hot_water_normal": "WW Normaltemperatur (register 105)",
    "hot_water_min": "WW Minimaltemperatur (register 106)",
    "mkr1_room_setpoint": "Heizkreis 1 Solltemperatur (register 108)",
    "mkr2_room_setpoint": "Heizkreis 2 Solltemperatur (register 113)",
}

SAMPLE_CONFIG = """\
[devices.Heliotherm]
driver = "heliotherm"
samplerate = 0.2
[devices.Heliotherm.params]
host = "192.168.178.72"
port = 502
unit = 1
timeout = 5.0
group_EVU = false
group_MKR1 = false
"""

_MODE_ARG = (ArgSpec("mode", int, doc="0 AUS … 10 Hauptschalter aus"),)


class HeliothermDriver(ModbusUnitDriver):
    """Streams the heat pump's input and holding registers; writes modes and set points."""

    spec = DriverSpec(
        name="heliotherm",
        description="Heliotherm heat pump via Remote Control Gateway (Modbus TCP)",
        signals=tuple(SignalSpec(n, u) for _, n, u, _, _ in INPUT_MAP + HOLDING_MAP),
        params=(
            ParamSpec("host", str, "192.168.178.72", "gateway address", writable=False),
            ParamSpec("port", int, 502, "gateway TCP port", writable=False, min=1, max=65535),
            ParamSpec("unit", int, 1, "Modbus unit id", writable=False, min=0, max=255),
            ParamSpec("timeout", float, 5.0, "answer timeout", unit="s", writable=False, min=0.05),
            *(
                ParamSpec(f"group_{g}", bool, False, f"read the {g} registers", writable=False)
                for g in GROUPS
            ),
            *(
                ParamSpec(name, float, 20.0, doc, unit="°C", min=-30.0, max=80.0)
                for name, doc in _SET_POINT_DOCS.items()
            ),
        ),
        functions=(
            FunctionSpec("set_mode", _MODE_ARG, "Betriebsart (register 100)"),
            FunctionSpec("off", (), "Betriebsart AUS"),
            FunctionSpec("set_mkr1_mode", _MODE_ARG, "MKR1 Betriebsart (register 107)"),
            FunctionSpec("set_mkr2_mode", _MODE_ARG, "MKR2 Betriebsart (register 112)"),
            FunctionSpec("Anschalten", _MODE_ARG, "RTOC name of set_mode"),
            FunctionSpec("Ausschalten", (), "RTOC name of off"),
            FunctionSpec("MKR1Schreiben", _MODE_ARG, "RTOC name of set_mkr1_mode"),
            FunctionSpec("MKR2Schreiben", _MODE_ARG, "RTOC name of set_mkr2_mode"),
        ),
        bus="modbus-tcp",
        default_samplerate=0.2,
        max_samplerate=2.0,
        sample_config=SAMPLE_CONFIG,
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._configured = set((kwargs.get("params") or {}).keys()) & set(SET_POINTS)
        self._holding_count = HOLDING_COUNT
        self._last_mode: int | None = None
        self._last_fault: int | None = None
        self._last_ext: int | None = None

    # -- lifecycle -----------------------------------------------------------------------
    def open(self) -> None:
        """Take the TCP bus owner; push configured set points, learn the others."""
        from edge_agent.buses.shared import acquire_tcp

        if self.bus is None:  # open() is retried after a failure: take the bus only once
            self.bus = acquire_tcp(
                host=self.params["host"],
                port=self.params["port"],
                timeout=self.params["timeout"],
                clock=self.clock,
            )
        for name in sorted(self._configured):
            self.apply_param(name, self.params[name])
        self._learn_set_points()

    def _learn_set_points(self) -> None:
        unit = self.params["unit"]
        words = self._bus().read(unit, "holding", 101, 13)  # 101..113
        for name, reg in SET_POINTS.items():
            if name not in self._configured:
                self.params[name] = round(decode_words([words[reg - 101]], T10), 1)

    def _active(self, group: str) -> bool:
        return not group or bool(self.params[f"group_{group}"])

    def signals(self) -> tuple[SignalSpec, ...]:
        """Signals of the always-read registers and of the active groups."""
        return tuple(
            SignalSpec(n, u) for _, n, u, _, g in INPUT_MAP + HOLDING_MAP if self._active(g)
        )

    # -- reading -------------------------------------------------------------------------
    def read(self) -> Mapping[str, float]:
        """Read input registers 10..75 and holding 100..159 (or 100..134); decode signed."""
        bus, unit = self._bus(), self.params["unit"]
        inputs = bus.read(unit, "input", INPUT_FIRST, INPUT_COUNT)
        try:
            holding = bus.read(unit, "holding", HOLDING_FIRST, self._holding_count)
        except DriverError:
            if self._holding_count == HOLDING_SHORT:
                raise
            # older gateways end the holding map at 134, as RTOC found
            self._holding_count = HOLDING_SHORT
            holding = bus.read(unit, "holding", HOLDING_FIRST, self._holding_count)
        out: dict[str, float] = {}
        for table, first, words in (
            (INPUT_MAP, INPUT_FIRST, inputs),
            (HOLDING_MAP, HOLDING_FIRST, holding),
        ):
            for reg, name, _unit, fmt, group in table:
                if not self._active(group) or reg - first >= len(words):
                    continue
                try:
                    out[name] = decode_words([words[reg - first]], fmt)
                except DecodeError as exc:
                    raise DriverError(f"{self.device}: register {reg} ({name}): {exc}") from exc
        self._edge_events(out)
        self._ext_demand(holding[127 - HOLDING_FIRST])
        return out

    def _ext_demand(self, ext: int) -> None:
        # register 127 "Externe Anforderung": RTOC's ExtAnfAn / ExtAnfAus events
        if self._last_ext is not None and bool(ext) != bool(self._last_ext):
            text = "Externe Anforderung an" if ext else "Externe Anforderung aus"
            self.events(text, signal="Betriebsart", value=ext)
        self._last_ext = ext

    def _edge_events(self, values: Mapping[str, float]) -> None:
        mode = int(values["Betriebsart"])
        if self._last_mode is not None and mode != self._last_mode:
            text = MODES.get(mode, str(mode))
            self.events(f"Betriebsart wurde verändert: {text}", signal="Betriebsart", value=mode)
        self._last_mode = mode
        fault = int(values["Stoerung"])
        if fault and not self._last_fault:
            self.events("Störung aufgetreten", signal="Stoerung", priority=2, value=fault)
        elif not fault and self._last_fault:
            self.events("Störung behoben", signal="Stoerung", priority=0, value=fault)
        self._last_fault = fault

    # -- writing -------------------------------------------------------------------------
    def apply_param(self, name: str, value: Any) -> None:
        """Write a set point (tenths of °C, signed) to its holding register."""
        reg = SET_POINTS.get(name)
        if reg is None:
            return
        try:
            words = encode_value(round(float(value), 1), T10)
        except DecodeError as exc:
            raise DriverError(f"{self.device}: {name}: {exc}") from exc
        self._bus().write_registers(self.params["unit"], reg, words)

    def _write_mode(self, reg: int, mode: int) -> int:
        if mode not in MODES:
            raise DriverError(f"{self.device}: mode must be one of {sorted(MODES)}, got {mode}")
        self._bus().write_registers(self.params["unit"], reg, [mode])
        return mode

    def fn_set_mode(self, mode: int) -> int:
        """Set the operating mode (Betriebsart)."""
        return self._write_mode(REG_MODE, mode)

    def fn_off(self) -> int:
        """Switch the heat pump off (Betriebsart 0)."""
        return self._write_mode(REG_MODE, 0)

    def fn_set_mkr1_mode(self, mode: int) -> int:
        """Set heating circuit 1's mode."""
        return self._write_mode(REG_MKR1_MODE, mode)

    def fn_set_mkr2_mode(self, mode: int) -> int:
        """Set heating circuit 2's mode (register 112; RTOC wrote 107 by mistake)."""
        return self._write_mode(REG_MKR2_MODE, mode)

    fn_Anschalten = fn_set_mode
    fn_Ausschalten = fn_off
    fn_MKR1Schreiben = fn_set_mkr1_mode
    fn_MKR2Schreiben = fn_set_mkr2_mode
