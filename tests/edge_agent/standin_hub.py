"""A small stand-in hub for agent tests: a real paho client on the real broker.

It records the data batches it receives, acknowledges them per a policy, publishes the
retained hub state, sends commands and collects their results.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt

from edge_agent.wire import Batch, Topics, decode_batch
from tests.fixtures.net import wait_for


class StandInHub:
    """Subscribes to `<p>/+/data`, `<p>/+/status` and `<p>/+/cmd/result`."""

    def __init__(self, *, port: int, prefix: str, ack: Callable[[Batch], bool] | None = None):
        self.topics = Topics(prefix)
        self.port = port
        self.ack_policy = ack or (lambda batch: True)
        self.received: list[Batch] = []
        self.status: dict[str, dict[str, Any]] = {}
        self.status_log: list[dict[str, Any]] = []
        self.results: dict[Any, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=f"standin-hub-{prefix}-{uuid.uuid4().hex[:6]}",
            clean_session=False,  # like the real hub: the broker queues data while it is away
        )
        self.client.on_message = self._on_message
        self._subscribed = threading.Event()
        self.client.on_connect = self._on_connect

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        p = self.topics.prefix
        client.subscribe(
            [
                (f"{p}/+/data", 1),
                (f"{p}/+/status", 1),
                (f"{p}/+/cmd/result", 1),
                (f"{p}/+/event", 1),
            ]
        )

    def start(self) -> StandInHub:
        """Connect and wait until the subscriptions are in place."""
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise TimeoutError("stand-in hub did not subscribe")
        return self

    def stop(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        split = self.topics.split(msg.topic)
        if split is None:
            return
        agent, kind = split
        if kind == "data":
            batch = decode_batch(msg.payload, expected_agent=agent)
            with self.lock:
                self.received.append(batch)
                self.events.extend(e.to_json() for e in batch.events)  # edge events ride along
            if self.ack_policy(batch):
                self.ack(agent, [batch.seq])
        elif kind == "status":
            if not msg.payload:
                return
            body = json.loads(msg.payload)
            with self.lock:
                self.status[agent] = body
                self.status_log.append(body)
        elif kind == "event":
            with self.lock:
                self.events.append(json.loads(msg.payload))
        elif kind == "cmd/result":
            body = json.loads(msg.payload)
            with self.lock:
                self.results[body.get("id")] = body

    def ack(self, agent: str, seqs: list[int]) -> None:
        """Publish an ack for `seqs`."""
        self.client.publish(self.topics.ack(agent), json.dumps({"seq": seqs}), qos=1)

    def set_state(self, state: str) -> None:
        """Publish the retained hub state."""
        info = self.client.publish(self.topics.hub_state, state, qos=1, retain=True)
        info.wait_for_publish(5)

    def clear_retained(self, agent: str) -> None:
        """Remove retained messages this test created."""
        for topic in (self.topics.hub_state, self.topics.status(agent)):
            self.client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)

    def command(self, agent: str, timeout: float = 10.0, **body: Any) -> dict[str, Any]:
        """Send a command and wait for its result."""
        cmd_id = body.setdefault("id", uuid.uuid4().hex[:8])
        self.client.publish(self.topics.cmd(agent), json.dumps(body), qos=1)
        return wait_for(lambda: self.results.get(cmd_id), timeout, f"result of {body}")

    def seqs(self) -> list[int]:
        """Seqs received so far (with repeats)."""
        with self.lock:
            return [b.seq for b in self.received]

    def samples(self, key: str) -> list[tuple[float, float]]:
        """Distinct (t, y) pairs received for signal `Device.Signal`."""
        out: dict[tuple[int, float], tuple[float, float]] = {}
        with self.lock:
            for batch in self.received:
                for s in batch.signals:
                    if s.key == key:
                        for t, y in zip(s.t, s.y, strict=True):
                            out[(batch.seq, t)] = (t, y)
        return sorted(set(out.values()))
