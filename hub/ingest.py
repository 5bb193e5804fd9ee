"""MQTT ingest: the hub's paho client with a persistent session and manual acknowledgements.

A data batch is acknowledged to the broker (PUBACK) once it went live and was queued for
the writer (or found no room there), so the broker's in-flight window never waits for the
store; the agent is acknowledged (`<p>/<agent>/ack`) only after the store committed it, and
until then keeps the batch in its spool and sends it again. Bad payloads are kept raw in
the rejected-messages table with the reason. The retained `<p>/hub/state` tells agents
whether the store is up and how full the writer's queue is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import paho.mqtt.client as mqtt

from edge_agent.wire import (
    MAX_BATCH_BYTES,
    Ack,
    AgentStatus,
    Batch,
    Command,
    CommandResult,
    HubState,
    WireError,
    decode_batch,
    refused_reason,
)

from .app import LOCAL_AGENT, Hub
from .db.base import EventRecord, SeqConflict
from .db.writer import Job, Outcome
from .loglimit import LogLimiter
from .made_relay import MadeRelay
from .mqtt_guard import Guard
from .mqtt_heartbeat import Heartbeat
from .mqtt_probe import accepts_anonymous

log = logging.getLogger(__name__)

OFFLINE = HubState("offline").encode()
STATE_POLL_S = 0.25
STATE_EVERY_S = 2.0


def _nothing() -> None:
    """No PUBACK of its own (the message is acknowledged with its batch, or already was)."""


class MqttIngest:
    """Subscribes to agents' topics and feeds the hub; publishes acks, commands, hub state."""

    def __init__(
        self, *, hub: Hub, host: str, port: int, credentials: tuple[str, str] | None = None
    ) -> None:
        self.hub = hub
        self.host = host
        self.port = port
        cfg = hub.config["mqtt"]
        self.topics = hub.topics
        self.client_id = hub.config["hub"]["id"]
        self.role = hub.role  # live: the whole stream, no acks, no hub state (docs/scale.md)
        self.shared_group = cfg["shared_group"] if self.role != "live" else ""
        self.made_topic = f"{self.topics.prefix}/hub/made"  # hub-made batches of live hubs
        self.made_ack_topic = f"{self.made_topic}/ack"  # their acks, after commit
        self.made = MadeRelay(
            publish=lambda payload: self._client.publish(self.made_topic, payload, qos=1),
            stats=hub.stats,
        )

        self.credentials = credentials
        self.connected = False
        self.subscribed = False
        self._stopping = False
        self._pending_cmds: dict[str, asyncio.Future[CommandResult]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            # sharing the stream: a dead hub's session must not keep taking its share
            # (the broker would queue it there); agents send again what was not acked
            clean_session=not self.shared_group,
            manual_ack=True,
        )
        if credentials is not None:  # the embedded broker's hub user, made at start
            self._client.username_pw_set(*credentials)
        elif cfg["username"]:
            self._client.username_pw_set(cfg["username"], cfg["password"] or None)
        if cfg["tls_ca"]:
            self._client.tls_set(ca_certs=cfg["tls_ca"], cert_reqs=ssl.CERT_REQUIRED)
        self._client.max_inflight_messages_set(100)
        self._client.max_queued_messages_set(0)
        # paho annotates the delays as int; it sleeps fractions of a second just as well
        self._client.reconnect_delay_set(0.2, 10)  # type: ignore[arg-type]
        # `offline` tells agents to hold their data: a live hub does not speak for the
        # store, and one hub of a shared group does not speak for the others
        self._says_offline = self.role != "live" and not self.shared_group
        if self._says_offline:
            self._client.will_set(self.topics.hub_state, OFFLINE, qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._keepalive = cfg["keepalive"]
        self._log = LogLimiter(log)
        self.guard = Guard(
            hub.config,
            owner_of=hub.agents.device_owner,
            claim=hub.agents.claim,
            stats=hub.stats,
        )
        for name in ("mqtt_reconnects", "mqtt_lost"):
            hub.stats.setdefault(name, 0)
        hub.stats["mqtt_ok"] = 0
        self._heartbeat_topic = f"{self.topics.hub_state}/heartbeat/{self.client_id}"
        self.heartbeat = Heartbeat(
            interval=cfg["heartbeat"],
            publish=lambda nonce: self._client.publish(self._heartbeat_topic, nonce, qos=0),
            lost=self._session_lost,
        )
        self._was_connected = False
        self._probe: asyncio.Task[None] | None = None
        self._handling_since: float | None = None  # monotonic start of the message in hand
        self._state: dict[str, Any] | None = None  # last published hub state
        self._state_at = 0.0
        self._state_task: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect (retrying in the background if the broker is not up yet)."""
        self._loop = asyncio.get_running_loop()
        self.guard.seed(
            (row.agent, row.device, row.name)
            for row in await self.hub.run_store(self.hub.store.signals)
        )
        self.heartbeat.start(self._delivering)
        self.hub.on_committed.append(self._committed)
        self.hub.command_sender = self.send_command
        self._client.connect_async(self.host, self.port, keepalive=self._keepalive)
        self._client.loop_start()
        if self.role != "live":
            self._state_task = asyncio.create_task(self._watch_state(), name="hub-state")
        else:
            self.made.start()
        if self.credentials is None:  # an external broker (or an anonymous embedded one)
            self._probe = asyncio.create_task(self._warn_if_anonymous(), name="mqtt-probe")

    async def _warn_if_anonymous(self) -> None:
        cfg = self.hub.config["mqtt"]
        anonymous = await asyncio.to_thread(
            accepts_anonymous, self.host, self.port, tls_ca=cfg["tls_ca"]
        )
        self.hub.stats["mqtt_anonymous"] = int(bool(anonymous))
        if anonymous:
            log.warning(
                "the MQTT broker %s:%d accepts clients without a password: anyone who reaches "
                "it can publish as any agent and read all data (docs/security.md)",
                self.host,
                self.port,
            )

    async def stop(self) -> None:
        """Publish `offline`, disconnect cleanly (no last will), stop the network thread."""
        self._stopping = True
        await self.heartbeat.stop()
        await self.made.stop()
        for task in (self._probe, self._state_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self.connected and self._says_offline:
            info = self._client.publish(self.topics.hub_state, OFFLINE, qos=1, retain=True)
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
        self.heartbeat.connected()
        if self._was_connected:
            self.hub.stats["mqtt_reconnects"] += 1
            log.warning("reconnected to MQTT broker %s:%d; subscribing again", self.host, self.port)
        else:
            log.info("connected to MQTT broker %s:%d", self.host, self.port)
        self._was_connected = True
        p = self.topics.prefix
        topics = [
            (self._sub(f"{p}/+/data"), 1),
            (self._sub(f"{p}/+/event"), 1),
            (f"{p}/+/status", 1),
            (f"{p}/+/cmd/result", 1),
            (self._heartbeat_topic, 0),
            (self._sub(self.made_topic), 1),
        ]
        if self.role == "live":
            topics.append((self.made_ack_topic, 1))
        client.subscribe(topics)
        client.publish(self._heartbeat_topic, self.heartbeat.nonce, qos=0)
        if self.role != "live":
            self._publish_state(client, self.hub.store_state())

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
        self.hub.stats["mqtt_ok"] = 0

    def _delivering(self) -> bool:
        """Connected, and the network thread is not held up by a full writer queue (then a
        missing heartbeat says nothing about the session)."""
        since = self._handling_since
        return self.connected and (since is None or time.monotonic() - since < 1.0)

    def _heartbeat_seen(self, payload: bytes | bytearray) -> None:
        self.heartbeat.seen(payload)
        if self.heartbeat.ok and not self.hub.stats["mqtt_ok"]:
            self.hub.stats["mqtt_ok"] = 1
            log.info("MQTT session delivers (heartbeat back through the broker)")

    def _session_lost(self, silent: float) -> None:
        """No heartbeat came back: the session was taken or lost. Drop the connection;
        paho reconnects and on_connect subscribes again."""
        self.hub.stats["mqtt_ok"] = 0
        self.hub.stats["mqtt_lost"] += 1
        log.error(
            "no heartbeat back through the MQTT broker for %.0f s: the hub's session (client "
            "id %r) was taken over or lost; reconnecting and subscribing again",
            silent,
            self.client_id,
        )
        sock = self._client.socket()
        if isinstance(sock, socket.socket):  # TLS sockets too; never a websocket here
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._handling_since = time.monotonic()
        try:
            self._handle(client, msg)
        finally:
            self._handling_since = None

    def _handle(self, client: mqtt.Client, msg: mqtt.MQTTMessage) -> None:
        received = time.time()
        if msg.topic == self._heartbeat_topic:
            self._heartbeat_seen(msg.payload)
            client.ack(msg.mid, msg.qos)
            return
        parts = self.topics.split(msg.topic)
        if msg.topic == self.made_topic:
            self._on_made(msg, received)
            return  # acknowledged once live and queued
        if msg.topic == self.made_ack_topic:
            with contextlib.suppress(WireError):
                self._call_soon(self.made.acked, list(Ack.decode(msg.payload).seqs))
            client.ack(msg.mid, msg.qos)
            return
        if parts is None or parts[0] == "hub":
            client.ack(msg.mid, msg.qos)
            return
        agent, kind = parts
        if not self.guard.allow_message(agent):
            # Over the agent's rate: PUBACK only. A data batch is not acknowledged to the
            # agent, so it stays in its spool and comes again; nothing is lost.
            self._log.warning(agent, "agent %s is over its message rate; dropping", agent)
            client.ack(msg.mid, msg.qos)
            return
        try:
            if kind == "data":
                self._on_data(agent, msg, received)
                return  # acknowledged once live and queued
            if kind == "status":
                if msg.payload:  # empty: a cleared retained message
                    self._call_soon(self._on_status, agent, self.guard.status(agent, msg.payload))
            elif kind == "cmd/result":
                self._call_soon(self._on_cmd_result, self.guard.cmd_result(msg.payload))
            elif kind == "event" and self.role == "live":  # an ingest hub stores it
                self._call_soon(self.hub.announce, self._event(agent, msg.payload, received))
            elif kind == "event":
                self._call_soon(self.hub.add_event, self._event(agent, msg.payload, received))
        except WireError as exc:
            self._reject(msg, str(exc), received, ack=False)
        except Exception:
            log.exception("failed to handle %s", msg.topic)
        client.ack(msg.mid, msg.qos)

    def _on_data(self, agent: str, msg: mqtt.MQTTMessage, received: float) -> None:
        try:
            batch = decode_batch(msg.payload, expected_agent=agent)
        except WireError as exc:
            self._reject(msg, str(exc), received)
            return
        reason = self.guard.check_batch(agent, batch)
        if reason is not None:
            self._reject(msg, reason, received)
            return
        jump = self.guard.seq_jump(agent, batch.seq)
        if jump:
            self._log.warning(
                f"{agent} seq",
                "agent %s jumped %d seqs ahead to %d: a new spool, or someone publishing as it",
                agent,
                jump,
                batch.seq,
            )
        if batch.refused:  # kept raw with the reasons; the batch's good series go on
            self._reject(msg, refused_reason(batch), received, ack=False)
        job = Job(
            kind="batch",
            batch=self.guard.own_events(agent, batch),
            received_at=received,
            token=(msg.mid, msg.qos),
        )
        self.hub.receive(job, self._puback(msg))

    def _on_made(self, msg: mqtt.MQTTMessage, received: float) -> None:
        """A live hub's batch (its websocket writes, scripts' data, the engine's events)."""
        try:
            batch = decode_batch(msg.payload, expected_agent=LOCAL_AGENT)
        except WireError as exc:
            self._reject(msg, str(exc), received)
            return
        if self.role == "live" and not self.hub.own_seq(batch.seq):  # kept until stored:
            # a new leader sends it again
            self._call_soon(self.made.watch, batch.seq, bytes(msg.payload))
        job = Job(kind="batch", batch=batch, received_at=received, token=(msg.mid, msg.qos))
        self.hub.receive(job, self._puback(msg))

    def publish_made(self, batch: Batch) -> mqtt.MQTTMessageInfo:
        """Publish a hub-made batch (QoS 1; paho keeps it while the broker is away); the
        answer's `is_published()` says when the broker has it. Split when too big."""
        payload = batch.encode()
        if len(payload) > MAX_BATCH_BYTES and len(batch.signals) > 1:
            half = len(batch.signals) // 2
            rest = Batch(batch.agent, self.hub.next_local_seq(), batch.signals[half:])
            self.hub.relay_batch(rest)
            batch = Batch(batch.agent, batch.seq, batch.signals[:half], events=batch.events)
            return self.publish_made(batch)
        info: mqtt.MQTTMessageInfo = self.made.send(batch.seq, payload)
        return info

    def _puback(self, msg: mqtt.MQTTMessage) -> Callable[[], None]:
        mid, qos = msg.mid, msg.qos

        def puback() -> None:
            self._client.ack(mid, qos)

        return puback

    def _event(self, agent: str, payload: bytes | bytearray, received: float) -> EventRecord:
        return self.guard.event(agent, payload, received)

    def _reject(
        self, msg: mqtt.MQTTMessage, reason: str, received: float, ack: bool = True
    ) -> None:
        """Keep a refused message with its reason; a data message is PUBACKed once queued."""
        agent = (self.topics.split(msg.topic) or ("?", ""))[0]
        self._log.warning(
            agent, "refused message on %s (%d bytes): %s", msg.topic, len(msg.payload), reason
        )
        job = Job(
            kind="rejected",
            topic=msg.topic,
            payload=bytes(msg.payload),
            reason=reason,
            received_at=received,
            token=(msg.mid, msg.qos) if ack else None,  # acked on its own, or with the batch
        )
        self.hub.receive(job, self._puback(msg) if ack else _nothing)

    # -- writer thread ---------------------------------------------------------------------
    def _committed(self, outcome: Outcome) -> None:
        """Acknowledge to the agent after commit (or after keeping a refused batch raw)."""
        job = outcome.job
        if job.token is None or outcome.error is not None:
            return  # local data, or a write that failed: not acknowledged, will come again
        if isinstance(outcome.rejected, SeqConflict) and job.batch is not None:
            self.hub.stats["seq_conflicts"] += 1
            self._log.warning(job.batch.agent, "agent %s: %s", job.batch.agent, outcome.rejected)
        if job.kind == "batch" and job.batch is not None and job.batch.agent == LOCAL_AGENT:
            self._client.publish(self.made_ack_topic, Ack((job.batch.seq,)).encode(), qos=1)
        elif job.kind == "batch" and job.batch is not None:
            self._client.publish(
                self.topics.ack(job.batch.agent), Ack((job.batch.seq,)).encode(), qos=1
            )

    # -- hub state -------------------------------------------------------------------------
    async def _watch_state(self) -> None:
        """Publish the hub state when the store goes down or up, and the queue every 2 s."""
        while True:
            await asyncio.sleep(STATE_POLL_S)
            state = self.hub.store_state()
            last = self._state
            if not self.connected or last is None:
                continue
            changed = state["store"] != last["store"]
            moved = state["queue"] != last["queue"]
            if changed or (moved and time.monotonic() - self._state_at >= STATE_EVERY_S):
                if changed:
                    log.warning("store is %s: agents told", state["store"])
                self._publish_state(self._client, state)

    def _publish_state(self, client: mqtt.Client, state: dict[str, Any]) -> None:
        self._state, self._state_at = state, time.monotonic()
        online = HubState(
            "online", store=state["store"], queue=state["queue"], queue_max=state["queue_max"]
        )
        client.publish(self.topics.hub_state, online.encode(), qos=1, retain=True)

    # -- event loop ------------------------------------------------------------------------
    def _call_soon(self, fn: Any, *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, *args)

    def _on_status(self, agent: str, status: AgentStatus) -> None:
        self.hub.agents.update_status(agent, status)

    def _on_cmd_result(self, result: CommandResult) -> None:
        fut = self._pending_cmds.pop(str(result.id), None)
        if fut is not None and not fut.done():
            fut.set_result(result)

    async def send_command(self, agent: str, cmd: Command, timeout: float) -> CommandResult:
        """Publish a command and wait for its result (or a timeout error)."""
        if not self.connected:
            return CommandResult.failure("hub is not connected to the MQTT broker")
        cmd_id = uuid.uuid4().hex[:12]
        fut: asyncio.Future[CommandResult] = asyncio.get_running_loop().create_future()
        self._pending_cmds[cmd_id] = fut
        self._client.publish(self.topics.cmd(agent), replace(cmd, id=cmd_id).encode(), qos=1)
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            return CommandResult.failure(f"agent {agent!r} did not answer in {timeout}s", cmd_id)
        finally:
            self._pending_cmds.pop(cmd_id, None)
