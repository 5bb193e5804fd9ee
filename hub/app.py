"""The Hub: the live core every adapter (ingest, websocket, Telegram, engine) is given.

It owns the signal store, the agent directory, recent events and the writer; it does no
network I/O itself — ingest and the servers are adapters wired by hub/bootstrap.py.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from edge_agent.wire import Batch, Series, Topics

from .agents import AgentDirectory
from .db.base import EventRecord, History, Store
from .db.writer import BatchWriter, Job, Outcome
from .signals import SignalStore

log = logging.getLogger(__name__)

LOCAL_AGENT = "hub"
CommandSender = Callable[[str, dict[str, Any], float], Awaitable[dict[str, Any]]]


class Hub:
    """Live state and services of one hub process."""

    def __init__(self, *, config: dict[str, Any], store: Store) -> None:
        self.config = config
        self.topics = Topics(config["mqtt"]["prefix"])
        self.store = store
        self.signals = SignalStore(record_length=config["hub"]["record_length"])
        self.agents = AgentDirectory()
        self.recent_events: deque[EventRecord] = deque(maxlen=config["hub"]["recent_events"])
        self.on_event: list[Callable[[EventRecord], None]] = []
        self.on_stats: list[Callable[[], None]] = []
        self.stats: dict[str, int] = {
            "batches": 0,
            "samples": 0,
            "duplicates": 0,
            "rejected": 0,
            "events": 0,
            "write_errors": 0,
            "unsynced_samples": 0,  # stamped before the agent's clock was synchronised
        }
        self.started_at = time.time()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.writer: BatchWriter | None = None
        self.command_sender: CommandSender | None = None  # set by ingest
        self.on_committed: list[Callable[[Outcome], None]] = []  # ingest acks here
        self._local_seq = itertools.count(int(time.time() * 1000))
        self.engine: Any = None  # the automation engine, when wired

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the store (in a thread) and start the writer."""
        self.loop = asyncio.get_running_loop()
        await asyncio.to_thread(self.store.open)
        self.writer = BatchWriter(
            store=self.store,
            on_done=self._writer_done,
            max_queue=self.config["store"]["queue_batches"],
        )
        self.writer.start()

    async def stop(self) -> None:
        """Drain the writer and close the store."""
        if self.writer is not None:
            await asyncio.to_thread(self.writer.stop)
            self.writer = None
        await asyncio.to_thread(self.store.close)

    # -- writes ----------------------------------------------------------------------------
    def _writer_done(self, outcome: Outcome) -> None:
        """Called in the writer thread: hand the outcome to the loop and to ingest's acks."""
        for listener in list(self.on_committed):
            listener(outcome)
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._apply_outcome, outcome)

    def _apply_outcome(self, outcome: Outcome) -> None:
        job = outcome.job
        if outcome.error is not None:
            self.stats["write_errors"] += 1
            return
        if outcome.rejected is not None:
            self.stats["rejected"] += 1
            return
        if job.kind == "batch" and job.batch is not None:
            if not outcome.stored:
                self.stats["duplicates"] += 1
                return
            self.stats["batches"] += 1
            self.stats["samples"] += job.batch.sample_count
            if not job.batch.clock_synced:
                self.stats["unsynced_samples"] += job.batch.sample_count
            if job.batch.agent != LOCAL_AGENT:  # local data went live in ingest_local
                self._apply_live(job.batch)
        elif job.kind == "rejected":
            self.stats["rejected"] += 1

    def _apply_live(self, batch: Batch) -> None:
        if batch.agent != LOCAL_AGENT:
            self.agents.saw_data(batch.agent)
        for s in batch.signals:
            if not s.t:
                continue
            x = np.asarray(s.t, dtype=np.float64)
            y = np.asarray(s.y, dtype=np.float64)
            if len(s.t) > 1 and s.t != sorted(s.t):  # C-speed for the usual short series
                order = np.argsort(x, kind="stable")
                x, y = x[order], y[order]
            self.signals.append(s.device, s.signal, x, y, s.unit, batch.agent)
        for e in batch.events:  # stored in the batch's transaction: only announced here
            self._announce(EventRecord(**vars(e)))

    def submit(self, job: Job) -> bool:
        """Queue a write job (blocks while the writer queue is full)."""
        if self.writer is None:
            return False
        return self.writer.submit(job)

    def ingest_local(
        self,
        device: str,
        name: str,
        x: list[float],
        y: list[float],
        unit: str = "",
        *,
        wait: bool = True,
    ) -> bool:
        """Data made on the hub (websocket `y`, scripts, Telegram): live store now, then stored.

        With `wait=False` a full writer queue is not waited for: False, and it is not stored.
        """
        batch = Batch(
            agent=LOCAL_AGENT,
            seq=next(self._local_seq),
            signals=[Series(device, name, unit, [float(v) for v in x], [float(v) for v in y])],
        )
        self._apply_live(batch)
        if self.writer is None:
            return False
        job = Job(kind="batch", batch=batch, received_at=time.time())
        return self.writer.submit(job, timeout=None if wait else 0)

    def add_event(self, event: EventRecord) -> None:
        """Record an event: stored, kept in memory, and told to listeners (ws, Telegram)."""
        if self.writer is not None:
            self.writer.submit(Job(kind="events", events=[event]), timeout=1.0)
        self._announce(event)

    def _announce(self, event: EventRecord) -> None:
        """Keep an (already stored) event in memory and tell the listeners."""
        self.recent_events.append(event)
        self.stats["events"] += 1
        for listener in list(self.on_event):
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed")

    # -- reads -----------------------------------------------------------------------------
    async def run_store(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a blocking store call in a worker thread."""
        return await asyncio.to_thread(fn, *args)

    async def history(
        self,
        device: str,
        name: str,
        xmin: float | None = None,
        xmax: float | None = None,
        max_n: int | None = None,
    ) -> History:
        """Samples of a signal from the store, downsampled to about max_n points."""
        return await self.run_store(self.store.history, device, name, xmin, xmax, max_n)

    # -- commands --------------------------------------------------------------------------
    async def send_command(
        self,
        device: str,
        op: str,
        name: str | None = None,
        args: Any = None,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """Send a command to the agent owning `device`; returns its cmd/result payload."""
        if self.command_sender is None:
            return {"ok": False, "error": "no MQTT connection to agents"}
        agent = self.agents.device_owner(device)
        if agent is None:
            return {"ok": False, "error": f"unknown device {device!r}"}
        body: dict[str, Any] = {"op": op, "device": device}
        if name is not None:
            body["name"] = name
        if args is not None:
            body["args"] = args
        return await self.command_sender(agent, body, timeout)

    # -- status ----------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """A snapshot for status lines and the websocket `logger.info`."""
        writer = self.writer
        return {
            "agents_online": self.agents.online_count(),
            "agents": len(self.agents.all()),
            "signals": len(self.signals),
            "store_ok": writer.store_ok if writer else False,
            "store_error": writer.store_error if writer else None,
            "write_backlog": writer.backlog if writer else 0,
            "agent_spool_dropped_samples": sum(
                int(a.spool.get("dropped_samples", 0)) for a in self.agents.all().values()
            ),
            **self.stats,
        }
