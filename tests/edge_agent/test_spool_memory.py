"""The spool's low-write mode (`spool_memory_age`): batches acked while young never touch
the file; older ones, and all of them at close, are written; sequence numbers still only
grow after a crash; the byte bound covers held batches too."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge_agent.agent import Agent
from edge_agent.config import make_agent_config
from edge_agent.config_schema import ConfigError
from edge_agent.spool import SEQ_RESERVE, Spool
from edge_agent.wire import Series, decode_batch
from tests.fixtures.net import free_port, wait_for


class Wall:
    """A wall clock the test moves."""

    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def series(n: int, start: float = 0.0) -> list[Series]:
    t = [start + i for i in range(n)]
    return [Series("G", "S", "V", t, [v * 2 for v in t])]


def rows_in_file(path: Path) -> list[int]:
    with sqlite3.connect(path) as db:
        return [r[0] for r in db.execute("SELECT seq FROM batches ORDER BY seq")]


def file_bytes(path: Path) -> int:
    """Bytes of the database and its WAL: what has been written so far."""
    wal = Path(f"{path}-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)


def test_batches_acked_while_young_never_reach_the_file(tmp_path: Path) -> None:
    path, wall = tmp_path / "spool.sqlite", Wall()
    sp = Spool(path=path, agent="pi", memory_age=5.0, wall=wall).open()
    sp.ack([sp.append(series(3))])  # the first one reserves sequence numbers in the file
    before = file_bytes(path)
    for i in range(50):
        seq = sp.append(series(3, start=10 * i))
        wall.t += 0.2
        assert sp.flush_older(wall()) == 0  # not old enough to be written
        assert sp.ack([seq]) == 1
    assert file_bytes(path) == before, "no byte written for batches acked in memory"
    waiting = sp.append(series(3))
    st = sp.stats()
    assert st.batches == 1 and st.samples == 3
    sp.close()
    assert rows_in_file(path) == [waiting]  # close wrote what was still held


def test_unacked_batches_are_written_once_old_and_survive_a_restart(tmp_path: Path) -> None:
    path, wall = tmp_path / "spool.sqlite", Wall()
    sp = Spool(path=path, agent="pi", memory_age=2.0, wall=wall).open()
    old = [sp.append(series(2, start=i)) for i in range(3)]
    wall.t += 3.0
    young = sp.append(series(2, start=100))
    assert sp.flush_older(wall()) == 3
    assert rows_in_file(path) == old
    # pending and get see the file and memory as one queue, in seq order
    assert [b.seq for b in sp.pending()] == [*old, young]
    assert [b.seq for b in sp.pending(after=old[1], limit=1)] == [old[2]]
    assert [b.seq for b in sp.get([young, old[0]])] == [old[0], young]
    assert decode_batch(sp.get([young])[0].payload, expected_agent="pi").seq == young
    assert sp.ack([old[0], young]) == 2
    sp.close()
    again = Spool(path=path, agent="pi", wall=wall).open()
    assert [b.seq for b in again.pending()] == old[1:]
    again.close()


def test_after_a_crash_sequence_numbers_still_only_grow(tmp_path: Path) -> None:
    path, wall = tmp_path / "spool.sqlite", Wall()
    crashed = Spool(path=path, agent="pi", memory_age=60.0, wall=wall).open()
    handed_out = [crashed.append(series(1)) for _ in range(SEQ_RESERVE + 5)]
    crashed.ack(handed_out)
    # never closed: the held batches are gone with the process, the reservation is not
    wall.t -= 3600  # and the Pi's clock went backwards meanwhile
    restarted = Spool(path=path, agent="pi", memory_age=60.0, wall=wall).open()
    assert restarted.append(series(1)) > max(handed_out)
    assert rows_in_file(path) == []
    restarted.close()


def test_the_byte_bound_covers_held_batches(tmp_path: Path) -> None:
    path, wall = tmp_path / "spool.sqlite", Wall()
    probe = Spool(path=tmp_path / "probe.sqlite", agent="pi", wall=wall).open()
    one = len(probe.get([probe.append(series(5))])[0].payload)
    probe.close()
    sp = Spool(path=path, agent="pi", max_bytes=one * 3 + one // 2, memory_age=30, wall=wall)
    sp.open()
    seqs = [sp.append(series(5, start=100 * i)) for i in range(6)]
    assert [b.seq for b in sp.pending()] == seqs[-3:]
    st = sp.stats()
    assert (st.batches, st.dropped_batches, st.dropped_samples) == (3, 3, 15)
    sp.close()
    assert rows_in_file(path) == seqs[-3:]  # the kept ones, written at close
    counts = Spool(path=path, agent="pi", wall=wall).open()
    assert counts.stats().dropped_batches == 3  # the drops are counted in the file
    counts.close()


def test_negative_memory_age_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="spool_memory_age"):
        make_agent_config(agent_id="pi", agent={"spool_memory_age": -1.0})
    cfg = make_agent_config(agent_id="pi", spool_path=tmp_path / "s.sqlite")
    assert cfg["agent"]["spool_memory_age"] == 0.0  # every batch on disk by default


def test_agent_writes_held_batches_while_the_hub_is_away(tmp_path: Path) -> None:
    """No broker listens: nothing is acked, so held batches reach the file once old."""
    spool = tmp_path / "spool.sqlite"
    cfg = make_agent_config(
        agent_id="pi",
        port=free_port(),
        spool_path=spool,
        devices={"Gen": {"driver": "generator", "samplerate": 20.0}},
        agent={"spool_memory_age": 0.5, "batch_max_age": 0.1},
    )
    agent = Agent(config=cfg)
    agent.start()
    try:
        wait_for(lambda: len(rows_in_file(spool)) >= 3, 30, "held batches written")
    finally:
        agent.stop(drain=0)
    stored = rows_in_file(spool)
    assert stored == sorted(stored) and agent.spool.stats().dropped_batches == 0
