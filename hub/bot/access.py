"""Who may take which action: the rules every button press and typed value is checked against.

A rule looks at the asker's effective permission at the moment of the action and at the
action's own arguments (which shortcut, which device parameter, which custom action).
`custom` is not a rung below `read`: it is the level that may use only its own shortcuts,
so a read user never touches a device, shortcut or not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .actions import CustomAction
from .ui import Reply
from .users import Permission, User

P = Permission


class Rule(Protocol):
    """Decides one action for one asker."""

    def admits(
        self, user: User, perm: Permission, args: tuple[str, ...], actions: Sequence[CustomAction]
    ) -> bool:
        """True when `user`, acting with `perm`, may take the action carrying `args`."""
        ...


@dataclass(frozen=True)
class AtLeast:
    """This permission and every higher one."""

    level: Permission

    def admits(
        self, user: User, perm: Permission, args: tuple[str, ...], actions: Sequence[CustomAction]
    ) -> bool:
        return perm >= self.level


@dataclass(frozen=True)
class OwnShortcut:
    """Write and up; custom users on their own shortcuts only (never read users).

    With `kind` ('param' or 'call') the arguments are a device and a name, admitted for a
    custom user when one of its shortcuts of that kind points there; without, the action
    is a press of one of the asker's own shortcuts.
    """

    kind: str | None = None

    def admits(
        self, user: User, perm: Permission, args: tuple[str, ...], actions: Sequence[CustomAction]
    ) -> bool:
        if perm >= P.WRITE:
            return True
        if perm != P.CUSTOM:
            return False
        if self.kind is None:
            return True
        target = (self.kind, *args[:2])
        return any((s.kind, s.device, s.name) == target for s in user.shortcuts)


@dataclass(frozen=True)
class OperatorAction:
    """An operator's custom action: its own minimum permission (a gone one: custom and up)."""

    def admits(
        self, user: User, perm: Permission, args: tuple[str, ...], actions: Sequence[CustomAction]
    ) -> bool:
        try:
            return actions[int(args[0])].allowed(perm)
        except (IndexError, ValueError):
            return perm >= P.CUSTOM


@dataclass(frozen=True)
class EngineAction:
    """An automation-engine user action: write and up; names starting with `_` admin only."""

    def admits(
        self, user: User, perm: Permission, args: tuple[str, ...], actions: Sequence[CustomAction]
    ) -> bool:
        admin_only = bool(args) and args[0].startswith("_")
        return perm >= (P.ADMIN if admin_only else P.WRITE)


@dataclass(frozen=True)
class RealAdmin:
    """Admins, judged by their own permission, not the one they preview."""

    def admits(
        self, user: User, perm: Permission, args: tuple[str, ...], actions: Sequence[CustomAction]
    ) -> bool:
        return user.permission == P.ADMIN


Handler = Callable[..., Awaitable[Reply]]


@dataclass(frozen=True)
class Route:
    """One kind of button (or typed value): who may, how many arguments, what it does.

    `handler` is an unbound method of BotCore taking (self, user, perm, session, *args)
    (typed values: the text before the arguments).
    """

    rule: Rule
    handler: Handler
    args: int = 0
    optional: int = 0

    def fits(self, args: tuple[str, ...]) -> bool:
        """True when the data carries as many arguments as the handler takes."""
        return self.args <= len(args) <= self.args + self.optional
