"""Event notifications: a bounded queue per chat, about one message a second, bursts grouped.

`submit()` is synchronous and cheap (called from the hub's event listener), so a slow or
unreachable Telegram never slows ingest: each chat has a deque of at most `max_queue`
lines (oldest dropped and counted) and its own sender task that waits for the chat's
send interval, takes everything queued (up to `max_group` lines) as one message, and
honours flood control (`retry_after`) and network errors (exponential backoff). With
`lines`, each message takes its turn on the chat's line (chatline.py), so it never
goes out while the chat is held, and a flood wait it meets holds the chat's replies too.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import time
import warnings
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from .chatline import ChatLines

log = logging.getLogger(__name__)

PRIORITY_LABEL = {0: "<i>Information</i>", 1: "<b>Warning</b>", 2: "<b><i>Error</i></b>"}

MAX_TEXT = 1000  # characters of one event's text
MAX_MESSAGE = 3500  # a grouped message stays below Telegram's 4096

SendFn = Callable[[int, str], Awaitable[Any]]


def format_event(event: Any) -> str:
    """One event as RTOC shows it (HTML): level, Device.Signal, text and time."""
    label = PRIORITY_LABEL.get(int(event.priority), PRIORITY_LABEL[0])
    when = datetime.fromtimestamp(float(event.time)).astimezone().strftime("%d.%m.%Y %H:%M:%S")
    where = html.escape(f"{event.device}.{event.signal}")
    text = str(event.text)
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + "…"
    return f"{label} from {where}:\n{html.escape(text)}\n<code>{when}</code>"


@dataclass
class NotifyStats:
    """Counters of the notification path."""

    queued: int = 0
    sent_messages: int = 0
    sent_events: int = 0
    dropped: int = 0
    retries: int = 0
    failures: int = 0
    per_chat_dropped: dict[int, int] = field(default_factory=dict)


@dataclass
class _Chat:
    items: deque[tuple[int, str]]
    wake: asyncio.Event
    task: asyncio.Task[None] | None = None
    next_send: float = 0.0


class Notifier:
    """Per-chat bounded queues and sender tasks; start() before submit(), stop() at the end."""

    def __init__(
        self,
        *,
        send: SendFn,
        max_queue: int = 100,
        interval: float = 1.0,
        max_group: int = 20,
        backoff_min: float = 1.0,
        backoff_max: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        lines: ChatLines | None = None,
    ) -> None:
        self.send = send
        self.lines = lines
        self.max_queue = max_queue
        self.interval = interval
        self.max_group = max_group
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.clock = clock
        self.stats = NotifyStats()
        self._chats: dict[int, _Chat] = {}
        self._seq = 0
        self._running = False

    async def start(self) -> None:
        """Start sending: a task for every chat with queued lines, later ones on submit."""
        self._running = True
        loop = asyncio.get_running_loop()
        for chat_id, chat in self._chats.items():
            if chat.items and (chat.task is None or chat.task.done()):
                chat.task = loop.create_task(
                    self._run(chat_id, chat), name=f"telegram-notify-{chat_id}"
                )

    async def stop(self) -> None:
        """Cancel every sender task; what is still queued is dropped (and counted)."""
        self._running = False
        tasks = [c.task for c in self._chats.values() if c.task is not None]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for chat in self._chats.values():
            self.stats.dropped += len(chat.items)
            chat.items.clear()
            chat.task = None

    def pending(self, chat_id: int | None = None) -> int:
        """Lines waiting, for one chat or all."""
        if chat_id is not None:
            c = self._chats.get(chat_id)
            return len(c.items) if c else 0
        return sum(len(c.items) for c in self._chats.values())

    def submit(self, chat_id: int, text: str) -> None:
        """Queue one line for a chat; never blocks. Drops (and counts) the oldest when full."""
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = _Chat(items=deque(), wake=asyncio.Event())
            self._chats[chat_id] = chat
        if len(chat.items) >= self.max_queue:
            chat.items.popleft()
            self.stats.dropped += 1
            self.stats.per_chat_dropped[chat_id] = self.stats.per_chat_dropped.get(chat_id, 0) + 1
        self._seq += 1
        chat.items.append((self._seq, text))
        self.stats.queued += 1
        chat.wake.set()
        if self._running and (chat.task is None or chat.task.done()):
            chat.task = asyncio.get_running_loop().create_task(
                self._run(chat_id, chat), name=f"telegram-notify-{chat_id}"
            )

    async def _run(self, chat_id: int, chat: _Chat) -> None:
        backoff = self.backoff_min
        while self._running:
            if not chat.items:
                chat.wake.clear()
                await chat.wake.wait()
                continue
            delay = chat.next_send - self.clock()
            if delay > 0:
                await asyncio.sleep(delay)
            batch = _take(chat.items, self.max_group)
            last_seq = batch[-1][0]
            text = _group([t for _, t in batch], total=len(chat.items))
            try:
                async with self._turn(chat_id):
                    await self.send(chat_id, text)
            except RetryAfter as exc:
                wait = retry_seconds(exc)
                if self.lines is not None:
                    self.lines.hold(chat_id, wait)
                self.stats.retries += 1
                log.warning("telegram flood control for chat %s: waiting %.1f s", chat_id, wait)
                chat.next_send = self.clock() + wait
                continue
            except (TimedOut, NetworkError) as exc:
                if isinstance(exc, BadRequest | Forbidden):
                    self._give_up(chat, last_seq, exc)
                    continue
                self.stats.retries += 1
                if backoff == self.backoff_min:
                    log.warning("telegram unreachable (%s); retrying", type(exc).__name__)
                chat.next_send = self.clock() + backoff
                backoff = min(backoff * 2, self.backoff_max)
                continue
            except Exception as exc:  # Forbidden (user blocked the bot), BadRequest, ...
                self._give_up(chat, last_seq, exc)
                continue
            if backoff > self.backoff_min:
                log.warning("telegram reachable again")
            backoff = self.backoff_min
            sent = _pop_through(chat.items, last_seq)
            self.stats.sent_messages += 1
            self.stats.sent_events += sent
            chat.next_send = self.clock() + self.interval

    def _turn(self, chat_id: int) -> contextlib.AbstractAsyncContextManager[None]:
        return self.lines.turn(chat_id) if self.lines is not None else contextlib.nullcontext()

    def _give_up(self, chat: _Chat, last_seq: int, exc: BaseException) -> None:
        n = _pop_through(chat.items, last_seq)
        self.stats.failures += n
        log.warning("telegram refused a notification (%s); %d lines dropped", type(exc).__name__, n)
        chat.next_send = self.clock() + self.interval


def _take(items: deque[tuple[int, str]], max_group: int) -> list[tuple[int, str]]:
    """The oldest lines that fit one message (at least one, at most max_group)."""
    out: list[tuple[int, str]] = []
    size = 0
    for seq, text in items:
        if out and (len(out) >= max_group or size + len(text) + 2 > MAX_MESSAGE):
            break
        out.append((seq, text))
        size += len(text) + 2
    return out


def _pop_through(items: deque[tuple[int, str]], last_seq: int) -> int:
    n = 0
    while items and items[0][0] <= last_seq:
        items.popleft()
        n += 1
    return n


def _group(lines: list[str], *, total: int) -> str:
    if len(lines) == 1:
        return lines[0]
    head = f"<b>{len(lines)} events</b>"
    if total > len(lines):
        head += f" (and {total - len(lines)} more following)"
    return head + "\n\n" + "\n\n".join(lines)


def retry_seconds(exc: RetryAfter) -> float:
    """Seconds to wait from a RetryAfter (an int today, a timedelta in PTB's next major)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value: float | int | timedelta = exc.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)
