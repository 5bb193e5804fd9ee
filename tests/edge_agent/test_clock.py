"""Clock sync probe: cached by an injected monotonic clock, a failing probe means unsynced."""

from __future__ import annotations

from edge_agent.clock import SyncCheck, system_clock_synced


class Mono:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_probe_is_cached_for_the_interval() -> None:
    answers = [False, True]
    calls: list[int] = []

    def probe() -> bool:
        calls.append(1)
        return answers[len(calls) - 1]

    mono = Mono()
    check = SyncCheck(probe=probe, mono=mono, interval=30.0)
    assert check() is False
    mono.now = 29.0
    assert check() is False and len(calls) == 1, "cached: no second probe yet"
    mono.now = 30.0
    assert check() is True and len(calls) == 2


def test_a_failing_probe_counts_as_unsynced_and_is_retried() -> None:
    mono = Mono()
    state = {"fail": True}

    def probe() -> bool:
        if state["fail"]:
            raise OSError("no adjtimex here")
        return True

    check = SyncCheck(probe=probe, mono=mono, interval=1.0)
    assert check() is False
    state["fail"] = False
    mono.now = 1.0
    assert check() is True


def test_system_probe_answers_a_boolean() -> None:
    assert isinstance(system_clock_synced(), bool)
