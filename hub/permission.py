"""The one permission ladder of the hub: blocked < custom < read < write < admin.

Websocket clients, Telegram users, hub users and the automation engine all rank rights
with `Permission`. A `Permission` is also the plain string that names it (config files,
stored users and RTOC's protocol spell permissions as strings), and it compares by rank:
`Permission.WRITE >= Permission.READ`, `Permission.parse("admin") > "write"`.

`custom` is not simply more than `blocked`: a custom user may use only its own shortcuts
and user actions (see hub/bot/access.py); it never reads a device.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Permission(enum.StrEnum):
    """What a user or client may do; each rung includes the ones below it."""

    BLOCKED = "blocked"
    CUSTOM = "custom"
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"

    @classmethod
    def parse(cls, value: str) -> Permission:
        """The permission named `value` (case-insensitive); ValueError names the choices."""
        if isinstance(value, Permission):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            raise ValueError(f"unknown permission {value!r} (one of {', '.join(NAMES)})") from None

    _rank: int  # position on the ladder: set for each member below (no lookup per compare)

    @property
    def rank(self) -> int:
        """Position on the ladder, from 0 (blocked) to 4 (admin)."""
        return self._rank

    @property
    def label(self) -> str:
        """The name users read and type."""
        return self.value

    def __lt__(self, other: object) -> bool:
        if type(other) is Permission:
            return self._rank < other._rank
        if not isinstance(other, str):
            return NotImplemented
        return self._rank < Permission.parse(other)._rank

    def __le__(self, other: object) -> bool:
        if type(other) is Permission:
            return self._rank <= other._rank
        if not isinstance(other, str):
            return NotImplemented
        return self._rank <= Permission.parse(other)._rank

    def __gt__(self, other: object) -> bool:
        if type(other) is Permission:
            return self._rank > other._rank
        if not isinstance(other, str):
            return NotImplemented
        return self._rank > Permission.parse(other)._rank

    def __ge__(self, other: object) -> bool:
        if type(other) is Permission:
            return self._rank >= other._rank
        if not isinstance(other, str):
            return NotImplemented
        return self._rank >= Permission.parse(other)._rank


NAMES: tuple[str, ...] = tuple(p.value for p in Permission)
for _i, _p in enumerate(Permission):
    _p._rank = _i


@dataclass(frozen=True)
class Actor:
    """Who asks the service for something: a name for logs and the rights it has."""

    name: str
    permission: Permission

    def may(self, needed: Permission) -> bool:
        """True when this actor's permission is at least `needed`."""
        return self.permission >= needed


class PermissionDenied(Exception):
    """The asking actor's permission does not allow the call; the message says what it needs."""
