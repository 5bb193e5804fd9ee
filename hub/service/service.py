"""`HubService`: queries, commands and automation calls the adapters make of the hub.

Built once by hub/bootstrap.py around the running core (`Hub`) and the automation engine,
and handed to the websocket server and the Telegram bot. Every use case lives here once:
a signal's history with the live samples the writer has not committed yet, the events of
a time range (stored and in memory), devices as typed views, device commands with a typed
result, the global sample rate, clearing and resizing the live view.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from edge_agent.wire import Command, Series, WireError
from hub.agents import AgentDirectory
from hub.app import Hub
from hub.db.base import EventRecord
from hub.export import IMPORT_AGENT, Table, TableError, import_table, read_store, split_key
from hub.signals import Signal, SignalStore

from .automation import AutomationService
from .views import CommandResult, DeviceView, EventRange, QueryError, SignalHistory

log = logging.getLogger(__name__)

EventKey = tuple[float, str, str, str, str]


def event_key(ev: EventRecord) -> EventKey:
    """What makes an event the same one, in the store and in memory."""
    return (round(ev.time, 6), ev.device, ev.signal, ev.text, ev.event_id)


class HubService:
    """The hub's use cases for its adapters; the live views they read are typed too."""

    def __init__(self, *, hub: Hub, automation: AutomationService) -> None:
        self._hub = hub
        self.automation = automation

    # -- live views ------------------------------------------------------------------------
    @property
    def signals(self) -> SignalStore:
        """The live signals (listeners `on_new_signal`, `on_data`)."""
        return self._hub.signals

    @property
    def agents(self) -> AgentDirectory:
        """What each agent announced (listeners `on_change`)."""
        return self._hub.agents

    @property
    def config(self) -> dict[str, Any]:
        """The hub's validated config."""
        return self._hub.config

    @property
    def started_at(self) -> float:
        return self._hub.started_at

    @property
    def on_event(self) -> list[Callable[[EventRecord], None]]:
        """Listeners told of every event as it happens."""
        return self._hub.on_event

    def recent_events(self) -> list[EventRecord]:
        """The events kept in memory, oldest first."""
        return list(self._hub.recent_events)

    def status(self) -> dict[str, Any]:
        """Counters and store state (`Hub.status`)."""
        return self._hub.status()

    def device_owner(self, device: str) -> str | None:
        """The agent that owns `device`, or None."""
        return self._hub.agents.device_owner(device)

    # -- queries ---------------------------------------------------------------------------
    async def history(
        self,
        device: str,
        name: str,
        xmin: float | None = None,
        xmax: float | None = None,
        max_n: int | None = None,
        *,
        stored: bool = True,
    ) -> SignalHistory:
        """Samples of `device.name` in [xmin, xmax], about `max_n` points at most.

        With `stored`, the store's downsampled answer followed by the live samples newer
        than its last one (the writer lags the live side by a batch or more); a store that
        fails leaves the memory's answer and `store_error`. Without, memory only.
        Raises QueryError for a signal neither memory nor the store knows.
        """
        key = f"{device}.{name}"
        sig = self._hub.signals.find(device, name)
        if not stored:
            return _from_memory(key, sig, xmin, xmax, max_n)
        error = None
        try:
            hist = await self._hub.history(device, name, xmin, xmax, max_n)
            x = np.asarray(hist.x, dtype=np.float64)
            y = np.asarray(hist.y, dtype=np.float64)
        except Exception as exc:  # store down: answer from memory rather than not at all
            if sig is None:
                raise QueryError(f"{key}: the store cannot answer ({exc})") from exc
            log.warning("history of %s: store failed (%s); answering from memory", key, exc)
            error = str(exc)
            x = y = np.empty(0)
        if sig is not None:
            x, y = merge_live_tail(sig, x, y, xmin, xmax, max_n)
        if sig is None and len(x) == 0:
            raise QueryError(f"unknown signal {key!r}")
        first, last = _bounds(sig, x)
        return SignalHistory(
            key=key,
            unit=sig.unit if sig is not None else "",
            signal_id=sig.id if sig is not None else None,
            x=x,
            y=y,
            first=first,
            last=last,
            store_error=error,
        )

    async def events(
        self, xmin: float | None = None, xmax: float | None = None, limit: int = 1000
    ) -> EventRange:
        """Events in [xmin, xmax]: the store's newest `limit` and those in memory not yet
        stored, each once, in time order (at most `limit`, the newest kept)."""
        if limit < 1:
            raise QueryError("limit must be at least 1")
        store = self._hub.store
        error = None
        try:
            stored = await self._hub.run_store(
                lambda: store.events(since=xmin, until=xmax, limit=limit)
            )
        except Exception as exc:  # the store being down leaves the events in memory
            log.warning("events %s..%s: store failed (%s)", xmin, xmax, exc)
            stored, error = [], str(exc)
        lo = -np.inf if xmin is None else xmin
        hi = np.inf if xmax is None else xmax
        found: dict[EventKey, EventRecord] = {}
        for ev in [*stored, *self._hub.recent_events]:
            if lo <= ev.time <= hi:
                found.setdefault(event_key(ev), ev)
        events = sorted(found.values(), key=lambda e: e.time)[-limit:]
        return EventRange(events=events, store_error=error)

    def devices(self) -> dict[str, DeviceView]:
        """Every device every agent announced, by device name."""
        out: dict[str, DeviceView] = {}
        for agent_id, info in sorted(self._hub.agents.all().items()):
            for name, decl in sorted(info.declarations.items()):
                out[name] = DeviceView(name=name, agent=agent_id, online=info.online, decl=decl)
        return out

    async def read_table(self, keys: list[str], xmin: float | None, xmax: float | None) -> Table:
        """The stored raw samples of the named signals in [xmin, xmax]; TableError for a
        name the store does not know."""
        store = self._hub.store
        table: Table = await self._hub.run_store(lambda: read_store(store, keys, xmin, xmax))
        return table

    # -- commands --------------------------------------------------------------------------
    async def import_table(self, table: Table) -> int:
        """A table's signals stored as new ones, then live at once (history, not news: no
        data listeners run); the samples stored. TableError when one exists already."""
        live = sorted(f"{d}.{n}" for d, n in table.x if self._hub.signals.find(d, n) is not None)
        if live:
            raise TableError(
                f"{', '.join(live)} exist already: import makes new signals only "
                "(rename them in the file)"
            )
        store = self._hub.store
        stored: int = await self._hub.run_store(lambda: import_table(store, table))
        keep = self._hub.signals.record_length
        for (device, sname), xs in table.x.items():
            x = np.asarray(xs, dtype=np.float64)
            y = np.asarray(table.y[(device, sname)], dtype=np.float64)
            order = np.argsort(x, kind="stable")[-keep:]
            unit = table.units[(device, sname)]
            sig = self._hub.signals.ensure(device, sname, unit, IMPORT_AGENT)
            sig.buffer.append(x[order], y[order])
        return stored

    async def command(
        self,
        device: str,
        op: str,
        name: str | None = None,
        args: Any = None,
        *,
        timeout: float = 5.0,
    ) -> CommandResult:
        """Send `op` to the agent owning `device` and wait at most `timeout` for its answer;
        a command the wire contract refuses, a timeout or a routing failure is a failed
        result (never raised)."""
        try:
            cmd = Command(op=op, device=device, name=name, args=args)
        except WireError as exc:
            return CommandResult.failure(str(exc))
        try:
            return await self._hub.command(cmd, timeout)
        except TimeoutError:
            return CommandResult.failure(f"{device}: no answer from its agent in {timeout}s")
        except Exception as exc:  # routing or the answer failed: report, never raise
            log.warning("command %s %s: %s", device, op, exc)
            return CommandResult.failure(f"{device}: {exc}")

    async def set_samplerate(self, rate: float) -> dict[str, CommandResult]:
        """Ask every known device to sample at `rate` Hz; each device's answer."""
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0:
            raise ValueError("the sample rate must be a positive number")
        if not np.isfinite(rate):
            raise ValueError("the sample rate must be finite")
        names = list(self.devices())
        results = await asyncio.gather(
            *(self.command(dev, "samplerate", None, rate) for dev in names)
        )
        return dict(zip(names, results, strict=True))

    def clear_signals(self) -> None:
        """Forget every live signal (the store keeps its samples)."""
        self._hub.signals.clear()

    def remove_signal(self, key: str) -> bool:
        """Forget one live signal `Dev.Sig`; False when unknown."""
        return bool(self._hub.signals.remove(key))

    def clear_events(self) -> int:
        """Forget the events kept in memory (the store keeps them: `delete_events` deletes
        them there too); how many there were."""
        n = len(self._hub.recent_events)
        self._hub.recent_events.clear()
        return n

    async def delete_signals(self, keys: list[str]) -> int:
        """Delete signals `Dev.Sig` for good: gone from the live view at once, then from the
        store (row, samples, rollups) through the writer's queue, after everything queued
        before: samples of them still queued are deleted too, later ones make a new signal.
        How many there were (live or stored). TableError for a bad name; StoreError or
        TimeoutError when the store could not do it (it is done once the store is back)."""
        pairs = [split_key(k) for k in keys]
        live = sum(bool(self._hub.signals.remove(k)) for k in keys)
        stored: int = await self._hub.run_in_order(lambda store: store.delete_signals(pairs))
        return max(live, stored)

    async def delete_events(self, events: list[EventRecord] | None) -> int:
        """Delete all events (None) or these ones, in memory and in the store (through the
        writer's queue, after the events queued before); how many there were."""
        if events is None:
            live = len(self._hub.recent_events)
            self._hub.recent_events.clear()
        else:
            gone = {event_key(e) for e in events}
            kept = [e for e in self._hub.recent_events if event_key(e) not in gone]
            live = len(self._hub.recent_events) - len(kept)
            self._hub.recent_events.clear()
            self._hub.recent_events.extend(kept)
        chosen = None if events is None else list(events)
        stored: int = await self._hub.run_in_order(lambda store: store.delete_events(chosen))
        return max(live, stored)

    def resize(self, record_length: int) -> None:
        """Keep `record_length` samples per live signal."""
        self._hub.signals.resize(record_length)

    # -- hub-made data ---------------------------------------------------------------------
    def add_event(self, event: EventRecord) -> None:
        """Raise an event (stored, pushed, told to the bot); ValueError for a bad one."""
        self._hub.add_event(event)

    def ingest_local(
        self, device: str, name: str, x: list[float], y: list[float], unit: str = ""
    ) -> bool:
        """Samples made on the hub (`Hub.ingest_local`)."""
        return self._hub.ingest_local(device, name, x, y, unit)

    def ingest_local_series(self, series: list[Series]) -> list[str]:
        """Several hub-made series at once (`Hub.ingest_local_series`)."""
        return self._hub.ingest_local_series(series)

    def ingest_local_samples(
        self, device: str, names: list[str], units: list[str], t: list[float], y: list[float]
    ) -> list[str]:
        """One sample per signal of one device (`Hub.ingest_local_samples`)."""
        return self._hub.ingest_local_samples(device, names, units, t, y)

    # -- documents -------------------------------------------------------------------------
    async def get_doc(self, key: str) -> Any:
        """A small stored document (users, settings), None when absent."""
        return await self._hub.get_doc(key)

    async def put_doc(self, key: str, doc: Any) -> None:
        """Store a small document."""
        await self._hub.put_doc(key, doc)


