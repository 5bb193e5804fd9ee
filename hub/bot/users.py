"""Telegram users and permissions (RTOC's model), kept as one JSON document.

Core without I/O: the directory converts to and from a document; the bot persists it
through the hub's store. Permissions are the hub's one ladder (hub/permission.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.i18n import LANGUAGES
from hub.permission import Permission

DOC_KEY = "telegram_users"


EVENTLEVELS = {0: "All events", 1: "Warnings", 2: "Only errors", 3: "No notifications"}


@dataclass
class Shortcut:
    """A user's button for a device parameter or function: kind is 'param' or 'call'."""

    label: str
    device: str
    kind: str
    name: str

    def to_rtoc(self) -> str:
        return (
            f"{self.device}.{self.name}()"
            if self.kind == "call"
            else (f"{self.device}.{self.name}")
        )


@dataclass
class User:
    """One registered chat."""

    chat_id: int
    first_name: str = ""
    last_name: str = ""
    permission: Permission = Permission.BLOCKED
    eventlevel: int = 0
    shortcuts: list[Shortcut] = field(default_factory=list)
    preview: Permission | None = None
    language: str = "en"  # hub/i18n.py LANGUAGES

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or str(self.chat_id)

    def admits(self, priority: int) -> bool:
        """True when an event of `priority` (0..2) passes this user's notification level."""
        return self.eventlevel < 3 and priority >= self.eventlevel


class UserDirectory:
    """All users by chat id, plus the bot settings an admin changes at run time."""

    def __init__(
        self,
        *,
        default_permission: Permission = Permission.BLOCKED,
        default_eventlevel: int = 0,
        only_admin: bool = False,
        inline_menu: bool = False,
    ) -> None:
        self.default_permission = default_permission
        self.default_eventlevel = default_eventlevel
        self.only_admin = only_admin
        self.inline_menu = inline_menu
        self.users: dict[int, User] = {}

    def get(self, chat_id: int) -> User | None:
        return self.users.get(chat_id)

    def register(
        self, chat_id: int, first_name: str = "", last_name: str = ""
    ) -> tuple[User, bool]:
        """The user for a chat, creating it (first ever user = admin); returns (user, created)."""
        user = self.users.get(chat_id)
        if user is not None:
            return user, False
        perm = Permission.ADMIN if not self.users else self.default_permission
        user = User(
            chat_id=chat_id,
            first_name=first_name,
            last_name=last_name,
            permission=perm,
            eventlevel=self.default_eventlevel,
        )
        self.users[chat_id] = user
        return user, True

    def effective(self, user: User) -> Permission:
        """The permission the user acts with now (preview modes lower an admin's)."""
        if user.permission == Permission.ADMIN and user.preview is not None:
            return user.preview
        if self.only_admin and user.permission < Permission.ADMIN:
            return Permission.BLOCKED
        return user.permission

    def admins(self) -> list[User]:
        return [u for u in self.users.values() if u.permission == Permission.ADMIN]

    def target(self, actor: User, chat_id: int) -> User:
        """The user whose permission `actor` is about to change; refuses self and non-admins."""
        if actor.permission != Permission.ADMIN:
            raise PermissionError("only admins change permissions")
        if chat_id == actor.chat_id:
            raise PermissionError("you cannot change your own permission")
        target = self.users.get(chat_id)
        if target is None:
            raise KeyError(f"no user {chat_id}")
        return target

    def set_permission(self, actor: User, chat_id: int, level: Permission) -> User:
        """An admin sets another user's permission in one step; returns that user."""
        target = self.target(actor, chat_id)
        target.permission = level
        return target

    def set_eventlevel(self, user: User, level: int) -> None:
        """Set the notification level 0..3; ValueError otherwise."""
        if level not in EVENTLEVELS:
            raise ValueError(f"event level must be 0..3, got {level!r}")
        user.eventlevel = level

    # ---- documents ------------------------------------------------------------------
    def to_doc(self) -> dict[str, Any]:
        """The JSON document stored in the hub's store."""
        return {
            "version": 1,
            "settings": {"only_admin": self.only_admin, "inline_menu": self.inline_menu},
            "users": {
                str(u.chat_id): {
                    "first_name": u.first_name,
                    "last_name": u.last_name,
                    "permission": u.permission.label,
                    "eventlevel": u.eventlevel,
                    "preview": u.preview.label if u.preview is not None else None,
                    "shortcuts": [vars(s) for s in u.shortcuts],
                    "language": u.language,
                }
                for u in self.users.values()
            },
        }

    def load_doc(self, doc: dict[str, Any] | None) -> None:
        """Replace users and settings from a stored document (None: keep empty)."""
        if not doc:
            return
        settings = doc.get("settings", {})
        self.only_admin = bool(settings.get("only_admin", self.only_admin))
        self.inline_menu = bool(settings.get("inline_menu", self.inline_menu))
        self.users = {}
        for key, entry in doc.get("users", {}).items():
            preview = entry.get("preview")
            self.users[int(key)] = User(
                chat_id=int(key),
                first_name=str(entry.get("first_name", "")),
                last_name=str(entry.get("last_name", "")),
                permission=Permission.parse(entry.get("permission", "blocked")),
                eventlevel=int(entry.get("eventlevel", self.default_eventlevel)),
                preview=Permission.parse(preview) if preview else None,
                shortcuts=[Shortcut(**s) for s in entry.get("shortcuts", [])],
                language=entry.get("language") if entry.get("language") in LANGUAGES else "en",
            )


