"""Server pushes (§2.6): new signal, coalesced signal data, events, pluginList, client.

Listeners run on the event loop inside ingest's call; they only queue work and never
wait for a client: a slow client loses its own frames, nobody else's.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, TypeVar

import numpy as np

from hub.db.base import EventRecord
from hub.ratelimit import TokenBucket
from hub.signals import Signal

from .jsonfast import FloatArray, plain
from .session import ClientSession
from .state import ServerState, event_push

T = TypeVar("T")

PUSH_BURST = 8  # pushes that may go out at once before push_interval spaces them


class Fanout:
    """Attaches to the hub's listeners and turns them into frames for the sessions."""

    def __init__(self, *, state: ServerState, plugins: Any) -> None:
        self.st = state
        self.plugins = plugins
        self._pending: dict[str, tuple[Signal, list[np.ndarray], list[np.ndarray]]] = {}
        self._flush_handle: asyncio.TimerHandle | asyncio.Handle | None = None
        self._flush_due = False  # the scheduled flush waits for nothing but this loop turn
        interval = state.config.push_interval
        self._pushes = (  # pushes at once; None: no coalescing
            TokenBucket(rate=1 / interval, burst=PUSH_BURST) if interval > 0 else None
        )
        self._plugins_handle: asyncio.Handle | None = None
        self._attached = False

    # -- wiring --------------------------------------------------------------------
    def attach(self) -> None:
        """Register with the hub's listener lists."""
        hub = self.st.service
        hub.signals.on_new_signal.append(self.on_new_signal)
        hub.signals.on_data.append(self.on_data)
        hub.on_event.append(self.on_event)
        hub.agents.on_change.append(self.on_agent_change)
        for ev in hub.recent_events():
            self.st.events.add(ev)
        self._attached = True

    def detach(self) -> None:
        """Unregister and cancel scheduled flushes."""
        if not self._attached:
            return
        hub = self.st.service
        _forget(hub.signals.on_new_signal, self.on_new_signal)
        _forget(hub.signals.on_data, self.on_data)
        _forget(hub.on_event, self.on_event)
        _forget(hub.agents.on_change, self.on_agent_change)
        for h in (self._flush_handle, self._plugins_handle):
            if h is not None:
                h.cancel()
        self._attached = False

    # -- broadcasting --------------------------------------------------------------
    def broadcast(self, obj: Any, *, skip: ClientSession | None = None) -> None:
        """One JSON text to every client that gets pushes."""
        text = json.dumps(obj).encode()
        for s in list(self.st.sessions.values()):
            if s is not skip and s.gets_pushes:
                self._send(s, text)

    def _send(self, s: ClientSession, text: str | bytes, now: bool = False) -> None:
        if s.send_now(text) if now else s.send_text(text):
            self.st.stats["pushed_frames"] += 1
        else:
            self.st.stats["dropped_frames"] += 1

    def client_connected(self, new: ClientSession) -> None:
        """`{"client": "newconnected"}` to the other authorized clients.

        RTOC also sent `{"authorized": false}` to every unauthorized one; a client in the
        middle of logging in took that as its answer, so only the asker hears about logins.
        """
        text = json.dumps({"client": "newconnected"})
        for s in list(self.st.sessions.values()):
            if s is not new and s.gets_pushes:
                self._send(s, text)

    # -- listeners -----------------------------------------------------------------
    def on_new_signal(self, sig: Signal) -> None:
        """A signal was created: tell everyone (buffers are empty at creation, as in RTOC)."""
        self.broadcast(
            {
                "signal": {
                    "x": [],
                    "y": [],
                    "unit": sig.unit or None,
                    "dname": sig.device,
                    "sname": sig.name,
                    "id": sig.id,
                }
            }
        )

    def on_data(self, sig: Signal, x: np.ndarray, y: np.ndarray) -> None:
        """New samples: queue them for subscribers.

        Pushes go out at once (with the other samples of the frame, before its answer)
        while they come no faster than one per `push_interval` (PUSH_BURST of them at
        once); faster, one push per `push_interval` carries everything that came
        meanwhile: a producer of 10,000 frames a second gets its readers 500 frames a
        second each, not 10,000.
        """
        if not self.st.sessions:
            return  # who wants it is asked once per push, not per sample (flush)
        entry = self._pending.get(sig.key)
        if entry is None:
            self._pending[sig.key] = (sig, [x], [y])
        else:
            entry[1].append(x)
            entry[2].append(y)
        if self._flush_handle is None:
            loop = asyncio.get_running_loop()
            pushes = self._pushes
            if pushes is None or pushes.take():  # right after this frame's other samples
                self._flush_handle = loop.call_soon(self.flush)
                self._flush_due = True
            else:  # pushes come too fast: the next carries all that came meanwhile
                self._flush_handle = loop.call_later(pushes.wait_time(), self._timed_flush)

    def _timed_flush(self) -> None:
        if self._pushes is not None:
            self._pushes.spend(1)
        self.flush()

    def frame_done(self) -> None:
        """A request's samples are all in: a push that waits only for them goes now, before
        the request's answer (no loop turn between a sample and its subscribers)."""
        if self._flush_due and self._flush_handle is not None:
            self._flush_handle.cancel()
            self.flush()

    def flush(self) -> None:
        """Send every pending signal's samples as one `signal` frame per signal; written
        to each client's socket at once when nothing of it waits (ClientSession.send_now)."""
        self._flush_handle = None
        self._flush_due = False
        pending, self._pending = self._pending, {}
        sessions = [s for s in self.st.sessions.values() if s.gets_pushes]
        for key, (sig, xs, ys) in pending.items():
            targets = [s for s in sessions if s.wants(key, sig.device)]
            if not targets:
                continue
            x = np.concatenate(xs) if len(xs) > 1 else xs[0]
            y = np.concatenate(ys) if len(ys) > 1 else ys[0]
            text = signal_frame(sig, x, y)
            for s in targets:
                self._send(s, text, now=True)

    def on_event(self, ev: EventRecord) -> None:
        """A new event: number it and push it to clients whose event level it reaches."""
        eid = self.st.events.add(ev)
        text = json.dumps(event_push(eid, ev)).encode()
        for s in list(self.st.sessions.values()):
            if s.gets_pushes and ev.priority >= s.event_level:
                self._send(s, text)

    def on_agent_change(self, agent: str) -> None:
        """An agent's status changed: one pluginList push per loop turn, however many."""
        if self._plugins_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._plugins_handle = loop.call_soon(self._push_plugins)

    def _push_plugins(self) -> None:
        self._plugins_handle = None
        self.push_plugins()

    def push_plugins(self) -> None:
        """`{"pluginList": …}` to every client that gets pushes, now."""
        self.broadcast({"pluginList": self.plugins.plugin_list()})


def signal_frame(sig: Signal, x: np.ndarray, y: np.ndarray) -> bytes:
    """`{"signal": {"x": [...], "y": [...], "unit", "dname", "sname", "id"}}` as UTF-8, as
    jsonfast.dumps writes it, without its general machinery (a push is on the idle path)."""
    rest = plain({"unit": sig.unit, "dname": sig.device, "sname": sig.name, "id": sig.id})
    return (
        f'{{"signal": {{"x": {FloatArray(x).to_json()}, "y": {FloatArray(y).to_json()}, '
        f"{rest[1:]}}}"
    ).encode()


def _forget(listeners: list[T], fn: T) -> None:
    """Unregister `fn` when it is registered."""
    if fn in listeners:
        listeners.remove(fn)
