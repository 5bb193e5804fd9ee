"""Live hubs: one leads (runs actions, scripts, the Telegram bot), the others stand by.

Every live hub sees the whole stream and evaluates the event conditions, so a standby's
edge states are the leader's. Only the leader fires: it publishes each condition event on
the broker (ingest hubs store it once, every live hub shows it) and runs the actions once
the broker has it. A standby holds the events its own engine computed until the leader's
copy arrives; when it takes the lead it fires those the old leader never published —
each event's newest time announced by the old leader is its high-water mark, nothing at
or before it is fired again (docs/scale.md, "Exactly once across a takeover").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from edge_agent.wire import Batch

from .app import LOCAL_AGENT, Hub
from .db.base import EventRecord
from .engine.engine import Engine
from .lease import Lease, LeaseClock, safe_take
from .service import HubService

if TYPE_CHECKING:
    from .process import HubProcess

log = logging.getLogger(__name__)

Ident = tuple[str, str, str, str]
MAX_IDENTS = 10_000


def _ident(rec: EventRecord) -> Ident:
    return (rec.event_id, rec.device, rec.signal, rec.text)


def _key(rec: EventRecord) -> tuple[Ident, float]:
    return (_ident(rec), round(rec.time, 6))


class EventGate:
    """Condition events of a live hub's engine, fired once across the live hubs."""

    def __init__(self, *, hub: Hub, window_s: float) -> None:
        self.hub = hub
        self.window_s = window_s  # a held event the leader never announced is dropped after
        self.leading = False
        self.stats = hub.stats  # in the hub's status (websocket logger.info)
        for name in ("events_held", "events_matched", "events_fired_on_takeover"):
            self.stats[name] = 0
        self.stats["events_unmatched"] = 0  # held, never announced by the leader
        self._pending: OrderedDict[tuple[Ident, float], tuple[EventRecord, float]] = OrderedDict()
        self._newest: dict[Ident, float] = {}  # high-water mark per event, any hub
        self._out: asyncio.Queue[tuple[Any, EventRecord]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start announcing published events (call on the hub's loop)."""
        self._task = asyncio.get_running_loop().create_task(self._announce_published())

    async def stop(self) -> None:
        """Stop announcing."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def fired(self, rec: EventRecord) -> None:
        """The engine's condition fired (its `condition_sink`)."""
        if self.leading:
            self._send(rec)
            return
        if rec.time <= self._newest.get(_ident(rec), float("-inf")):
            self.stats["events_matched"] += 1  # the leader's copy came first
            return
        self._pending[_key(rec)] = (rec, time.monotonic())
        self.stats["events_held"] += 1
        self._prune()

    def seen(self, rec: EventRecord) -> None:
        """An event was announced on this hub (a `hub.on_event` listener)."""
        ident = _ident(rec)
        if rec.time > self._newest.get(ident, float("-inf")):
            self._newest[ident] = rec.time
            if len(self._newest) > MAX_IDENTS:
                del self._newest[next(iter(self._newest))]
        if self._pending.pop(_key(rec), None) is not None:
            self.stats["events_matched"] += 1

    def lead(self) -> None:
        """Take the lead: fire the held events the old leader did not announce."""
        self.leading = True
        for rec, _at in self._pending.values():
            if rec.time > self._newest.get(_ident(rec), float("-inf")):
                self.stats["events_fired_on_takeover"] += 1
                self._send(rec)
        self._pending.clear()

    def stand_by(self) -> None:
        """Stop firing; hold events until the leader's copy arrives."""
        self.leading = False

    def _prune(self) -> None:
        limit = time.monotonic() - self.window_s
        while self._pending:
            key, (_rec, at) = next(iter(self._pending.items()))
            if at >= limit and len(self._pending) <= MAX_IDENTS:
                break
            del self._pending[key]
            self.stats["events_unmatched"] += 1

    def _send(self, rec: EventRecord) -> None:
        batch = Batch(LOCAL_AGENT, self.hub.next_local_seq(), [], events=[rec])
        self._out.put_nowait((self.hub.relay_batch(batch), rec))

    async def _announce_published(self) -> None:
        """Announce each event (actions run) once the broker has it, in order: a leader
        that dies before has run no action for it, and its successor fires it."""
        while True:
            info, rec = await self._out.get()
            while info is not None and not info.is_published():
                await asyncio.sleep(0.005)
            self.hub.announce(rec)


class Leadership:
    """The lease loop of one live hub: takes the lead when the lease is free, renews it,
    steps down by itself before it could expire (hub/lease.py)."""

    def __init__(
        self,
        *,
        lease: Lease,
        seconds: float,
        on_change: Callable[[bool], Awaitable[None]],
        gate: EventGate | None = None,
    ) -> None:
        self.lease = lease
        self.seconds = seconds
        self.on_change = on_change
        self.gate = gate
        self.leading = False
        self.epoch = 0
        self.terms = 0
        self._clock = LeaseClock(seconds)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the loop (call on the hub's loop)."""
        if self.gate is not None:
            self.gate.start()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="leadership")

    async def stop(self) -> None:
        """Stop; a leader steps down and lets the lease go (a standby takes over at once)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self.leading:
            await self._set(False)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.to_thread(self.lease.release), self.seconds / 3)
        await asyncio.to_thread(self.lease.close)
        if self.gate is not None:
            await self.gate.stop()

    async def _run(self) -> None:
        step = self.seconds / 3
        while True:
            started = self._clock.renewing()
            try:
                epoch = await asyncio.wait_for(asyncio.to_thread(safe_take, self.lease), step)
            except TimeoutError:
                epoch = None
            if epoch is not None:
                self._clock.renewed(started)
                if not self.leading:
                    self.epoch = epoch
                    self.terms += 1
                    log.warning("leading the live hubs (lease epoch %d)", epoch)
                    await self._set(True)
            delay = step
            if self.leading and self._clock.renewed_at is not None:
                left = self._clock.renewed_at + self.seconds * 2 / 3 - time.monotonic()
                delay = max(0.0, min(step, left))
            await asyncio.sleep(delay)
            if self.leading and not self._clock.valid():
                log.error("lease not renewed in time (PostgreSQL unreachable?): standing by")
                await self._set(False)

    async def _set(self, leading: bool) -> None:
        self.leading = leading
        if self.gate is not None:
            self.gate.stats["leading"] = int(leading)
        if self.gate is not None:
            if leading:
                self.gate.lead()
            else:
                self.gate.stand_by()
        try:
            await self.on_change(leading)
        except Exception:
            log.exception("leadership change to %s failed", "leader" if leading else "standby")


def attach_leadership(
    hub: HubProcess, config: dict[str, Any], *, engine: Engine, service: HubService
) -> Leadership:
    """Gate the engine of a live hub (started, attached) by a lease in PostgreSQL; the
    Telegram bot runs on the leader only. Start with `.start()`, stop with `await .stop()`."""
    seconds = config["hub"]["lease_seconds"]
    gate = EventGate(hub=hub, window_s=3 * seconds)
    bot: list[Any] = []

    async def on_change(leading: bool) -> None:
        if leading and hub.ingest is not None:
            hub.ingest.made.adopt()  # the old leader's batches not stored yet
        if leading and config["telegram"]["enabled"] and not bot:
            from .bot.app import TelegramBot

            bot.append(TelegramBot(service=service, config=config["telegram"]))
            await bot[0].start()
            hub.bot = bot[0]
        elif not leading and bot:
            await bot.pop().stop()
            hub.bot = None

    lead = Leadership(
        lease=Lease(dsn=config["store"]["dsn"], holder=config["hub"]["id"], seconds=seconds),
        seconds=seconds,
        on_change=on_change,
        gate=gate,
    )
    hub.stats["leading"] = 0
    engine.condition_sink = gate.fired
    engine.scripts.leading = lambda: lead.leading

    def actions(rec: EventRecord) -> None:
        if lead.leading:
            engine.on_event(rec)

    hub.on_event[hub.on_event.index(engine.on_event)] = actions
    hub.on_event.append(gate.seen)
    hub.leadership = lead
    return lead
