"""Sends spooled batches over MQTT (paho-mqtt 2.x, QoS 1) until the hub acknowledges them.

A batch leaves the spool only when the hub's `<p>/<agent>/ack` lists its seq. At most
`max_inflight` batches are unacknowledged at a time; they are sent again after
`ack_timeout`, after a reconnect and when the hub comes back online; while such a backlog
goes out in the window, batches made since are sent at once. While the hub's
retained state says `offline`, nothing is sent (the spool keeps growing, bounded). While
it says the hub's store is down, new batches are sent once as they are made (the hub shows
them live; acks wait for the store) and nothing is resent; when the store is back, every
unacknowledged batch is sent again at once, oldest first, in the window.
The retained birth status is published on every connect; the last will says offline.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .clock import MonoClock
from .spool import Spool, SpoolError
from .wire import Ack, AgentStatus, HubState, Topics, WireError

log = logging.getLogger(__name__)


@dataclass
class PublisherStats:
    """Counters of the publisher."""

    sent: int = 0
    resent: int = 0
    acked: int = 0
    connects: int = 0
    bad_acks: int = 0


class Publisher:
    """The agent's MQTT side: birth/will, acks, commands, and the send window over the spool."""

    def __init__(
        self,
        *,
        agent: str,
        topics: Topics,
        spool: Spool,
        host: str = "127.0.0.1",
        port: int = 1883,
        username: str = "",
        password: str = "",
        keepalive: int = 30,
        reconnect_min: float = 0.5,
        reconnect_max: float = 30.0,
        max_inflight: int = 20,
        ack_timeout: float = 10.0,
        birth: Callable[[], bytes],
        will: bytes,
        on_command: Callable[[bytes], None] | None = None,
        mono: MonoClock = time.monotonic,
        client_id: str | None = None,
        tls_ca: str = "",
        tls_cert: str = "",
        tls_key: str = "",
    ) -> None:
        self.agent = agent
        self.topics = topics
        self.spool = spool
        self.host, self.port = host, port
        self._auth = (username, password)
        self._tls = (tls_ca, tls_cert, tls_key)  # CA file: TLS; cert + key: client certificate
        self._keepalive = keepalive
        self._reconnect = (reconnect_min, reconnect_max)
        self.max_inflight = max_inflight
        self.ack_timeout = ack_timeout
        self._birth = birth
        self._will = will
        self._on_command = on_command or (lambda payload: None)
        self._mono = mono
        self.client_id = client_id or f"oc-agent-{agent}-{uuid.uuid4().hex[:6]}"
        self.stats = PublisherStats()
        self.connected = False
        self._status_lock = threading.Lock()
        self.hub_state: str | None = None
        self.store_down = False  # the hub said its store is down: send live, resend nothing
        self._inflight: dict[int, float] = {}
        self._last_sent = 0
        self._resend_all = False
        # While unacknowledged batches are sent again (after a reconnect, the hub or its
        # store back), batches made after that moment go out at once: live data never
        # waits behind the backlog. _backlog_end: newest seq of that backlog.
        self._backlog_end = 0
        self._fresh_sent = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._client: Any = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background (paho retries with backoff) and start the send loop."""
        import paho.mqtt.client as mqtt

        client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        if self._auth[0]:
            client.username_pw_set(self._auth[0], self._auth[1] or None)
        if self._tls[0]:
            ca, cert, key = self._tls
            client.tls_set(ca_certs=ca, certfile=cert or None, keyfile=key or None)
        client.will_set(self.topics.status(self.agent), self._will, qos=1, retain=True)
        # paho types these as int, but computes with floats: sub-second delays work
        client.reconnect_delay_set(
            min_delay=self._reconnect[0],  # type: ignore[arg-type]
            max_delay=self._reconnect[1],  # type: ignore[arg-type]
        )
        client.max_inflight_messages_set(self.max_inflight + 10)
        client.max_queued_messages_set(self.max_inflight * 2 + 100)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self._client = client
        client.connect_async(self.host, self.port, keepalive=self._keepalive)
        client.loop_start()
        self._thread = threading.Thread(target=self._loop, name="publisher", daemon=True)
        self._thread.start()

    def stop(self, *, drain: float = 0.0, offline: bytes | None = None) -> None:
        """Wait up to `drain` s for the spool to empty, publish `offline`, disconnect."""
        deadline = self._mono() + drain
        while drain > 0 and self._mono() < deadline:
            if not self.connected or self.hub_state == "offline":
                break
            if self.spool.stats().batches == 0:
                break
            self._wake.set()
            time.sleep(0.02)
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
        client = self._client
        if client is None:
            return
        if offline is not None and self.connected:
            info = client.publish(self.topics.status(self.agent), offline, qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2.0)
            except (RuntimeError, ValueError) as exc:
                log.warning("offline status not confirmed: %s", exc)
        client.disconnect()
        client.loop_stop()
        self._client = None

    def wake(self) -> None:
        """Tell the send loop that the spool has something new."""
        self._wake.set()

    # outgoing --------------------------------------------------------------------------

    def publish_status(self) -> None:
        """Publish the retained status (only while connected: it is re-sent on connect)."""
        if self.connected and self._client is not None:
            self._send_status(self._client)

    def _send_status(self, client: Any) -> None:
        # Built and queued under one lock: two threads sending status must not let an
        # older snapshot arrive last (the broker would keep it as the retained status).
        with self._status_lock:
            client.publish(self.topics.status(self.agent), self._birth(), qos=1, retain=True)

    def publish_result(self, payload: bytes) -> None:
        """Publish a command result."""
        if self._client is not None:
            self._client.publish(self.topics.cmd_result(self.agent), payload, qos=1)

    def inflight(self) -> list[int]:
        """Seqs sent and not yet acknowledged."""
        with self._lock:
            return sorted(self._inflight)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(0.1)
            self._wake.clear()
            if self._stopping.is_set():
                break
            if not self.connected or self.hub_state == "offline":
                continue
            try:
                self._send_due()
            except SpoolError as exc:
                log.error("cannot read the spool: %s", exc)
                self._stopping.wait(1.0)
            except Exception:
                log.exception("send loop error")
                self._stopping.wait(1.0)

    def _send_due(self) -> None:
        now = self._mono()
        if self.store_down:
            self._send_live(now)
            return
        with self._lock:
            resend_all, self._resend_all = self._resend_all, False
        if resend_all:
            newest = self.spool.stats().next_seq - 1
            with self._lock:
                self._inflight.clear()
                self._last_sent = 0
                self._backlog_end = self._fresh_sent = newest
        catching_up = self._last_sent < self._backlog_end
        if catching_up:
            self._send_fresh(now)
        with self._lock:
            expired = [s for s, t in self._inflight.items() if now - t >= self.ack_timeout]
            after = self._last_sent
            room = self.max_inflight - len(self._inflight)
        if expired:
            found = self.spool.get(expired)
            with self._lock:
                for seq in set(expired) - {b.seq for b in found}:
                    self._inflight.pop(seq, None)  # acked or dropped meanwhile
            for batch in found:
                self._publish_batch(batch.seq, batch.payload, now)
                self.stats.resent += 1
            room = self.max_inflight - len(self._inflight)
        if room <= 0:
            return
        taken = 0
        for batch in self.spool.pending(after=after, limit=room):
            if not self.connected:
                return
            if catching_up and batch.seq > self._backlog_end:
                break  # the backlog is through; the newer ones went out fresh
            self._publish_batch(batch.seq, batch.payload, now)
            self.stats.sent += 1
            taken += 1
            with self._lock:
                self._last_sent = max(self._last_sent, batch.seq)
        if catching_up and taken < room:  # nothing of the backlog left to send
            with self._lock:
                self._last_sent = max(self._last_sent, self._fresh_sent)
                self._backlog_end = 0

    def _send_fresh(self, now: float) -> None:
        """While the backlog goes out in the window: batches made since, at once."""
        for batch in self.spool.pending(after=self._fresh_sent, limit=self.max_inflight):
            if not self.connected:
                return
            self._publish_batch(batch.seq, batch.payload, now)
            self.stats.sent += 1
            with self._lock:
                self._fresh_sent = max(self._fresh_sent, batch.seq)

    def _send_live(self, now: float) -> None:
        """Store down: each new batch once, untracked (all are sent again when it is back)."""
        with self._lock:
            after = max(self._last_sent, self._fresh_sent)
        for batch in self.spool.pending(after=after, limit=self.max_inflight):
            if not self.connected or not self.store_down:
                return
            self._client.publish(self.topics.data(self.agent), batch.payload, qos=1)
            self.stats.sent += 1
            with self._lock:
                self._last_sent = max(self._last_sent, batch.seq)

    def _publish_batch(self, seq: int, payload: bytes, now: float) -> None:
        with self._lock:
            self._inflight[seq] = now
        self._client.publish(self.topics.data(self.agent), payload, qos=1)

    # paho callbacks (network thread) ---------------------------------------------------

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.warning("MQTT connect to %s:%s refused: %s", self.host, self.port, reason)
            return
        self.stats.connects += 1
        log.info("connected to MQTT %s:%s", self.host, self.port)
        client.subscribe(
            [
                (self.topics.ack(self.agent), 1),
                (self.topics.cmd(self.agent), 1),
                (self.topics.hub_state, 1),
                (self.topics.status(self.agent), 1),
            ]
        )
        self.connected = True
        with self._lock:
            self._resend_all = True
        self._send_status(client)
        self._wake.set()

    def _on_disconnect(
        self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if self.connected and not self._stopping.is_set():
            log.warning("MQTT connection lost (%s); reconnecting with backoff", reason)
        self.connected = False

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        topic = msg.topic
        if topic == self.topics.ack(self.agent):
            self._handle_ack(msg.payload)
        elif topic == self.topics.cmd(self.agent):
            self._on_command(msg.payload)
        elif topic == self.topics.hub_state:
            self._handle_hub_state(msg.payload)
        elif topic == self.topics.status(self.agent):
            # A stale will of an earlier connection of ours said offline: correct it.
            stale = _said_offline(msg.payload)
            if stale and self.connected and not self._stopping.is_set():
                log.info("retained status said offline while connected; republishing birth")
                self._send_status(client)

    def _handle_ack(self, payload: bytes) -> None:
        try:
            seqs = Ack.decode(payload).seqs
        except WireError as exc:
            self.stats.bad_acks += 1
            log.warning("ignoring malformed ack: %s", exc)
            return
        try:
            self.stats.acked += self.spool.ack(seqs)
        except SpoolError as exc:
            log.error("%s", exc)
            return
        with self._lock:
            for seq in seqs:
                self._inflight.pop(seq, None)
        self._wake.set()

    def _handle_hub_state(self, payload: bytes) -> None:
        try:
            hub = HubState.decode(payload)
        except WireError as exc:
            log.warning("ignoring hub state: %s", exc)
            return
        state = hub.state
        was_down = self.store_down
        self.store_down = hub.store_down
        previous, self.hub_state = self.hub_state, state
        back = was_down and not self.store_down
        if state == previous and self.store_down == was_down:
            return
        if state != previous:
            log.info("hub is %s", state)
        if self.store_down != was_down:
            log.info("hub store is %s", "down: sending live only" if self.store_down else "back")
        if (state == "online" and state != previous) or back:
            with self._lock:
                self._resend_all = True
        self._wake.set()


def _said_offline(payload: bytes) -> bool:
    """Whether a status payload (our own, retained) says offline."""
    try:
        return AgentStatus.decode(payload).state == "offline"
    except WireError:
        return False
