"""The writer thread: one bounded queue of jobs in front of a blocking Store.

Ingest hands batches here; the thread commits each with its ledger row, retries while the
store is down (nothing is acknowledged meanwhile, so the broker keeps the backlog), and
reports every outcome back to the event loop.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edge_agent.wire import Batch

from .base import EventRecord, Store, StoreError

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One unit of work: a batch, a rejected message, or events. `token` comes back as is."""

    kind: str  # "batch" | "rejected" | "events"
    batch: Batch | None = None
    received_at: float = 0.0
    topic: str = ""
    payload: bytes = b""
    reason: str = ""
    events: list[EventRecord] = field(default_factory=list)
    token: Any = None


@dataclass
class Outcome:
    job: Job
    stored: bool  # False for a duplicate batch
    error: str | None = None  # a failed write: not acknowledged, it will come again
    rejected: str | None = None  # a batch the store can never hold: kept raw, acknowledged


class BatchWriter:
    """Runs Store writes in its own thread; `submit` blocks when the queue is full."""

    def __init__(
        self,
        *,
        store: Store,
        on_done: Callable[[Outcome], None],
        max_queue: int = 1000,
        retry_initial: float = 0.5,
        retry_max: float = 10.0,
        group_max: int = 16,
    ) -> None:
        self.store = store
        self.group_max = group_max
        self.on_done = on_done
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self.store_ok = True
        self.store_error: str | None = None
        self._stopping = False

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    def submit(self, job: Job, timeout: float | None = None) -> bool:
        """Queue a job; blocks while full (backpressure); False if it timed out or stopping."""
        if self._stopping:
            return False
        try:
            self._queue.put(job, timeout=timeout)
        except queue.Full:
            return False
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """Finish queued jobs (unless the store is down), then end the thread."""
        self._stopping = True
        if self._thread is None:
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            log.warning(
                "writer queue still full at shutdown; unacknowledged batches will be resent"
            )
        self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            group, leftover, stop = self._gather(job)
            if not self._process(group):
                return
            if leftover is not None and not self._process([leftover]):
                return
            if stop:
                return

    def _gather(self, first: Job) -> tuple[list[Job], Job | None, bool]:
        """Take queued batch jobs after `first` for one group commit (up to group_max)."""
        group = [first]
        if first.kind != "batch":
            return group, None, False
        while len(group) < self.group_max:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                return group, None, True
            if nxt.kind != "batch":
                return group, nxt, False
            group.append(nxt)
        return group, None, False

    def _process(self, jobs: list[Job]) -> bool:
        """Write jobs, retrying while the store is down; False when stopping meanwhile."""
        delay = self.retry_initial
        while True:
            try:
                results = self._write(jobs)
            except StoreError as exc:
                if self.store_ok:
                    log.error("store unavailable, holding acknowledgements: %s", exc)
                self.store_ok, self.store_error = False, str(exc)
                if self._stopping:
                    # Unacknowledged: the broker (or the agent's spool) sends it again.
                    self._drain_unwritten()
                    return False
                time.sleep(delay)
                delay = min(delay * 2, self.retry_max)
                continue
            except ValueError as exc:
                if len(jobs) > 1:  # find the one batch that can never be stored
                    return all(self._process([j]) for j in jobs)
                self._reject(jobs[0], str(exc))
                return True
            except Exception as exc:  # a bug: report, never kill the thread
                log.exception("store write failed for %s job", jobs[0].kind)
                for j in jobs:
                    self.on_done(Outcome(j, False, f"{type(exc).__name__}: {exc}"))
                return True
            if not self.store_ok:
                log.warning("store available again, catching up")
            self.store_ok, self.store_error = True, None
            for j, stored in zip(jobs, results, strict=True):
                # A SeqConflict (a str) was kept as refused in the batch's transaction.
                conflict = stored if isinstance(stored, str) else None
                self.on_done(Outcome(j, stored is True, rejected=conflict))
            return True

    def _reject(self, job: Job, reason: str) -> None:
        """Keep a batch the store refuses as a rejected message, so it is acknowledged once."""
        assert job.batch is not None
        log.warning("store refused batch %s/%s: %s", job.batch.agent, job.batch.seq, reason)
        topic = f"(batch {job.batch.agent}/{job.batch.seq})"
        try:
            self.store.write_rejected(topic, job.batch.encode(), reason, job.received_at)
        except Exception as exc:
            self.on_done(Outcome(job, False, f"cannot keep refused batch: {exc}"))
            return
        self.on_done(Outcome(job, False, rejected=reason))

    def _drain_unwritten(self) -> None:
        while True:
            try:
                if self._queue.get_nowait() is None:
                    return
            except queue.Empty:
                return

    def _write(self, jobs: list[Job]) -> list[bool | str]:
        job = jobs[0]
        if job.kind == "batch":
            items = [(j.batch, j.received_at) for j in jobs if j.batch is not None]
            if len(items) == 1:
                return [self.store.write_batch(*items[0])]
            return self.store.write_batches(items)
        if job.kind == "rejected":
            self.store.write_rejected(job.topic, job.payload, job.reason, job.received_at)
            return [True]
        if job.kind == "events":
            self.store.write_events(job.events)
            return [True]
        raise TypeError(f"unknown job kind {job.kind!r}")
