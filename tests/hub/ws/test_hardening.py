"""Issue 14 over the websocket: no user (nor anyone reaching the port) can stop, freeze or
starve the hub. Each attack is refused with a clear answer, and while it runs a second
client's getLatest is answered and the agent's samples keep being stored."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from hub.app import Hub
from hub.users import Users, save_users
from hub.ws.guard import Backoff
from tests.fixtures.net import async_wait_for
from tests.hub.ws.test_fanout import _slow_client, _subscribe


def _strict(text: str | bytes) -> object:
    def refuse(name: str) -> object:
        raise AssertionError(f"bare {name} in a frame: not JSON")

    return json.loads(text, parse_constant=refuse)


class Watch:
    """A second client asking getLatest all along, and the store's count of samples."""

    def __init__(self, hub: Hub, client: object) -> None:
        self.hub, self.client = hub, client
        self.answers = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            _, resp = await self.client.request({"getLatest": True}, timeout=30)  # type: ignore[attr-defined]
            assert resp["error"] is False, resp
            self.answers += 1
            await asyncio.sleep(0.02)  # within the request rate one client may send

    async def __aenter__(self) -> Watch:
        self.stored_before = self.hub.store.sample_count()
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        if self._task.done():
            self._task.result()  # the watcher's own failure, if any
        self._task.cancel()

    async def still_served(self, answers: int = 3) -> None:
        """The watcher got answers and the agent's samples were stored meanwhile."""
        start, stored = self.answers, self.hub.store.sample_count()
        await async_wait_for(lambda: self.answers >= start + answers, 30, "getLatest answers")
        await async_wait_for(
            lambda: self.hub.store.sample_count() > max(stored, self.stored_before),
            30,
            "agent samples stored",
        )


# --- 1. non-finite values -------------------------------------------------------------------


async def test_non_finite_numbers_are_refused_at_the_door(server, hub: Hub, raw) -> None:
    r = await raw(server.url, authorize=True)
    for text in (
        '{"y": NaN, "sname": "s", "dname": "N"}',
        '{"y": [Infinity], "sname": ["s"], "dname": "N"}',
        '{"y": [1e400], "sname": ["s"], "dname": "N"}',
        '{"event": ["t", "s", "N", null, 0, "", -Infinity]}',
    ):
        await r.send_text(text)
        msg = await r.recv()
        assert msg["error"] is True and "finite" in msg["reason"], (text, msg)
    assert "N.s" not in hub.signals
    _, resp = await r.request({"y": [1.5], "sname": ["s"], "dname": "N"})
    assert resp["sent"] is True and hub.signals.get("N.s").latest()[1] == 1.5


async def test_y_never_waits_for_a_stalled_store(
    tmp_path: Path, mosquitto, prefix: str, raw
) -> None:
    from hub.bootstrap import running_hub
    from hub.ws.server import serve
    from tests.hub.conftest import make_hub_config, service_of
    from tests.hub.test_live import locked

    cfg = make_hub_config(tmp_path, mosquitto, prefix, hub={"local_pending": 50})
    async with running_hub(cfg) as hub:
        server = await serve(
            service_of(hub), {"host": "127.0.0.1", "port": 0, "require_login": False}
        )
        try:
            r = await raw(server.url, authorize=True)
            other = await raw(server.url, authorize=True)
            refused = None
            with locked(Path(cfg["store"]["path"])):  # the writer cannot commit meanwhile
                for i in range(100):
                    xs = [1000.0 + i * 10 + k for k in range(10)]
                    _, resp = await r.request(
                        {"y": [1.0] * 10, "sname": ["s"] * 10, "dname": "L", "x": xs}
                    )
                    if resp["error"]:
                        refused = resp["reason"]
                        break
                    assert (await other.request({"getLatest": ["L.s"]}))[1]["error"] is False
                assert refused is not None and refused.startswith("live but not stored")
                # live all the same: the last value is there at once
                _, resp = await other.request({"getLatest": ["L.s"]})
                assert resp["latest"]["L.s"][0] == 1000.0 + i * 10 + 9
            await async_wait_for(lambda: hub.store.sample_count() >= 50, 60, "stored after")
        finally:
            await server.close()


async def test_get_latest_is_json_whatever_the_buffer_holds(server, hub: Hub, raw) -> None:
    hub.signals.append("Raw", "s", [1.0], [float("nan")])  # bypassing every door
    r = await raw(server.url, authorize=True)
    await r.send({"getLatest": True})
    frame = _strict(await r.recv_raw())
    assert frame["latest"]["Raw.s"][1] is None  # type: ignore[index]
    await r.send({"getLatest": ["Raw.s"]})
    assert _strict(await r.recv_raw())["latest"]["Raw.s"][1] is None  # type: ignore[index]


