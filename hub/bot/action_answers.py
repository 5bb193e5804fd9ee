"""Custom actions that answer with a picture, a document or a graph instead of text only.

The files are the operator's (next to telegram_actions.toml, checked at start-up); they are
read when the button is pressed, in a worker thread, and refused when bigger than Telegram
takes.
"""

from __future__ import annotations

import asyncio
import html
from typing import Any

from .actions import MAX_DOCUMENT, MAX_PICTURE, CustomAction
from .plots import BusyError, Series
from .ui import Reply


async def action_answer(core: Any, action: CustomAction, text: str) -> Reply:
    """The reply of an action with `picture`, `document` or `plot` (text as its caption)."""
    if action.plot:
        now = core.clock()
        series = []
        for key in action.plot:
            if key not in core.service.signals:
                continue
            sig = core.service.signals.get(key)
            hist = await core.service.history(
                sig.device, sig.name, now - action.plot_hours * 3600, now, core.plot_max_points
            )
            series.append(Series(key=key, unit=sig.unit, x=hist.x, y=hist.y))
        if not series:
            return Reply(text or html.escape(f"No data for {', '.join(action.plot)}."))
        try:
            result = await core.renderer.plot(series, [])
        except BusyError as exc:
            return Reply(html.escape(str(exc)))
        caption = text or html.escape(f"{action.label}: {result.samples} samples")
        return Reply(caption, photo=result.png)
    path = action.picture or action.document
    assert path is not None
    limit = MAX_PICTURE if action.picture else MAX_DOCUMENT
    try:
        size = path.stat().st_size
        if size > limit:
            return Reply(html.escape(f"{path.name} is bigger than Telegram takes ({limit} bytes)."))
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        return Reply(html.escape(f"{path.name} cannot be read: {exc.strerror}"))
    caption = text or html.escape(action.label)
    if action.picture:
        return Reply(caption, photo=data)
    return Reply(caption, document=(path.name, data))
