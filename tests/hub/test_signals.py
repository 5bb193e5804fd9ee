"""The live signal store: ring buffers keep the newest recordLength samples in order."""

import numpy as np
import pytest

from hub.signals import RingBuffer, SignalStore, UnknownSignal


def test_ring_keeps_newest_in_order_across_wrap() -> None:
    ring = RingBuffer(5)
    for start in range(0, 12, 3):
        xs = np.arange(start, start + 3, dtype=float)
        ring.append(xs, xs * 10)
    x, y = ring.arrays()
    assert list(x) == [7, 8, 9, 10, 11] and list(y) == [70, 80, 90, 100, 110]
    assert ring.last() == (11.0, 110.0) and ring.first_x() == 7.0


def test_ring_append_longer_than_capacity_and_resize() -> None:
    ring = RingBuffer(3)
    ring.append(np.arange(10.0), np.arange(10.0))
    assert list(ring.arrays()[0]) == [7, 8, 9]
    ring.resize(2)
    assert list(ring.arrays()[0]) == [8, 9]
    ring.resize(4)
    ring.append(np.array([10.0]), np.array([1.0]))
    assert list(ring.arrays()[0]) == [8, 9, 10]


def test_store_creates_signals_with_ids_and_tells_listeners() -> None:
    store = SignalStore(record_length=10)
    created, data = [], []
    store.on_new_signal.append(lambda s: created.append(s.key))
    store.on_data.append(lambda s, x, y: data.append((s.key, list(y))))
    a = store.append("Dev", "A", [1.0, 2.0], [3.0, 4.0], unit="V")
    b = store.append("Dev", "B", [1.0], [5.0])
    store.append("Dev", "A", [3.0], [6.0])
    assert (a.id, b.id) == (1, 2)
    assert created == ["Dev.A", "Dev.B"]
    assert data[-1] == ("Dev.A", [6.0])
    assert store.get("Dev.A").latest() == (3.0, 6.0)
    with pytest.raises(UnknownSignal, match=r"Nope\.X"):
        store.get("Nope.X")


def test_store_rejects_mismatched_arrays_and_keeps_data() -> None:
    store = SignalStore(record_length=10)
    store.append("Dev", "A", [1.0], [1.0])
    with pytest.raises(ValueError):
        store.append("Dev", "A", [1.0, 2.0], [1.0])
    assert len(store.get("Dev.A").buffer) == 1


def test_ring_one_sample_at_a_time_wraps_like_arrays() -> None:
    one, many = RingBuffer(3), RingBuffer(3)
    for v in range(1, 6):
        one.append(np.array([float(v)]), np.array([v * 10.0]))
    many.append(np.arange(1.0, 6.0), np.arange(10.0, 60.0, 10.0))
    for a, b in zip(one.arrays(), many.arrays(), strict=True):
        assert a.tolist() == b.tolist()
    assert one.arrays()[0].tolist() == [3.0, 4.0, 5.0] and one.last() == (5.0, 50.0)
    assert one.first_x() == 3.0 and len(one) == 3
