"""Buttons, replies and per-chat sessions; the one place callback data is encoded and parsed.

Callback data is a short prefixed string `prefix:arg:arg` (Telegram allows 64 bytes).
When the arguments are too long, the button carries `r:<n>`, a reference into the
chat's session. With a reply keyboard the user's text is mapped back to the data of the
button carrying that label in the last menu shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_DATA = 64
SEP = ":"


@dataclass(frozen=True)
class Button:
    """A menu button: what the user sees, and what pressing it means."""

    label: str
    data: str


@dataclass
class Reply:
    """Something the bot sends back: text with an optional menu, a photo or a document."""

    text: str
    menu: list[list[Button]] | None = None
    photo: bytes | None = None
    document: tuple[str, bytes] | None = None


@dataclass
class Awaiting:
    """Free text the chat is expected to send next (a value, a period, an event...)."""

    kind: str
    args: tuple[str, ...] = ()


@dataclass
class Session:
    """Per-chat conversation state (kept in memory; a restart returns to the main menu)."""

    selected: list[str] = field(default_factory=list)
    period_rel: float | None = 86400.0
    period_abs: tuple[float, float] | None = None
    period_label: str = "Last 24 hours"
    show_events: bool = True
    awaiting: Awaiting | None = None
    labels: dict[str, str] = field(default_factory=dict)
    refs: list[tuple[str, ...]] = field(default_factory=list)
    target_signal: str | None = None

    def encode(self, prefix: str, *args: str) -> str:
        """Callback data for (prefix, args), falling back to a session reference if long."""
        data = SEP.join((prefix, *args))
        if len(data.encode()) <= MAX_DATA and not any(SEP in a for a in args):
            return data
        self.refs.append((prefix, *args))
        if len(self.refs) > 500:  # old menus' references expire
            del self.refs[:250]
            self.refs.append((prefix, *args))
        return f"r{SEP}{len(self.refs) - 1}"

    def decode(self, data: str) -> tuple[str, tuple[str, ...]]:
        """(prefix, args) from callback data; ValueError when it is stale or malformed."""
        prefix, _, rest = data.partition(SEP)
        if not prefix:
            raise ValueError("empty button data")
        if prefix == "r":
            try:
                ref = self.refs[int(rest)]
            except (ValueError, IndexError):
                raise ValueError("this menu has expired") from None
            return ref[0], tuple(ref[1:])
        return prefix, tuple(rest.split(SEP)) if rest else ()

    def remember(self, menu: list[list[Button]] | None) -> None:
        """Keep the label → data map of the menu just shown (for reply keyboards)."""
        if menu is None:
            return
        self.labels = {b.label: b.data for row in menu for b in row}


def markup(menu: list[list[Button]] | None, *, inline: bool) -> Any:
    """The python-telegram-bot reply markup for a menu."""
    from telegram import (
        InlineKeyboardButton,
        InlineKeyboardMarkup,
        KeyboardButton,
        ReplyKeyboardMarkup,
    )

    if menu is None:
        return None
    if inline:
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(b.label, callback_data=b.data) for b in row] for row in menu]
        )
    return ReplyKeyboardMarkup(
        [[KeyboardButton(b.label) for b in row] for row in menu], resize_keyboard=True
    )
