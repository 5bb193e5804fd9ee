"""Stream-mode `y` frames of one client, ingested together.

A client that streams (RTOC's plugins and scripts send one value a frame) keeps many frames
in flight; websockets hands over all that one socket read brought. Each such frame is read
and checked on its own, exactly as alone (hub/ws/signals_req.py), then the frames of one
run go live and into the store in one call: one ring-buffer append, one condition check
and one push per signal rather than per frame. Answers keep the frames' order and go out
after the data is live and pushed; a frame that cannot join a run (any other request, a
refused value) ends the run first, then takes the ordinary path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orjson import JSONDecodeError, loads

from hub.permission import Permission

from . import signals_req
from .jsonfast import dumps
from .session import ClientSession
from .state import RequestError, ServerState

STREAM_KEYS = frozenset(("y", "x", "sname", "dname", "unit"))  # nothing else: no plot mode
SENT = dumps({"error": False, "sent": True})  # the answer to a frame whose samples counted


def stream_request(s: ClientSession, message: str | bytes, max_bytes: int) -> dict[str, Any] | None:
    """The request when `message` is a plain stream-mode `y` frame of a client that may
    write, else None (nothing counted or changed: it takes the ordinary path)."""
    if (
        type(message) is not str
        or s.key is not None
        or not s.authorized
        or s.permission < Permission.WRITE
        or len(message) > max_bytes
    ):
        return None
    try:
        req = loads(message)
    except JSONDecodeError:
        return None
    if type(req) is not dict or "y" not in req or not req.keys() <= STREAM_KEYS:
        return None
    return req


class StreamRun:
    """Stream frames of one client read so far and not yet ingested."""

    def __init__(self, state: ServerState, after_live: Callable[[], None]) -> None:
        self.st = state
        self.after_live = after_live  # pushes of the new samples go before the answers
        self.frames: list[signals_req.StreamFrame] = []
        self.created: set[str] = set()

    def add(self, s: ClientSession, req: dict[str, Any]) -> bool:
        """Read and check the frame, then take it (and its request allowance); False when
        it is refused: nothing was taken, the ordinary path answers it."""
        try:
            frame = signals_req.read_stream_y(self.st, s, req, self.created)
        except RequestError:
            return False
        limit = s.limit()
        if limit is not None and not limit.take():
            return False
        self.st.stats["requests"] += 1
        s.signals_created += len(frame.new)
        self.created |= frame.new
        self.frames.append(frame)
        return True

    def flush(self, s: ClientSession) -> None:
        """Make the run's samples live and queue them for the store, push them, then answer
        every frame in order."""
        frames, self.frames, self.created = self.frames, [], set()
        if not frames:
            return
        st = self.st
        st.stats["stream_runs"] += 1
        try:
            not_kept = set(st.service.ingest_local_series(signals_req.stream_series(frames)))
            failed = ""
        except ValueError as exc:  # checked per frame already: nothing of the run was kept
            not_kept, failed = set(), str(exc)
        self.after_live()
        answers: list[str] = []
        for f in frames:
            if failed:
                st.stats["errors"] += 1
                answers.append(dumps({"error": True, "reason": failed}))
            elif not_kept and not not_kept.isdisjoint(f.keys):
                st.stats["not_stored"] = st.stats.get("not_stored", 0) + 1
                lost = ", ".join(k for k in f.keys if k in not_kept)
                reason = f"live but not stored: the store is behind ({lost})"
                answers.append(dumps({"error": True, "reason": reason}))
            else:
                answers.append(SENT)
        s.send_now(*answers)
