"""INA219 current/power monitor on I2C through pi-ina219.

As the RTOC plugin: address 0x41, 0.1 Ω shunt, 0.2 A expected, 16 V range, gain chosen
by the library; woken before and put to sleep after each reading. A current beyond
what the shunt and gain can measure raises an edge event and yields no sample.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from .base import Driver, DriverError, DriverSpec, DriverUnavailable, ParamSpec, SignalSpec

log = logging.getLogger(__name__)

GAINS = {"auto": -1, "40mV": 0, "80mV": 1, "160mV": 2, "320mV": 3}
ADCS = {
    "9bit": 0,
    "10bit": 1,
    "11bit": 2,
    "12bit": 3,
    "2samp": 9,
    "4samp": 10,
    "8samp": 11,
    "16samp": 12,
    "32samp": 13,
    "64samp": 14,
    "128samp": 15,
}
RANGE_TEXT = "Current out of device range with specified shunt resistor"

SAMPLE_CONFIG = """\
[devices.INA219_Modul]
driver = "ina219"
samplerate = 1
[devices.INA219_Modul.params]
address = 0x41
i2c_bus = 1
shunt_ohms = 0.1
max_expected_amps = 0.2
voltage_range = 16        # 16 | 32
gain = "auto"             # auto | 40mV | 80mV | 160mV | 320mV
adc = "12bit"             # 9bit … 12bit, 2samp … 128samp
sleep_between = true
"""


class INA219Driver(Driver):
    """Bus voltage, current, power and shunt voltage of one INA219."""

    spec = DriverSpec(
        name="ina219",
        description="TI INA219 current and power monitor (I2C, pi-ina219)",
        signals=(
            SignalSpec("Bus Voltage", "V"),
            SignalSpec("Bus Current", "mA"),
            SignalSpec("Power", "mW"),
            SignalSpec("Shunt Voltage", "mV"),
        ),
        params=(
            ParamSpec("address", int, 0x41, "I2C address", writable=False, min=0x40, max=0x4F),
            ParamSpec("i2c_bus", int, 1, "I2C bus number", writable=False, min=0),
            ParamSpec("shunt_ohms", float, 0.1, "shunt resistor", unit="Ohm", min=0.0001),
            ParamSpec("max_expected_amps", float, 0.2, "largest expected current", unit="A"),
            ParamSpec("voltage_range", int, 16, "bus voltage range", unit="V", choices=(16, 32)),
            ParamSpec("gain", str, "auto", "shunt voltage range", choices=tuple(GAINS)),
            ParamSpec("adc", str, "12bit", "ADC resolution or averaging", choices=tuple(ADCS)),
            ParamSpec("sleep_between", bool, True, "power down between readings"),
        ),
        bus="i2c",
        default_samplerate=1 / 60,
        max_samplerate=50.0,
        sample_config=SAMPLE_CONFIG,
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ina: Any = None
        self.out_of_range = False

    def open(self) -> None:
        """Create the library object and configure (calibrate) the chip."""
        from ina219 import INA219

        p = self.params
        try:
            ina = INA219(
                p["shunt_ohms"],
                p["max_expected_amps"],
                busnum=p["i2c_bus"],
                address=p["address"],
                log_level=logging.WARNING,
            )
            ina.configure(
                voltage_range=INA219.RANGE_16V if p["voltage_range"] == 16 else INA219.RANGE_32V,
                gain=GAINS[p["gain"]],
                bus_adc=ADCS[p["adc"]],
                shunt_adc=ADCS[p["adc"]],
            )
        except ValueError as exc:  # the library refuses shunt/amps/gain combinations
            raise DriverError(f"{self.device}: {exc}") from exc
        except OSError as exc:
            raise DriverUnavailable(
                f"{self.device}: no INA219 at {p['address']:#x} on I2C bus {p['i2c_bus']}: {exc}"
            ) from exc
        self._ina = ina

    def close(self) -> None:
        """Forget the chip (it stays in whatever power state it is in)."""
        self._ina = None

    def apply_param(self, name: str, value: Any) -> None:
        """Calibration parameters need a fresh configure: reopen at the next read."""
        self._ina = None

    def read(self) -> Mapping[str, float]:
        """Wake, read the four values, sleep; out of range gives an event and no sample."""
        from ina219 import DeviceRangeError

        if self._ina is None:
            self.open()
        ina = self._ina
        try:
            if self.params["sleep_between"]:
                ina.wake()
            values = {
                "Bus Voltage": float(ina.voltage()),
                "Bus Current": float(ina.current()),
                "Power": float(ina.power()),
                "Shunt Voltage": float(ina.shunt_voltage()),
            }
            if self.params["sleep_between"]:
                ina.sleep()
        except DeviceRangeError as exc:
            if not self.out_of_range:
                self.events(RANGE_TEXT, signal="Bus Current", priority=1)
            self.out_of_range = True
            raise DriverError(f"{self.device}: {RANGE_TEXT} ({exc})") from exc
        except OSError as exc:
            self._ina = None  # the chip may have lost its calibration: configure again
            raise DriverUnavailable(f"{self.device}: I2C read failed: {exc}") from exc
        if self.out_of_range:
            self.events("Current back in device range", signal="Bus Current", priority=0)
            self.out_of_range = False
        return values
