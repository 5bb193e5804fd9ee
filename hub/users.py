"""The hub's users: name, salted scrypt password hash, permission (the Telegram model).

Core without I/O: `Users` is a plain object; `load_users`/`save_users` keep it as the
store document `users` through the hub (or its service).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from dataclasses import dataclass, replace
from typing import Any, Protocol

from .i18n import LANGUAGES
from .permission import NAMES, Permission

DOC_KEY = "users"
NAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
# scrypt cost: ~20 ms per check on a Pi 4 class CPU, 16 MiB memory.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


class UserError(ValueError):
    """A user operation that cannot be done; the message says why."""


@dataclass(frozen=True, kw_only=True)
class User:
    """One hub user; `password_hash` is `scrypt$N$r$p$salt_hex$hash_hex`."""

    name: str
    password_hash: str
    permission: Permission
    language: str = "en"  # the dashboard's language (hub/i18n.py LANGUAGES)

    def to_doc(self) -> dict[str, str]:
        """The stored form."""
        doc = {"password_hash": self.password_hash, "permission": self.permission}
        if self.language != "en":
            doc["language"] = self.language
        return doc


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """A salted scrypt hash of `password` in the stored text form."""
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """True when `password` matches the stored hash (constant-time compare)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(
            password.encode("utf-8"),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(bytes.fromhex(digest)),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


class Users:
    """All users by name; the first user ever added becomes admin (as in RTOC's bot)."""

    def __init__(self, *, users: dict[str, User] | None = None) -> None:
        self._users: dict[str, User] = dict(users or {})

    def __len__(self) -> int:
        return len(self._users)

    def __contains__(self, name: str) -> bool:
        return name in self._users

    def names(self) -> list[str]:
        """User names, sorted."""
        return sorted(self._users)

    def get(self, name: str) -> User | None:
        """The user, or None."""
        return self._users.get(name)

    def add(self, name: str, password: str, permission: str | None = None) -> User:
        """Create a user; the first one is admin unless a permission is given."""
        if not NAME_RE.match(name):
            raise UserError(f"user name {name!r}: use 1-64 of A-Z a-z 0-9 _ . @ -")
        if name in self._users:
            raise UserError(f"user {name!r} exists")
        if len(password) < 8:
            raise UserError("password: at least 8 characters")
        if permission is None:
            permission = "admin" if not self._users else "read"
        self._check_permission(permission)
        user = User(
            name=name, password_hash=hash_password(password), permission=Permission(permission)
        )
        self._users[name] = user
        return user

    def set_permission(self, name: str, permission: str) -> User:
        """Change a user's permission."""
        self._check_permission(permission)
        user = self._need(name)
        self._users[name] = replace(user, permission=Permission(permission))
        return self._users[name]

    def set_language(self, name: str, language: str) -> User:
        """Change the language a user's dashboard speaks."""
        if language not in LANGUAGES:
            raise UserError(f"language {language!r}: one of {', '.join(LANGUAGES)}")
        self._users[name] = replace(self._need(name), language=language)
        return self._users[name]

    def set_password(self, name: str, password: str) -> User:
        """Replace a user's password."""
        if len(password) < 8:
            raise UserError("password: at least 8 characters")
        user = self._need(name)
        self._users[name] = replace(user, password_hash=hash_password(password))
        return self._users[name]

    def remove(self, name: str) -> None:
        """Delete a user."""
        self._need(name)
        del self._users[name]

    def verify(self, name: str, password: str) -> User | None:
        """The user when name and password match and the user is not blocked; else None.

        CPU-bound (scrypt): call it in a worker thread from the event loop.
        """
        user = self._users.get(name)
        if user is None:
            check_password(password, _DUMMY)  # same cost for unknown names
            return None
        if not check_password(password, user.password_hash):
            return None
        return None if user.permission == "blocked" else user

    def to_doc(self) -> dict[str, Any]:
        """The document stored under `users`."""
        return {"version": 1, "users": {n: u.to_doc() for n, u in self._users.items()}}

    @classmethod
    def from_doc(cls, doc: Any) -> Users:
        """Users from the stored document (None = no users yet)."""
        if doc is None:
            return cls()
        if not isinstance(doc, dict) or not isinstance(doc.get("users"), dict):
            raise UserError("users document: expected {'version': 1, 'users': {...}}")
        users: dict[str, User] = {}
        for name, raw in doc["users"].items():
            perm = raw.get("permission")
            if perm not in NAMES or not isinstance(raw.get("password_hash"), str):
                raise UserError(f"users document: user {name!r} is malformed")
            language = raw.get("language", "en")
            if language not in LANGUAGES:
                raise UserError(f"users document: user {name!r} has language {language!r}")
            users[name] = User(
                name=name,
                password_hash=raw["password_hash"],
                permission=Permission(perm),
                language=language,
            )
        return cls(users=users)

    def _need(self, name: str) -> User:
        user = self._users.get(name)
        if user is None:
            raise UserError(f"no user {name!r}")
        return user

    @staticmethod
    def _check_permission(permission: str) -> None:
        if permission not in NAMES:
            raise UserError(f"permission {permission!r}: one of {', '.join(NAMES)}")


_DUMMY = hash_password("dummy-password", salt=b"\0" * 16)


class Documents(Protocol):
    """Where small documents are kept (`Hub`, `HubService`): read and written off the loop."""

    async def get_doc(self, key: str) -> Any: ...

    async def put_doc(self, key: str, doc: Any) -> None: ...


async def load_users(docs: Documents) -> Users:
    """Read the `users` document from the hub's store."""
    return Users.from_doc(await docs.get_doc(DOC_KEY))


async def save_users(docs: Documents, users: Users) -> None:
    """Write the `users` document to the hub's store."""
    await docs.put_doc(DOC_KEY, users.to_doc())
