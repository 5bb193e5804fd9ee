"""Runs each driver at its own sample rate and stamps its values with the wall clock.

A `DriverRunner` owns one driver: it opens it, reads it when due, turns values into
samples, and on failure yields no sample, logs once, marks the device unavailable and
backs off; the recovery is logged once too. `Scheduler` gives every running device its
own thread (a slow or hanging device cannot delay another) and hands samples to a sink.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .clock import MonoClock, WallClock
from .drivers.base import Driver, DriverError, DriverUnavailable, TimedSample
from .wire import name_problem

log = logging.getLogger(__name__)

# (device, signal, unit, t, y)
Sample = tuple[str, str, str, float, float]
SampleSink = Callable[[list[Sample]], None]

MIN_BACKOFF = 1.0
MAX_BACKOFF = 60.0


@dataclass
class RunnerStats:
    """Counters of one device."""

    reads: int = 0
    failures: int = 0
    samples: int = 0
    last_error: str | None = None


class DriverRunner:
    """One driver with its schedule, availability state and statistics."""

    def __init__(
        self,
        *,
        driver: Driver,
        samplerate: float,
        wall: WallClock = time.time,
        mono: MonoClock = time.monotonic,
        on_change: Callable[[str], None] | None = None,
        max_backoff: float = MAX_BACKOFF,
    ) -> None:
        self.driver = driver
        self.device = driver.device
        self.samplerate = float(samplerate)
        self.running = False
        self.available = True
        self.opened = False
        self.stats = RunnerStats()
        self.next_due = 0.0
        self.lock = threading.RLock()  # serialises read() with remote set/call
        self._wall = wall
        self._mono = mono
        self._on_change = on_change or (lambda device: None)
        self._max_backoff = max_backoff
        self._backoff = 0.0
        self._units = {s.name: s.unit for s in driver.signals()}
        self._warned_signals: set[str] = set()

    @property
    def period(self) -> float:
        return 1.0 / self.samplerate

    def set_samplerate(self, rate: float) -> float:
        """Change the rate (Hz), checked against the driver's maximum; due now."""
        rate = float(rate)
        if not math.isfinite(rate) or rate <= 0:
            raise ValueError(f"{self.device}: samplerate must be a number > 0, got {rate!r}")
        top = self.driver.spec.max_samplerate
        if rate > top:
            raise ValueError(f"{self.device}: samplerate must be at most {top} Hz, got {rate}")
        self.samplerate = rate
        self.next_due = min(self.next_due, self._mono() + self.period)
        return rate

    def poll(self) -> list[Sample]:
        """Read the driver once (opening it first if needed); return its stamped samples."""
        now = self._mono()
        opened_now = False
        with self.lock:
            try:
                if not self.opened:
                    self.driver.open()
                    self.opened = opened_now = True
                values = self.driver.read()
                stamp = self._wall()
                if not isinstance(values, Mapping):
                    raise DriverError(
                        f"{self.device}: read() returned {type(values).__name__}, not a mapping"
                    )
                timed = self.driver.timed_samples()
                wanted = self.driver.samplerate_request()
            except Exception as exc:
                self._failed(exc, now)
                return []
        samples = self._samples(values, stamp) + self._timed(timed, stamp)
        if wanted is not None and wanted != self.samplerate:
            try:
                self.set_samplerate(min(wanted, self.driver.spec.max_samplerate))
                self._on_change(self.device)  # the status shows the new rate
            except ValueError as exc:
                log.warning("%s: the driver asked for a samplerate: %s", self.device, exc)
        if opened_now and self.driver.spec.params_from_device:  # described only once open
            self._on_change(self.device)
        self.stats.reads += 1
        self.stats.samples += len(samples)
        self._backoff = 0.0
        # keep the grid (no drift); after a stall, skip the missed slots instead of bursting
        due = self.next_due + self.period
        self.next_due = due if due > now else now + self.period
        if not self.available:
            self.available = True
            log.info("%s: recovered after %d failed reads", self.device, self.stats.failures)
            self._on_change(self.device)
        return samples

    def _samples(self, values: Mapping[str, Any], stamp: float) -> list[Sample]:
        out: list[Sample] = []
        for name, value in values.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                self._warn_signal(name, f"value {value!r} is not a number")
                continue
            y = float(value)
            if not math.isfinite(y):
                self._warn_signal(name, f"value {value!r} is not finite")
                continue
            unit = self._units.get(name)
            if unit is None:
                self._units = {s.name: s.unit for s in self.driver.signals()}
                unit = self._units.get(name, "")
                problem = name_problem(name)  # declared names were checked at config load
                if problem is not None:
                    self._warn_signal(name, f"name {problem}: the hub refuses it")
                    continue
            out.append((self.device, str(name), unit, stamp, y))
        return out

    def _timed(self, timed: list[TimedSample], stamp: float) -> list[Sample]:
        """Samples a driver made with their own device and time, checked like read()'s."""
        out: list[Sample] = []
        for device, name, unit, t, value in timed:
            where = name if device == self.device else f"{device}.{name}"
            if isinstance(value, bool) or not isinstance(value, int | float):
                self._warn_signal(where, f"value {value!r} is not a number")
                continue
            y, x = float(value), stamp if t is None else t
            if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
                self._warn_signal(where, f"time {t!r} is not a finite number")
                continue
            if not math.isfinite(y):
                self._warn_signal(where, f"value {value!r} is not finite")
                continue
            problem = name_problem(device) or name_problem(name)
            if problem is not None:
                self._warn_signal(where, f"name {problem}: the hub refuses it")
                continue
            out.append((device, str(name), str(unit), float(x), y))
        return out

    def _warn_signal(self, name: Any, why: str) -> None:
        key = f"{name}:{why.split(' ')[-1]}"
        if key not in self._warned_signals:
            self._warned_signals.add(key)
            log.warning("%s.%s: %s; sample skipped (logged once)", self.device, name, why)

    def _failed(self, exc: Exception, now: float) -> None:
        self.stats.failures += 1
        self.stats.last_error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, DriverUnavailable) or not self.opened:
            self._close_quietly()
        self._backoff = min(self._max_backoff, max(MIN_BACKOFF, self.period, self._backoff * 2))
        self.next_due = now + self._backoff
        if self.available:
            self.available = False
            log.warning(
                "%s: read failed, device unavailable, retrying with backoff: %s",
                self.device,
                self.stats.last_error,
            )
            self._on_change(self.device)

    def _close_quietly(self) -> None:
        if self.opened:
            try:
                self.driver.close()
            except Exception as exc:
                log.debug("%s: close failed: %s", self.device, exc)
        self.opened = False

    def close(self) -> None:
        """Close the driver (after its thread has stopped)."""
        with self.lock:
            self._close_quietly()


