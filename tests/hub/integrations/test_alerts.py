"""Alert roads against real local receivers: a webhook HTTP server that fails before it
accepts, and an aiosmtpd SMTP server that demands STARTTLS (self-signed cert) and a login."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from hub.bootstrap import running_hub
from hub.db.base import EventRecord
from hub.integrations.alerts import AlertTarget
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for, free_port
from tests.hub.conftest import make_hub_config
from tests.hub.ws.tls import make_cert


class Receiver:
    """A webhook receiver on loopback: answers 500 to the first `fail` posts, then 200."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.bodies: list[dict[str, Any]] = []
        self.attempts = 0
        self.headers: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.attempts += 1
                if outer.attempts <= outer.fail:
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.bodies.append(json.loads(body))
                outer.headers.append(dict(self.headers))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail=2)
    yield r
    r.close()


def event(priority: int, text: str = "too hot", value: Any = 81.5) -> EventRecord:
    return EventRecord(time.time(), "Oven", "Temp", text, priority, "HOT", value)


async def test_webhook_retries_filters_by_priority_and_rate_limits(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str, receiver: Receiver
) -> None:
    hook = {
        "url": receiver.url,
        "min_priority": 1,
        "per_minute": 3,
        "retries": 3,
        "headers": {"Authorization": "Bearer abc"},
    }
    cfg = make_hub_config(tmp_path, mosquitto, prefix, notify={"webhook": {"ops": hook}})
    async with running_hub(cfg) as hub:
        (target,) = hub.alert_targets
        hub.add_event(event(0, "just so you know"))
        hub.add_event(event(2, "too hot", 81.5))
        await async_wait_for(lambda: target.stats.sent == 1, timeout=30, what="the webhook POST")
        assert receiver.attempts == 3  # two 500s, then accepted
        body = receiver.bodies[0]
        assert body["text"] == "too hot" and body["priority"] == 2
        assert body["priority_name"] == "error" and body["device"] == "Oven"
        assert body["value"] == 81.5
        assert body["hub"] == cfg["hub"]["id"] and body["id"] == "HOT"
        assert receiver.headers[0]["Authorization"] == "Bearer abc"
        for i in range(4):
            hub.add_event(event(1, f"warn {i}", i))
        await async_wait_for(lambda: target.stats.sent == 3, timeout=30, what="two more sent")
        assert len(receiver.bodies) == 3
        assert [b["text"] for b in receiver.bodies[1:]] == ["warn 0", "warn 1"]
        assert target.stats.rate_limited == 2
        assert target.stats.skipped_priority == 1
        assert target.stats.retries == 2 and target.stats.sent == 3
        # every event is still stored and kept, sent or not
        await async_wait_for(lambda: len(hub.store.events()) == 6, what="events stored")
        assert len(hub.recent_events) == 6


async def test_a_dead_webhook_gives_up_and_a_full_queue_drops_the_oldest() -> None:
    gate = threading.Event()
    seen: list[str] = []

    def send(ev: EventRecord) -> None:
        if ev.text == "dead":
            raise OSError("connection refused")
        gate.wait(30)
        seen.append(ev.text)

    target = AlertTarget(
        name="t",
        send=send,
        min_priority=0,
        limit=100,
        period=60,
        queue=2,
        retries=2,
        backoff_min=0.01,
    )
    target.start()
    try:
        target.submit(event(0, "dead"))
        await async_wait_for(lambda: target.stats.failed == 1, what="given up")
        assert target.stats.retries == 2
        target.submit(event(0, "first"))
        await async_wait_for(lambda: target.busy, what="sender busy")
        for name in ("a", "b", "c", "d"):
            target.submit(event(0, name))
        assert target.stats.dropped == 2 and target.pending == 2
        gate.set()
        await async_wait_for(lambda: len(seen) == 3, what="the rest sent")
        assert seen == ["first", "c", "d"]
    finally:
        gate.set()
        await target.stop()


# -- e-mail ---------------------------------------------------------------------------------


