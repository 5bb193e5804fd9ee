"""RTOC's Generator: test waveforms without hardware (Square, Sawtooth, Random, Sinus, AC, DC).

As in RTOC one signal is produced, named after the selected waveform (default Square);
`waveform = "all"` produces all six. Values follow RTOC: Square is `offset` for the
first half period and `gen_level + offset` for the second; AC is `-gen_level + offset`
then `gen_level + offset`; Sawtooth rises from `offset` to `gen_level + offset` each
period; Sinus is `gen_level * sin(2π·gen_freq·t + phase) + offset`; Random is uniform in
`[offset, gen_level + offset]`; DC is `gen_level + offset`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping

from .base import ArgSpec, Driver, DriverError, DriverSpec, FunctionSpec, ParamSpec, SignalSpec

WAVEFORMS = ("Square", "Sawtooth", "Random", "Sinus", "AC", "DC")

SAMPLE_CONFIG = """\
[devices.Generator]
driver = "generator"
samplerate = 10          # Hz (RTOC's Generator ran at 10 Hz)
[devices.Generator.params]
waveform = "Square"      # Square | Sawtooth | Random | Sinus | AC | DC | all
gen_freq = 1.0           # Hz
gen_level = 1.0          # amplitude
offset = 1.0
phase = 1.0              # rad
"""


class GeneratorDriver(Driver):
    """Synthetic signals, computed from the driver clock (deterministic under a fake clock)."""

    spec = DriverSpec(
        name="generator",
        description="Test waveforms as RTOC's Generator plugin (no hardware)",
        signals=tuple(SignalSpec(name, "") for name in WAVEFORMS),
        params=(
            ParamSpec(
                "waveform", str, "Square", doc="Selected signal", choices=(*WAVEFORMS, "all")
            ),
            ParamSpec(
                "gen_freq",
                float,
                1.0,
                doc="Frequency of selected signal",
                unit="Hz",
                min=1e-6,
                max=1e4,
            ),
            ParamSpec("gen_level", float, 1.0, doc="Amplitude of selected signal"),
            ParamSpec("offset", float, 1.0, doc="Y-Offset of selected signal"),
            ParamSpec("phase", float, 1.0, doc="X-Phase of selected signal", unit="rad"),
        ),
        functions=(
            FunctionSpec(
                "setFrequency",
                args=(ArgSpec("freq", float), ArgSpec("inverse", bool, False, required=False)),
                doc="Set the frequency (1/s); inverse=true takes a period in seconds instead.",
            ),
            FunctionSpec(
                "changeType",
                args=(ArgSpec("stype", str, "Square", required=False),),
                doc="Change the signal type: Square, Sawtooth, Random, Sinus, AC, DC or all.",
            ),
        ),
        bus="none",
        default_samplerate=10.0,
        max_samplerate=1000.0,
        sample_config=SAMPLE_CONFIG,
    )

    def open(self) -> None:
        """Remember the start time (the waveforms' time origin)."""
        self._t0 = self.clock()
        self._rng = random.Random()

    def value(self, waveform: str, t: float) -> float:
        """The waveform's value `t` seconds after the start."""
        p = self.params
        level, offset, freq = p["gen_level"], p["offset"], p["gen_freq"]
        frac = (t * freq) % 1.0
        if waveform == "Square":
            return offset + (level if frac >= 0.5 else 0.0)
        if waveform == "AC":
            return offset + (level if frac >= 0.5 else -level)
        if waveform == "Sawtooth":
            return offset + level * frac
        if waveform == "Sinus":
            return offset + level * math.sin(2 * math.pi * freq * t + p["phase"])
        if waveform == "Random":
            return offset + self._rng.uniform(0.0, level)
        if waveform == "DC":
            return offset + level
        raise DriverError(f"{self.device}: unknown waveform {waveform!r}")

    def read(self) -> Mapping[str, float]:
        """The selected waveform(s) at the current time."""
        if not hasattr(self, "_t0"):
            self.open()
        t = self.clock() - self._t0
        selected = self.params["waveform"]
        names = WAVEFORMS if selected == "all" else (selected,)
        return {name: self.value(name, t) for name in names}

    def fn_setFrequency(self, freq: float, inverse: bool = False) -> float:
        """RTOC's setFrequency: returns the new frequency."""
        if inverse:
            if freq == 0:
                raise DriverError(f"{self.device}: a period of 0 s has no frequency")
            freq = 1.0 / freq
        return self.set_param("gen_freq", freq)

    def fn_changeType(self, stype: str = "Square") -> str:
        """RTOC's changeType: select the waveform."""
        return self.set_param("waveform", stype)
