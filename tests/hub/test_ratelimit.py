"""Token buckets on a fake clock: what is let through, when, and what is remembered."""

from __future__ import annotations

import math

import pytest

from hub.ratelimit import KeyedBuckets, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_lets_the_burst_through_then_the_rate() -> None:
    clock = FakeClock()
    b = TokenBucket(rate=2.0, burst=3.0, clock=clock)
    assert [b.take() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.25  # half a token
    assert not b.take()
    clock.now += 0.25
    assert b.take() and not b.take()
    clock.now += 100.0  # refills to the burst, not beyond
    assert sum(b.take() for _ in range(10)) == 3


def test_a_refused_take_spends_nothing() -> None:
    clock = FakeClock()
    b = TokenBucket(rate=1.0, burst=5.0, clock=clock)
    assert b.take(4)
    assert not b.take(2)
    assert b.tokens == 1.0
    assert b.take(1) and b.tokens == 0.0


def test_spend_makes_a_debt_that_later_takes_wait_for() -> None:
    clock = FakeClock()
    b = TokenBucket(rate=10.0, burst=10.0, clock=clock)
    b.spend(30)  # 20 past zero
    assert b.tokens == -20.0 and not b.take()
    assert b.wait_time() == pytest.approx(2.1)
    clock.now += 2.0
    assert not b.take()
    clock.now += 0.1
    assert b.take()
    b.spend(-1)  # given back
    assert b.tokens == pytest.approx(1.0)


def test_wait_time_says_when_a_take_would_succeed() -> None:
    clock = FakeClock()
    b = TokenBucket(rate=4.0, burst=8.0, clock=clock)
    assert b.wait_time(8) == 0.0
    assert b.take(8)
    assert b.wait_time(1) == pytest.approx(0.25)
    assert b.wait_time(8) == pytest.approx(2.0)
    assert b.wait_time(9) == math.inf  # more than the bucket holds
    clock.now += 0.25
    assert b.wait_time(1) == 0.0 and b.take(1)
    assert TokenBucket(rate=0.0, burst=1.0, clock=clock).wait_time(2) == math.inf
    empty = TokenBucket(rate=0.0, burst=1.0, clock=clock)
    assert empty.take() and empty.wait_time() == math.inf


@pytest.mark.parametrize(
    ("rate", "burst", "says"),
    [
        (-1.0, 1.0, "rate"),
        (math.nan, 1.0, "rate"),
        (math.inf, 1.0, "rate"),
        (1.0, 0.0, "burst"),
        (1.0, math.inf, "burst"),
        (1.0, math.nan, "burst"),
    ],
)
def test_bad_limits_are_refused_with_a_reason(rate: float, burst: float, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        TokenBucket(rate=rate, burst=burst)
    with pytest.raises(ValueError, match=says):
        KeyedBuckets(rate=rate, burst=burst)


def test_keys_have_their_own_buckets() -> None:
    clock = FakeClock()
    k = KeyedBuckets(rate=1.0, burst=2, clock=clock)
    assert [k.take("a") for _ in range(3)] == [True, True, False]
    assert [k.take("b") for _ in range(3)] == [True, True, False]
    clock.now += 1.0
    assert k.take("a") and not k.take("a")
    assert k.take("b", 1.0) and not k.take("b", 1.0)


def test_full_buckets_are_forgotten_past_max_keys_busy_ones_kept() -> None:
    clock = FakeClock()
    k = KeyedBuckets(rate=1.0, burst=2, max_keys=3, clock=clock)
    for key in ("a", "b", "c"):
        assert k.take(key)
    assert len(k) == 3
    clock.now += 1.0  # a, b and c are full again
    assert k.take("d") and k.take("d")  # d is empty now
    assert len(k) == 1  # only the busy key is remembered
    assert not k.take("d")
    assert k.take("a") and k.take("a")  # a starts full again: nothing lost by forgetting


def test_seconds_worth_holds_that_many_seconds_of_the_rate_at_least_one_token() -> None:
    clock = FakeClock()
    assert TokenBucket.seconds_worth(50.0, clock=clock).burst == 50.0
    assert TokenBucket.seconds_worth(1000.0, 4.0, clock).burst == 4000.0
    slow = TokenBucket.seconds_worth(0.5, clock=clock)  # half a request a second: still one
    assert slow.burst == 1.0 and slow.take() and not slow.take()
    clock.now += 2.0
    assert slow.take()
