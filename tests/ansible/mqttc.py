"""Small MQTT clients for the provisioning tests: record what arrives, forge a publish."""

from __future__ import annotations

import os

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.fixtures.net import wait_for


class Collector:
    """A connected client that records every message it receives and what happened to it.

    It never reconnects by itself, so a client the broker dropped stays dropped.
    """

    def __init__(
        self,
        *,
        port: int,
        username: str,
        password: str,
        topics: list[str],
        ca: str | None = None,
        timeout: float = 10.0,
        client_id: str | None = None,
        clean_session: bool = True,
    ) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.events: list[str] = []
        self.granted = 0
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"c-{os.urandom(4).hex()}",
            clean_session=clean_session,
        )
        if username:
            self.client.username_pw_set(username, password)
        if ca:
            self.client.tls_set(ca_certs=ca)
        self.client.reconnect_delay_set(120, 120)
        self.client.on_connect = lambda *_a: self.events.append("connected")
        self.client.on_publish = lambda *_a: self.events.append("puback")
        self.client.on_disconnect = lambda *_a: self.events.append("disconnected")
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, m.payload))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        try:
            wait_for(lambda: "connected" in self.events, timeout, f"{username} connected")
        except TimeoutError:
            self.close()
            raise
        if topics:
            self.client.subscribe([(t, 1) for t in topics])
            wait_for(lambda: self.granted == len(topics), 10, f"{username} subscribed")

    def _on_subscribe(self, _c: object, _u: object, _m: object, codes: list, _p: object) -> None:
        self.granted += len(codes)

    def on(self, topic: str) -> list[bytes]:
        """Payloads received on exactly this topic, in order."""
        return [p for t, p in self.messages if t == topic]

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()


def forge(
    port: int,
    username: str,
    password: str,
    topic: str,
    ca: str | None = None,
    payload: bytes = b"forged",
    retain: bool = False,
) -> None:
    """Publish once (QoS 1) on a fresh connection and wait until the broker has dealt with
    it: a PUBACK, or (Mosquitto 2.0 with max_queued_messages 0) a disconnect for a publish
    the ACL denies. The client does not reconnect, so nothing is sent twice."""
    client = Collector(port=port, username=username, password=password, topics=[], ca=ca)
    try:
        client.client.publish(topic, payload, qos=1, retain=retain)
        wait_for(
            lambda: {"puback", "disconnected"} & set(client.events),
            10,
            f"the broker's answer to {username} publishing {topic}",
        )
    finally:
        client.close()


def login_refused(
    port: int,
    username: str | None,
    password: str | None,
    *,
    client_id: str | None = None,
    clean_session: bool = True,
) -> bool:
    """True when the broker refuses this login (username None: an anonymous client)."""
    codes: list[object] = []
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id or f"l-{os.urandom(4).hex()}",
        clean_session=clean_session,
    )
    if username is not None:
        c.username_pw_set(username, password)
    c.reconnect_delay_set(120, 120)
    c.on_connect = lambda _c, _u, _f, rc, _p: codes.append(rc)
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        wait_for(lambda: codes, 10, f"the broker's answer to {username}'s login")
        return bool(codes[0].is_failure)  # type: ignore[attr-defined]
    finally:
        c.disconnect()
        c.loop_stop()
