"""One line per chat: what the bot sends to a chat goes out in order, one call at a time.

A flood-control answer (429 `retry_after`) for a chat holds that chat's line: nothing
else goes to that chat until the wait is over, and other chats are untouched. Replies to
updates are queued per chat (bounded; when full the newest is dropped and counted) and
sent by a task per chat, so the update handler returns at once and a chat that waits
never holds up the handling of other chats' updates. Notifications take their turn on
the same line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


@dataclass
class _Line:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    quiet_until: float = 0.0
    jobs: deque[Job] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


class ChatLines:
    """Per-chat send lines; `stop()` cancels the senders (queued replies are dropped)."""

    def __init__(
        self,
        *,
        on_error: Callable[[BaseException], None],
        max_jobs: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.on_error = on_error
        self.max_jobs = max_jobs
        self.clock = clock
        self.dropped = 0
        self._lines: dict[int, _Line] = {}
        self._closed = False

    def _line(self, chat_id: int) -> _Line:
        return self._lines.setdefault(chat_id, _Line())

    def hold(self, chat_id: int, seconds: float) -> None:
        """Nothing goes to this chat for `seconds` from now (a flood wait)."""
        line = self._line(chat_id)
        line.quiet_until = max(line.quiet_until, self.clock() + seconds)

    async def quiet(self, chat_id: int) -> None:
        """Wait until the chat's hold (if any) is over."""
        line = self._line(chat_id)
        while (delay := line.quiet_until - self.clock()) > 0:
            await asyncio.sleep(delay)

    @contextlib.asynccontextmanager
    async def turn(self, chat_id: int) -> AsyncIterator[None]:
        """The chat's line to oneself: after the calls before, once any hold is over."""
        async with self._line(chat_id).lock:
            await self.quiet(chat_id)
            yield

    def submit(self, chat_id: int, job: Job) -> bool:
        """Queue `job` (sending to this chat) behind the chat's earlier ones; never blocks.
        False (and counted) when the chat already has `max_jobs` waiting, or after stop()."""
        if self._closed:
            return False
        line = self._line(chat_id)
        if len(line.jobs) >= self.max_jobs:
            self.dropped += 1
            log.warning("chat %s has %d replies waiting; one dropped", chat_id, len(line.jobs))
            return False
        line.jobs.append(job)
        if line.task is None or line.task.done():
            line.task = asyncio.get_running_loop().create_task(
                self._run(chat_id, line), name=f"telegram-chat-{chat_id}"
            )
        return True

    def pending(self, chat_id: int) -> int:
        """Jobs waiting for a chat (the one being sent not included)."""
        line = self._lines.get(chat_id)
        return len(line.jobs) if line else 0

    async def _run(self, chat_id: int, line: _Line) -> None:
        while line.jobs:
            job = line.jobs.popleft()
            try:
                async with self.turn(chat_id):
                    await job()
            except Exception as exc:  # one failed reply must not stop the chat's line
                self.on_error(exc)

    async def stop(self) -> None:
        """Cancel every sender; what is still queued is dropped, later jobs refused."""
        self._closed = True
        tasks = [line.task for line in self._lines.values() if line.task is not None]
        for line in self._lines.values():
            self.dropped += len(line.jobs)
            line.jobs.clear()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
