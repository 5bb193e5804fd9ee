"""The writer thread: group commits, retries while the store is down, refuses the unstorable."""

from __future__ import annotations

import queue
from pathlib import Path

from edge_agent.wire import Batch, Series
from hub.db.base import EventRecord, StoreError
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


class OneBadStore(SQLiteStore):
    """A real SQLite store; one agent's batch breaks a constraint (a real IntegrityError)."""

    def write_batches(self, items: list[tuple[Batch, float]]) -> list[bool]:
        self.group_sizes = [*getattr(self, "group_sizes", []), len(items)]
        return super().write_batches(items)

    write_batch = SQLiteStore.write_batch


def test_a_batch_breaking_a_constraint_is_refused_once_and_other_agents_are_stored(
    tmp_path: Path,
) -> None:
    store = OneBadStore(path=tmp_path / "s.sqlite")
    store.open()
    # NULL is not a value the samples table takes: the transaction fails on that batch only.
    bad = Batch("b", 1, [Series("E", "S", "", [1.0], [None])])  # type: ignore[list-item]
    jobs = [Job(kind="batch", batch=b) for b in (batch(1, "a"), bad, batch(2, "c"))]
    outcomes = run(store, jobs)  # type: ignore[arg-type]
    assert [(o.stored, o.rejected is not None) for o in outcomes] == [
        (True, False),
        (False, True),
        (True, False),
    ]
    assert store.group_sizes[0] == 3  # tried as one group first, then one by one
    assert store.sample_count() == 2
    rows = store.rejected()
    assert len(rows) == 1 and "NOT NULL" in rows[0][3] and rows[0][1] == "(batch b/1)"
    # Nothing was left half-done: the next write works on the same connection.
    assert store.write_batch(batch(3, "a"), 0.0) and store.sample_count() == 3


def test_events_one_of_which_cannot_be_stored_keep_the_others(tmp_path: Path) -> None:
    store = FlakyStore(path=tmp_path / "s.sqlite")
    store.open()
    good = EventRecord(time=1.0, device="D", signal="S", text="ok", event_id="e1")
    bad = EventRecord(time=2.0, device="D", signal="S", text=None, event_id="e2")  # type: ignore[arg-type]
    outcomes = run(
        store, [Job(kind="events", events=[good, bad]), Job(kind="batch", batch=batch(1))]
    )
    assert [o.rejected is not None for o in outcomes] == [True, False]
    assert [e.text for e in store.events()] == ["ok"]
    rows = store.rejected()
    assert len(rows) == 1 and rows[0][1] == "(hub events)" and b"e2" in bytes(rows[0][2])
    assert store.sample_count() == 1


def test_events_fired_by_a_batch_are_stored_in_its_transaction(tmp_path: Path) -> None:
    store = FlakyStore(path=tmp_path / "s.sqlite", down=2)
    store.open()
    fired = EventRecord(time=1.0, device="D", signal="S", text="crossed", event_id="x")
    outcomes = run(store, [Job(kind="batch", batch=batch(1), events=[fired])] * 2)
    assert [o.stored for o in outcomes] == [True, False]  # the second is a duplicate
    assert [e.text for e in store.events()] == ["crossed"]  # stored once, with its batch


def test_submit_never_blocks_and_keeps_room_for_the_hub(tmp_path: Path) -> None:
    store = FlakyStore(path=tmp_path / "s.sqlite")
    store.open()
    writer = BatchWriter(store=store, on_done=lambda o: None, max_queue=4)
    assert all(writer.submit(Job(kind="batch", batch=batch(i)), reserve=2) for i in (1, 2))
    assert not writer.submit(Job(kind="batch", batch=batch(3)), reserve=2)  # kept for the hub
    assert writer.submit(Job(kind="events", events=[]))
    assert writer.submit(Job(kind="events", events=[]))
    assert not writer.submit(Job(kind="events", events=[]))  # full: False at once
    assert writer.backlog == 4