# --- 3, 4 and 8. user code ------------------------------------------------------------------

# The CPU attack first: it is the one that takes long enough to watch the hub during it.
SCRIPT_ATTACKS = [
    "x = sum([[0]]*60000, [])",
    "a = np.ones(300, 'U1000000')",
    "a = np.full(150, 'a'*2000000)",
    "s = 'a'*2000000\nt = str([s]*600)",
    "s = 'a'*2000000\nprint([s]*600)",
    "a = np.maximum(np.zeros([12000, 1]), list(range(12000)))",
    "stream(float('nan'), 'Bad', 'X')",
    "stream(1.0, 'Square', 'Gen')",  # the agent's device
]


async def test_script_attacks_leave_the_hub_serving(ws_factory, hub: Hub, raw, agent) -> None:
    server = await ws_factory()
    writer = await raw(server.url, authorize=True)
    other = await raw(server.url, authorize=True)
    await async_wait_for(lambda: hub.store.sample_count() > 0, 30, "agent data stored")
    async with Watch(hub, other) as watch:
        for i, src in enumerate(SCRIPT_ATTACKS):
            send = asyncio.get_running_loop().create_task(
                writer.request(
                    {
                        "automation": {
                            "setScript": {"name": "evil", "script": src},
                            "runScript": "evil",
                        }
                    },
                    timeout=60,
                )
            )
            await watch.still_served()
            if i == 0:  # seconds of CPU in one C call: the hub answered all along
                assert not send.done()
            _, resp = await send
            run = resp["automation"]["runScript"]
            assert run["ok"] is False, (src, run)
            assert "refused" in run["value"] or "finite" in run["value"] or "agent" in run["value"]
    _, resp = await writer.request(
        {
            "automation": {
                "setScript": {"name": "fine", "script": "stream(2.0, 'ok', 'Local')"},
                "runScript": "fine",
            }
        }
    )
    assert resp["automation"]["runScript"]["ok"] is True
    await async_wait_for(lambda: "Local.ok" in hub.signals, what="stream after the attacks")
    assert "X.Bad" not in hub.signals
    assert hub.store.sample_count() > watch.stored_before


async def test_costly_condition_on_an_agents_signal_leaves_the_hub_serving(
    ws_factory, hub: Hub, raw, agent
) -> None:
    server = await ws_factory()
    writer = await raw(server.url, authorize=True)
    other = await raw(server.url, authorize=True)
    await async_wait_for(lambda: "Gen.Square" in hub.signals, 30, "agent signal")
    slow = {
        "name": "slow",
        "cond": "sum([[0]]*60000, []) == [] or Gen.Square.latest > 100",
        "id": "slowID",
        "trigger": "rising",
        "active": True,
    }
    _, resp = await writer.request({"automation": {"setEvent": slow}})
    assert resp["automation"]["setEvent"] is True
    engine = hub.engine
    assert engine is not None
    async with Watch(hub, other) as watch:
        await async_wait_for(lambda: engine.stats.conditions_offloaded >= 2, 60, "evaluated")
        await watch.still_served()
    state = engine.events.events["slow"].state
    assert state.error is not None and "refused" in state.error
    assert not any(e.event_id == "slowID" for e in hub.recent_events)


# --- 5. costly requests -------------------------------------------------------------------


async def test_get_session_is_limited_by_points_and_others_stay_served(
    ws_factory, hub: Hub, raw, agent
) -> None:
    hub.signals.append("Big", "s", list(range(50_000)), [1.0] * 50_000)
    server = await ws_factory(max_points_per_second=100_000.0)
    greedy = await raw(server.url, authorize=True)
    other = await raw(server.url, authorize=True)
    await async_wait_for(lambda: hub.store.sample_count() > 0, 30, "agent data stored")
    refused = 0
    async with Watch(hub, other) as watch:
        for _ in range(20):
            await greedy.send({"getSession": True})
        for _ in range(20):
            msg = (await greedy.recv_until(lambda m: "error" in m, 30))[-1]
            if msg["error"]:
                refused += 1
                assert "allowance" in msg["reason"]
            else:
                assert len(msg["session"]["signals"]) >= 1
        await watch.still_served()
    assert 0 < refused < 20 and server.stats["refused_cost"] == refused
    # one answer bigger than a client may ever get is refused outright, with the reason
    small = await ws_factory(max_points_per_second=10_000.0)
    r = await raw(small.url, authorize=True)
    _, resp = await r.request({"getSession": True})
    assert resp["error"] and "more than one client may get at once" in resp["reason"]


