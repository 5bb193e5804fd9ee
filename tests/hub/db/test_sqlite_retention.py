"""`[store] retention_days` on the embedded SQLite store: old raw samples are dropped by
the writer thread after its commits, in bounded slices; newer data and events stay."""

from __future__ import annotations

from pathlib import Path

from edge_agent.wire import Batch, Event, Series
from hub.bootstrap import make_store
from hub.config import hub_config
from hub.db.sqlite import SQLiteStore

DAY = 86_400.0
NOW = 1_764_000_000.0


def batch(seq: int, t0: float, n: int) -> Batch:
    t = [t0 + i for i in range(n)]
    ev = [Event(t0, "Gen", "Temp", "old event")] if seq == 1 else []
    return Batch(
        agent="a1",
        seq=seq,
        signals=[Series("Gen", "Temp", "°C", t, [1.0] * n), Series("Gen", "V", "V", t, [2.0] * n)],
        events=ev,
    )


def test_samples_older_than_the_retention_are_dropped_in_slices(tmp_path: Path) -> None:
    clock = [NOW]
    store = SQLiteStore(
        path=tmp_path / "s.sqlite", retention_s=DAY, clock=lambda: clock[0], prune_rows=30
    )
    store.open()
    assert store.write_batch(batch(1, NOW - 3 * DAY, 100), NOW - 3 * DAY)  # old: goes
    # One slice per signal and commit: 30 of each signal's 100 old samples so far.
    assert (store.pruned, store.sample_count()) == (60, 140)
    assert store.write_batch(batch(2, NOW - 3600, 50), NOW)  # new: stays
    assert (store.pruned, store.sample_count()) == (120, 180)
    seq = 3
    while store.sample_count() > 100:  # the backlog goes on after each batch
        assert store.write_batch(Batch(agent="a1", seq=seq, signals=[]), NOW)
        seq += 1
    assert seq == 5 and store.pruned == 200
    assert store.history("Gen", "Temp", None, None, None).x.min() == NOW - 3600
    assert [e.text for e in store.events()] == ["old event"]  # events are kept
    # The old batch's ledger row went with its samples; the newer ones stay (replays).
    assert store.write_batch(batch(2, NOW - 3600, 50), NOW) is False
    # Nothing old left: the next prune is a minute away, not after every batch.
    clock[0] += 10
    store.write_batch(Batch(agent="a1", seq=99, signals=[]), NOW)
    assert store.prune() == 0 and store.sample_count() == 100


def test_without_retention_nothing_is_dropped(tmp_path: Path) -> None:
    store = SQLiteStore(path=tmp_path / "s.sqlite")
    store.open()
    store.write_batch(batch(1, 0.0, 10), 0.0)
    assert store.prune() == 0 and store.sample_count() == 20


def test_the_config_key_reaches_the_sqlite_store(tmp_path: Path) -> None:
    cfg = hub_config({"hub": {"data_dir": str(tmp_path)}, "store": {"retention_days": 30}})
    store = make_store(cfg)
    assert isinstance(store, SQLiteStore) and store.retention_s == 30 * DAY
    assert make_store(hub_config({"hub": {"data_dir": str(tmp_path)}})).retention_s is None
