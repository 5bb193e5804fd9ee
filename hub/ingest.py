"""MQTT ingest: the hub's paho client with a persistent session and manual acknowledgements.

A data batch is acknowledged to the broker (PUBACK) and to the agent (`<p>/<agent>/ack`)
only after the store committed it, so nothing unstored is ever forgotten. Bad payloads are
kept raw in the rejected-messages table with the reason, then acknowledged.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt

from edge_agent.wire import WireError, decode_batch, encode_json, refused_reason

from .app import Hub
from .db.base import EventRecord
from .db.writer import Job, Outcome

log = logging.getLogger(__name__)


class MqttIngest:
    """Subscribes to agents' topics and feeds the hub; publishes acks, commands, hub state."""

    def __init__(self, *, hub: Hub, host: str, port: int) -> None:
        self.hub = hub
        self.host = host
        self.port = port
        cfg = hub.config["mqtt"]
        self.topics = hub.topics
        self.client_id = hub.config["hub"]["id"]
        self.shared_group = cfg["shared_group"]
        self.connected = False
        self.subscribed = False
        self._stopping = False
        self._pending_cmds: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            clean_session=False,
            manual_ack=True,
        )
        if cfg["username"]:
            self._client.username_pw_set(cfg["username"], cfg["password"] or None)
        if cfg["tls_ca"]:
            self._client.tls_set(ca_certs=cfg["tls_ca"], cert_reqs=ssl.CERT_REQUIRED)
        self._client.max_inflight_messages_set(100)
        self._client.max_queued_messages_set(0)
        self._client.reconnect_delay_set(0.2, 10)
        self._client.will_set(self.topics.hub_state, b"offline", qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._keepalive = cfg["keepalive"]

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect (retrying in the background if the broker is not up yet)."""
        self._loop = asyncio.get_running_loop()
        self.hub.on_committed.append(self._committed)
        self.hub.command_sender = self.send_command
        self._client.connect_async(self.host, self.port, keepalive=self._keepalive)
        self._client.loop_start()

    async def stop(self) -> None:
        """Publish `offline`, disconnect cleanly (no last will), stop the network thread."""
        self._stopping = True
        if self.connected:
            info = self._client.publish(self.topics.hub_state, b"offline", qos=1, retain=True)
            try:
                await asyncio.to_thread(info.wait_for_publish, 2.0)
            except (RuntimeError, ValueError):
                pass
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        if self._committed in self.hub.on_committed:
            self.hub.on_committed.remove(self._committed)

    def _sub(self, topic: str) -> str:
        return f"$share/{self.shared_group}/{topic}" if self.shared_group else topic

    # -- paho callbacks (network thread) ---------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            log.error("MQTT broker %s:%d refused the hub: %s", self.host, self.port, rc)
            return
        self.connected = True
        log.info("connected to MQTT broker %s:%d", self.host, self.port)
        p = self.topics.prefix
        client.subscribe(
            [
                (self._sub(f"{p}/+/data"), 1),
                (self._sub(f"{p}/+/event"), 1),
                (f"{p}/+/status", 1),
                (f"{p}/+/cmd/result", 1),
            ]
        )
        client.publish(self.topics.hub_state, b"online", qos=1, retain=True)

    def _on_subscribe(self, _c: Any, _u: Any, _mid: int, codes: Any, _p: Any) -> None:
        failed = [c for c in codes if c.is_failure]
        if failed:
            log.error("MQTT broker refused the hub's subscriptions: %s", failed)
        self.subscribed = not failed

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if self.connected and not self._stopping:
            log.warning("lost the MQTT broker (%s); reconnecting", rc)
        self.connected = False
        self.subscribed = False

    def _on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        received = time.time()
        parts = self.topics.split(msg.topic)
        if parts is None or parts[0] == "hub":
            client.ack(msg.mid, msg.qos)
            return
        agent, kind = parts
        try:
            if kind == "data":
                self._on_data(agent, msg, received)
                return  # acknowledged after commit
            if kind == "status":
                self._call_soon(self._on_status, agent, msg.payload)
            elif kind == "cmd/result":
                self._call_soon(self._on_cmd_result, msg.payload)
            elif kind == "event":
                self._call_soon(self._on_event, agent, msg.payload, received)
        except Exception:
            log.exception("failed to handle %s", msg.topic)
        client.ack(msg.mid, msg.qos)

    def _on_data(self, agent: str, msg: mqtt.MQTTMessage, received: float) -> None:
        try:
            batch = decode_batch(msg.payload, expected_agent=agent)
        except WireError as exc:
            self._reject(msg, str(exc), received)
            return
        for s in batch.signals:
            if not self.hub.agents.claim(agent, s.device):
                owner = self.hub.agents.device_owner(s.device)
                self._reject(msg, f"device {s.device!r} is owned by agent {owner!r}", received)
                return
        if batch.refused:  # kept raw with the reasons; the batch's good series go on
            self._reject(msg, refused_reason(batch), received, ack=False)
        self.hub.submit(
            Job(kind="batch", batch=batch, received_at=received, token=(msg.mid, msg.qos))
        )

    def _reject(
        self, msg: mqtt.MQTTMessage, reason: str, received: float, ack: bool = True
    ) -> None:
        log.warning("refused message on %s (%d bytes): %s", msg.topic, len(msg.payload), reason)
        self.hub.submit(
            Job(
                kind="rejected",
                topic=msg.topic,
                payload=bytes(msg.payload[:1_000_000]),
                reason=reason,
                received_at=received,
                token=(msg.mid, msg.qos) if ack else None,  # acked on its own, or with the batch
            )
        )

    # -- writer thread ---------------------------------------------------------------------
    def _committed(self, outcome: Outcome) -> None:
        """Acknowledge after commit: PUBACK to the broker, then the agent's ack topic."""
        job = outcome.job
        if job.token is None or outcome.error is not None:
            return  # local data, or a write that failed: not acknowledged, will come again
        mid, qos = job.token
        self._client.ack(mid, qos)
        if job.kind == "batch" and job.batch is not None:
            self._client.publish(
                self.topics.ack(job.batch.agent), encode_json({"seq": [job.batch.seq]}), qos=1
            )

    # -- event loop ------------------------------------------------------------------------
    def _call_soon(self, fn: Any, *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_status(self, agent: str, payload: bytes) -> None:
        if not payload:
            return  # a cleared retained message
        try:
            body = json.loads(payload)
            if not isinstance(body, dict):
                raise ValueError("status must be a JSON object")
        except ValueError as exc:
            log.warning("agent %s sent a bad status message: %s", agent, exc)
            return
        self.hub.agents.update_status(agent, body)

    def _on_cmd_result(self, payload: bytes) -> None:
        try:
            body = json.loads(payload)
            fut = self._pending_cmds.pop(str(body.get("id")), None)
        except (ValueError, AttributeError):
            log.warning("bad cmd/result payload: %r", payload[:200])
            return
        if fut is not None and not fut.done():
            fut.set_result(body)

    def _on_event(self, agent: str, payload: bytes, received: float) -> None:
        try:
            body = json.loads(payload)
            event = EventRecord(
                time=float(body.get("t", received)),
                device=str(body.get("device", agent)),
                signal=str(body.get("signal", "")),
                text=str(body["text"]),
                priority=int(body.get("priority", 0)) if body.get("priority") in (0, 1, 2) else 0,
                event_id=str(body.get("id", "")),
                value=body.get("value"),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("agent %s sent a bad event: %s", agent, exc)
            return
        self.hub.add_event(event)

    async def send_command(
        self, agent: str, body: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        """Publish a command and wait for its result (or a timeout error)."""
        if not self.connected:
            return {"ok": False, "error": "hub is not connected to the MQTT broker"}
        cmd_id = uuid.uuid4().hex[:12]
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending_cmds[cmd_id] = fut
        self._client.publish(self.topics.cmd(agent), encode_json({"id": cmd_id, **body}), qos=1)
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            return {
                "id": cmd_id,
                "ok": False,
                "error": f"agent {agent!r} did not answer in {timeout}s",
            }
        finally:
            self._pending_cmds.pop(cmd_id, None)
