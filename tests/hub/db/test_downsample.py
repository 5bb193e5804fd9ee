"""Min/max bucket downsampling against a plain-Python reference."""

from __future__ import annotations

import numpy as np
import pytest

from hub.db.downsample import downsample_points, downsample_rows, plan


def reference(
    t: np.ndarray, y: np.ndarray, origin: float, width: float
) -> list[tuple[float, float]]:
    """Per bucket: the earliest minimum and the earliest maximum, in time order, deduplicated."""
    buckets: dict[int, list[int]] = {}
    for i, ti in enumerate(t):
        buckets.setdefault(int(np.floor((ti - origin) / width)), []).append(i)
    out: list[tuple[float, float]] = []
    for k in sorted(buckets):
        idx = buckets[k]
        lo = min(idx, key=lambda i: (y[i], t[i]))
        hi = min(idx, key=lambda i: (-y[i], t[i]))
        pts = sorted({(t[lo], y[lo]), (t[hi], y[hi])})
        out += pts
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_the_reference_on_random_data(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 10_000, 5_000)).round(3) + 1_700_000_000
    y = rng.normal(size=5_000).round(2)  # rounded: ties happen and must go to the earliest
    grid = plan(float(t[0]), float(t[-1]), 300)
    x, v = downsample_rows(t, t, y, t, y, grid=grid)
    assert list(zip(x.tolist(), v.tolist(), strict=True)) == reference(
        t, y, grid.origin, grid.width
    )


def test_plan_aligns_to_rollup_buckets_when_they_are_coarse_enough() -> None:
    year = 365 * 86_400.0
    g = plan(1_700_000_123.0, 1_700_000_123.0 + year, 2_000)
    assert g.source == "rollup_1h" and g.width % 3_600 == 0 and g.origin % g.width == 0
    g = plan(0.0, 30 * 86_400.0, 2_000)  # 2,592 s buckets: hours still give 720 of 1,000
    assert g.source == "rollup_1h" and g.width == 3_600.0
    g = plan(0.0, 86_400.0, 2_000)  # 86.4 s buckets: whole minutes
    assert g.source == "rollup_1m" and g.width == 120.0
    g = plan(0.0, 3_600.0, 2_000)  # 3.6 s buckets: raw only
    assert g.source == "raw" and g.width == pytest.approx(3.6)
    assert plan(0.0, 10.0, None).width == 0.0


def test_rollup_rows_give_the_same_answer_as_the_samples() -> None:
    rng = np.random.default_rng(7)
    t = np.arange(0, 7_200, 1.0) + 1_700_000_000 - (1_700_000_000 % 3_600)
    y = rng.normal(size=len(t))
    grid = plan(float(t[0]), float(t[-1]), 40)  # 360 s buckets: 6 minutes each
    assert grid.source == "rollup_1m"
    # Build 1-minute rollup rows: bucket start, time and value of the min and of the max.
    mins = np.floor(t / 60) * 60
    pos, tmin, vmin, tmax, vmax = [], [], [], [], []
    for m in np.unique(mins):
        sel = mins == m
        i, j = int(np.argmin(y[sel])), int(np.argmax(y[sel]))
        pos.append(m)
        tmin.append(t[sel][i])
        vmin.append(y[sel][i])
        tmax.append(t[sel][j])
        vmax.append(y[sel][j])
    a = downsample_rows(*(np.array(v) for v in (pos, tmin, vmin, tmax, vmax)), grid=grid)
    b = downsample_rows(t, t, y, t, y, grid=grid)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_few_points_come_back_unchanged_and_sorted() -> None:
    t = np.array([3.0, 1.0, 2.0])
    x, y = downsample_points(t, np.array([30.0, 10.0, 20.0]), xmin=0, xmax=5, max_n=10)
    assert x.tolist() == [1.0, 2.0, 3.0] and y.tolist() == [10.0, 20.0, 30.0]


def test_a_bucket_with_one_sample_gives_one_point() -> None:
    t = np.array([0.0, 50.0, 99.0])
    x, y = downsample_points(t, np.array([1.0, 2.0, 3.0]), xmin=0, xmax=100, max_n=2)
    # One bucket of width 100: min (t=0) and max (t=99).
    assert x.tolist() == [0.0, 99.0] and y.tolist() == [1.0, 3.0]
    x, _ = downsample_rows(t[:1], t[:1], np.ones(1), t[:1], np.ones(1), grid=plan(0, 100, 2))
    assert x.tolist() == [0.0]


def test_max_n_below_two_is_refused() -> None:
    with pytest.raises(ValueError, match="max_n must be at least 2"):
        plan(0.0, 10.0, 1)
