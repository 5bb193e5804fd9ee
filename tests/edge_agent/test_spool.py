"""Spool contract: the same suite runs on a disk file and on tmpfs (/dev/shm).

Bounded by bytes, oldest dropped first and counted (persistently), sequence numbers
that only grow across reopen, pending in seq order, ack deletes.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.spool import Spool, SpoolError
from edge_agent.wire import Series, decode_batch

SHM = Path("/dev/shm")


@pytest.fixture(params=["disk", "tmpfs"])
def spool_path(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    if request.param == "disk":
        yield tmp_path / "spool.sqlite"
        return
    if not SHM.is_dir() or not os.access(SHM, os.W_OK):
        pytest.skip("no writable tmpfs at /dev/shm")
    d = SHM / f"oc-spool-{uuid.uuid4().hex[:8]}"
    yield d / "spool.sqlite"
    for f in d.glob("*"):
        f.unlink()
    if d.exists():
        d.rmdir()


def series(n: int, start: float = 0.0, device: str = "G") -> list[Series]:
    t = [start + i for i in range(n)]
    return [Series(device, "S", "V", t, [v * 2 for v in t])]


def make(path: Path, max_bytes: int = 10_000_000, wall: float = 1_700_000_000.0) -> Spool:
    return Spool(path=path, agent="pi-1", max_bytes=max_bytes, wall=lambda: wall).open()


def test_append_then_pending_in_seq_order_with_decodable_payloads(spool_path: Path) -> None:
    sp = make(spool_path)
    seqs = [sp.append(series(3, start=10 * i)) for i in range(5)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    got = list(sp.pending())
    assert [b.seq for b in got] == seqs
    first = decode_batch(got[0].payload, expected_agent="pi-1")
    assert first.seq == seqs[0] and first.signals[0].y == [0.0, 2.0, 4.0]
    assert [b.seq for b in sp.pending(after=seqs[1], limit=2)] == seqs[2:4]
    st = sp.stats()
    assert st.batches == 5 and st.samples == 15
    assert st.bytes == sum(len(b.payload) for b in got)
    sp.close()


def test_fresh_spool_starts_seq_at_wall_clock_ms(spool_path: Path) -> None:
    sp = make(spool_path, wall=1_700_000_000.5)
    assert sp.append(series(1)) == 1_700_000_000_500
    sp.close()


def test_seq_only_grows_across_reopen_even_when_everything_was_acked(spool_path: Path) -> None:
    sp = make(spool_path)
    a = sp.append(series(1))
    b = sp.append(series(1))
    sp.ack([a, b])
    sp.close()
    # the wall clock went backwards (a Pi without RTC): seq must still grow
    sp2 = make(spool_path, wall=1_000_000.0)
    c = sp2.append(series(1))
    assert c > b
    assert [x.seq for x in sp2.pending()] == [c]
    sp2.close()


def test_ack_deletes_only_listed_batches(spool_path: Path) -> None:
    sp = make(spool_path)
    seqs = [sp.append(series(2)) for _ in range(4)]
    assert sp.ack([seqs[1], seqs[3], 12345]) == 2  # unknown seq ignored
    assert [b.seq for b in sp.pending()] == [seqs[0], seqs[2]]
    assert sp.ack([seqs[1]]) == 0  # acking twice is harmless
    st = sp.stats()
    assert st.batches == 2 and st.samples == 4
    assert st.bytes == sum(len(b.payload) for b in sp.pending())
    assert [b.seq for b in sp.get(seqs)] == [seqs[0], seqs[2]]
    sp.close()


def test_bound_drops_oldest_and_counts_persistently(spool_path: Path) -> None:
    sp = make(spool_path)
    one = len(next(iter([sp.get([sp.append(series(5))])[0].payload])))
    sp.close()
    spool_path.unlink()
    for suffix in ("-wal", "-shm"):
        Path(str(spool_path) + suffix).unlink(missing_ok=True)
    sp = make(spool_path, max_bytes=one * 3 + one // 2)
    seqs = [sp.append(series(5, start=100 * i)) for i in range(6)]
    kept = [b.seq for b in sp.pending()]
    assert kept == seqs[-3:], "the newest three fit, the oldest go first"
    st = sp.stats()
    assert (st.dropped_batches, st.dropped_samples) == (3, 15)
    assert st.bytes <= sp.max_bytes
    sp.close()
    sp2 = make(spool_path, max_bytes=one * 3 + one // 2)
    st2 = sp2.stats()
    assert (st2.dropped_batches, st2.dropped_samples, st2.batches) == (3, 15, 3)
    assert [b.seq for b in sp2.pending()] == kept
    sp2.close()


def test_a_batch_larger_than_the_bound_is_dropped_and_counted(spool_path: Path) -> None:
    sp = make(spool_path, max_bytes=200)
    small = sp.append(series(1))
    sp.append(series(200))
    st = sp.stats()
    assert st.batches == 0 and st.dropped_batches == 2 and st.dropped_samples == 201
    assert sp.append(series(1)) > small  # the spool keeps working afterwards
    sp.close()


def test_one_row_per_batch_never_per_sample(spool_path: Path) -> None:
    sp = make(spool_path)
    sp.append(series(500))
    sp.close()
    with sqlite3.connect(spool_path) as db:
        assert db.execute("SELECT COUNT(*) FROM batches").fetchone() == (1,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_unusable_path_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises((SpoolError, OSError)) as err:
        Spool(path=blocker / "spool.sqlite", agent="a").open()
    assert "file" in str(err.value)
    sp = Spool(path=tmp_path / "s.sqlite", agent="a")
    with pytest.raises(SpoolError, match="not open"):
        sp.append(series(1))


def test_a_corrupt_spool_file_is_a_clear_error_and_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(SpoolError, match=r"spool.sqlite: cannot open spool"):
        Spool(path=path, agent="a").open()
    assert path.read_bytes().startswith(b"this is not"), "the file is kept for inspection"
