"""One websocket client: its RTOC session state, rate limit and bounded send queue."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from hub.permission import Permission
from hub.ratelimit import TokenBucket

from .crypto import encrypt_text
from .jsonfast import dumps
from .transport import BATCH_BYTES, BATCH_FRAMES, Sender, send_frames, write_now

# A page that opens shows several signals at once: a client may take this many seconds'
# worth of its points allowance in one go, then the allowance refills at its rate.
POINTS_BURST = 4.0


class ClientSession:
    """State RTOC keeps per client plus our limits; frames leave through one writer task."""

    def __init__(
        self,
        *,
        cid: int,
        peer: str,
        key: bytes | None,
        whitelisted: bool,
        authorized: bool,
        permission: Permission,
        queue_frames: int,
        rate: float,
        write_rate: float = 0.0,
        unauthorized_rate: float = 2.0,
        queue_bytes: int = 64_000_000,
        points_rate: float = 2_000_000.0,
        slow_timeout: float,
        on_slow: Callable[[ClientSession], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cid = cid
        self.peer = peer
        self.key = key
        self.whitelisted = whitelisted
        self.authorized = authorized
        self.permission = permission
        self.user: str | None = None
        self.signal_subs: set[str] = set()
        self.device_subs: set[str] = set()
        self.all_signals = False
        self.all_devices = False
        self.event_level = 0
        self.signals_created = 0
        self.queue_frames = queue_frames
        self.queue_bytes = queue_bytes
        self.queued_bytes = 0
        # points of signal data per second in answers (getSession, getSignal)
        self.points = TokenBucket.seconds_worth(points_rate, POINTS_BURST, clock)
        self.points_charged = 0  # what the request being answered paid in advance
        self.slow_timeout = slow_timeout
        # requests per second: by what the client may do (see limit())
        self.rate = TokenBucket.seconds_worth(rate, clock=clock)
        self.write_rate = TokenBucket.seconds_worth(write_rate, clock=clock) if write_rate else None
        # a burst of 5 requests: enough to log in
        self.unauthorized_rate = TokenBucket(rate=unauthorized_rate, burst=5.0, clock=clock)
        self.dropped = 0
        self._untold = 0
        self._full_since: float | None = None
        self._queue: deque[str | bytes] = deque()
        self._wake = asyncio.Event()
        self._on_slow = on_slow
        self._clock = clock
        self.closed = False
        self._conn: Any = None  # what the writer sends to
        self._idle = False  # the writer waits for frames
        self.sent = 0
        self.lost_at_cutoff = 0

    # -- subscriptions -------------------------------------------------------------
    def wants(self, key: str, device: str) -> bool:
        """True when signal data of `key` (of `device`) is to be pushed to this client."""
        return (
            self.all_signals
            or self.all_devices
            or key in self.signal_subs
            or device in self.device_subs
        )

    @property
    def gets_pushes(self) -> bool:
        """Unauthorized clients are skipped by every push (RTOC §2.6)."""
        return self.authorized and not self.closed

    def may(self, permission: Permission) -> bool:
        """True when this client's permission is at least `permission`."""
        return self.permission >= permission

    def limit(self) -> TokenBucket | None:
        """The request limit that applies now: hard before authorization, the configured
        rate for reading clients, none (or the write rate) for clients that may write."""
        if not self.authorized:
            return self.unauthorized_rate
        if self.may(Permission.WRITE):
            return self.write_rate
        return self.rate

    # -- sending -------------------------------------------------------------------
    def encode(self, obj: Any) -> str | bytes:
        """The frame text for one object: JSON, encrypted when this client is in password mode."""
        return self.wrap(dumps(obj))

    def wrap(self, text: str | bytes) -> str | bytes:
        """Encrypt prepared JSON text when this client needs it (fresh IV per frame).

        Plain frames may be UTF-8 bytes encoded once for all clients (sent as text frames).
        """
        if self.key is None:
            return text
        return encrypt_text(text.decode() if isinstance(text, bytes) else text, self.key)

    def send(self, obj: Any) -> bool:
        """Queue one object; False (and counted) when the queue is full."""
        return self.send_text(dumps(obj))

    def send_text(self, text: str | bytes) -> bool:
        """Queue prepared JSON text; drops it and counts when the client is too slow."""
        if self.closed:
            return False
        if len(self._queue) >= self.queue_frames:
            self.dropped += 1
            self._untold += 1
            now = self._clock()
            if self._full_since is None:
                self._full_since = now
            elif now - self._full_since > self.slow_timeout:
                self._give_up()
            return False
        frame = self.wrap(text)
        if self.queued_bytes + len(frame) > self.queue_bytes:
            # memory, not frames, is what a client that never reads costs the hub
            self.dropped += 1
            self._give_up()
            return False
        self._queue.append(frame)
        self.queued_bytes += len(frame)
        self._wake.set()
        return True

    def send_now(self, *texts: str | bytes) -> bool:
        """As send_text for each, but written to the socket at once, in one write, when
        nothing waits before them (queue empty, writer idle) and the socket takes them: no
        loop turn and no writer task in between. False when one was dropped."""
        conn = self._conn
        if (
            self._queue
            or self._untold
            or self.closed
            or not self._idle
            or conn is None
            or not write_now(conn, [self.wrap(t) for t in texts])
        ):
            return all([self.send_text(t) for t in texts])
        self.sent += len(texts)
        return True

    @property
    def queued(self) -> int:
        """Frames waiting for the writer."""
        return len(self._queue)

    async def writer(self, ws: Sender) -> None:
        """Send queued frames in order; after drops, tell the client how many it lost."""
        self._conn = ws
        while not self.closed:
            if not self._queue and not self._untold:
                self._wake.clear()
                self._idle = True
                try:
                    await self._wake.wait()
                finally:
                    self._idle = False
                continue
            if self._untold and len(self._queue) < self.queue_frames // 2 + 1:
                notice = {
                    "dropped": {
                        "frames": self._untold,
                        "total": self.dropped,
                        "reason": f"send queue full ({self.queue_frames} frames): "
                        "this client reads too slowly",
                    }
                }
                self._untold = 0
                self._full_since = None
                await ws.send(self.encode(notice))
                self.sent += 1
            if not await self._send_queued(ws):
                return

    async def _send_queued(self, ws: Sender) -> bool:
        """Send what is queued (up to a notice's turn); False when the client was cut off.

        Frames go in runs (one socket write per run, see transport.py). One timeout for
        all the runs, moved on after each: it fires only when the socket takes nothing for
        `slow_timeout` seconds.
        """
        loop = asyncio.get_running_loop()
        queue = self._queue
        in_flight = 0
        try:
            async with asyncio.timeout(self.slow_timeout) as deadline:
                while queue and not self.closed:
                    if self._untold and len(queue) < self.queue_frames // 2 + 1:
                        return True  # the drop notice goes first
                    run: list[str | bytes] = []
                    size = 0
                    while queue and len(run) < BATCH_FRAMES and size < BATCH_BYTES:
                        frame = queue.popleft()
                        run.append(frame)
                        size += len(frame)
                    self.queued_bytes -= size
                    if len(queue) < self.queue_frames:
                        self._full_since = None
                    in_flight = len(run)
                    await send_frames(ws, run)
                    in_flight = 0
                    self.sent += len(run)
                    deadline.reschedule(loop.time() + self.slow_timeout)
        except TimeoutError:
            # the socket took nothing for slow_timeout seconds: cut the client off
            self._give_up(in_flight=in_flight)
            return False
        return True

    def _give_up(self, in_flight: int = 0) -> None:
        """Too slow for too long: what is queued is lost (counted), the owner disconnects."""
        if self.closed:
            return
        self.lost_at_cutoff = len(self._queue) + in_flight
        self.dropped += self.lost_at_cutoff
        self.close()
        if self._on_slow is not None:
            self._on_slow(self)

    def close(self) -> None:
        """Stop the writer; queued frames are discarded."""
        self.closed = True
        self._queue.clear()
        self.queued_bytes = 0
        self._wake.set()