async def test_all_clients_together_share_one_allowance(ws_factory, hub: Hub, raw) -> None:
    hub.signals.append("Big", "s", list(range(50_000)), [1.0] * 50_000)
    # all clients together: 15,000 points/s, 60,000 at once; one answer is 50,000
    server = await ws_factory(max_points_per_second=100_000.0, max_points_per_second_all=15_000.0)
    a = await raw(server.url, authorize=True)
    b = await raw(server.url, authorize=True)
    assert (await a.request({"getSession": True}))[1]["error"] is False
    _, resp = await b.request({"getSession": True})  # b's own allowance is untouched
    assert resp["error"] and "to other clients" in resp["reason"]
    assert b.ws.state.name == "OPEN" and server.stats["refused_cost"] == 1


async def test_client_that_never_reads_is_cut_off_by_bytes(ws_factory, hub: Hub) -> None:
    hub.signals.append("Big", "s", list(range(20_000)), [1.0] * 20_000)
    server = await ws_factory(
        send_queue_bytes=2_000_000, socket_send_buffer=8192, slow_client_timeout=600
    )
    slow = await _slow_client(server.url)
    await _subscribe(slow, "Big.s")
    for _ in range(10):  # each answer ~0.5 MB; the client reads none of them
        await slow.send(json.dumps({"getSession": True}))
    # more answers are refused while half the limit is still unread
    await async_wait_for(lambda: server.stats["refused_cost"] >= 1, what="refused unread")
    assert all(s.queued_bytes <= 2_000_000 for s in server.state.sessions.values())
    for i in range(40):  # pushes are not asked for: past the limit the client is cut off
        x0 = 20_000 + i * 5_000
        hub.signals.append("Big", "s", list(range(x0, x0 + 5_000)), [2.0] * 5_000)
        await asyncio.sleep(0)
        if server.stats["slow_disconnects"]:
            break
    await async_wait_for(lambda: server.stats["slow_disconnects"] == 1, what="cut off")
    await async_wait_for(lambda: not server.state.sessions, what="its session gone")


# --- 7. connection slots and guessing ---------------------------------------------------------


async def test_connections_per_address_are_limited(ws_factory, raw) -> None:
    server = await ws_factory(max_connections_per_address=3)
    held = [await raw(server.url) for _ in range(3)]
    with pytest.raises(InvalidStatus) as info:
        await raw(server.url)
    assert info.value.response.status_code == 503
    assert b"too many connections from 127.0.0.1" in info.value.response.body
    await held[0].ws.close()
    await async_wait_for(lambda: server.slots.count("127.0.0.1") == 2, what="slot freed")
    r = await raw(server.url, authorize=True)
    assert (await r.request({"getSignalList": True}))[1]["error"] is False


async def test_idle_unauthorized_connections_cannot_lock_the_admin_out(
    ws_factory, hub: Hub, raw
) -> None:
    users = Users()
    users.add("admin", "admin-pass-1")
    await save_users(hub, users)
    server = await ws_factory(require_login=True, max_clients=5)
    idle = [await raw(server.url) for _ in range(5)]  # the server is full of them
    admin = await raw(server.url, authorize={"user": "admin", "password": "admin-pass-1"})
    assert (await admin.request({"getSignalList": True}))[1]["error"] is False
    assert server.stats["evicted_unauthorized"] == 1
    with pytest.raises(ConnectionClosed) as info:
        await idle[0].recv(5)  # the oldest one made room
    assert info.value.rcvd is not None and info.value.rcvd.code == 1008


async def test_login_guessing_backs_off_per_user_and_address(ws_factory, hub: Hub, raw) -> None:
    users = Users()
    users.add("admin", "admin-pass-1")
    await save_users(hub, users)
    server = await ws_factory(require_login=True)
    # the server's rule with a short fuse: after one failure, the next attempt would wait
    # 30 s, longer than anyone may wait, so it is refused unchecked (the right one too)
    server.backoff = Backoff(free_failures=0, base_delay=30.0, max_wait=5.0)
    r = await raw(server.url)
    await r.send({"authorize": {"user": "admin", "password": "guess-1"}})
    assert await r.recv() == {"authorized": False}
    await r.recv()
    assert server.backoff.failures("user:admin") == server.backoff.failures("addr:127.0.0.1") == 1
    r2 = await raw(server.url)
    await r2.send({"authorize": {"user": "admin", "password": "admin-pass-1"}})
    assert await r2.recv() == {"authorized": False}
    assert server.stats["refused_login_backoff"] == 1


