"""Several queued text frames to one websocket connection in one socket write.

A client that keeps 50 requests in flight gets 50 answers per loop turn; one `send` each is
one system call each, which costs more than the answers. A run of frames is framed by the
websockets protocol object one after the other and written to the transport once; flow
control (waiting while the kernel buffer is full) stays websockets' own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class Sender(Protocol):
    """What the writer needs of a websocket connection."""

    async def send(self, message: str | bytes, text: bool | None = None) -> None: ...


BATCH_FRAMES = 256  # frames per write at most
BATCH_BYTES = 256_000  # bytes per write at most (one frame more may exceed it)


def batchable(ws: Any) -> bool:
    """True when `ws` is a websockets asyncio connection whose protocol we can write to."""
    return (
        hasattr(ws, "send_context")
        and hasattr(ws, "protocol")
        and hasattr(ws, "transport")
        and getattr(ws, "fragmented_send_waiter", None) is None
    )


async def send_frames(ws: Any, frames: Sequence[str | bytes]) -> None:
    """Send text frames in order; one transport write when `ws` allows it.

    Raises ConnectionClosed like `ws.send` when the connection is gone.
    """
    if len(frames) == 1 or not batchable(ws):
        for f in frames:
            await ws.send(f, text=True)
        return
    async with ws.send_context():  # checks the state; waits while the socket is full
        protocol = ws.protocol
        for f in frames:
            protocol.send_text(f.encode() if isinstance(f, str) else f)
        chunks = protocol.data_to_send()
        data = b"".join(chunks)
        if data:
            ws.transport.write(data)
        if not all(chunks):  # the protocol asked for a half-close (never after text frames)
            if ws.transport.can_write_eof():
                ws.transport.write_eof()
            else:
                ws.transport.close()
