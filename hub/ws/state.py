"""Server-wide state shared by the request handlers: events by RTOC id, counters, clients."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from hub.db.base import EventRecord
from hub.service import HubService

from .config import WsConfig
from .session import ClientSession


class RequestError(Exception):
    """A request that is refused; the message is the reason sent to the client."""


class EventBook:
    """Events numbered like RTOC's integer evID (from 1), bounded, oldest dropped first."""

    def __init__(self, *, limit: int) -> None:
        self.limit = limit
        self._events: OrderedDict[int, EventRecord] = OrderedDict()
        self._next = 1

    def __len__(self) -> int:
        return len(self._events)

    def add(self, ev: EventRecord) -> int:
        """Number and keep an event; returns its id."""
        eid = self._next
        self._next += 1
        self._events[eid] = ev
        while len(self._events) > self.limit:
            self._events.popitem(last=False)
        return eid

    def items(self) -> Iterable[tuple[int, EventRecord]]:
        """(id, event) in arrival order."""
        return list(self._events.items())

    def remove(self, eid: int) -> bool:
        """Forget one event; False when unknown."""
        return self._events.pop(eid, None) is not None

    def clear(self) -> None:
        """Forget all events."""
        self._events.clear()


def event_row(eid: int, ev: EventRecord) -> list[Any]:
    """RTOC's event list `[dname, sname, evID, text, x, value, priority, id]`."""
    return [ev.device, ev.signal, eid, ev.text, ev.time, ev.value, ev.priority, ev.event_id]


def event_push(eid: int, ev: EventRecord) -> dict[str, Any]:
    """RTOC's `event` push object."""
    return {
        "event": {
            "x": ev.time,
            "text": ev.text,
            "dname": ev.device,
            "sname": ev.signal,
            "priority": ev.priority,
            "value": ev.value,
            "id": ev.event_id,
            "eventId": eid,
        }
    }


@dataclass
class ServerState:
    """What every handler may read: the hub service, the config, events, clients, counters."""

    service: HubService
    config: WsConfig
    events: EventBook
    clock: Callable[[], float] = time.time
    started_at: float = field(default_factory=time.time)
    sessions: dict[int, ClientSession] = field(default_factory=dict)
    stats: dict[str, int] = field(
        default_factory=lambda: {
            "connections": 0,
            "requests": 0,
            "stream_runs": 0,  # runs of stream-mode y frames made live together
            "errors": 0,
            "refused_rate": 0,
            "refused_size": 0,
            "refused_signals": 0,
            "refused_origin": 0,
            "refused_permission": 0,
            "dropped_frames": 0,
            "slow_disconnects": 0,
            "auth_timeouts": 0,
            "pushed_frames": 0,
            "refused_host": 0,
            "refused_address": 0,
            "evicted_unauthorized": 0,
            "wrong_password": 0,
            "refused_login_backoff": 0,
            "refused_cost": 0,
        }
    )