def test_backoff_doubles_is_capped_and_forgets() -> None:
    now = [0.0]
    b = Backoff(free_failures=2, base_delay=1.0, max_delay=8.0, max_wait=20.0, clock=lambda: now[0])
    keys = ["user:a", "addr:1.2.3.4"]
    assert [b.delay(n) for n in range(7)] == [0, 0, 1, 2, 4, 8, 8]
    for _ in range(4):
        assert b.reserve(keys) is not None
        b.failed(keys)
    assert b.reserve(keys) == pytest.approx(4.0)  # waits its turn after 4 failures
    assert b.reserve(["user:b"]) == 0.0  # another user from elsewhere is not slowed
    now[0] += 1000.0  # quiet for a while: forgotten
    assert b.reserve(keys) == 0.0 and b.failures("user:a") == 0
    b.failed(keys)
    b.succeeded(keys)
    assert b.failures("user:a") == 0


async def test_junk_in_password_mode_gets_no_answer(ws_factory, raw) -> None:
    server = await ws_factory(password="geheim")
    r = await raw(server.url)
    await r.send_text("bm90IGEgcmVhbCBmcmFtZSBhdCBhbGwsIGp1c3QganVuayEhIQ==")
    with pytest.raises(ConnectionClosed) as info:
        await r.recv_raw()  # nothing encrypted comes back: the connection just closes
    assert info.value.rcvd.reason == "wrong password"
    assert server.backoff.failures("addr:127.0.0.1") == 1


# --- 8. secrets -------------------------------------------------------------------------------


async def test_a_failing_request_is_logged_without_the_password(
    ws_factory, hub: Hub, raw, caplog: pytest.LogCaptureFixture
) -> None:
    users = Users()
    users.add("alice", "alice-secret-pw")
    await save_users(hub, users)
    server = await ws_factory(require_login=True)
    (Path(hub.config["hub"]["data_dir"]) / "exports").write_text("a file where a folder goes")
    r = await raw(server.url)
    caplog.set_level(logging.INFO)
    await r.send(
        {
            "authorize": {"user": "alice", "password": "alice-secret-pw"},
            "logger": {"export": ["x.json", "json"]},
        }
    )
    frames = await r.recv_until(lambda m: "error" in m)
    assert frames[-1]["error"] is True
    assert "websocket request ['authorize', 'logger'] failed" in caplog.text
    assert "alice-secret-pw" not in caplog.text


# --- 9. errors without tracebacks ----------------------------------------------------------


async def test_deeply_nested_json_before_login_closes_cleanly(ws_factory, raw, caplog) -> None:
    server = await ws_factory(require_login=True)
    r = await raw(server.url)
    await r.send_text("[" * 200_000 + "]" * 200_000)
    with pytest.raises(ConnectionClosed) as info:
        await r.recv()
    assert info.value.rcvd.code == 1008 and "nested too deeply" in info.value.rcvd.reason
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text


def _http(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out


async def test_bad_http_is_a_clear_status_and_one_log_line(ws_factory, caplog) -> None:
    server = await ws_factory()
    caplog.set_level(logging.DEBUG, logger="hub.ws")
    port = server.port
    dup = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n"
    assert (await asyncio.to_thread(_http, port, dup)).startswith(b"HTTP/1.1 400")
    junk = b"NOT HTTP AT ALL\r\n\r\n"
    await asyncio.to_thread(_http, port, junk)
    await async_wait_for(lambda: "opening handshake failed" in caplog.text, what="logged")
    assert not [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text
    assert server.stats["refused_host"] == 1


def _upgrade(port: int, host: str) -> bytes:
    """The first line of the answer to a browser's websocket upgrade sent to `host`."""
    request = (
        f"GET / HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request.encode())
        return sock.recv(65536).split(b"\r\n", 1)[0]


async def test_dns_rebinding_host_is_refused(ws_factory) -> None:
    server = await ws_factory(server_names=["hub.example"])
    port = server.port
    # a page on rebind.evil whose name now points at the hub: Host and Origin agree
    assert await asyncio.to_thread(_upgrade, port, f"rebind.evil:{port}") == (
        b"HTTP/1.1 421 Misdirected Request"
    )
    page = await asyncio.to_thread(
        _http, port, f"GET / HTTP/1.1\r\nHost: rebind.evil:{port}\r\n\r\n".encode()
    )
    assert page.startswith(b"HTTP/1.1 421")
    # the names the hub serves, and any IP address, are fine
    for host in ("hub.example", "localhost", "127.0.0.1", "[::1]"):
        first = await asyncio.to_thread(_upgrade, port, f"{host}:{port}")
        assert first == b"HTTP/1.1 101 Switching Protocols", host


async def test_slow_client_cut_off_after_its_connection_is_gone(ws_factory, raw) -> None:
    server = await ws_factory()
    r = await raw(server.url, authorize=True)
    s = next(iter(server.state.sessions.values()))
    await r.ws.close()
    await async_wait_for(lambda: not server.state.sessions, what="session gone")
    s._ws.transport = None  # what websockets leaves once the connection is closed
    server._cut_off(s)  # no AttributeError
    assert server.stats["slow_disconnects"] == 1
