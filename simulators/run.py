"""Run a hardware simulator by itself so a real agent can read it: `python -m simulators.run X`.

Prints the `[devices.X]` block to paste into an agent config (or hands it to a demo via
`start_sim`). Values move slowly so plots show something. Ctrl-C stops it.
Simulators: modbus (generic TCP), heliotherm, dps5020 (RTU on a pty pair), vc820 (pty),
http_json. The I2C and GPIO chips (INA219, CCS811, DHT) live inside the agent process
and are only reachable from tests.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .http_server import JsonServer
from .modbus_server import ModbusSim, RegisterBank
from .net import free_port
from .serial_pair import SerialPair
from .vc820_meter import MeterStream, encode

SIMULATORS = ("modbus", "heliotherm", "dps5020", "vc820", "http_json")


@dataclass
class SimHandle:
    """A running simulator: the agent config block that reads it, and how to stop it."""

    name: str
    toml: str
    stops: list[Callable[[], None]] = field(default_factory=list)
    _halt: threading.Event = field(default_factory=threading.Event)
    parts: dict[str, Any] = field(default_factory=dict)  # e.g. "meter": tests set its frame

    def hold(self) -> None:
        """Stop the animation only: the instrument keeps answering with what it shows."""
        self._halt.set()

    def stop(self) -> None:
        """Stop the animation and every process/thread of the simulator."""
        self._halt.set()
        for fn in reversed(self.stops):
            fn()


def _animate(handle: SimHandle, step: Callable[[float], None], period: float = 0.5) -> None:
    def run() -> None:
        t0 = time.monotonic()
        while not handle._halt.wait(period):
            step(time.monotonic() - t0)

    threading.Thread(target=run, name=f"sim-{handle.name}", daemon=True).start()


def _heliotherm(handle: SimHandle) -> None:
    bank = RegisterBank()
    bank.set(1, "input", 10, [0] * 66)
    bank.set(1, "holding", 100, [0] * 60)
    bank.set(1, "holding", 100, [1, 215, 400])
    port = free_port()
    sim = ModbusSim(bank, tcp_port=port).start()
    handle.stops.append(sim.stop)

    def step(t: float) -> None:
        outside = round(-50 + 80 * math.sin(t / 20))  # -5.0 … +3.0 °C in tenths
        bank.set(1, "input", 10, [outside & 0xFFFF, 480 + round(10 * math.sin(t / 7)), 352])
        bank.set(1, "input", 30, [40 + round(5 * math.sin(t / 11))])

    step(0)
    _animate(handle, step)
    handle.toml = (
        '[devices.Heliotherm]\ndriver = "heliotherm"\nsamplerate = 1\n'
        f'[devices.Heliotherm.params]\nhost = "127.0.0.1"\nport = {port}\ntimeout = 1.0\n'
    )


def _modbus(handle: SimHandle) -> None:
    bank = RegisterBank()
    bank.set(1, "input", 0, [0, 0, 0])
    bank.set(1, "holding", 10, [215])
    bank.set(1, "coil", 0, [1])
    port = free_port()
    sim = ModbusSim(bank, tcp_port=port).start()
    handle.stops.append(sim.stop)

    def step(t: float) -> None:
        bank.set(1, "input", 0, [round(200 + 30 * math.sin(t / 5)) & 0xFFFF])
        energy = int(t * 10)
        bank.set(1, "input", 1, [energy >> 16, energy & 0xFFFF])

    step(0)
    _animate(handle, step)
    handle.toml = (
        '[devices.Boiler]\ndriver = "modbus"\nsamplerate = 2\n'
        f'[devices.Boiler.params]\ntransport = "tcp"\nhost = "127.0.0.1"\ntcp_port = {port}\n'
        '[[devices.Boiler.registers]]\nname = "Temperature"\naddress = 0\nfunction = "input"\n'
        'type = "int16"\nscale = 0.1\nunit = "°C"\n'
        '[[devices.Boiler.registers]]\nname = "Energy"\naddress = 1\nfunction = "input"\n'
        'type = "uint32"\nunit = "kWh"\n'
        '[[devices.Boiler.registers]]\nname = "Setpoint"\naddress = 10\ntype = "int16"\n'
        'scale = 0.1\nunit = "°C"\nwritable = true\n'
    )


def _dps5020(handle: SimHandle, workdir: Path) -> None:
    bank = RegisterBank()
    bank.set(1, "holding", 0, [1200, 150, 1198, 75, 898, 2410, 0, 0, 0, 1, 4])
    pair = SerialPair(workdir, "dps5020").start()
    sim = ModbusSim(bank, serial_port=pair.sim_path).start()
    handle.stops += [pair.stop, sim.stop]

    def step(t: float) -> None:
        vset, iset, _, _, _, _, _, _, _, on, _ = bank.get(1, "holding", 0, 11)
        load_ohms = 15 + 5 * math.sin(t / 6)
        volts = vset if on else 0
        amps = min(iset, round(volts / load_ohms)) if on else 0
        bank.set(1, "holding", 2, [volts, amps, volts * amps // 100])

    _animate(handle, step)
    handle.toml = (
        '[devices.DPS5020]\ndriver = "dps5020"\nsamplerate = 1\n'
        f'[devices.DPS5020.params]\nserial_port = "{pair.agent_path}"\ntimeout = 0.5\n'
    )


def _vc820(handle: SimHandle, workdir: Path) -> None:
    pair = SerialPair(workdir, "vc820").start()
    meter = MeterStream(pair.sim_path, period=0.25).start()
    handle.stops += [pair.stop, meter.stop]
    handle.parts["meter"] = meter

    def step(t: float) -> None:
        meter.frame = encode(f"{3.3 + 0.2 * math.sin(t / 4):.3f}", "dc", "V", "auto")

    _animate(handle, step)
    handle.toml = (
        '[devices.HoldPeak]\ndriver = "vc820"\nsamplerate = 1\n'
        f'[devices.HoldPeak.params]\nserial_port = "{pair.agent_path}"\n'
    )


def _http_json(handle: SimHandle) -> None:
    srv = JsonServer().start()
    handle.stops.append(srv.stop)

    def step(t: float) -> None:
        srv.payload = {
            "temperature": {"tool0": {"actual": 200 + 15 * math.sin(t / 9)}, "bed": {"actual": 60}},
            "progress": {"completion": min(100.0, t / 6)},
        }

    step(0)
    _animate(handle, step)
    handle.toml = (
        '[devices.Printer]\ndriver = "http_json"\nsamplerate = 1\n'
        '[[devices.Printer.values]]\nname = "Hotend"\npath = "temperature.tool0.actual"\n'
        'unit = "°C"\n'
        '[[devices.Printer.values]]\nname = "Progress"\npath = "progress.completion"\nunit = "%"\n'
        f'[devices.Printer.params]\nurl = "{srv.url}"\n'
    )


def start_sim(name: str, workdir: Path | None = None) -> SimHandle:
    """Start simulator `name`; returns its handle with the agent config block."""
    if name not in SIMULATORS:
        raise ValueError(f"unknown simulator {name!r}; choose from {', '.join(SIMULATORS)}")
    handle = SimHandle(name=name, toml="")
    work = workdir or Path(tempfile.mkdtemp(prefix=f"oc-sim-{name}-"))
    work.mkdir(parents=True, exist_ok=True)  # the demo names <data_dir>/sim-<name>
    if name == "heliotherm":
        _heliotherm(handle)
    elif name == "modbus":
        _modbus(handle)
    elif name == "dps5020":
        _dps5020(handle, work)
    elif name == "vc820":
        _vc820(handle, work)
    else:
        _http_json(handle)
    return handle


def main() -> None:
    """Command line: start one simulator, print its config block, run until Ctrl-C."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("name", choices=SIMULATORS)
    args = ap.parse_args()
    handle = start_sim(args.name)
    print(f"# {args.name} simulator running; add this to the agent config:\n{handle.toml}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()


if __name__ == "__main__":
    main()
