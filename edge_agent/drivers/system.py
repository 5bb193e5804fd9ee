"""The host itself as an instrument: CPU, memory, disk, temperature and network rates (psutil).

A value that this machine cannot give (no temperature sensor, the first network read
without a rate yet) is left out: no sample, never a placeholder.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .base import Driver, DriverError, DriverSpec, ParamSpec, SignalSpec

THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")

SAMPLE_CONFIG = """\
[devices.System]
driver = "system"
samplerate = 1           # Hz
[devices.System.params]
disk_path = "/"          # the file system whose use is reported as Disk
"""


class SystemDriver(Driver):
    """psutil readings of the machine the agent runs on."""

    spec = DriverSpec(
        name="system",
        description="CPU, memory, disk, temperature and network of the agent's host (psutil)",
        signals=(
            SignalSpec("CPU", "%", "CPU use since the previous read"),
            SignalSpec("Memory", "%", "memory in use"),
            SignalSpec("Disk", "%", "use of the file system at disk_path"),
            SignalSpec("Temperature", "°C", "CPU/SoC temperature, when the host has a sensor"),
            SignalSpec("NetSent", "B/s", "bytes sent per second, all interfaces"),
            SignalSpec("NetRecv", "B/s", "bytes received per second, all interfaces"),
        ),
        params=(ParamSpec("disk_path", str, "/", doc="File system reported as Disk"),),
        bus="none",
        default_samplerate=1.0,
        max_samplerate=10.0,
        sample_config=SAMPLE_CONFIG,
    )

    def open(self) -> None:
        """Import psutil and prime the CPU and network counters."""
        try:
            import psutil
        except ImportError as exc:
            raise DriverError(f"{self.device}: psutil is not installed") from exc
        self._psutil: Any = psutil
        psutil.cpu_percent(interval=None)
        self._net: tuple[float, int, int] | None = self._net_counters()

    def _net_counters(self) -> tuple[float, int, int] | None:
        try:
            io = self._psutil.net_io_counters()
        except (OSError, RuntimeError):
            return None
        if io is None:
            return None
        return (self.clock(), int(io.bytes_sent), int(io.bytes_recv))

    def temperature(self) -> float | None:
        """The host temperature in °C, or None when no sensor is readable."""
        reader = getattr(self._psutil, "sensors_temperatures", None)
        if reader is not None:
            try:
                groups = reader()
            except (OSError, RuntimeError):
                groups = {}
            for key in ("cpu_thermal", "coretemp", "k10temp", "soc_thermal", "cpu-thermal"):
                for entry in groups.get(key, []):
                    return float(entry.current)
            for entries in groups.values():
                for entry in entries:
                    return float(entry.current)
        try:
            return int(THERMAL_ZONE.read_text().strip()) / 1000.0
        except (OSError, ValueError):
            return None

    def read(self) -> Mapping[str, float]:
        """One reading of every value this host can give."""
        if not hasattr(self, "_psutil"):
            self.open()
        ps = self._psutil
        out: dict[str, float] = {
            "CPU": float(ps.cpu_percent(interval=None)),
            "Memory": float(ps.virtual_memory().percent),
        }
        try:
            out["Disk"] = float(ps.disk_usage(self.params["disk_path"]).percent)
        except OSError as exc:
            raise DriverError(
                f"{self.device}: cannot read disk use of {self.params['disk_path']!r}: {exc}"
            ) from exc
        temp = self.temperature()
        if temp is not None:
            out["Temperature"] = temp
        now = self._net_counters()
        if now is not None and self._net is not None and now[0] > self._net[0]:
            dt = now[0] - self._net[0]
            out["NetSent"] = max(0.0, (now[1] - self._net[1]) / dt)
            out["NetRecv"] = max(0.0, (now[2] - self._net[2]) / dt)
        self._net = now
        return out