def thin(x: np.ndarray, y: np.ndarray, max_n: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Every k-th sample so that at most `max_n` remain."""
    if max_n is None or len(x) <= max_n:
        return x, y
    step = -(-len(x) // max_n)  # ceil: at most max_n points (RTOC kept up to 2·maxN−1)
    return x[::step], y[::step]


def merge_live_tail(
    sig: Signal,
    x: np.ndarray,
    y: np.ndarray,
    xmin: float | None,
    xmax: float | None,
    max_n: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Append live samples newer than the store's last one (the writer lags by a batch);
    with `max_n`, the answer stays within it and still ends with the newest live sample."""
    lx, ly = sig.buffer.arrays()
    start = float(x[-1]) if len(x) else (xmin if xmin is not None else -np.inf)
    mask = lx > start if len(x) else lx >= start
    if xmax is not None:
        mask &= lx <= xmax
    if not mask.any():
        return x, y
    tx, ty = lx[mask], ly[mask]
    if max_n is not None:
        if len(x) >= max_n:  # the store's answer fills the budget: its newest points make room
            x, y = x[: max_n - 1], y[: max_n - 1]
        room = max_n - len(x)
        if len(tx) > room:  # every k-th, counted back from the newest: it is always shown
            step = -(-len(tx) // room)  # ceil
            keep = np.arange(len(tx) - 1, -1, -step)[::-1]
            tx, ty = tx[keep], ty[keep]
    return np.concatenate([x, tx]), np.concatenate([y, ty])


def _bounds(sig: Signal | None, x: np.ndarray) -> tuple[float | None, float | None]:
    lo = [float(x[0])] if len(x) else []
    hi = [float(x[-1])] if len(x) else []
    if sig is not None and len(sig.buffer):
        first, last = sig.buffer.first_x(), sig.latest()
        if first is not None:
            lo.append(first)
        if last is not None:
            hi.append(last[0])
    return (min(lo) if lo else None, max(hi) if hi else None)


def _from_memory(
    key: str, sig: Signal | None, xmin: float | None, xmax: float | None, max_n: int | None
) -> SignalHistory:
    if sig is None:
        raise QueryError(f"unknown signal {key!r}")
    x, y = sig.buffer.arrays()
    if len(x) == 0:
        raise QueryError(f"signal {key!r} has no data")
    first, last = float(x[0]), float(x[-1])
    mask = np.ones(len(x), dtype=bool)
    if xmin is not None:
        mask &= x >= xmin
    if xmax is not None:
        mask &= x <= xmax
    x, y = thin(x[mask], y[mask], max_n)
    return SignalHistory(key, sig.unit, sig.id, x, y, first, last)
