"""Several queued text frames to one websocket connection in one socket write.

A client that keeps 50 requests in flight gets 50 answers per loop turn; one `send` each is
one system call each, which costs more than the answers. A run of frames is framed by the
websockets protocol object one after the other and written to the transport once; flow
control (waiting while the kernel buffer is full) stays websockets' own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from websockets.asyncio.server import ServerConnection
from websockets.frames import OP_BINARY, OP_TEXT
from websockets.protocol import State


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


class HookedConnection(ServerConnection):
    """A websockets server connection that calls `on_receive` after each socket read has
    been taken in (its frames wait in `recv_messages`) and when the connection is lost: a
    session can then handle what came without waiting for a loop turn of its own."""

    on_receive: Callable[[], None] | None = None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.on_receive is not None:
            self.on_receive()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.on_receive is not None:
            self.on_receive()


def take_ready(
    ws: Any, limit: int = 256, accept: Callable[[str | bytes], bool] | None = None
) -> list[str | bytes]:
    """Whole messages `ws` has received already (up to `limit`), without waiting.

    `ws.recv()` hands over one message per call and costs a loop turn's bookkeeping each;
    a client with 50 requests in flight has them all here after one socket read. Only
    unfragmented text and binary messages are taken, in order; the first that is not one
    (or a text that is not UTF-8, or one `accept` refuses) stays for later, `recv()` deals
    with the odd ones as always. Returns [] when `ws` is not a websockets asyncio
    connection as known here, or while a `recv()` is under way.
    """
    assembler: Any = getattr(ws, "recv_messages", None)
    queue = getattr(getattr(assembler, "frames", None), "queue", None)
    if queue is None or getattr(assembler, "get_in_progress", True):
        return []
    out: list[str | bytes] = []
    while queue and len(out) < limit:
        frame = queue[0]
        if not frame.fin:
            break
        message: str | bytes
        if frame.opcode is OP_TEXT:
            try:
                message = frame.data.decode()
            except UnicodeDecodeError:
                break
        elif frame.opcode is OP_BINARY:
            message = bytes(frame.data)
        else:
            break
        if accept is not None and not accept(message):
            break
        queue.popleft()
        out.append(message)
    if out:
        assembler.maybe_resume()
    return out


def nothing_ready(ws: Any) -> bool:
    """True when `ws` has received nothing more and is open: waiting for its next socket
    read is all there is to do (else `recv()` has something to return or to raise)."""
    assembler: Any = getattr(ws, "recv_messages", None)
    return not assembler.frames.queue and not assembler.closed


def write_now(ws: Any, frames: Sequence[str | bytes]) -> bool:
    """Write text frames to the socket now, in one write, without waiting; False (nothing
    written) when `ws` is not open, waits for the socket to drain, or is not a connection
    known here: then the frames go the ordinary way."""
    if (
        not batchable(ws)
        or ws.paused
        or ws.protocol.state is not State.OPEN
        or ws.transport.is_closing()
    ):
        return False
    protocol = ws.protocol
    for f in frames:
        protocol.send_text(f.encode() if isinstance(f, str) else f)
    ws.transport.write(b"".join(protocol.data_to_send()))
    return True
