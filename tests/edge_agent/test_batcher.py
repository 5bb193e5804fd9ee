"""Batcher: batches close by size or age, flush on shutdown, one Series per signal."""

from __future__ import annotations

import threading

import pytest

from edge_agent.batcher import Batcher
from edge_agent.wire import Series


class FakeMono:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_closes_by_size_and_groups_per_signal() -> None:
    out: list[list[Series]] = []
    b = Batcher(sink=out.append, max_samples=4, max_age=10.0, mono=FakeMono())
    b.add([("G", "A", "V", 1.0, 10.0), ("G", "B", "", 1.0, 20.0)])
    assert out == [] and b.buffered == 2
    b.add([("G", "A", "V", 2.0, 11.0), ("G", "B", "", 2.0, 21.0), ("H", "A", "", 2.0, 5.0)])
    assert len(out) == 1
    batch = {s.key: s for s in out[0]}
    assert batch["G.A"].t == [1.0, 2.0] and batch["G.A"].y == [10.0, 11.0]
    assert batch["G.A"].unit == "V"
    assert batch["G.B"].y == [20.0, 21.0]
    # the fifth sample went into the next batch, not lost
    assert b.buffered == 1
    b.flush()
    assert [s.key for s in out[1]] == ["H.A"] and out[1][0].y == [5.0]
    assert b.samples == 5 and b.batches == 2


def test_closes_by_age_with_injected_clock() -> None:
    mono = FakeMono()
    out: list[list[Series]] = []
    b = Batcher(sink=out.append, max_samples=100, max_age=0.25, mono=mono)
    assert b.poll() is False  # empty: nothing to close
    b.add([("G", "A", "", 1.0, 1.0)])
    mono.now += 0.125
    b.add([("G", "A", "", 1.1, 2.0)])
    assert b.poll() is False and b.due_in() == pytest.approx(0.125)
    mono.now += 0.125
    assert b.poll() is True
    assert out[0][0].y == [1.0, 2.0]
    assert b.buffered == 0 and b.flush() is False


def test_flush_on_shutdown_keeps_everything() -> None:
    out: list[list[Series]] = []
    b = Batcher(sink=out.append, max_samples=1000, max_age=60.0, mono=FakeMono())
    b.add([("G", "A", "", float(i), float(i)) for i in range(7)])
    assert b.flush() is True
    assert out[0][0].t == [float(i) for i in range(7)]


def test_concurrent_adds_lose_nothing() -> None:
    out: list[list[Series]] = []
    b = Batcher(sink=out.append, max_samples=37, max_age=60.0)

    def work(dev: str) -> None:
        for i in range(500):
            b.add([(dev, "S", "", float(i), float(i))])

    threads = [threading.Thread(target=work, args=(f"D{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    b.flush()
    got: dict[str, list[float]] = {}
    for batch in out:
        assert sum(len(s.t) for s in batch) <= 37
        for s in batch:
            got.setdefault(s.device, []).extend(s.t)
    assert {d: sorted(v) for d, v in got.items()} == {
        f"D{n}": [float(i) for i in range(500)] for n in range(4)
    }


def test_bad_limits_refused() -> None:
    with pytest.raises(ValueError, match="max_samples"):
        Batcher(sink=print, max_samples=0)
    with pytest.raises(ValueError, match="max_age"):
        Batcher(sink=print, max_age=0)
