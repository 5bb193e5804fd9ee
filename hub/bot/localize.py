"""Replies in the user's language (hub/i18n.py): texts line by line, button labels; the
callback data stays as it is, so what a button does never depends on the language."""

from __future__ import annotations

from dataclasses import replace

from hub.i18n import DEFAULT, localize_text, translate_line

from .ui import Button, Reply


def localize(lang: str, replies: list[Reply]) -> list[Reply]:
    """The replies with text and labels in `lang`."""
    if lang == DEFAULT:
        return replies
    out = []
    for r in replies:
        menu = None
        if r.menu is not None:
            menu = [[Button(translate_line(lang, b.label), b.data) for b in row] for row in r.menu]
        out.append(replace(r, text=localize_text(lang, r.text), menu=menu))
    return out
