"""The writer thread: group commits, retries while the store is down, refuses the unstorable."""

from __future__ import annotations

import queue
from pathlib import Path

from edge_agent.wire import Batch, Series
from hub.db.base import StoreError
from hub.db.sqlite import SQLiteStore
from hub.db.writer import BatchWriter, Job, Outcome


def batch(seq: int, agent: str = "a") -> Batch:
    return Batch(agent, seq, [Series("D", "S", "", [float(seq)], [float(seq) * 2])])


class FlakyStore(SQLiteStore):
    """A real SQLite store that is 'down' for the first `down` writes and refuses seq 13."""

    def __init__(self, *, path: Path, down: int = 0) -> None:
        super().__init__(path=path)
        self.down = down
        self.group_sizes: list[int] = []

    def write_batches(self, items: list[tuple[Batch, float]]) -> list[bool]:
        if self.down > 0:
            self.down -= 1
            raise StoreError("database is down")
        if any(b.seq == 13 for b, _ in items):
            raise ValueError("seq 13 can never be stored")
        self.group_sizes.append(len(items))
        return super().write_batches(items)

    write_batch = SQLiteStore.write_batch  # goes through write_batches above


def run(store: FlakyStore, jobs: list[Job]) -> list[Outcome]:
    done: queue.Queue[Outcome] = queue.Queue()
    writer = BatchWriter(store=store, on_done=done.put, retry_initial=0.01)
    for j in jobs:  # queued before the thread starts: one group
        writer.submit(j)
    writer.start()
    outcomes = [done.get(timeout=10) for _ in jobs]
    writer.stop()
    return outcomes


def test_queued_batches_are_written_in_one_group_and_duplicates_found(tmp_path: Path) -> None:
    store = FlakyStore(path=tmp_path / "s.sqlite")
    store.open()
    jobs = [Job(kind="batch", batch=batch(i), token=i) for i in (1, 2, 3, 2)]
    outcomes = run(store, jobs)
    assert [o.stored for o in outcomes] == [True, True, True, False]
    assert store.group_sizes == [4]
    assert store.sample_count() == 3


def test_store_down_is_retried_until_it_is_back_and_nothing_is_lost(tmp_path: Path) -> None:
    store = FlakyStore(path=tmp_path / "s.sqlite", down=3)
    store.open()
    outcomes = run(store, [Job(kind="batch", batch=batch(i)) for i in (1, 2)])
    assert [o.stored for o in outcomes] == [True, True] and store.down == 0
    assert store.sample_count() == 2


def test_unstorable_batch_is_kept_raw_and_the_rest_of_its_group_stored(tmp_path: Path) -> None:
    store = FlakyStore(path=tmp_path / "s.sqlite")
    store.open()
    outcomes = run(store, [Job(kind="batch", batch=batch(i)) for i in (12, 13, 14)])
    assert [(o.stored, o.rejected is not None, o.error) for o in outcomes] == [
        (True, False, None),
        (False, True, None),
        (True, False, None),
    ]
    assert store.sample_count() == 2
    rows = store.rejected()
    assert len(rows) == 1 and "seq 13" in rows[0][3] and b'"seq":13' in bytes(rows[0][2])