class Mailbox:
    """aiosmtpd handler: keeps each message with whether the session was under TLS."""

    def __init__(self) -> None:
        self.messages: list[tuple[bool, str, bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (session.ssl is not None, envelope.mail_from, envelope.original_content)
        )
        return "250 OK"


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    from aiosmtpd.smtp import AuthResult

    ok = data.login == b"hub" and data.password == b"pw-from-env"
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[tuple[int, Path, Mailbox]]:
    controller_mod = pytest.importorskip("aiosmtpd.controller")
    cert, key = make_cert(tmp_path / "tls")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    box = Mailbox()
    port = free_port()
    controller = controller_mod.Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        tls_context=ctx,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    yield port, cert, box
    controller.stop()


def mail_cfg(port: int, cert: Path, **extra: Any) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": port,
        "ca_file": str(cert),
        "username": "hub",
        "password_env": "OC_TEST_SMTP_PASSWORD",
        "sender": "hub@example.org",
        "to": ["ops@example.org", "me@example.org"],
        **extra,
    }


async def test_email_over_starttls_with_login(
    tmp_path: Path,
    mosquitto: Mosquitto,
    prefix: str,
    smtp_server: tuple[int, Path, Mailbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port, cert, box = smtp_server
    monkeypatch.setenv("OC_TEST_SMTP_PASSWORD", "pw-from-env")
    notify = {"email": {"ops": mail_cfg(port, cert, min_priority=1, per_hour=2)}}
    cfg = make_hub_config(tmp_path, mosquitto, prefix, notify=notify)
    async with running_hub(cfg) as hub:
        (target,) = hub.alert_targets
        hub.add_event(event(0, "info only"))
        hub.add_event(event(1, "door open\nsince 10 min"))
        await async_wait_for(lambda: box.messages, timeout=30, what="the mail")
        tls, sender, raw = box.messages[0]
        assert tls and sender == "hub@example.org"
        text = raw.decode()
        assert "Subject: [" + cfg["hub"]["id"] + "] warning: Oven.Temp door open" in text
        assert "since 10 min" in text and "To: ops@example.org, me@example.org" in text
        for i in range(3):
            hub.add_event(event(2, f"err {i}"))
        await async_wait_for(lambda: len(box.messages) == 2, timeout=30, what="second mail")
        assert target.stats.rate_limited == 2 and target.stats.skipped_priority == 1
        await asyncio.sleep(0)  # nothing else queued
        assert target.pending == 0 and target.stats.failed == 0
        await async_wait_for(lambda: len(hub.store.events()) == 5, what="events stored")


async def test_email_refuses_a_wrong_password_and_an_unverified_server(
    tmp_path: Path, smtp_server: tuple[int, Path, Mailbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.integrations.notify_email import email_target

    port, cert, box = smtp_server
    monkeypatch.setenv("OC_TEST_SMTP_PASSWORD", "wrong")
    defaults = {"starttls": True, "min_priority": 0, "per_hour": 10, "queue": 5, "timeout": 10.0}
    bad_pw = email_target("pw", {**defaults, **mail_cfg(port, cert), "retries": 0}, "hub1")
    other = tmp_path / "other"
    other_cert, _ = make_cert(other)  # a CA that did not sign the server's certificate
    bad_ca = email_target("ca", {**defaults, **mail_cfg(port, other_cert), "retries": 0}, "hub1")
    for t in (bad_pw, bad_ca):
        t.start()
        t.submit(event(2))
    try:
        await async_wait_for(
            lambda: bad_pw.stats.failed == 1 and bad_ca.stats.failed == 1, what="both failed"
        )
        assert box.messages == [] and bad_pw.stats.sent == 0
    finally:
        for t in (bad_pw, bad_ca):
            await t.stop()


def test_event_json_never_holds_a_non_finite_number() -> None:
    from hub.integrations.alerts import event_dict

    ev = EventRecord(0.0, "D", "S", "t", 1, "X", 1.0)
    object.__setattr__(ev, "value", [float("nan"), {"a": float("inf")}, 2.0])
    body = json.dumps(event_dict(ev, "h"), allow_nan=False)  # raises on NaN/inf
    assert json.loads(body)["value"] == [None, {"a": None}, 2.0]
