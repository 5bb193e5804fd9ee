"""The generator driver: RTOC's waveforms, computed from an injected clock."""

from __future__ import annotations

import math

import pytest

from edge_agent.drivers.base import DriverError
from edge_agent.drivers.generator import WAVEFORMS, GeneratorDriver


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def gen(**params: object) -> tuple[GeneratorDriver, Clock]:
    clock = Clock()
    d = GeneratorDriver(device="Generator", params=params, clock=clock)
    d.open()
    return d, clock


def at(d: GeneratorDriver, clock: Clock, t: float) -> dict[str, float]:
    clock.now = 1000.0 + t
    return dict(d.read())


def test_default_is_rtoc_square_between_offset_and_level_plus_offset() -> None:
    d, c = gen()
    assert at(d, c, 0.1) == {"Square": 1.0}
    assert at(d, c, 0.6) == {"Square": 2.0}  # the RTOC default event fires at >= 2
    assert at(d, c, 1.1) == {"Square": 1.0}


def test_waveform_values() -> None:
    d, c = gen(waveform="all", gen_freq=0.5, gen_level=2.0, offset=0.5, phase=0.0)
    v = at(d, c, 0.5)  # a quarter period
    assert set(v) == set(WAVEFORMS)
    assert v["Square"] == 0.5 and v["AC"] == -1.5
    assert v["Sawtooth"] == pytest.approx(0.5 + 2.0 * 0.25)
    assert v["Sinus"] == pytest.approx(0.5 + 2.0 * math.sin(math.pi / 2))
    assert v["DC"] == 2.5
    assert 0.5 <= v["Random"] <= 2.5
    v = at(d, c, 1.5)
    assert v["Square"] == 2.5 and v["AC"] == 2.5


def test_functions_and_param_checks() -> None:
    d, c = gen()
    assert d.call("setFrequency", [4.0, True]) == 0.25
    assert d.params["gen_freq"] == 0.25
    assert d.call("changeType", {"stype": "DC"}) == "DC"
    assert at(d, c, 0.0) == {"DC": 2.0}
    with pytest.raises(ValueError, match="one of"):
        d.set_param("waveform", "Triangle")
    with pytest.raises(DriverError, match="period of 0"):
        d.call("setFrequency", [0, True])
    assert d.params["waveform"] == "DC" and d.params["gen_freq"] == 0.25
