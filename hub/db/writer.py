"""The writer thread: one bounded queue of jobs in front of a blocking Store.

The live side never waits for it: `submit` never blocks (False when the queue is full,
the caller decides what that means). The thread commits each batch with its ledger row,
retries while the store is down, and reports every outcome through `on_done`. A batch or
event the store can never hold (UnstorableError, ValueError, OverflowError, a bug) is
refused once, kept as a rejected message with the reason, and never takes the other jobs
of its group commit down with it.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from edge_agent.wire import Batch

from .base import EventRecord, Store, StoreError

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One unit of work: a batch, a rejected message, events, a document or a store call.

    `events` of a batch job are events the hub fired from the batch's samples: they are
    stored in the batch's transaction. `token` comes back as is. A "call" job runs
    `call(store)` in its place in the queue (after every job queued before it: deletions
    use it) and sets `result` to what it returned or raised.
    """

    kind: str  # "batch" | "rejected" | "events" | "doc" | "call"
    batch: Batch | None = None
    received_at: float = 0.0
    topic: str = ""
    payload: bytes = b""
    reason: str = ""
    events: list[EventRecord] = field(default_factory=list)
    token: Any = None
    doc: tuple[str, Any] | None = None
    call: Callable[[Store], Any] | None = None
    result: concurrent.futures.Future[Any] | None = None

    def stored_batch(self) -> Batch:
        """The batch as written: with the events the hub fired from it."""
        assert self.batch is not None
        if not self.events:
            return self.batch
        return dataclasses.replace(self.batch, events=[*self.batch.events, *self.events])


@dataclass
class Outcome:
    job: Job
    stored: bool  # False for a duplicate batch
    error: str | None = None  # not written (writer stopped while the store was down)
    rejected: str | None = None  # a job the store can never hold: kept raw, acknowledged


