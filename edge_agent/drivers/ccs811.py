"""CCS811 air-quality sensor (eCO2, TVOC) on I2C through adafruit-circuitpython-ccs811.

The data-ready flag decides whether there is a new measurement (the library would hand
back the previous one); the error flag is read out as ERROR_ID and reported. Ambient
temperature and humidity for compensation are parameters, so the hub can feed them
from another sensor's signal (`CCS811.temperature = DHT.Temperatur.latest`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import (
    ArgSpec,
    Driver,
    DriverError,
    DriverSpec,
    DriverUnavailable,
    FunctionSpec,
    ParamSpec,
    SignalSpec,
)

DRIVE_MODES = {"idle": 0, "1s": 1, "10s": 2, "60s": 3, "250ms": 4}
ERROR_BITS = {
    0x01: "WRITE_REG_INVALID",
    0x02: "READ_REG_INVALID",
    0x04: "MEASMODE_INVALID",
    0x08: "MAX_RESISTANCE",
    0x10: "HEATER_FAULT",
    0x20: "HEATER_SUPPLY",
}

SAMPLE_CONFIG = """\
[devices.LuftB]
driver = "ccs811"
samplerate = 1
[devices.LuftB.params]
address = 0x5A           # 0x5B with ADDR high
drive_mode = "1s"        # idle | 1s | 10s | 60s | 250ms
compensate = true
temperature = 25.0       # set these from a thermometer's signal for compensation
humidity = 50.0
baseline = -1            # -1: keep the chip's own; else restored at start
"""


def describe_error(code: int) -> str:
    """Names of the bits set in ERROR_ID."""
    names = [name for bit, name in ERROR_BITS.items() if code & bit]
    return ", ".join(names) or f"unknown error {code:#04x}"


class CCS811Driver(Driver):
    """eCO2 and TVOC of one CCS811; baseline save/restore; env compensation."""

    spec = DriverSpec(
        name="ccs811",
        description="ams CCS811 eCO2/TVOC sensor (I2C)",
        signals=(SignalSpec("eCO2", "ppm"), SignalSpec("TVOC", "ppb")),
        params=(
            ParamSpec("address", int, 0x5A, "I2C address", writable=False, choices=(0x5A, 0x5B)),
            ParamSpec("drive_mode", str, "1s", "measurement period", choices=tuple(DRIVE_MODES)),
            ParamSpec("compensate", bool, True, "send temperature/humidity to the chip"),
            ParamSpec(
                "temperature", float, 25.0, "ambient temperature", unit="°C", min=-25, max=100
            ),
            ParamSpec(
                "humidity", float, 50.0, "ambient relative humidity", unit="%", min=0, max=100
            ),
            ParamSpec(
                "baseline", int, -1, "baseline restored at start (-1: none)", min=-1, max=65535
            ),
        ),
        functions=(
            FunctionSpec("save_baseline", (), "read the chip's current baseline (store it)"),
            FunctionSpec(
                "restore_baseline",
                (ArgSpec("value", int, default=None, required=False),),
                "write a saved baseline (default: the baseline parameter)",
            ),
            FunctionSpec("reset", (), "software reset and start again"),
        ),
        bus="i2c",
        default_samplerate=1.0,
        max_samplerate=4.0,
        sample_config=SAMPLE_CONFIG,
    )

    def __init__(self, *, i2c: Any = None, **kwargs: Any) -> None:
        """`i2c`: a busio.I2C-like object to use instead of the board's bus (tests, demo)."""
        super().__init__(**kwargs)
        self._given_i2c = i2c
        self._i2c: Any = None
        self._ccs: Any = None

    def open(self) -> None:
        """Start the application firmware, set drive mode, baseline and compensation."""
        import adafruit_ccs811

        from edge_agent.buses.i2c import acquire_busio

        if self._i2c is None:
            self._i2c = self._given_i2c if self._given_i2c is not None else acquire_busio()
        addr = self.params["address"]
        try:
            ccs = adafruit_ccs811.CCS811(self._i2c, address=addr)
            ccs.drive_mode = DRIVE_MODES[self.params["drive_mode"]]
            if self.params["baseline"] >= 0:
                ccs.baseline = self.params["baseline"]
            if self.params["compensate"]:
                ccs.set_environmental_data(self.params["humidity"], self.params["temperature"])
        except (OSError, ValueError) as exc:
            raise DriverUnavailable(f"{self.device}: no CCS811 at {addr:#x}: {exc}") from exc
        except DriverError:
            raise
        except RuntimeError as exc:  # wrong HW id, error flag or boot mode at start
            raise DriverError(f"{self.device}: CCS811 at {addr:#x} did not start: {exc}") from exc
        self._ccs = ccs

    def close(self) -> None:
        """Release the I2C bus (the chip keeps measuring in its drive mode)."""
        from edge_agent.buses.i2c import release_busio

        if self._i2c is not None and self._given_i2c is None:
            release_busio(self._i2c)
        self._i2c = None
        self._ccs = None

    def _chip(self) -> Any:
        if self._ccs is None:
            self.open()
        return self._ccs

    def _io(self, what: str, fn: Any) -> Any:
        try:
            return fn()
        except OSError as exc:
            self._ccs = None  # reconnect (and restart the app firmware) next time
            raise DriverUnavailable(f"{self.device}: {what} failed: {exc}") from exc

    def read(self) -> Mapping[str, float]:
        """eCO2/TVOC when the chip has a new measurement; {} when not; errors raised."""
        ccs = self._chip()

        def sample() -> dict[str, float]:
            if ccs.error:
                code = ccs.error_code
                raise DriverError(f"{self.device}: sensor error {describe_error(code)}")
            if not ccs.data_ready:
                return {}  # no new measurement since the last read: nothing to report
            eco2, tvoc = ccs.eco2, ccs.tvoc
            if eco2 is None or tvoc is None or not 400 <= eco2 <= 32768 or tvoc > 32768:
                raise DriverError(f"{self.device}: implausible result eCO2={eco2} TVOC={tvoc}")
            return {"eCO2": float(eco2), "TVOC": float(tvoc)}

        try:
            return self._io("read", sample)
        except DriverError:
            raise
        except RuntimeError as exc:  # the library's own error check after the result read
            raise DriverError(f"{self.device}: {exc}") from exc

    def apply_param(self, name: str, value: Any) -> None:
        """Push drive mode, baseline or compensation data to the chip."""
        if self._ccs is None:
            return  # applied at open
        ccs = self._ccs
        if name == "baseline":
            if value >= 0:
                self._io("baseline write", lambda: setattr(ccs, "baseline", value))
        elif name == "drive_mode":
            self._io("drive mode", lambda: setattr(ccs, "drive_mode", DRIVE_MODES[value]))
        elif name in ("temperature", "humidity", "compensate"):
            p = {**self.params, name: value}
            if p["compensate"]:
                self._io(
                    "env data",
                    lambda: ccs.set_environmental_data(p["humidity"], p["temperature"]),
                )

    def fn_save_baseline(self) -> int:
        """Read the baseline and keep it as the `baseline` parameter; returns it."""
        ccs = self._chip()
        value = int(self._io("baseline read", lambda: ccs.baseline))
        self.params["baseline"] = value
        return value

    def fn_restore_baseline(self, value: int | None = None) -> int:
        """Write a baseline (the given one, or the saved parameter)."""
        value = self.params["baseline"] if value is None else value
        if not 0 <= value <= 0xFFFF:
            raise DriverError(f"{self.device}: no baseline saved (got {value})")
        ccs = self._chip()
        self._io("baseline write", lambda: setattr(ccs, "baseline", value))
        self.params["baseline"] = value
        return value

    def fn_reset(self) -> bool:
        """Software reset; the next read starts the firmware again."""
        ccs = self._chip()
        self._io("reset", ccs.reset)
        self._ccs = None
        return True
