"""The RTOC-compatible websocket server: transport, password mode, limits, HTTP hand-off."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import math
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a hub dependency
    orjson = None  # type: ignore[assignment]

from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.http11 import Request, Response

from hub.permission import Permission
from hub.service import HubService

from .automation import AutomationRequests
from .config import WsConfig
from .crypto import WrongPassword, decrypt_text, password_key
from .guard import Backoff, Slots
from .handlers import Dispatcher, anonymous, authorize, costly
from .http import HttpHook, handle_http
from .jsonfast import dumps
from .logger_req import LoggerRequests
from .plugins import Plugins
from .push import Fanout
from .session import ClientSession
from .state import EventBook, RequestError, ServerState
from .stream import StreamRun, stream_request
from .transport import HookedConnection, nothing_ready, take_ready

log = logging.getLogger(__name__)


LOGIN_FAIL_DELAY = 0.5  # seconds before a failed user login is answered
ANSWERS_PER_WRITE = 16
TURN_S = 0.0005  # ... or seconds spent on its requests since the writer's last turn


class _QuietProbes(logging.Filter):
    """A connection that ends before a valid HTTP request (a port probe, a TCP health
    check, garbage) is not a server error: logged at DEBUG, without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if record.msg == "opening handshake failed" and isinstance(exc, _CLIENT_FAULTS):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.msg, record.args = "opening handshake failed: %s (a port probe?)", (exc,)
            record.exc_info = record.exc_text = None
            return log.isEnabledFor(logging.DEBUG)
        return True


_CLIENT_FAULTS = (InvalidHandshake, EOFError, OSError)
_transport_log = logging.getLogger("hub.ws.transport")
_transport_log.addFilter(_QuietProbes())


def _error(reason: str) -> dict[str, Any]:
    # RTOC clients test `error == True`; the reason rides along for everyone else.
    return {"error": True, "reason": reason}


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON: numbers must be finite")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of range: numbers must be finite")
    return value


def parse_request(text: str | bytes) -> Any:
    """Strict JSON: NaN/Infinity/1e400 refused, too deep nesting a ValueError.

    orjson reads (it refuses NaN, Infinity, numbers that overflow and deep nesting
    itself); what it refuses is read again by `json` for the error message (or accepted,
    e.g. a lone surrogate in a string).
    """
    if orjson is not None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def host_name(value: str) -> str | None:
    """The name part of a Host header value (`name`, `name:port`, `[v6]:port`), or None."""
    try:
        name = urlsplit("//" + value).hostname
    except ValueError:
        return None
    return name.rstrip(".").lower() if name else None


