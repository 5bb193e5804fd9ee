"""Scheduler: stamps with the injected wall clock; a failing driver yields no sample, is
marked unavailable, backs off, and its failure and recovery are logged once each."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

import pytest

from edge_agent.drivers.base import Driver, DriverError, DriverSpec, SignalSpec
from edge_agent.drivers.generator import GeneratorDriver
from edge_agent.scheduler import DriverRunner, Sample, Scheduler
from tests.fixtures.net import wait_for


class Clock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class Flaky(Driver):
    """A test driver whose reads fail while `broken` is set."""

    spec = DriverSpec(
        name="flaky",
        description="test",
        signals=(SignalSpec("A", "V"), SignalSpec("B", "mA")),
        max_samplerate=1000.0,
    )

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.broken = False
        self.opens = 0
        self.closes = 0
        self.value = 1.0

    def open(self) -> None:
        self.opens += 1

    def close(self) -> None:
        self.closes += 1

    def read(self) -> Mapping[str, float]:
        if self.broken:
            raise DriverError(f"{self.device}: no answer on /dev/ttyX")
        return {"A": self.value, "B": float("nan")}


def runner(driver: Driver, rate: float = 10.0) -> tuple[DriverRunner, Clock, Clock, list[str]]:
    wall, mono = Clock(1_700_000_000.0), Clock(50.0)
    changes: list[str] = []
    r = DriverRunner(driver=driver, samplerate=rate, wall=wall, mono=mono, on_change=changes.append)
    return r, wall, mono, changes


def test_samples_are_stamped_with_the_wall_clock_and_units() -> None:
    r, wall, mono, _ = runner(Flaky(device="Dev"))
    samples = r.poll()
    # B is NaN: no sample for it, never a placeholder
    assert samples == [("Dev", "A", "V", 1_700_000_000.0, 1.0)]
    assert r.next_due == pytest.approx(50.1)
    wall.now += 0.1
    mono.now += 0.1
    r.driver.value = 2.0  # type: ignore[attr-defined]
    assert r.poll() == [("Dev", "A", "V", 1_700_000_000.1, 2.0)]
    assert r.stats.reads == 2 and r.stats.samples == 2 and r.stats.failures == 0


def test_an_undeclared_name_the_hub_refuses_never_leaves_the_agent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    drv = Flaky(device="Dev")
    drv.read = lambda: {"A": 1.0, "Vor/Ruecklauf": 2.0, "Extra": 3.0}  # type: ignore[method-assign]
    r, _, mono, _ = runner(drv)
    for _ in range(3):
        mono.now = r.next_due
        # the good ones (declared or not) go on; the refused name is logged once
        assert [s[1] for s in r.poll()] == ["A", "Extra"]
    assert len([m for m in caplog.messages if "Dev.Vor/Ruecklauf" in m]) == 1


def test_failure_gives_no_sample_marks_unavailable_backs_off_and_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    drv = Flaky(device="Dev")
    r, _, mono, changes = runner(drv)
    assert r.poll()
    drv.broken = True
    caplog.set_level(logging.INFO, logger="edge_agent.scheduler")
    delays = []
    for _ in range(5):
        mono.now = r.next_due
        assert r.poll() == []
        delays.append(r.next_due - mono.now)
    assert r.available is False
    assert r.stats.failures == 5 and "no answer on /dev/ttyX" in (r.stats.last_error or "")
    assert delays == pytest.approx([1.0, 2.0, 4.0, 8.0, 16.0]), "exponential backoff from 1 s"
    warnings = [m for m in caplog.messages if "unavailable" in m]
    assert len(warnings) == 1, "the failure is logged once, not per read"
    assert changes == ["Dev"]
    drv.broken = False
    mono.now = r.next_due
    assert r.poll() == [("Dev", "A", "V", 1_700_000_000.0, 1.0)]
    assert r.available is True and changes == ["Dev", "Dev"]
    assert len([m for m in caplog.messages if "recovered" in m]) == 1
    assert r.next_due == pytest.approx(mono.now + 0.1), "normal rate again after recovery"
    assert drv.opens == 1, "a DriverError (not Unavailable) keeps the device open"


def test_backoff_is_capped() -> None:
    drv = Flaky(device="Dev")
    drv.broken = True
    r, _, mono, _ = runner(drv)
    for _ in range(20):
        mono.now = r.next_due
        r.poll()
    assert r.next_due - mono.now == pytest.approx(60.0)


def test_samplerate_change_is_checked_against_the_driver_maximum() -> None:
    r, _, _, _ = runner(GeneratorDriver(device="G"))
    assert r.set_samplerate(50) == 50.0
    with pytest.raises(ValueError, match="at most 1000"):
        r.set_samplerate(5000)
    with pytest.raises(ValueError, match="> 0"):
        r.set_samplerate(0)
    assert r.samplerate == 50.0, "a refused change leaves the old rate"


def test_threads_run_each_device_at_its_rate_and_stop_start_at_runtime() -> None:
    got: list[Sample] = []
    lock = threading.Lock()

    def sink(samples: list[Sample]) -> None:
        with lock:
            got.extend(samples)

    sched = Scheduler(sink=sink)
    fast = GeneratorDriver(device="Fast")
    slow = Flaky(device="Slow")
    sched.add(DriverRunner(driver=fast, samplerate=200.0))
    sched.add(DriverRunner(driver=slow, samplerate=5.0))
    with pytest.raises(ValueError, match="already registered"):
        sched.add(DriverRunner(driver=GeneratorDriver(device="Fast"), samplerate=1.0))
    sched.start()
    try:
        wait_for(lambda: sum(1 for s in got if s[0] == "Fast") >= 40, 10, "fast samples")
        sched.stop_device("Fast")
        with lock:
            n_fast = sum(1 for s in got if s[0] == "Fast")
        n_slow = sum(1 for s in got if s[0] == "Slow")
        assert n_slow < n_fast / 4, f"slow ran {n_slow} times while fast ran {n_fast}"
        assert sched.runners["Fast"].running is False
        # stopped: no more samples from Fast, Slow goes on
        wait_for(lambda: sum(1 for s in got if s[0] == "Slow") >= n_slow + 2, 10, "slow")
        assert sum(1 for s in got if s[0] == "Fast") == n_fast
        sched.set_samplerate("Slow", 200.0)
        base = sum(1 for s in got if s[0] == "Slow")
        wait_for(lambda: sum(1 for s in got if s[0] == "Slow") >= base + 20, 5, "faster slow")
        sched.start_device("Fast")
        wait_for(lambda: sum(1 for s in got if s[0] == "Fast") > n_fast, 5, "fast restarted")
    finally:
        sched.stop()
    assert slow.closes == 1
    times = [s[3] for s in got if s[0] == "Fast"]
    assert times == sorted(times)
    with pytest.raises(KeyError, match="no device 'Nope'"):
        sched.start_device("Nope")


class Wrong(Flaky):
    """A buggy driver: read() returns a list."""

    def read(self):  # type: ignore[override]
        return [1.0]


def test_a_read_that_returns_no_mapping_is_a_failure_not_silence() -> None:
    r, _, _, changes = runner(Wrong(device="W"))
    assert r.poll() == []
    assert r.available is False and r.stats.failures == 1 and r.stats.reads == 0
    assert "returned list, not a mapping" in (r.stats.last_error or "")
    assert changes == ["W"]
