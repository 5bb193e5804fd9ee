"""The Telegram adapter: python-telegram-bot started inside the hub's event loop.

`TelegramBot(service=service, config=cfg["telegram"])`, then `await bot.start()` /
`await bot.stop()` (or `async with`). It polls (never `run_polling`), holds an advisory
lock so only one process polls per token, keeps the HTTP client's loggers at WARNING
(they log request URLs, which contain the token), and turns hub events into queued
notifications that never block the caller. Everything sent to a chat goes through that
chat's line (chatline.py): in order, and held while Telegram asks that chat to wait;
delivery.py sends the replies.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

from edge_agent.config_schema import ConfigError
from hub.i18n import localize_text
from hub.service import HubService

from .actions import CustomAction, load_actions
from .chatline import ChatLines
from .delivery import Delivery
from .handlers import BotCore
from .notify import Notifier, format_event
from .operator_files import OperatorFiles
from .plots import Renderer
from .script_messages import ScriptMessages
from .security import AlreadyPolling, PollerLock, quiet_http_loggers, resolve_token
from .users import DOC_KEY, Permission, UserDirectory, import_rtoc_clients

log = logging.getLogger(__name__)

__all__ = ["AlreadyPolling", "PollerLock", "TelegramBot", "resolve_token"]


class TelegramBot:
    """The bot adapter; construction does no I/O."""

    def __init__(
        self,
        *,
        service: HubService,
        config: dict[str, Any],
        poll_timeout: float = 10.0,
        notify: dict[str, Any] | None = None,
    ) -> None:
        self.service = service
        self.notify_options = dict(notify or {})
        self.config = config
        self.poll_timeout = poll_timeout
        hub_cfg = service.config["hub"]
        self.data_dir = hub_cfg.get("data_dir") or tempfile.gettempdir()
        self.actions_dir = config.get("actions_dir") or hub_cfg.get("config_dir") or ""
        self.users = UserDirectory(
            default_permission=Permission.parse(config.get("default_permission", "blocked")),
            default_eventlevel=int(config.get("default_eventlevel", 0)),
            only_admin=bool(config.get("only_admin", False)),
            inline_menu=bool(config.get("inline_menu", False)),
        )
        self.renderer = Renderer(max_workers=1, max_waiting=4)
        self.actions: list[CustomAction] = []
        self.notifier: Notifier | None = None
        self.core: BotCore | None = None
        self.app: Any = None
        self._lock: PollerLock | None = None
        self._save_lock = asyncio.Lock()
        self._connector: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.errors = 0
        self.lines = ChatLines(on_error=self._on_send_error)
        self.delivery = Delivery(bot=lambda: self.app.bot, lines=self.lines, users=self.users)
        operator_dir = Path(hub_cfg.get("config_dir") or self.data_dir)
        self.files = OperatorFiles(
            pictures_dir=operator_dir / "pictures",
            documents_dir=operator_dir / "documents",
            renderer=self.renderer,
        )
        self.script_messages = ScriptMessages(  # scripts' telegram.send_* (engine.telegram)
            users=self.users, lines=self.lines, deliver=self.delivery.send, files=self.files
        )

    async def __aenter__(self) -> TelegramBot:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ---- lifecycle ------------------------------------------------------------------
    async def start(self) -> None:
        """Load users and actions, take the poller lock, then connect in the background.

        Returns at once: Telegram being unreachable never delays the hub. Raises
        ConfigError (no token, bad actions file); logs and stays idle when another
        process already polls with this token (`self.polling` stays False).
        """
        from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

        token = resolve_token(self.config)
        quiet_http_loggers(token)
        self.actions = load_actions(self.actions_dir)
        lock = PollerLock(directory=self.data_dir, token=token)
        try:
            lock.acquire()
        except AlreadyPolling as exc:
            log.warning("telegram bot not started: %s", exc)
            return
        self._lock = lock
        try:
            await self._load_users()
        except BaseException:
            self._release()
            raise
        # Two get_updates connections: the long poll, and the offset confirmation that
        # Updater.stop() sends while the long poll may still hold the first one.
        builder = (
            Application.builder()
            .token(token)
            .concurrent_updates(8)
            .get_updates_connection_pool_size(2)
        )
        base = str(self.config.get("base_url") or "")
        if base:
            root = base.rstrip("/").removesuffix("/bot")
            builder = builder.base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
        self.app = builder.build()
        self.core = BotCore(
            service=self.service,
            users=self.users,
            renderer=self.renderer,
            files=self.files,
            actions=self.actions,
            save_users=self.save_users,
            tell_admins=self.tell_admins,
        )
        self.notifier = Notifier(
            send=self._send_notification, lines=self.lines, **self.notify_options
        )
        # Private chats only: a group's chat id must not register as a user.
        self.app.add_handler(
            MessageHandler(filters.TEXT & filters.ChatType.PRIVATE, self._on_message)
        )
        self.app.add_handler(CallbackQueryHandler(self._on_callback))
        self.app.add_error_handler(self._on_error)
        self._loop = asyncio.get_running_loop()
        self.service.on_event.append(self.on_event)  # queued (bounded) until connected
        self.service.automation.connect_telegram(self.script_messages.send)
        self._connector = asyncio.get_running_loop().create_task(
            self._connect(), name="telegram-connect"
        )

    @property
    def polling(self) -> bool:
        """True once connected and polling."""
        return self.ready.is_set()

    async def _connect(self) -> None:
        """Initialise and start polling, retrying with backoff while Telegram is unreachable."""
        from telegram.error import InvalidToken, NetworkError

        delay = 1.0
        while True:
            try:
                await self.app.initialize()
                await self.app.start()
                await self.app.updater.start_polling(
                    timeout=int(self.poll_timeout),
                    allowed_updates=["message", "callback_query"],
                    error_callback=self._on_poll_error,
                )
                break
            except InvalidToken:
                log.error("telegram refused the token; the bot stays off")
                return
            except NetworkError as exc:
                if delay == 1.0:
                    log.warning("telegram unreachable at start (%s); retrying", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
        assert self.notifier is not None
        await self.notifier.start()
        self.ready.set()
        log.info(
            "telegram bot polling (%d users, %d custom actions)",
            len(self.users.users),
            len(self.actions),
        )

    async def stop(self) -> None:
        """Stop notifications and polling, release the lock."""
        if self.on_event in self.service.on_event:
            self.service.on_event.remove(self.on_event)
        self.service.automation.connect_telegram(None)
        await self.script_messages.close()
        if self._connector is not None:
            self._connector.cancel()
            await asyncio.gather(self._connector, return_exceptions=True)
            self._connector = None
        if self.notifier is not None:
            await self.notifier.stop()
        await self.lines.stop()
        await self._shutdown_app()
        self.renderer.close()
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    async def _shutdown_app(self) -> None:
        app, self.app = self.app, None
        if app is None:
            return
        try:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
        except Exception as exc:  # never let a Telegram hiccup block the hub's shutdown
            log.warning("telegram shutdown: %s", type(exc).__name__)

    # ---- users ----------------------------------------------------------------------
    async def _load_users(self) -> None:
        doc = await self.service.get_doc(DOC_KEY)
        if doc:
            self.users.load_doc(doc)
            return
        rtoc = Path(self.actions_dir) / "telegram_clients.json" if self.actions_dir else None
        if rtoc is not None and rtoc.exists():
            data = json.loads(rtoc.read_text(encoding="utf-8"))
            for warning in import_rtoc_clients(self.users, data):
                log.warning("telegram_clients.json: %s", warning)
            log.info("imported %d users from %s", len(self.users.users), rtoc)
            await self.save_users()

    async def save_users(self) -> None:
        """Persist users and bot settings as one document in the hub's store."""
        async with self._save_lock:
            await self.service.put_doc(DOC_KEY, self.users.to_doc())

    # ---- notifications --------------------------------------------------------------
    def on_event(self, event: Any) -> None:
        """Hub event listener: queue the event for every user whose level admits it."""
        if self.notifier is None:
            return
        if self._loop is not None and _running_loop() is not self._loop:
            self._loop.call_soon_threadsafe(self.on_event, event)  # called from a thread
            return
        text = format_event(event)
        for user in list(self.users.users.values()):
            perm = self.users.effective(user)
            if perm >= Permission.READ and user.admits(int(event.priority)):
                self.notifier.submit(user.chat_id, text)

    def tell_admins(self, text: str) -> None:
        """Queue a message to every admin."""
        if self.notifier is None:
            return
        for user in self.users.admins():
            self.notifier.submit(user.chat_id, text)

    async def _send_notification(self, chat_id: int, text: str) -> None:
        user = self.users.get(chat_id)  # in the user's language as it is when sent
        if user is not None:
            text = localize_text(user.language, text)
        await self.app.bot.send_message(chat_id=chat_id, text=text[:4096], parse_mode="HTML")

    # ---- updates --------------------------------------------------------------------
    async def _on_message(self, update: Any, context: Any) -> None:
        msg, who = update.effective_message, update.effective_user
        if msg is None or who is None or update.effective_chat is None:
            return
        assert self.core is not None
        chat_id = update.effective_chat.id
        replies = await self.core.handle(
            chat_id, who.first_name or "", who.last_name or "", text=msg.text or ""
        )
        self.lines.submit(chat_id, lambda: self.delivery.send(chat_id, replies))

    async def _on_callback(self, update: Any, context: Any) -> None:
        query = update.callback_query
        if query is None or update.effective_chat is None:
            return
        if update.effective_chat.type != "private":
            return
        chat_id = update.effective_chat.id
        self.lines.submit(chat_id, lambda: self.delivery.answer(query))
        who = update.effective_user
        assert self.core is not None
        replies = await self.core.handle(
            chat_id, who.first_name or "", who.last_name or "", data=query.data or ""
        )
        message_id = query.message.message_id if query.message is not None else None
        self.lines.submit(chat_id, lambda: self.delivery.send(chat_id, replies, edit=message_id))

    async def _on_error(self, update: object, context: Any) -> None:
        """The one error handler: log the failure once, without the token."""
        self.errors += 1
        exc = context.error
        log.warning("telegram update failed: %s: %s", type(exc).__name__, self._redact(str(exc)))

    def _on_send_error(self, exc: BaseException) -> None:
        self.errors += 1
        log.warning("telegram send failed: %s: %s", type(exc).__name__, self._redact(str(exc)))

    def _on_poll_error(self, exc: Exception) -> None:
        self.errors += 1
        log.warning("telegram polling: %s: %s", type(exc).__name__, self._redact(str(exc)))

    def _redact(self, text: str) -> str:
        try:
            token = resolve_token(self.config)
        except ConfigError:
            return text
        return text.replace(token, "<token>")


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