def served_names(config: WsConfig) -> frozenset[str]:
    """Host names this hub answers to besides IP literals: localhost, its own, configured."""
    names = {"localhost", socket.gethostname().lower(), *(n.lower() for n in config.server_names)}
    if config.host not in ("", "0.0.0.0", "::"):
        names.add(config.host.lower())
    return frozenset(n.rstrip(".") for n in names)


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class WebsocketServer:
    """One listening socket; every connection gets a ClientSession and one writer task."""

    def __init__(
        self,
        *,
        service: HubService,
        config: WsConfig,
        metrics: HttpHook | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.config = config
        self.metrics = metrics
        self.state = ServerState(
            service=service, config=config, events=EventBook(limit=config.max_events), clock=clock
        )
        self._monotonic = monotonic
        self.plugins = Plugins(service=service)
        self.automation = AutomationRequests(automation=service.automation)
        self.logger = LoggerRequests(state=self.state, automation=self.automation)
        self.fanout = Fanout(state=self.state, plugins=self.plugins)
        self.dispatcher = Dispatcher(
            state=self.state,
            plugins=self.plugins,
            logger=self.logger,
            automation=self.automation,
            after_plugin=self.fanout.push_plugins,
        )
        self._server: Server | None = None
        self._next_cid = 1
        self._login_slots = asyncio.Semaphore(2)
        self._encode_slots = asyncio.Semaphore(1)
        self.slots = Slots(per_address=config.max_connections_per_address)
        self.backoff = Backoff(clock=monotonic)
        self._names = served_names(config)

    # -- lifecycle -----------------------------------------------------------------
    @property
    def stats(self) -> dict[str, int]:
        """Counters: connections, requests, refusals by reason, pushed/dropped frames."""
        return {**self.state.stats, "clients": len(self.state.sessions)}

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        assert self._server is not None, "server not started"
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def url(self) -> str:
        """ws:// or wss:// URL of this server on its bound host."""
        host = self.config.host if self.config.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        scheme = "wss" if self.config.tls_cert else "ws"
        return f"{scheme}://{host}:{self.port}"

    def _ssl(self) -> ssl.SSLContext | None:
        if not self.config.tls_cert:
            return None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.config.tls_cert, self.config.tls_key)
        return ctx

    async def start(self) -> None:
        """Listen and attach to the hub's listeners."""
        if self.config.password is not None and not self.config.tls_cert:
            log.warning(
                "websocket: RTOC password mode without TLS: anyone who can watch the network "
                "can replay captured frames and test passwords against them offline; set "
                "tls_cert/tls_key or use hub user logins over wss://"
            )
        self.fanout.attach()
        self._server = await ws_serve(
            self._connection,
            self.config.host,
            self.config.port,
            ssl=self._ssl(),
            process_request=self._process_request,
            compression=None,
            max_size=self.config.max_frame_bytes * 4 + 4096,
            max_queue=64,
            ping_interval=20,
            ping_timeout=20,
            server_header=None,
            logger=_transport_log,
            create_connection=HookedConnection,
        )

    async def close(self) -> None:
        """Stop listening, close every connection, detach from the hub."""
        self.fanout.detach()
        for s in list(self.state.sessions.values()):
            s.close()
            ws = getattr(s, "_ws", None)
            if ws is not None and ws.transport.get_write_buffer_size() > 0:
                ws.transport.abort()  # a client that reads nothing must not delay shutdown
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> WebsocketServer:
        if self._server is None:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- HTTP and handshake --------------------------------------------------------
    def origin_allowed(self, request: Request) -> bool:
        """No Origin (scripts, RTOC's client) or the hub's own host:port, or a listed one."""
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        if origin in self.config.allowed_origins:
            return True
        host = request.headers.get("Host", "")
        try:
            netloc = urlsplit(origin).netloc
        except ValueError:
            return False
        return bool(netloc) and netloc.lower() == host.lower()

    def host_refusal(self, request: Request) -> tuple[int, str] | None:
        """(status, text) when the request's headers are refused, else None.

        One Host, one Origin, one Upgrade at most; the Host must be an IP literal or a name
        this hub serves, so a DNS-rebinding page (Host and Origin both `evil.example`)
        gets nowhere.
        """
        for header in ("Host", "Origin", "Upgrade"):
            if len(request.headers.get_all(header)) > 1:
                return 400, f"more than one {header} header\n"
        value = request.headers.get("Host")
        if value is None:
            return None
        name = host_name(value)
        if name is None:
            return 400, "malformed Host header\n"
        if _is_ip(name) or name in self._names:
            return None
        return 421, f"this hub does not serve the name {name!r} (see server_names)\n"

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        refused = self.host_refusal(request)
        if refused is not None:
            self.state.stats["refused_host"] += 1
            return connection.respond(*refused)
        upgrade = request.headers.get("Upgrade", "")
        if "websocket" not in upgrade.lower():
            return await self._http(connection, request)
        if not self.origin_allowed(request):
            self.state.stats["refused_origin"] += 1
            return connection.respond(403, "Origin not allowed on this hub\n")
        peer = _peer(connection)
        if self.slots.count(peer) >= self.config.max_connections_per_address:
            self.state.stats["refused_address"] += 1
            return connection.respond(
                503,
                f"too many connections from {peer} "
                f"(max_connections_per_address {self.config.max_connections_per_address})\n",
            )
        if len(self.state.sessions) >= self.config.max_clients and not self._evict_idle():
            return connection.respond(503, "too many websocket clients\n")
        return None

    def _evict_idle(self) -> bool:
        """Make room: close the oldest connection that never authorized; False if none."""
        for s in self.state.sessions.values():  # dicts keep insertion order: oldest first
            if not s.authorized and not s.closed:
                self.state.stats["evicted_unauthorized"] += 1
                self._drop(s, 1008, "server full: unauthorized connections make room")
                return True
        return False

    def _drop(self, s: ClientSession, code: int, reason: str) -> None:
        self.state.sessions.pop(s.cid, None)
        s.close()
        ws = getattr(s, "_ws", None)
        if ws is not None:
            asyncio.get_running_loop().create_task(ws.close(code, reason))

    async def _http(self, connection: ServerConnection, request: Request) -> Response:
        dashboard = bool(self.service.config.get("websocket", {}).get("dashboard", True))
        resp = handle_http(connection, request, dashboard=dashboard, metrics=self.metrics)
        if resp is not None:
            return resp
        return connection.respond(
            426, "This port speaks the RTOC websocket protocol; connect with ws://\n"
        )

    # -- connections ---------------------------------------------------------------
    def _cut_off(self, s: ClientSession) -> None:
        self.state.stats["slow_disconnects"] += 1
        self.state.stats["dropped_frames"] += s.lost_at_cutoff
        log.warning(
            "websocket client %s (%s) too slow: disconnected, %d frames lost",
            s.cid,
            s.peer,
            s.dropped,
        )
        ws = getattr(s, "_ws", None)
        transport = getattr(ws, "transport", None)
        if transport is not None:  # None once the connection is already gone
            transport.abort()

    async def _connection(self, ws: ServerConnection) -> None:
        peer = _peer(ws)
        if not self.slots.take(peer):  # checked at the handshake; counted here
            await ws.close(1013, "too many connections from this address")
            return
        try:
            await self._session(ws, peer)
        finally:
            self.slots.give(peer)

    async def _session(self, ws: ServerConnection, peer: str) -> None:
        cfg = self.config
        whitelisted = peer in cfg.host_whitelist
        key = password_key(cfg.password) if cfg.password is not None and not whitelisted else None
        cid, self._next_cid = self._next_cid, self._next_cid + 1
        s = ClientSession(
            cid=cid,
            peer=peer,
            key=key,
            whitelisted=whitelisted,
            authorized=False,
            permission=Permission.BLOCKED,
            queue_frames=cfg.send_queue_frames,
            queue_bytes=cfg.send_queue_bytes,
            points_rate=cfg.max_points_per_second,
            rate=cfg.max_requests_per_second,
            write_rate=cfg.write_requests_per_second,
            unauthorized_rate=cfg.unauthorized_requests_per_second,
            slow_timeout=cfg.slow_client_timeout,
            on_slow=self._cut_off,
            clock=self._monotonic,
        )
        anonymous(self.state, s)
        s._ws = ws  # type: ignore[attr-defined]
        if cfg.socket_send_buffer:
            sock = ws.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, cfg.socket_send_buffer)
        self.state.stats["connections"] += 1
        self.fanout.client_connected(s)
        self.state.sessions[cid] = s
        writer = asyncio.create_task(s.writer(ws), name=f"ws-writer-{cid}")
        timer = asyncio.get_running_loop().call_later(cfg.auth_timeout, self._auth_deadline, s, ws)
        try:
            await self._serve_frames(s, ws, writer)
        except ConnectionClosed:
            pass
        finally:
            timer.cancel()
            self.state.sessions.pop(cid, None)
            s.close()
            writer.cancel()
            try:
                await writer
            except (asyncio.CancelledError, ConnectionClosed):
                pass

    async def _serve_frames(
        self, s: ClientSession, ws: ServerConnection, writer: asyncio.Task[None]
    ) -> None:
        """Handle the client's frames in order until it goes (ConnectionClosed).

        Every message websockets has already received is taken at once (transport.py);
        consecutive stream-mode `y` frames among them go live together (stream.py). While
        this task waits for the client with nothing of it under way, stream frames that
        come are handled as they are read, without a loop turn in between.
        """
        clock = asyncio.get_running_loop().time
        turn = clock()
        run = StreamRun(self.state, self.fanout.frame_done)
        max_bytes = self.config.max_frame_bytes
        incoming = asyncio.Event()
        waiting = False

        def stream_frame(message: str | bytes) -> bool:
            req = stream_request(s, message, max_bytes)
            return req is not None and run.add(s, req)

        def on_receive() -> None:
            if waiting and not writer.done():
                try:
                    if take_ready(ws, ANSWERS_PER_WRITE, accept=stream_frame):
                        run.flush(s)
                        if nothing_ready(ws):
                            return  # all handled: the task waits on
                except Exception:  # never into the transport's callback: the task retries
                    log.exception("websocket: stream frames of client %s", s.cid)
            incoming.set()

        if isinstance(ws, HookedConnection):
            ws.on_receive = on_receive
        while not writer.done():
            messages = take_ready(ws)
            if not messages:
                if isinstance(ws, HookedConnection) and nothing_ready(ws):
                    incoming.clear()
                    waiting = True
                    try:
                        await incoming.wait()
                    finally:
                        waiting = False
                    continue
                messages = [await ws.recv()]  # an odd frame, or the end (ConnectionClosed)
            for message in messages:
                if stream_frame(message):
                    if len(run.frames) < ANSWERS_PER_WRITE:
                        continue
                    run.flush(s)  # the client refills its window while the rest is handled
                else:
                    run.flush(s)
                    await self._frame(s, message)
                if writer.done():
                    return
                # a burst of requests: the answers go out while the rest is handled
                if s.queued >= ANSWERS_PER_WRITE or (s.queued and clock() - turn > TURN_S):
                    await asyncio.sleep(0)  # the writer's turn
                    turn = clock()
            run.flush(s)
            if s.queued and clock() - turn > TURN_S:
                await asyncio.sleep(0)
                turn = clock()

    def _auth_deadline(self, s: ClientSession, ws: ServerConnection) -> None:
        """Connections that never authorize must not hold a place for ever."""
        if s.authorized or s.closed:
            return
        self.state.stats["auth_timeouts"] += 1
        reason = f"not authorized within {self.config.auth_timeout:g} s"
        asyncio.get_running_loop().create_task(ws.close(1008, reason))

    async def _frame(self, s: ClientSession, message: str | bytes) -> None:
        st = self.state
        st.stats["requests"] += 1
        if isinstance(message, bytes):
            st.stats["errors"] += 1
            s.send(_error("binary frames are not supported: send JSON as a text frame"))
            return
        if len(message) > self.config.max_frame_bytes:
            st.stats["refused_size"] += 1
            s.send(
                _error(
                    f"frame of {len(message)} bytes exceeds max_frame_bytes "
                    f"{self.config.max_frame_bytes}"
                )
            )
            return
        limit = s.limit()
        if limit is not None and not limit.take():
            st.stats["refused_rate"] += 1
            s.send(
                _error(
                    f"rate limit: more than {limit.rate:g} requests per second "
                    f"{_rate_who(s)}; request dropped"
                )
            )
            return
        try:
            text = decrypt_text(message, s.key) if s.key is not None else message
        except WrongPassword:
            if s.authorized:  # it has the key already: RTOC's answer tells it nothing new
                s.send({"authorized": False})
            else:
                await self._wrong_key(s)
            return
        try:
            req = parse_request(text)
        except ValueError as exc:
            st.stats["errors"] += 1
            if s.authorized:
                s.send(_error(f"not JSON: {exc}"))
            else:  # nobody logged in sends garbage twice: the close says why
                self._drop(s, 1008, f"not JSON: {exc}"[:120])
            return
        if not isinstance(req, dict) or not req:
            st.stats["errors"] += 1
            s.send(_error("a request is a JSON object with at least one key"))
            return
        ok = None
        if "authorize" in req:
            ok = await authorize(
                st, s, req["authorize"], lambda name, pw: self._login(name, pw, s.peer)
            )
            s.send({"authorized": ok})
        if not s.authorized:
            s.send({"authorized": False})
            return
        try:
            resp = await self.dispatcher.handle(s, req)
        except RequestError as exc:
            st.stats["errors"] += 1
            resp = _error(str(exc))
        except Exception as exc:  # a bug or bad value in one request must not end the client
            st.stats["errors"] += 1
            # the keys only: a frame may carry a password beside the failing request
            log.exception("websocket request %s failed", sorted(map(str, req))[:20])
            resp = _error(f"{type(exc).__name__}: {exc}")
        if ok and isinstance(req.get("authorize"), dict) and not resp.get("error"):
            resp["user"], resp["permission"] = s.user, s.permission  # for the dashboard
        self.fanout.frame_done()
        if costly(req) and not resp.get("error"):
            async with self._encode_slots:  # big answers: one at a time, off the loop
                s.send_text(await asyncio.to_thread(dumps, resp))
            return
        s.send(resp)

    async def _wrong_key(self, s: ClientSession) -> None:
        """A frame that does not decrypt: no answer (it would be known plaintext under the
        real key), the address waits its backoff, then the connection is closed."""
        self.state.stats["wrong_password"] += 1
        keys = [f"addr:{s.peer}"]
        wait = self.backoff.reserve(keys)
        self.backoff.failed(keys)
        await asyncio.sleep(max(LOGIN_FAIL_DELAY, wait or 0.0))
        self._drop(s, 1008, "wrong password")

    async def _login(self, name: str, password: str, peer: str) -> Any:
        from hub.users import load_users

        keys = [f"user:{name[:200]}", f"addr:{peer}"]
        wait = self.backoff.reserve(keys)
        if wait is None:  # a queue of guesses: refused unchecked (the right one too)
            self.state.stats["refused_login_backoff"] += 1
            await asyncio.sleep(LOGIN_FAIL_DELAY)
            return None
        if wait:
            await asyncio.sleep(wait)
        users = await load_users(self.service)
        async with self._login_slots:  # scrypt is costly: a login flood must not eat the CPU
            user = await asyncio.to_thread(users.verify, name, password)
        if user is None:
            self.backoff.failed(keys)
            await asyncio.sleep(LOGIN_FAIL_DELAY)  # slows guessing on this connection
        else:
            self.backoff.succeeded(keys)
        return user


def _rate_who(s: ClientSession) -> str:
    if not s.authorized:
        return "before authorize"
    return f"for permission {s.permission}"


def _peer(conn: ServerConnection) -> str:
    peer = str(conn.remote_address[0]) if conn.remote_address else "?"
    return peer.removeprefix("::ffff:")  # IPv4 clients of a dual-stack socket


async def serve(
    service: HubService,
    ws_config: Mapping[str, Any] | WsConfig | None,
    *,
    metrics: HttpHook | None = None,
) -> WebsocketServer:
    """Build and start the server from the `[websocket]` section; close() stops it.

    `metrics` answers `/metrics` on the same port (hub/integrations/metrics.py)."""
    cfg = ws_config if isinstance(ws_config, WsConfig) else WsConfig.from_mapping(ws_config)
    server = WebsocketServer(service=service, config=cfg, metrics=metrics)
    await server.start()
    return server
