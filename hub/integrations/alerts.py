"""One alert road (a webhook, a mailbox): priority filter, rate limit, bounded queue, retries.

`AlertTarget.submit` is synchronous and cheap (the hub's event listener calls it), so a slow
or unreachable receiver never slows the hub: an event below the target's minimum priority
is skipped, one past the rate limit (a sliding window) is dropped and counted, and the queue
keeps at most `queue` events (the oldest dropped and counted). One sender task per target
hands each event to a blocking `send(event)` in a worker thread with a timeout of its own,
retrying with exponential backoff; it logs a failing road once and its recovery once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.db.base import EventRecord

log = logging.getLogger(__name__)

PRIORITY_NAME = {0: "information", 1: "warning", 2: "error"}


@dataclass
class AlertStats:
    """Counters of one target."""

    sent: int = 0
    skipped_priority: int = 0
    rate_limited: int = 0
    dropped: int = 0  # queue full: the oldest waiting event
    retries: int = 0
    failed: int = 0  # given up after every retry


def jsonable(value: Any) -> Any:
    """A value as JSON allows it: non-finite numbers become None, unknown types text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value[:1000]]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in list(value.items())[:1000]}
    try:
        f = float(value)
    except (TypeError, ValueError):
        return str(value)[:1000]
    return f if math.isfinite(f) else None


def event_dict(event: EventRecord, hub_id: str) -> dict[str, Any]:
    """What every road says about an event."""
    return {
        "hub": hub_id,
        "time": event.time,
        "time_iso": datetime.fromtimestamp(event.time, tz=UTC).isoformat(),
        "device": event.device,
        "signal": event.signal,
        "text": event.text,
        "priority": event.priority,
        "priority_name": PRIORITY_NAME.get(event.priority, str(event.priority)),
        "id": event.event_id,
        "value": jsonable(event.value),
    }


class AlertTarget:
    """A named road: `submit()` from the loop, `start()`/`stop()` around its sender task."""

    def __init__(
        self,
        *,
        name: str,
        send: Callable[[EventRecord], None],
        min_priority: int,
        limit: int,
        period: float,
        queue: int,
        retries: int,
        backoff_min: float = 0.5,
        backoff_max: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.send = send
        self.min_priority = min_priority
        self.limit = limit
        self.period = period
        self.retries = retries
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.clock = clock
        self.stats = AlertStats()
        self._queue: deque[EventRecord] = deque(maxlen=queue)
        self._accepted: deque[float] = deque()  # times of events let through (rate window)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self.busy = False

    def submit(self, event: EventRecord) -> None:
        """Queue an event for this road (or skip/drop it, counted); never blocks."""
        if event.priority < self.min_priority:
            self.stats.skipped_priority += 1
            return
        now = self.clock()
        while self._accepted and now - self._accepted[0] >= self.period:
            self._accepted.popleft()
        if len(self._accepted) >= self.limit:
            self.stats.rate_limited += 1
            return
        self._accepted.append(now)
        if len(self._queue) == self._queue.maxlen:
            self.stats.dropped += 1  # deque drops the oldest
        self._queue.append(event)
        self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        """Start the sender task on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"alert-{self.name}")

    async def stop(self) -> None:
        """Stop the sender (events still queued are reported, not sent)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._queue:
            log.warning("alert %s: %d events not sent at shutdown", self.name, len(self._queue))

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                event = self._queue.popleft()
                self.busy = True
                try:
                    await self._deliver(event)
                finally:
                    self.busy = False

    async def _deliver(self, event: EventRecord) -> None:
        delay = self.backoff_min
        for attempt in range(self.retries + 1):
            try:
                await asyncio.to_thread(self.send, event)
            except Exception as exc:
                if not self._failing:
                    log.warning("alert %s: sending failed: %s", self.name, exc)
                    self._failing = True
                if attempt == self.retries:
                    self.stats.failed += 1
                    return
                self.stats.retries += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.backoff_max)
                continue
            if self._failing:
                log.warning("alert %s: sending works again", self.name)
                self._failing = False
            self.stats.sent += 1
            return
