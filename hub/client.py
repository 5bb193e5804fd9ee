"""An asyncio client for the hub's RTOC-compatible websocket (and for RTOC servers).

async with OpenControlClient("ws://hub:5050", password="geheim") as c:
    print(await c.latest())
    await c.subscribe("Generator.Square")
    async for push in c.pushes():
        ...
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from hub.ws.crypto import decrypt_text, encrypt_json, password_hash, password_key

try:  # big getSignal answers parse ~4x faster
    from orjson import loads as _loads
except ImportError:  # pragma: no cover
    _loads = json.loads  # type: ignore[assignment]


class ClientError(RuntimeError):
    """The server answered `{"error": true}` (with its reason) or refused authorization."""


class OpenControlClient:
    """One websocket connection: requests answered in order, pushes on a queue."""

    def __init__(
        self,
        url: str,
        password: str | None = None,
        *,
        user: str | None = None,
        user_password: str | None = None,
        encrypt: bool | None = None,
        verify_tls: bool = True,
        ca_file: str | None = None,
        timeout: float = 10.0,
        origin: str | None = None,
        push_queue: int = 100_000,
    ) -> None:
        self.url = url
        self.password = password
        self.user = user
        self.user_password = user_password
        # Our hub trusts no peer by default, so with a password every frame is encrypted;
        # pass encrypt=False for a whitelisted peer (RTOC's localhost rule).
        self.encrypt = (password is not None) if encrypt is None else encrypt
        self.verify_tls = verify_tls
        self.ca_file = ca_file
        self.timeout = timeout
        self.origin = origin
        self._key = password_key(password) if password is not None else None
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._responses: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._pushes: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=push_queue)
        self._lock = asyncio.Lock()
        self.pushes_dropped = 0
        self.authorized: bool | None = None

    # -- connection ------------------------------------------------------------------------
    async def connect(self) -> None:
        """Open the connection, start the reader, and authorize."""
        ctx = None
        if self.url.startswith("wss://"):
            ctx = ssl.create_default_context(cafile=self.ca_file)
            if not self.verify_tls:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
        self._ws = await connect(
            self.url,
            ssl=ctx,
            compression=None,
            max_size=None,
            open_timeout=self.timeout,
            origin=self.origin,  # type: ignore[arg-type]
        )
        self._reader = asyncio.create_task(self._read(), name="opencontrol-client-reader")
        if self.user is not None:
            await self.authorize({"user": self.user, "password": self.user_password or ""})
        else:
            await self.authorize(password_hash(self.password) if self.password else True)

    async def close(self) -> None:
        """Close the connection and stop the reader."""
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        self._ws = None

    async def __aenter__(self) -> OpenControlClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- frames ----------------------------------------------------------------------------
    def _encode(self, obj: Any) -> str:
        return encrypt_json(obj, self._key) if self.encrypt and self._key else json.dumps(obj)

    def _decode(self, frame: str | bytes) -> Any:
        if self.encrypt and self._key:
            frame = decrypt_text(frame, self._key)
        return _loads(frame)

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            await self._read_frames(self._ws)
        except ConnectionClosed as exc:  # the server's reason (say, a wrong password)
            reason = exc.rcvd.reason if exc.rcvd is not None and exc.rcvd.reason else str(exc)
            self._responses.put_nowait({"error": True, "reason": f"connection closed: {reason}"})

    async def _read_frames(self, ws: Any) -> None:
        async for frame in ws:
            try:
                msg = self._decode(frame)
            except ValueError:
                msg = {"error": True, "reason": "cannot decode a frame: wrong password?"}
            if not isinstance(msg, dict):
                continue
            if "error" in msg or set(msg) == {"authorized"}:
                self._responses.put_nowait(msg)
            else:
                try:
                    self._pushes.put_nowait(msg)
                except asyncio.QueueFull:
                    self.pushes_dropped += 1

    async def _next_response(self) -> dict[str, Any]:
        return await asyncio.wait_for(self._responses.get(), self.timeout)

    async def send_raw(self, obj: Any) -> None:
        """Send one object without waiting for an answer."""
        if self._ws is None:
            raise ClientError("not connected")
        await self._ws.send(self._encode(obj))

    async def request(self, req: dict[str, Any] | None = None, **keys: Any) -> dict[str, Any]:
        """Send one request object and return its response; ClientError on `error`."""
        body = {**(req or {}), **keys}
        async with self._lock:
            await self.send_raw(body)
            if "authorize" in body:
                first = await self._next_response()
                self.authorized = bool(first.get("authorized"))
                if "authorized" not in first:  # undecodable: a wrong password's key
                    raise ClientError(str(first.get("reason", "authorization failed")))
            resp = await self._next_response()
        if set(resp) == {"authorized"}:
            self.authorized = False
            raise ClientError("not authorized")
        if resp.get("error"):
            raise ClientError(str(resp.get("reason", "the server answered error: true")))
        return resp

    async def authorize(self, value: Any) -> None:
        """Send `authorize`; ClientError when refused."""
        try:
            await self.request(authorize=value)
        except ClientError as exc:
            raise ClientError(f"authorization refused by {self.url}: {exc}") from None

    # -- pushes ----------------------------------------------------------------------------
    async def next_push(self, timeout: float | None = None) -> dict[str, Any]:
        """The next pushed frame (signal, event, pluginList, client, dropped)."""
        return await asyncio.wait_for(self._pushes.get(), timeout or self.timeout)

    async def pushes(self) -> AsyncIterator[dict[str, Any]]:
        """Every pushed frame, forever."""
        while True:
            yield await self._pushes.get()

    # -- conveniences ----------------------------------------------------------------------
    async def signal_list(self) -> list[str]:
        """Names `Device.Signal` of every live signal."""
        resp = await self.request(getSignalList=True)
        return [f"{d}.{s}" for d, s in resp["signalList"]]

    async def latest(self, names: list[str] | None = None) -> dict[str, list[Any]]:
        """Latest `[x, y, unit, …]` per signal."""
        resp = await self.request(getLatest=names if names else True)
        return resp["latest"]

    async def get_signal(
        self,
        name: str,
        *,
        xmin: float | None = None,
        xmax: float | None = None,
        max_n: int | None = None,
        database: bool = True,
    ) -> list[Any]:
        """`[xs, ys, unit, id, xMin, xMax]` of one signal, from the store by default."""
        dname, _, sname = name.partition(".")
        query: dict[str, Any] = {"dname": dname, "sname": sname, "database": database}
        if xmin is not None:
            query["xmin"] = xmin
        if xmax is not None:
            query["xmax"] = xmax
        if max_n is not None:
            query["maxN"] = max_n
        resp = await self.request(getSignal=query)
        if resp["signals"] is False:
            raise ClientError(f"bad signal name {name!r}: use Device.Signal")
        return resp["signals"][name]

    async def subscribe(self, name: str, *, device: bool = False) -> None:
        """Receive pushes for a signal (or every signal of a device)."""
        await self.request(subscribe=["device" if device else "signal", name])

    async def unsubscribe(self, name: str, *, device: bool = False) -> None:
        """Stop pushes for a signal or device."""
        await self.request(unsubscribe=["device" if device else "signal", name])

    async def send_values(
        self, device: str, values: dict[str, float], *, unit: dict[str, str] | None = None
    ) -> None:
        """Stream one value per signal (RTOC's `y` in stream mode)."""
        names = list(values)
        await self.request(
            y=[values[n] for n in names],
            sname=names,
            dname=device,
            unit=[(unit or {}).get(n, "") for n in names],
        )
