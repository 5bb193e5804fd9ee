"""The DHT's pulse-train seam: high-pulse lengths that encode a reading, as the wire carries.

adafruit_dht decodes 40 bits from 80 pulse lengths (low, high, low, high, …; a high
pulse longer than 51 µs is a 1). This stand-in builds those pulses from a humidity and
temperature, and can corrupt the checksum or cut the train short on request.
"""

from __future__ import annotations

import array
from collections import deque


def dht22_bytes(humidity: float, temperature: float) -> list[int]:
    """The five bytes a DHT22 sends: RH×10, sign-magnitude T×10, checksum."""
    h = round(humidity * 10)
    t = round(abs(temperature) * 10) | (0x8000 if temperature < 0 else 0)
    data = [h >> 8, h & 0xFF, t >> 8, t & 0xFF]
    return [*data, sum(data) & 0xFF]


def dht11_bytes(humidity: float, temperature: float) -> list[int]:
    """The five bytes a DHT11 sends: RH, 0, T integer, T tenths, checksum."""
    data = [int(humidity), 0, int(temperature), round((temperature % 1) * 10)]
    return [*data, sum(data) & 0xFF]


def pulses_for(data: list[int]) -> array.array:
    """81 pulse lengths in µs carrying the bytes."""
    out = array.array("H")
    for byte in data:
        for bit in range(7, -1, -1):
            out.append(50)  # low
            out.append(70 if byte >> bit & 1 else 26)  # high: long = 1
    out.append(50)
    return out


class DHTWire:
    """Callable used as the sensor's `_get_pulses_bitbang`; queue faults with `fail_next`."""

    def __init__(self, *, model: str = "DHT22") -> None:
        self.model = model
        self.humidity = 45.0
        self.temperature = 21.0
        self.faults: deque[str] = deque()
        self.calls = 0

    def fail_next(self, *faults: str) -> None:
        """Queue faults: "checksum", "missing" (no sensor), "short" (incomplete train)."""
        self.faults.extend(faults)

    def __call__(self) -> array.array:
        self.calls += 1
        encode = dht22_bytes if self.model == "DHT22" else dht11_bytes
        data = encode(self.humidity, self.temperature)
        fault = self.faults.popleft() if self.faults else ""
        if fault == "checksum":
            data[4] ^= 0x01
        pulses = pulses_for(data)
        if fault == "missing":
            return array.array("H", pulses[:3])
        if fault == "short":
            return array.array("H", pulses[:50])
        return pulses
