"""DHT22/DHT11 temperature and humidity on a GPIO pin through adafruit-circuitpython-dht.

The sensor needs its minimum interval between reads (2 s for a DHT22); a failed read
(checksum, short pulse train) is retried after that interval, a bounded number of
times. A reading outside the sensor's range, or a jump no real room makes between two
reads, is held back. Never a placeholder: a read that cannot be trusted raises.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from .base import Driver, DriverError, DriverSpec, DriverUnavailable, ParamSpec, SignalSpec

# model -> (min interval s, temperature range, humidity range)
MODELS: dict[str, tuple[float, tuple[float, float], tuple[float, float]]] = {
    "DHT22": (2.0, (-40.0, 80.0), (0.0, 100.0)),
    "DHT11": (1.0, (0.0, 50.0), (5.0, 95.0)),
}

SAMPLE_CONFIG = """\
[devices.A]
driver = "dht"
samplerate = 0.5
[devices.A.params]
model = "DHT22"          # DHT22 (AM2302) or DHT11
pin = "D24"              # board pin name
retries = 2              # extra attempts after a failed read, each after the minimum interval
max_jump = 10.0          # °C / %RH between two reads that is held back once as implausible
"""


class DHTDriver(Driver):
    """Temperature (°C) and humidity (%) of one DHT sensor, with counters of what failed."""

    spec = DriverSpec(
        name="dht",
        description="DHT22 / DHT11 temperature and humidity sensor (GPIO)",
        signals=(SignalSpec("Temperatur", "°C"), SignalSpec("Feuchtigkeit", "%")),
        params=(
            ParamSpec("model", str, "DHT22", "sensor type", writable=False, choices=tuple(MODELS)),
            ParamSpec("pin", str, "D24", "board pin name (board.D24 …)", writable=False),
            ParamSpec("retries", int, 2, "extra attempts after a failed read", min=0, max=5),
            ParamSpec("max_jump", float, 10.0, "largest believable change between reads", min=0),
        ),
        bus="gpio",
        default_samplerate=0.5,
        max_samplerate=0.5,
        sample_config=SAMPLE_CONFIG,
    )

    def __init__(
        self,
        *,
        pulses: Callable[[], Any] | None = None,
        sleep: Callable[[float], None] | None = None,
        **kwargs: Any,
    ) -> None:
        """`pulses` replaces the GPIO bit-banging (the pulse-train seam); `sleep` the wait."""
        super().__init__(**kwargs)
        self._pulses = pulses
        self.sleep = sleep or time.sleep
        self._sensor: Any = None
        self._last_attempt: float | None = None
        self._last_good: tuple[float, float] | None = None
        self._suspect: tuple[float, float] | None = None
        self.counters = {
            "reads": 0,
            "attempts": 0,
            "checksum": 0,
            "incomplete": 0,
            "not_found": 0,
            "implausible": 0,
            "failures": 0,
        }

    @property
    def min_interval(self) -> float:
        """Seconds the sensor needs between two measurements."""
        return MODELS[self.params["model"]][0]

    def open(self) -> None:
        """Create the library object on the configured pin (or on the pulse seam)."""
        import adafruit_dht

        cls = adafruit_dht.DHT22 if self.params["model"] == "DHT22" else adafruit_dht.DHT11
        try:
            if self._pulses is not None:
                sensor = cls(None, use_pulseio=False)
                sensor._get_pulses_bitbang = self._pulses
            else:
                import board

                sensor = cls(getattr(board, self.params["pin"]))
        except (AttributeError, ImportError, NotImplementedError, RuntimeError, OSError) as exc:
            raise DriverUnavailable(
                f"{self.device}: cannot use pin {self.params['pin']}: {exc}"
            ) from exc
        self._sensor = sensor

    def close(self) -> None:
        """Release the pin."""
        if self._sensor is not None:
            try:
                self._sensor.exit()
            finally:
                self._sensor = None

    def diagnostics(self) -> Mapping[str, float]:
        """Reads, attempts and failures by kind (checksum, incomplete, not found, implausible)."""
        return dict(self.counters)

    def _wait_interval(self) -> None:
        if self._last_attempt is not None:
            wait = self._last_attempt + self.min_interval - self.clock()
            if wait > 0:
                self.sleep(wait)
        self._last_attempt = self.clock()

    def _measure(self) -> tuple[float, float]:
        sensor = self._sensor
        # the library hands back its cached values within 2 s of its last attempt, even
        # after a failure: make it measure for real (the interval is enforced above)
        sensor._last_called = 0
        temperature = sensor.temperature
        humidity = sensor.humidity
        if temperature is None or humidity is None:
            raise RuntimeError("no reading")
        return float(temperature), float(humidity)

    def _plausible(self, t: float, h: float) -> str | None:
        _, (tmin, tmax), (hmin, hmax) = MODELS[self.params["model"]]
        if not (tmin <= t <= tmax and hmin <= h <= hmax):
            return f"{t} °C / {h} % is outside the sensor's range"
        jump = self.params["max_jump"]
        if self._last_good is not None:
            lt, lh = self._last_good
            if abs(t - lt) > jump or abs(h - lh) > jump:
                # believe a jump only when the next read confirms it
                s = self._suspect
                if s is not None and abs(t - s[0]) <= jump and abs(h - s[1]) <= jump:
                    return None
                self._suspect = (t, h)
                return f"jump from {lt} °C / {lh} % to {t} °C / {h} %"
        return None

    def read(self) -> Mapping[str, float]:
        """Measure, retrying after the minimum interval; raise when no read can be trusted."""
        if self._sensor is None:
            self.open()
        self.counters["reads"] += 1
        errors: list[str] = []
        for _attempt in range(self.params["retries"] + 1):
            self._wait_interval()
            self.counters["attempts"] += 1
            try:
                t, h = self._measure()
            except RuntimeError as exc:
                text = str(exc)
                key = (
                    "checksum"
                    if "Checksum" in text
                    else "not_found"
                    if "not found" in text
                    else "implausible"
                    if "unplausible" in text
                    else "incomplete"
                )
                self.counters[key] += 1
                errors.append(text)
                continue
            problem = self._plausible(t, h)
            if problem is not None:
                self.counters["implausible"] += 1
                errors.append(problem)
                continue
            self._last_good, self._suspect = (t, h), None
            return {"Temperatur": t, "Feuchtigkeit": h}
        self.counters["failures"] += 1
        summary = f"{self.device}: {len(errors)} attempt(s) failed: {'; '.join(errors)}"
        if all("not found" in e for e in errors):
            raise DriverUnavailable(summary)
        raise DriverError(summary)
