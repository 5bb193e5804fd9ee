"""A live hub's own batches (websocket writes, scripts' data, the engine's events) on their
way to the store: published on `<p>/hub/made`, taken by one ingest hub of the shared
group, acknowledged on `<p>/hub/made/ack` after commit. Until then the live hub keeps the
payload in memory and publishes it again every `resend_s` — the agents' spool-and-ack, in
memory: an ingest hub that dies with the batch in hand loses nothing, the ledger keeps a
resent batch stored once. Beyond `max_bytes` the oldest are given up (counted).

Every live hub also keeps the other live hubs' batches until they are acknowledged; the
hub that takes the lead adopts them, so the events of a leader that died together with the
ingest hub holding its last batch are still stored (once: same seq, same payload)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

Publish = Callable[[bytes], Any]


class MadeRelay:
    """Unacknowledged hub-made batches by seq, published again until acknowledged."""

    def __init__(
        self,
        *,
        publish: Publish,
        stats: dict[str, int],
        resend_s: float = 2.0,
        max_bytes: int = 64 * 2**20,
    ) -> None:
        self.publish = publish
        self.resend_s = resend_s
        self.max_bytes = max_bytes
        self.stats = stats  # the hub's
        for name in ("made_sent", "made_resent", "made_acked", "made_given_up", "made_adopted"):
            stats[name] = 0
        self._pending: OrderedDict[int, tuple[bytes, float]] = OrderedDict()
        self._bytes = 0
        self._foreign: OrderedDict[int, bytes] = OrderedDict()  # other live hubs' batches
        self._foreign_bytes = 0
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._pending)

    def send(self, seq: int, payload: bytes) -> Any:
        """Publish now and keep until acknowledged; returns what `publish` returns."""
        self._pending[seq] = (payload, time.monotonic())
        self._bytes += len(payload)
        self.stats["made_sent"] += 1
        while self._bytes > self.max_bytes and len(self._pending) > 1:
            _seq, (old, _at) = self._pending.popitem(last=False)
            self._bytes -= len(old)
            self.stats["made_given_up"] += 1
        return self.publish(payload)

    def acked(self, seqs: list[int]) -> None:
        """The store has these (called on the loop)."""
        for seq in seqs:
            item = self._pending.pop(seq, None)
            if item is not None:
                self._bytes -= len(item[0])
                self.stats["made_acked"] += 1
            other = self._foreign.pop(seq, None)
            if other is not None:
                self._foreign_bytes -= len(other)

    def watch(self, seq: int, payload: bytes) -> None:
        """Another live hub's batch: kept until acknowledged (called on the loop)."""
        if seq in self._pending or seq in self._foreign:
            return
        self._foreign[seq] = payload
        self._foreign_bytes += len(payload)
        while self._foreign_bytes > self.max_bytes and self._foreign:
            self._foreign_bytes -= len(self._foreign.popitem(last=False)[1])

    def adopt(self) -> None:
        """Taking the lead: send the other hubs' unacknowledged batches again until acked."""
        for seq, payload in self._foreign.items():
            self._pending[seq] = (payload, 0.0)  # due at the next round
            self._bytes += len(payload)
            self.stats["made_adopted"] += 1
        self._foreign.clear()
        self._foreign_bytes = 0

    def start(self) -> None:
        """Start resending (call on the hub's loop)."""
        self._task = asyncio.get_running_loop().create_task(self._resend(), name="made-resend")

    async def stop(self) -> None:
        """Stop resending."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _resend(self) -> None:
        while True:
            await asyncio.sleep(self.resend_s / 2)
            due = time.monotonic() - self.resend_s
            for seq, (payload, at) in list(self._pending.items()):
                if at > due:
                    break  # in order of sending: the rest are newer
                self._pending[seq] = (payload, time.monotonic())
                self._pending.move_to_end(seq)
                self.stats["made_resent"] += 1
                self.publish(payload)