def import_rtoc_clients(directory: UserDirectory, data: dict[str, Any]) -> list[str]:
    """Merge RTOC's telegram_clients.json into `directory`; returns warnings (skipped bits)."""
    warnings: list[str] = []
    if not isinstance(data, dict):
        raise ValueError("telegram_clients.json must hold an object keyed by chat id")
    for key, entry in data.items():
        try:
            chat_id = int(key)
        except ValueError:
            warnings.append(f"{key!r}: not a chat id, skipped")
            continue
        if isinstance(entry, list):  # oldest format: [eventlevel, shortcuts] -> write
            entry = {
                "eventlevel": entry[0] if entry else 0,
                "shortcuts": entry[1] if len(entry) > 1 else [[], []],
                "permission": "write",
            }
        if not isinstance(entry, dict):
            warnings.append(f"{key}: unreadable entry, skipped")
            continue
        perm_raw = entry.get("permission")
        if perm_raw is None and "admin" in entry:  # older format: boolean admin
            perm_raw = "admin" if entry.get("admin") else "write"
        try:
            perm = Permission.parse(perm_raw or directory.default_permission.label)
        except ValueError as exc:
            warnings.append(f"{key}: {exc}; set to blocked")
            perm = Permission.BLOCKED
        level = entry.get("eventlevel", directory.default_eventlevel)
        level = level if level in EVENTLEVELS else directory.default_eventlevel
        user = User(
            chat_id=chat_id,
            first_name=str(entry.get("first_name", "")),
            last_name=str(entry.get("last_name", "")),
            permission=perm,
            eventlevel=int(level),
        )
        user.shortcuts, skipped = _rtoc_shortcuts(entry.get("shortcuts"))
        warnings += [f"{key}: shortcut {s!r} not understood, skipped" for s in skipped]
        directory.users[chat_id] = user
    return warnings


def _rtoc_shortcuts(raw: Any) -> tuple[list[Shortcut], list[str]]:
    """RTOC keeps [[labels...], ["Dev.func()" or "Dev.param" ...]]; arguments are dropped."""
    out: list[Shortcut] = []
    skipped: list[str] = []
    if not (isinstance(raw, list) and len(raw) == 2):
        return out, skipped
    for label, target in zip(raw[0], raw[1], strict=False):
        text = str(target)
        if "." not in text:
            skipped.append(text)
            continue
        device, rest = text.split(".", 1)
        if "(" in rest:
            out.append(
                Shortcut(label=str(label), device=device, kind="call", name=rest.split("(", 1)[0])
            )
        elif rest.isidentifier():
            out.append(Shortcut(label=str(label), device=device, kind="param", name=rest))
        else:
            skipped.append(text)
    return out, skipped
