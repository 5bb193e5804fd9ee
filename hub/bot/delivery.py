"""How replies reach a chat: sends and menu edits on the chat's line, Telegram's faults handled.

A flood wait (429 `retry_after`) holds the chat's line (chatline.py) and the same call is
made again once it is over. An edit that fails on the network is retried as an edit: an
edit can be repeated safely ("not modified" means the first one had arrived), a send
cannot, so a network error never turns into a second menu. Only a message that cannot be
edited any more (too old, deleted) is replaced by a new one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from .chatline import ChatLines
from .notify import retry_seconds
from .ui import Reply, markup
from .users import UserDirectory

log = logging.getLogger(__name__)

MAX_FLOOD_WAIT = 60.0  # a reply that Telegram makes wait longer is dropped (the hold stays)
ATTEMPTS = 3  # per reply: flood waits, and network errors of an edit
EDIT_BACKOFF = 0.5  # seconds before the first retry of an edit after a network error


class Delivery:
    """Sends replies with python-telegram-bot's `Bot`; call its methods on the chat's line."""

    def __init__(self, *, bot: Callable[[], Any], lines: ChatLines, users: UserDirectory) -> None:
        self.bot = bot
        self.lines = lines
        self.users = users

    async def answer(self, query: Any) -> None:
        """Answer a button press (stops the client's spinner)."""
        try:
            await query.answer()
        except Exception as exc:  # an expired query must not stop the action
            log.debug("answerCallbackQuery failed: %s", type(exc).__name__)

    async def send(self, chat_id: int, replies: list[Reply], *, edit: int | None = None) -> None:
        """Send the replies to an update (on the chat's line); with `edit`, a menu replaces
        the inline menu whose button was pressed instead of arriving as a new message."""
        first = replies[0] if replies else None
        if (
            edit is not None
            and first is not None
            and first.menu is not None
            and first.photo is None
            and first.document is None
            and self.users.inline_menu
            and await self._edit(chat_id, edit, first)
        ):
            replies = replies[1:]
        for r in replies:
            await self._send_one(chat_id, r)

    async def _edit(self, chat_id: int, message_id: int, r: Reply) -> bool:
        """Replace the menu message the button belonged to; False only when it cannot be
        edited (then a new message is sent instead)."""
        backoff = EDIT_BACKOFF
        for _ in range(ATTEMPTS):
            try:
                await self.bot().edit_message_text(
                    chat_id=chat_id,
                    message_id=message_id,
                    text=r.text[:4096] or "…",
                    parse_mode="HTML",
                    reply_markup=markup(r.menu, inline=True),
                )
                return True
            except RetryAfter as exc:
                if not await self._flood_wait(chat_id, exc):
                    return True
            except BadRequest as exc:
                if "not modified" in exc.message.lower():
                    return True
                log.debug("edit refused (%s); sending a new message", exc.message)
                return False
            except Forbidden:
                log.info("chat %s blocked the bot; menu not sent", chat_id)
                return True
            except NetworkError as exc:  # TimedOut included
                log.debug("edit failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(backoff)
                backoff *= 2
        log.warning("chat %s: a menu edit failed %d times; given up", chat_id, ATTEMPTS)
        return True

    async def _flood_wait(self, chat_id: int, exc: RetryAfter) -> bool:
        """Hold the chat's line for Telegram's `retry_after` and wait it out; False (the
        reply is dropped, the hold stays) when the wait is too long to keep a reply for."""
        wait = retry_seconds(exc)
        self.lines.hold(chat_id, wait)
        if wait > MAX_FLOOD_WAIT:
            log.warning("telegram flood control for chat %s: %.0f s; reply dropped", chat_id, wait)
            return False
        log.info("telegram flood control for chat %s: waiting %.1f s", chat_id, wait)
        await self.lines.quiet(chat_id)
        return True

    async def _send_one(self, chat_id: int, r: Reply) -> None:
        for _ in range(ATTEMPTS):
            try:
                await self._post(chat_id, r)
                return
            except RetryAfter as exc:
                if not await self._flood_wait(chat_id, exc):
                    return
        log.warning("chat %s: a reply met flood control %d times; dropped", chat_id, ATTEMPTS)

    async def _post(self, chat_id: int, r: Reply) -> None:
        kb = markup(r.menu, inline=self.users.inline_menu)
        bot = self.bot()
        if r.photo is not None:
            await bot.send_photo(
                chat_id=chat_id,
                photo=r.photo,
                caption=r.text[:1024],
                parse_mode="HTML",
                reply_markup=kb,
            )
        elif r.document is not None:
            name, data = r.document
            await bot.send_document(
                chat_id=chat_id,
                document=data,
                filename=name,
                caption=r.text[:1024],
                parse_mode="HTML",
                reply_markup=kb,
            )
        else:
            await bot.send_message(
                chat_id=chat_id, text=r.text[:4096] or "…", parse_mode="HTML", reply_markup=kb
            )