class Scheduler:
    """Runs several DriverRunners, each in its own thread, feeding samples to one sink."""

    def __init__(self, *, sink: SampleSink, mono: MonoClock = time.monotonic) -> None:
        self.runners: dict[str, DriverRunner] = {}
        self._sink = sink
        self._mono = mono
        self._threads: dict[str, threading.Thread] = {}
        self._wake: dict[str, threading.Event] = {}
        self._guard = threading.Lock()

    def add(self, runner: DriverRunner) -> None:
        """Register a device (not started)."""
        if runner.device in self.runners:
            raise ValueError(f"device {runner.device!r} is already registered")
        self.runners[runner.device] = runner

    def runner(self, device: str) -> DriverRunner:
        """The runner of `device`, or KeyError with a clear message."""
        try:
            return self.runners[device]
        except KeyError:
            raise KeyError(f"no device {device!r} on this agent") from None

    def start_device(self, device: str) -> None:
        """Start reading a device (no-op when it already runs)."""
        runner = self.runner(device)
        with self._guard:
            if runner.running:
                return
            runner.running = True
            runner.next_due = 0.0
            wake = threading.Event()
            thread = threading.Thread(
                target=self._loop, args=(runner, wake), name=f"drv-{device}", daemon=True
            )
            self._wake[device] = wake
            self._threads[device] = thread
            thread.start()

    def stop_device(self, device: str, timeout: float = 5.0) -> None:
        """Stop reading a device, wait for its thread and close the driver."""
        runner = self.runner(device)
        with self._guard:
            if not runner.running:
                return
            runner.running = False
            self._wake[device].set()
            thread = self._threads.pop(device)
        thread.join(timeout)
        if thread.is_alive():
            log.warning("%s: driver thread still busy after %.1fs; closing later", device, timeout)
            return
        runner.close()

    def set_samplerate(self, device: str, rate: float) -> float:
        """Change a device's sample rate at runtime; applies immediately."""
        runner = self.runner(device)
        value = runner.set_samplerate(rate)
        wake = self._wake.get(device)
        if wake is not None:
            wake.set()
        return value

    def start(self, devices: Iterable[str] | None = None) -> None:
        """Start the given devices (default: all registered)."""
        for device in list(devices if devices is not None else self.runners):
            self.start_device(device)

    def stop(self) -> None:
        """Stop every device."""
        for device in list(self.runners):
            self.stop_device(device)

    def _loop(self, runner: DriverRunner, wake: threading.Event) -> None:
        while runner.running:
            delay = runner.next_due - self._mono()
            if delay > 0:
                wake.wait(delay)
                wake.clear()
                continue
            samples = runner.poll()
            if samples:
                try:
                    self._sink(samples)
                except Exception:
                    log.exception("%s: sample sink failed; samples lost", runner.device)
