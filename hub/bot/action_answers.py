"""Custom actions that answer with a picture, a document or a graph instead of text only.

The files are the operator's (next to telegram_actions.toml, checked at start-up); they are
read when the button is pressed, in a worker thread, and refused when bigger than Telegram
takes. The engine's user actions (RTOC's telegramActions) answer the same ways: their
script returns ("picture", name or {label: [xs, ys]}) or ("document", name), files of the
hub's `<config_dir>/pictures` and `<config_dir>/documents` (operator_files.py).
"""

from __future__ import annotations

import asyncio
import html
from typing import Any

from hub.service.automation import UserActionResult

from .actions import MAX_DOCUMENT, MAX_PICTURE, CustomAction
from .operator_files import OperatorFiles
from .plots import BusyError, Series
from .ui import Reply


async def user_action_answer(files: OperatorFiles | None, answer: UserActionResult) -> Reply:
    """The reply of an engine user action: its text, picture or document."""
    if answer.kind == "text" or not answer.success:
        return Reply(html.escape(answer.data or ("done" if answer.success else "failed")))
    caption = html.escape(answer.caption or answer.name)
    if files is None:
        return Reply(html.escape(f"{answer.name}: this bot sends no files"))
    try:
        if answer.kind == "picture":
            assert answer.picture is not None
            return Reply(caption, photo=await files.picture(answer.picture))
        path = files.document_path(answer.data)
        return Reply(caption, document=(path.name, await files.read(path)))
    except (ValueError, OSError, BusyError) as exc:
        return Reply(html.escape(f"{answer.name}: {exc}"))


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
