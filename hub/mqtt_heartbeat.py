"""The hub's proof that its MQTT session still delivers: a message to itself, through the
broker, every few seconds.

A TCP connection can stay up while the broker no longer routes anything to it (its client
id or session taken over, a broker that lost its subscriptions). Only a message that went
round the broker shows the subscription is alive; when none comes back in time the hub
reconnects and subscribes again.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable

MISSED = 3  # heartbeats in a row that may go missing before the session counts as lost


class Heartbeat:
    """Sends a nonce every `interval` while connected; `lost()` when none came back."""

    def __init__(
        self,
        *,
        interval: float,
        publish: Callable[[bytes], object],
        lost: Callable[[float], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = interval
        self.publish = publish
        self.lost = lost
        self.clock = clock
        self.nonce = secrets.token_hex(8).encode()
        self.ok = False
        self._since = clock()  # the last heartbeat back, or the (re)connect
        self._task: asyncio.Task[None] | None = None

    def connected(self) -> None:
        """A (re)connect: give the new session MISSED intervals to show it works."""
        self._since = self.clock()

    def seen(self, payload: bytes | bytearray) -> None:
        """A message on the heartbeat topic came back (called from any thread)."""
        if payload == self.nonce:
            self._since = self.clock()
            self.ok = True

    def check(self, delivering: bool) -> None:
        """One tick: publish, and report a loss when nothing came back for too long.
        `delivering` False (not connected, or the receiving side held up): no verdict."""
        if not delivering:
            self.ok = False
            self._since = self.clock()
            return
        self.publish(self.nonce)
        silent = self.clock() - self._since
        if silent > MISSED * self.interval:
            self.ok = False
            self._since = self.clock()  # one report per loss; the reconnect resets it
            self.lost(silent)

    def start(self, delivering: Callable[[], bool]) -> None:
        async def run() -> None:
            while True:
                await asyncio.sleep(self.interval)
                self.check(delivering())

        self._task = asyncio.get_running_loop().create_task(run(), name="mqtt-heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