class BatchWriter:
    """Runs Store writes in its own thread; `submit` never blocks unless asked to wait."""

    def __init__(
        self,
        *,
        store: Store,
        on_done: Callable[[Outcome], None],
        max_queue: int = 1000,
        retry_initial: float = 0.2,
        retry_max: float = 2.0,
        group_max: int = 16,
    ) -> None:
        self.store = store
        self.group_max = group_max
        self.on_done = on_done
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.max_queue = max_queue
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self.store_ok = True
        self.store_error: str | None = None
        self._busy_since: float | None = None  # monotonic start of the running write
        self._stopping = False

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def stalled_for(self) -> float:
        """Seconds the write now running has taken (0 when idle): a hung store shows here."""
        since = self._busy_since
        return 0.0 if since is None else time.monotonic() - since

    def start(self) -> None:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    def submit(self, job: Job, *, reserve: int = 0, wait: float = 0.0) -> bool:
        """Queue a job without blocking (or up to `wait` s); False if full or stopping.

        `reserve` leaves that many places free for other jobs (the hub keeps room for its
        own events while agents' batches fill the queue).
        """
        if self._stopping:
            return False
        if reserve and self._queue.qsize() >= self.max_queue - reserve:
            return False
        try:
            if wait > 0:
                self._queue.put(job, timeout=wait)
            else:
                self._queue.put_nowait(job)
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

    def _process(self, jobs: list[Job], done: Callable[[Outcome], None] | None = None) -> bool:
        """Write jobs, retrying while the store is down; False when stopping meanwhile.

        Each job's outcome goes to `done` (default: on_done).
        """
        done = done or self.on_done
        delay = self.retry_initial
        while True:
            self._busy_since = time.monotonic()
            try:
                results = self._write(jobs)
            except StoreError as exc:  # down or unreachable: the same jobs again, later
                if self.store_ok:
                    log.error("store unavailable, holding acknowledgements: %s", exc)
                self.store_ok, self.store_error = False, str(exc)
                if self._stopping:
                    # Unacknowledged: the agent's spool sends it again.
                    self._drain_unwritten(jobs)
                    return False
                self._busy_since = None
                time.sleep(delay)
                delay = min(delay * 2, self.retry_max)
                continue
            except Exception as exc:  # this data can never be stored (or a bug)
                if len(jobs) > 1:  # find the ones at fault, store the others
                    return all(self._process([j], done) for j in jobs)
                return self._refuse(jobs[0], f"{type(exc).__name__}: {exc}", done)
            finally:
                self._busy_since = None
            if not self.store_ok:
                log.warning("store available again, catching up")
            self.store_ok, self.store_error = True, None
            for j, stored in zip(jobs, results, strict=True):
                # A SeqConflict (a str) was kept as refused in the batch's transaction.
                conflict = stored if isinstance(stored, str) else None
                done(Outcome(j, stored is True, rejected=conflict))
            return True

    def _refuse(self, job: Job, reason: str, done: Callable[[Outcome], None]) -> bool:
        """Keep a job the store refuses as a rejected message: refused once, never retried.

        Several events are tried one by one, a batch apart from the events it raised; the
        job's one outcome says what was refused.
        """
        parts: list[Job] = []
        if job.kind == "events" and len(job.events) > 1:
            parts = [Job(kind="events", events=[e]) for e in job.events]
        elif job.kind == "batch" and job.events:
            parts = [dataclasses.replace(job, events=[]), Job(kind="events", events=job.events)]
        if parts:
            got: list[Outcome] = []
            if not all(self._process([p], got.append) for p in parts):
                return False
            refused = "; ".join(o.rejected for o in got if o.rejected)
            done(Outcome(job, got[0].stored, rejected=refused or None))
            return True
        topic, payload = _describe(job)
        log.warning("store refused %s: %s", topic, reason)
        try:
            self.store.write_rejected(topic, payload, reason[:1000], job.received_at or time.time())
        except Exception as exc:
            log.error("cannot keep refused %s: %s", topic, exc)
        done(Outcome(job, False, rejected=reason))
        return True

    def _drain_unwritten(self, current: list[Job]) -> None:
        dropped = list(current)
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                break
            dropped.append(job)
        for job in dropped:
            error = self.store_error or "writer stopped"
            if job.result is not None and not job.result.done():
                job.result.set_exception(StoreError(f"not done: {error}"))
            self.on_done(Outcome(job, False, error=error))

    def _write(self, jobs: list[Job]) -> Sequence[bool | str]:
        job = jobs[0]
        if job.kind == "batch":
            items = [(j.stored_batch(), j.received_at) for j in jobs]
            if len(items) == 1:
                return [self.store.write_batch(*items[0])]
            return self.store.write_batches(items)
        if job.kind == "rejected":
            self.store.write_rejected(job.topic, job.payload, job.reason, job.received_at)
            return [True]
        if job.kind == "events":
            self.store.write_events(job.events)
            return [True]
        if job.kind == "doc" and job.doc is not None:
            self.store.put_doc(*job.doc)
            return [True]
        if job.kind == "call" and job.call is not None:
            try:
                value = job.call(self.store)
            except StoreError:
                raise  # down: the writer retries it in its place
            except Exception as exc:  # refused for good: the caller hears why
                if job.result is not None and not job.result.done():
                    job.result.set_exception(exc)
                return [False]
            if job.result is not None and not job.result.done():
                job.result.set_result(value)
            return [True]
        raise TypeError(f"unknown job kind {job.kind!r}")


def _describe(job: Job) -> tuple[str, bytes]:
    """(topic, payload) a refused job is kept under in rejected_messages."""
    if job.kind == "batch" and job.batch is not None:
        try:
            payload = job.batch.encode()
        except ValueError:  # non-finite values cannot be JSON: keep them readable
            payload = repr(job.batch).encode()[:1_000_000]
        return f"(batch {job.batch.agent}/{job.batch.seq})", payload
    if job.kind == "events":
        body = [vars(e) for e in job.events]
        return "(hub events)", json.dumps(body, default=repr).encode()[:1_000_000]
    if job.kind == "doc" and job.doc is not None:
        return f"(document {job.doc[0]})", json.dumps(job.doc[1], default=repr).encode()[:1_000_000]
    return job.topic or f"({job.kind})", job.payload
