"""Admin buttons: the bot's settings, preview modes, and each user's permission.

A mixin of BotCore. A user's permission is chosen in one step from its own screen;
making someone admin asks for a confirmation first. Who may press these is decided by
the routes (handlers.ROUTES): admins only.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable

from . import menus
from .ui import Reply, Session
from .users import Permission, User, UserDirectory


class AdminHandlers:
    """Settings → Telegram bot (mixed into BotCore, which provides users and _main)."""

    users: UserDirectory
    save_users: Callable[[], Awaitable[None]]

    def _main(self, user: User, perm: Permission, session: Session, text: str = "") -> Reply:
        raise NotImplementedError

    async def _on_bot(self, user: User, perm: Permission, session: Session) -> Reply:
        return menus.bot_menu(self.users, user)

    async def _on_inl(self, user: User, perm: Permission, session: Session) -> Reply:
        self.users.inline_menu = not self.users.inline_menu
        await self.save_users()
        return menus.bot_menu(self.users, user)

    async def _on_oa(self, user: User, perm: Permission, session: Session) -> Reply:
        self.users.only_admin = not self.users.only_admin
        await self.save_users()
        return menus.bot_menu(self.users, user)

    async def _on_prev(self, user: User, perm: Permission, session: Session, level: str) -> Reply:
        user.preview = Permission.parse(level)
        await self.save_users()
        new = self.users.effective(user)
        return self._main(user, new, session, f"Preview as {new.label}.")

    async def _on_xprev(self, user: User, perm: Permission, session: Session) -> Reply:
        user.preview = None
        await self.save_users()
        return self._main(user, self.users.effective(user), session, "Preview ended.")

    async def _on_users(self, user: User, perm: Permission, session: Session) -> Reply:
        return menus.users_menu(self.users, user)

    async def _on_u(self, user: User, perm: Permission, session: Session, chat_id: str) -> Reply:
        try:
            target = self.users.target(user, int(chat_id))
        except (PermissionError, KeyError) as exc:
            return menus.users_menu(self.users, user, html.escape(str(exc)))
        return menus.user_menu(target)

    async def _on_ul(
        self, user: User, perm: Permission, session: Session, chat_id: str, level: str
    ) -> Reply:
        new = Permission.parse(level)
        if new == Permission.ADMIN:  # admin is confirmed on a screen of its own
            try:
                target = self.users.target(user, int(chat_id))
            except (PermissionError, KeyError) as exc:
                return menus.users_menu(self.users, user, html.escape(str(exc)))
            return menus.confirm_admin_menu(target)
        return await self._set_permission(user, int(chat_id), new)

    async def _on_uadm(self, user: User, perm: Permission, session: Session, chat_id: str) -> Reply:
        return await self._set_permission(user, int(chat_id), Permission.ADMIN)

    async def _set_permission(self, user: User, chat_id: int, level: Permission) -> Reply:
        try:
            target = self.users.set_permission(user, chat_id, level)
        except (PermissionError, KeyError) as exc:
            return menus.users_menu(self.users, user, html.escape(str(exc)))
        await self.save_users()
        return menus.users_menu(
            self.users, user, f"{html.escape(target.name)} is now {target.permission.label}."
        )
