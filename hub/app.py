"""The Hub: the live core every adapter (ingest, websocket, Telegram, engine) is given.

It owns the signal store, the agent directory, recent events and the writer; it does no
network I/O itself — ingest and the servers are adapters wired by hub/bootstrap.py.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import logging
import math
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_agent.wire import Batch, Command, CommandResult, Series, Topics, WireError, check_event

from .agents import AgentDirectory
from .db.base import EventRecord, History, Store, StoreError
from .db.writer import BatchWriter, Job, Outcome
from .flow import LocalWrites, SeenWindow, check_finite
from .signals import SignalStore

if TYPE_CHECKING:
    from .engine.engine import Engine

log = logging.getLogger(__name__)

LOCAL_AGENT = "hub"
CommandSender = Callable[[str, Command, float], Awaitable[CommandResult]]


# A write that has run this long means the store hangs: agents are told it is down.
STALL_S = 3.0
# Places in the writer queue kept for the hub's own data (events, hub-made samples).
RESERVED = 16
LOCAL_FLUSH_S = 0.2
DOC_AGENTS = "hub.agents"  # each agent's last known devices, for the next start


class Hub:
    """Live state and services of one hub process.

    Agent batches go live (signal store, engine, websocket pushes, bot) the moment they
    arrive, then are queued for the writer; the store's speed or absence never holds the
    live side. See docs/ARCHITECTURE.md, "Live before stored".
    """

    def __init__(self, *, config: dict[str, Any], store: Store) -> None:
        self.config = config
        self.role: str = config["hub"].get("role", "all")  # docs/scale.md
        self.topics = Topics(config["mqtt"]["prefix"])
        self.store = store
        self.signals = SignalStore(record_length=config["hub"]["record_length"])
        self.agents = AgentDirectory()
        self.recent_events: deque[EventRecord] = deque(maxlen=config["hub"]["recent_events"])
        self.on_event: list[Callable[[EventRecord], None]] = []
        self.on_stats: list[Callable[[], None]] = []
        self.stats: dict[str, int] = {
            "batches": 0,  # committed
            "samples": 0,
            "duplicates": 0,
            "rejected": 0,
            "events": 0,
            "write_errors": 0,
            "unsynced_samples": 0,  # stamped before the agent's clock was synchronised
            "live_batches": 0,  # went live in this process
            "redelivered": 0,  # arrived again after going live: not applied twice
            "write_deferred": 0,  # writer queue full: not queued, the agent sends it again
            "local_dropped": 0,  # hub-made samples and events only live: too much waited
        }
        self.started_at = time.time()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.writer: BatchWriter | None = None
        self.command_sender: CommandSender | None = None  # set by ingest
        self.on_committed: list[Callable[[Outcome], None]] = []  # ingest acks here
        self._local_seq = itertools.count(int(time.time() * 1000) | self._seq_tag())
        # live role: hub-made batches go to the broker (ingest hubs store them once, every
        # live hub shows them) instead of this hub's writer; set by bootstrap
        self.relay: Callable[[Batch], Any] | None = None
        self.engine: Engine | None = None  # the automation engine, when wired
        self._seen = SeenWindow(config["hub"]["live_window"])
        self._queued: set[tuple[str, int]] = set()  # agent batches in the writer queue
        self._local = LocalWrites(config["hub"]["local_pending"])
        self._flush: asyncio.TimerHandle | None = None
        self._fired: list[EventRecord] | None = None  # events raised by the batch going live
        self._devices_kept: dict[str, Any] = {}  # what DOC_AGENTS holds (or is queued)

    def _seq_tag(self) -> int:
        """Live hubs share the ledger's `hub` agent: each keeps its seqs apart by a tag of
        its id in the high bits (the low 46 bits count from the start time in ms)."""
        if self.role != "live":
            return 0
        return (zlib.crc32(self.config["hub"]["id"].encode()) & 0xFFFF) << 46

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the store (in a thread), fill the live view from it, start the writer."""
        self.loop = asyncio.get_running_loop()
        await asyncio.to_thread(self.store.open)
        await self._reload()
        self.agents.on_change.append(lambda _agent: self._schedule_flush())
        self.writer = BatchWriter(
            store=self.store,
            on_done=self._writer_done,
            max_queue=self.config["store"]["queue_batches"] + RESERVED,
        )
        self.writer.start()

    async def stop(self) -> None:
        """Hand the hub's own pending data to the writer, drain it, close the store."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if self.writer is not None:
            await asyncio.to_thread(self._flush_local, 5.0)
            await asyncio.to_thread(self.writer.stop)
            self.writer = None
        await asyncio.to_thread(self.store.close)

    async def _reload(self) -> None:
        """The live view as the store left it: signals, recent samples, agents' devices.

        At most `reload_samples` (≤ record_length) newest samples per signal, loaded for at
        most `reload_seconds`; signals after that get their latest sample only.
        """
        hub_cfg = self.config["hub"]
        n = min(hub_cfg["reload_samples"], self.signals.record_length)
        budget = hub_cfg["reload_seconds"]

        def read() -> tuple[list[Any], Any]:
            deadline = time.monotonic() + budget
            loaded = []
            for row in self.store.signals() if self.role != "ingest" else ():
                take = n if time.monotonic() < deadline else 1
                loaded.append((row, *self.store.recent(row.id, take)))
            return loaded, self.store.get_doc(DOC_AGENTS)

        try:
            loaded, devices = await asyncio.to_thread(read)
        except Exception as exc:  # the hub still starts, with an empty live view
            log.warning("live view not reloaded from the store: %s", exc)
            return
        for row, x, y in loaded:
            self.signals.append(row.device, row.name, x, y, row.unit, row.agent)
        if isinstance(devices, dict):
            for agent, devs in devices.items():
                if isinstance(devs, dict):
                    self.agents.restore(str(agent), devs)
            self._devices_kept = devices
        log.info(
            "live view reloaded: %d signals, %d samples",
            len(loaded),
            sum(len(r[1]) for r in loaded),
        )

    # -- agent batches ---------------------------------------------------------------------
    def receive(self, job: Job, handled: Callable[[], None]) -> None:
        """From ingest's network thread: live and queued on the loop, then `handled()`.

        `handled` (ingest's MQTT PUBACK) runs once the job is live and queued or deferred,
        so the broker's in-flight window never waits for the store.
        """
        loop = self.loop
        if loop is None or loop.is_closed():
            return  # not acknowledged: it comes again
        loop.call_soon_threadsafe(self._receive, job, handled)

    def _receive(self, job: Job, handled: Callable[[], None]) -> None:
        try:
            if job.kind == "batch" and job.batch is not None:
                self._go_live(job)
                if self.role != "live":
                    self._queue_batch(job)
                elif job.events:  # a live hub stores nothing itself: ingest hubs do
                    self._local.add_events(job.events)
                    self._schedule_flush()
            elif self.role == "live":
                pass  # an ingest hub keeps refused messages
            elif not self._submit(job, reserve=RESERVED):
                self.stats["write_deferred"] += 1
                log.warning("writer queue full: refused message on %s not kept", job.topic)
        finally:
            handled()

    def _go_live(self, job: Job) -> None:
        """Apply a batch to the live side once per process; events it raises ride with it."""
        assert job.batch is not None
        if not self._seen.add((job.batch.agent, job.batch.seq)):
            self.stats["redelivered"] += 1
            return
        self.stats["live_batches"] += 1
        self._fired = []
        try:
            self._apply_live(job.batch)
        finally:
            job.events, self._fired = self._fired, None

    def _queue_batch(self, job: Job) -> None:
        assert job.batch is not None
        key = (job.batch.agent, job.batch.seq)
        if key in self._queued:
            pass  # the queued copy will be acknowledged when committed
        elif self._submit(job, reserve=RESERVED):
            self._queued.add(key)
            return
        else:
            self.stats["write_deferred"] += 1  # not acknowledged: the agent sends it again
        if job.events:  # fired now, so stored now, apart from the batch
            self._local.add_events(job.events)
            job.events = []
            self._schedule_flush()

    def _submit(self, job: Job, *, reserve: int = 0) -> bool:
        return self.writer is not None and self.writer.submit(job, reserve=reserve)

    def _apply_live(self, batch: Batch) -> None:
        if batch.agent != LOCAL_AGENT:
            self.agents.saw_data(batch.agent)
        if self.role == "ingest":
            return  # no live side
        for s in batch.signals:
            if not s.t:
                continue
            x = np.asarray(s.t, dtype=np.float64)
            y = np.asarray(s.y, dtype=np.float64)
            if len(s.t) > 1 and s.t != sorted(s.t):  # C-speed for the usual short series
                order = np.argsort(x, kind="stable")
                x, y = x[order], y[order]
            if batch.agent != LOCAL_AGENT:
                x, y = self._newer(s.device, s.signal, x, y)
                if not len(x):
                    continue
            self.signals.append(s.device, s.signal, x, y, s.unit, batch.agent)
        for e in batch.events:  # stored in the batch's transaction: only announced here
            self._announce(e)

    def _newer(
        self, device: str, name: str, x: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Only samples after the live signal's newest: the live view stays in time order."""
        sig = self.signals.find(device, name)
        last = sig.latest() if sig is not None else None
        if last is None or x[0] > last[0]:
            return x, y
        keep = x > last[0]
        return x[keep], y[keep]

    # -- outcomes (writer thread, then the loop) -------------------------------------------
    def _writer_done(self, outcome: Outcome) -> None:
        """Called in the writer thread: hand the outcome to the loop and to ingest's acks."""
        for listener in list(self.on_committed):
            listener(outcome)
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._apply_outcome, outcome)

    def _apply_outcome(self, outcome: Outcome) -> None:
        job = outcome.job
        batch = job.batch
        if job.kind == "batch" and batch is not None:
            self._queued.discard((batch.agent, batch.seq))
        if outcome.error is not None:
            self.stats["write_errors"] += 1
            return
        if outcome.rejected is not None:
            self.stats["rejected"] += 1
            if not outcome.stored:
                return
        if job.kind == "batch" and batch is not None:
            if not outcome.stored:
                # The ledger had it from an earlier process: so had the events it raised.
                self.stats["duplicates"] += 1
                return
            self.stats["batches"] += 1
            self.stats["samples"] += batch.sample_count
            if not batch.clock_synced:
                self.stats["unsynced_samples"] += batch.sample_count
        elif job.kind == "rejected":
            self.stats["rejected"] += 1

    # -- hub-made data ---------------------------------------------------------------------
    def ingest_local(
        self, device: str, name: str, x: list[float], y: list[float], unit: str = ""
    ) -> bool:
        """Data made on the hub (websocket `y`, scripts, Telegram): live now, stored in batches.

        False when it could not be kept for the store (too much waits already); it never
        waits. Raises ValueError for a non-finite value or a device an agent owns (nothing
        of the call is kept then): whatever the way in, hub-made data never speaks for an agent.
        """
        return not self.ingest_local_series([Series(device, name, unit, list(x), list(y))])

    def ingest_local_series(self, series: list[Series]) -> list[str]:
        """Several hub-made series at once (one websocket `y` frame): live now in one pass,
        stored in batches; the `device.signal` names not kept for the store (too much waits
        already). Raises ValueError for a non-finite value or a device an agent owns
        (nothing of the call is kept then).
        """
        for device in {s.device for s in series}:
            owner = self.agents.device_owner(device)
            if owner is not None and owner != LOCAL_AGENT:
                raise ValueError(
                    f"device {device!r} belongs to agent {owner!r}: use a name of its own"
                )
        for s in series:
            s.t, s.y = [float(v) for v in s.t], [float(v) for v in s.y]
            if len(s.t) != len(s.y):
                raise ValueError(f"{s.device}.{s.signal}: {len(s.t)} times for {len(s.y)} values")
            check_finite(f"{s.device}.{s.signal} time", s.t)
            check_finite(f"{s.device}.{s.signal} value", s.y)
            if len(s.t) > 1 and s.t != sorted(s.t):  # in time order, live and stored
                order = sorted(range(len(s.t)), key=s.t.__getitem__)
                s.t, s.y = [s.t[i] for i in order], [s.y[i] for i in order]
        self._apply_live(Batch(LOCAL_AGENT, 0, series))
        add = self._local.add_samples
        not_kept = [s.key for s in series if not add(s.device, s.signal, s.unit, s.t, s.y)]
        self._schedule_flush()
        return not_kept

    def ingest_local_samples(
        self, device: str, names: list[str], units: list[str], t: list[float], y: list[float]
    ) -> list[str]:
        """One sample per signal of one device, names all different (a websocket `y` frame
        in stream mode): as ingest_local_series, checked and made live at C speed per frame
        rather than per sample.
        """
        if not (len(names) == len(units) == len(t) == len(y)):
            raise ValueError("names, units, times and values differ in length")
        owner = self.agents.device_owner(device)
        if owner is not None and owner != LOCAL_AGENT:
            raise ValueError(f"device {device!r} belongs to agent {owner!r}: use a name of its own")
        ta = np.array(t, dtype=np.float64)
        ya = np.array(y, dtype=np.float64)
        if len(t) < 16:  # numpy's call costs more than a few values
            finite = all(map(math.isfinite, t)) and all(map(math.isfinite, y))
        else:
            finite = bool(np.isfinite(ta).all() and np.isfinite(ya).all())
        if not finite:  # the slow way: its error names the value
            rows = zip(names, units, t, y, strict=True)
            return self.ingest_local_series([Series(device, *r[:2], [r[2]], [r[3]]) for r in rows])
        append = self.signals.append
        if self.role == "ingest":
            pass  # no live side (as _apply_live)
        elif len(names) == 1:
            append(device, names[0], ta, ya, units[0], LOCAL_AGENT)
        else:
            for i, name in enumerate(names):
                append(device, name, ta[i : i + 1], ya[i : i + 1], units[i], LOCAL_AGENT)
        not_kept = self._local.add_each(device, names, units, ta.tolist(), ya.tolist())
        self._schedule_flush()
        return not_kept

    def add_event(self, event: EventRecord) -> None:
        """Record an event: stored, kept in memory, and told to listeners (ws, Telegram).

        Raises ValueError (`wire.check_event`, the one check every way in shares) for a bad
        event. An event raised while an agent batch goes live is stored in that batch's
        transaction.
        """
        check_event(event)
        if self._fired is not None:
            self._fired.append(event)
        else:
            self._local.add_events([event])
            self._schedule_flush()
        self._announce(event)

    def _schedule_flush(self) -> None:
        if self._flush is None and self.loop is not None and not self.loop.is_closed():
            self._flush = self.loop.call_later(LOCAL_FLUSH_S, self._flush_timer)

    def _flush_timer(self) -> None:
        self._flush = None
        if not self._flush_local():
            self._schedule_flush()  # the writer had no room: try again later

    def _flush_local(self, wait: float = 0.0) -> bool:
        """Hand pending hub-made samples and events to the writer; True when all went."""
        if self.relay is not None:
            return self._relay_local()
        writer = self.writer
        if writer is None:
            return False
        batch = self._local.take_batch(LOCAL_AGENT, next(self._local_seq))
        if batch is not None:
            job = Job(kind="batch", batch=batch, received_at=time.time())
            if not writer.submit(job, wait=wait):
                self._local.put_back(batch)
        events = self._local.take_events()
        if events and not writer.submit(Job(kind="events", events=events), wait=wait):
            self._local.add_events(events)
        self.stats["local_dropped"] = self._local.dropped
        devices = self.agents.known_devices()
        if devices != self._devices_kept:
            if not writer.submit(Job(kind="doc", doc=(DOC_AGENTS, devices)), wait=wait):
                return False
            self._devices_kept = devices
        return len(self._local) == 0

    def _relay_local(self) -> bool:
        """Live role: pending hub-made samples and events to the broker as one batch."""
        assert self.relay is not None
        seq = next(self._local_seq)
        batch = self._local.take_batch(LOCAL_AGENT, seq) or Batch(LOCAL_AGENT, seq, [])
        batch.events = self._local.take_events()
        if batch.signals or batch.events:
            self.relay_batch(batch)
        return True

    def relay_batch(self, batch: Batch) -> Any:
        """Send a hub-made batch through the broker (what the relay answers); its echo is
        not applied twice here."""
        assert self.relay is not None
        self._seen.add((batch.agent, batch.seq))
        return self.relay(batch)

    def own_seq(self, seq: int) -> bool:
        """A hub-made batch's seq is this hub's (live role: by the tag of its id)."""
        return seq >> 46 == self._seq_tag() >> 46

    def next_local_seq(self) -> int:
        """A fresh seq for a hub-made batch (unique per hub id in the ledger)."""
        return next(self._local_seq)

    def announce(self, event: EventRecord) -> None:
        """Keep an event in memory and tell the listeners (it is stored elsewhere)."""
        self._announce(event)

    def _announce(self, event: EventRecord) -> None:
        """Keep an event in memory and tell the listeners."""
        self.recent_events.append(event)
        self.stats["events"] += 1
        for listener in list(self.on_event):
            try:
                listener(event)
            except Exception:
                log.exception("event listener failed")

    def store_state(self) -> dict[str, Any]:
        """What agents are told on `<p>/hub/state`: store up/down and the writer's queue."""
        w = self.writer
        down = w is None or not w.store_ok or w.stalled_for() > STALL_S
        return {
            "store": "down" if down else "up",
            "queue": w.backlog if w else 0,
            "queue_max": w.max_queue - RESERVED if w else 0,
        }

    # -- reads -----------------------------------------------------------------------------
    async def run_store(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a blocking store call in a worker thread."""
        return await asyncio.to_thread(fn, *args)

    async def run_in_order(self, fn: Callable[[Store], Any], timeout: float = 60.0) -> Any:
        """Run `fn(store)` in the writer thread after every job queued before it and the
        hub-made data pending now (deletions: what was queued is deleted with the rest, what
        comes later is new). StoreError when
        the queue is full; TimeoutError when the writer has not done it in `timeout` s (a
        store that is down: it still runs, in its place, once the store is back)."""
        writer = self.writer
        if writer is None:
            return await self.run_store(fn, self.store)
        if self.relay is None:
            self._flush_local()  # pending hub-made samples and events go before it too
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()
        if not writer.submit(Job(kind="call", call=fn, result=done)):
            raise StoreError("the store's writer queue is full: try again in a moment")
        return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(done)), timeout)

    async def get_doc(self, key: str) -> Any:
        """A small stored document (read in a worker thread), None when absent."""
        return await self.run_store(self.store.get_doc, key)

    async def put_doc(self, key: str, doc: Any) -> None:
        """Store a small document (in a worker thread)."""
        await self.run_store(self.store.put_doc, key, doc)

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
        try:
            cmd = Command(op=op, device=device, name=name, args=args)
        except WireError as exc:
            return CommandResult.failure(str(exc)).to_json()
        return (await self.command(cmd, timeout)).to_json()

    async def command(self, cmd: Command, timeout: float = 5.0) -> CommandResult:
        """Send a checked command to the agent owning its device; its result, or why not."""
        if self.command_sender is None:
            return CommandResult.failure("no MQTT connection to agents")
        agent = self.agents.device_owner(cmd.device)
        if agent is None:
            return CommandResult.failure(f"unknown device {cmd.device!r}")
        return await self.command_sender(agent, cmd, timeout)

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
            "store_state": self.store_state()["store"],
            "local_pending": len(self._local),
            "agent_spool_dropped_samples": sum(
                int(a.spool.get("dropped_samples", 0)) for a in self.agents.all().values()
            ),
            **self.stats,
        }
