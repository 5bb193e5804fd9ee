"""Messages scripts and actions send: `telegram.send_message_to_all` / `telegram.send_photo`.

Who receives one: every user whose effective permission is at least the message's
`permission` (never below `read`: blocked and custom users get no notifications, as in
RTOC) and whose notification level admits its `priority` — the audience of RTOC's
`telegramBot.send_message_to_all`. Each message is queued on the recipient's chat line
(hub/bot/chatline.py, bounded per chat) and sent by the delivery (hub/bot/delivery.py),
so flood waits and network errors are handled like every other reply and a script never
waits for Telegram. A picture is a file of `<config_dir>/pictures` (read once) or a plot
of `{label: (xs, ys)}` (drawn once by the bot's renderer).
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from hub.permission import Permission

from .chatline import ChatLines
from .operator_files import MAX_PICTURE_BYTES, OperatorFiles
from .ui import Reply
from .users import UserDirectory

log = logging.getLogger(__name__)


class ScriptMessages:
    """Queues scripts' messages for their audience; `send()` runs on the event loop."""

    def __init__(
        self,
        *,
        users: UserDirectory,
        lines: ChatLines,
        deliver: Callable[[int, list[Reply]], Awaitable[None]],
        files: OperatorFiles,
    ) -> None:
        self.users = users
        self.lines = lines
        self.deliver = deliver
        self.files = files
        self.queued = 0
        self.failed = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def recipients(self, priority: int, permission: str) -> list[int]:
        """Chat ids of the users the message may go to."""
        least = max(Permission.READ, Permission.parse(permission))
        return [
            u.chat_id
            for u in self.users.users.values()
            if self.users.effective(u) >= least and u.admits(priority)
        ]

    def caller(self, chat: int, permission: str) -> list[int]:
        """The caller's chat, while they still may run the action (else ValueError)."""
        user = self.users.get(chat)
        needed = max(Permission.WRITE, Permission.parse(permission))
        if user is None or self.users.effective(user) < needed:
            raise ValueError(f"the user who pressed the action no longer has {needed}")
        return [chat]

    def send(self, message: dict[str, Any]) -> int:
        """Queue the message; returns how many users it goes to. ValueError when it cannot
        be sent (no such picture, too large, an unknown permission or priority)."""
        if message.get("priority") not in (0, 1, 2):
            raise ValueError("priority must be 0, 1 or 2")
        if "chat" in message:  # the user who pressed a user action, and only them
            chats = self.caller(int(message["chat"]), str(message["permission"]))
        else:
            chats = self.recipients(int(message["priority"]), str(message["permission"]))
        text = html.escape(str(message["text"]))
        picture = message.get("picture")
        if isinstance(picture, bytes):  # an operator's plain-Python script made it
            if len(picture) > MAX_PICTURE_BYTES:
                raise ValueError("the picture is larger than 10 MB")
            for chat in chats:
                self._submit(chat, Reply(text=text, photo=picture))
        elif isinstance(picture, str):
            path = self.files.picture_path(picture)
            self._start(self._send_picture(chats, text, lambda: self.files.read(path)))
        elif isinstance(picture, dict):
            self._start(self._send_picture(chats, text, lambda: self.files.plot(picture)))
        else:
            for chat in chats:
                self._submit(chat, Reply(text=text))
        return len(chats)

    def _start(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_picture(
        self, chats: list[int], text: str, make: Callable[[], Awaitable[bytes]]
    ) -> None:
        if not chats:
            return
        try:
            png = await make()
        except Exception as exc:  # a picture that cannot be made: said once in the log
            self.failed += 1
            log.warning("telegram.send_photo: %s: %s", type(exc).__name__, exc)
            return
        for chat in chats:
            self._submit(chat, Reply(text=text, photo=png))

    def _submit(self, chat: int, reply: Reply) -> None:
        if self.lines.submit(chat, lambda: self.deliver(chat, [reply])):
            self.queued += 1
        else:
            self.failed += 1

    async def close(self) -> None:
        """Wait briefly for pictures being made (then they are dropped)."""
        for task in list(self._tasks):
            task.cancel()
