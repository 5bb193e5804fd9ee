"""Home Assistant bridge: discovery configs, state and commands over the hub's MQTT broker.

It has an MQTT connection of its own (so ingest's persistent session is untouched) with a
last will that marks every entity unavailable when the hub goes away. On each agent change
it publishes that agent's discovery configs (retained, only those that changed), clears the
configs of entities that disappeared (an empty retained payload: Home Assistant removes
them), and publishes the agent's availability and parameter values. Every
`state_interval` it publishes the latest value of each signal. A command from Home
Assistant is checked against `[homeassistant] permission` (setting parameters and calling
functions need `write`, as for any websocket client), sent to the agent through
`Hub.send_command`, and its result published as the device's "last command" state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import paho.mqtt.client as mqtt

from hub.process import HubProcess

from .alerts import jsonable
from .ha_discovery import Command, Entity, HaTopics, agent_entities, parse_command

log = logging.getLogger(__name__)

WRITE = ("write", "admin")


def _version() -> str:
    try:
        return version("opencontrol")
    except PackageNotFoundError:
        return "0"


class HomeAssistantBridge:
    """Publishes an installation to Home Assistant and carries its commands to the agents."""

    def __init__(self, *, hub: HubProcess, host: str, port: int, config: dict[str, Any]) -> None:
        self.hub = hub
        self.host, self.port = host, port
        self.permission = config["permission"]
        self.state_interval = config["state_interval"]
        self.topics = HaTopics(
            prefix=hub.config["mqtt"]["prefix"],
            discovery_prefix=config["discovery_prefix"],
            hub_id=hub.config["hub"]["id"],
        )
        self.connected = False
        self.stats = {"configs": 0, "removed": 0, "commands": 0, "refused": 0}
        self._published: dict[str, str] = {}  # config topic -> payload last published
        self._by_agent: dict[str, set[str]] = {}
        self._found: dict[str, set[str]] = {}  # node -> retained configs of an earlier run
        self._commands: dict[str, Command] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._sw = _version()
        mqtt_cfg = hub.config["mqtt"]
        self._client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"{hub.config['hub']['id']}-ha"
        )
        own = hub.ingest.credentials if hub.ingest is not None else None
        if own is not None:  # the embedded broker: the hub's own user, made at start
            self._client.username_pw_set(*own)
        elif mqtt_cfg["username"]:
            self._client.username_pw_set(mqtt_cfg["username"], mqtt_cfg["password"] or None)
        if mqtt_cfg["tls_ca"]:
            self._client.tls_set(ca_certs=mqtt_cfg["tls_ca"], cert_reqs=ssl.CERT_REQUIRED)
        # paho annotates the delays as int; it sleeps fractions of a second just as well
        self._client.reconnect_delay_set(0.2, 10)  # type: ignore[arg-type]
        self._client.will_set(self.topics.availability, b"offline", qos=1, retain=True)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    @property
    def may_write(self) -> bool:
        return self.permission in WRITE

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect in the background and follow the agent directory."""
        self._loop = asyncio.get_running_loop()
        self.hub.agents.on_change.append(self._agent_changed)
        self._client.connect_async(self.host, self.port, keepalive=30)
        self._client.loop_start()
        self._task = self._loop.create_task(self._states(), name="ha-states")

    async def stop(self) -> None:
        """Mark everything unavailable (configs stay: the entities come back with the hub)."""
        if self._agent_changed in self.hub.agents.on_change:
            self.hub.agents.on_change.remove(self._agent_changed)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.connected:
            info = self._client.publish(self.topics.availability, b"offline", qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                await asyncio.to_thread(info.wait_for_publish, 2.0)
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)

    # -- paho callbacks (network thread) ---------------------------------------------------
    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        if rc.is_failure:
            log.error("Home Assistant bridge: broker %s:%d refused: %s", self.host, self.port, rc)
            return
        self.connected = True
        topics = [*self.topics.commands, self.topics.ha_status, self.topics.configs]
        client.subscribe([(t, 1) for t in topics])
        client.publish(self.topics.availability, b"online", qos=1, retain=True)
        self._call_soon(self.publish_all)

    def _on_disconnect(self, *_: Any) -> None:
        self.connected = False

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == self.topics.ha_status:
            if msg.payload == b"online":  # Home Assistant restarted: tell it everything again
                self._call_soon(self.publish_all, True)
            return
        if msg.topic.startswith(self.topics.discovery + "/"):
            if msg.retain and msg.payload:
                self._call_soon(self._seen_config, msg.topic)
            return
        self._call_soon(self._command, msg.topic, bytes(msg.payload))

    def _call_soon(self, fn: Any, *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, *args)

    # -- discovery -------------------------------------------------------------------------
    def publish_all(self, force: bool = False) -> None:
        """Publish every agent's configs, availability and parameters."""
        if force:
            self._published.clear()
        for agent in self.hub.agents.all():
            self._agent_changed(agent)

    def _seen_config(self, topic: str) -> None:
        """A retained config on the broker: if it is one of ours that this run has not
        published (the hub restarted meanwhile), remember it so that a device removed
        while the hub was away is removed from Home Assistant too."""
        node = topic.split("/")[-3]
        if not node.startswith(self.topics.hub + "_") or topic in self._published:
            return
        self._found.setdefault(node, set()).add(topic)
        for agent in self.hub.agents.all():
            if self.topics.node(agent) == node:
                self._agent_changed(agent)

    def _agent_changed(self, agent: str) -> None:
        info = self.hub.agents.get(agent)
        if info is None or not self.connected:
            return
        found = self._found.pop(self.topics.node(agent), set())
        self._by_agent[agent] = self._by_agent.get(agent, set()) | found
        # The devices as last announced: an offline message (the last will) lists none, and
        # an agent going offline must not remove its entities, only make them unavailable.
        status = {"version": info.version, "devices": info.devices}
        entities = agent_entities(
            self.topics, agent, status, commands=self.may_write, origin_sw=self._sw
        )
        self._publish_configs(agent, entities)
        self._pub(self.topics.agent_availability(agent), "online" if info.online else "offline")
        for device, desc in info.devices.items():
            params = {
                p["name"]: jsonable(p.get("value"))
                for p in desc.get("params") or []
                if isinstance(p, dict) and isinstance(p.get("name"), str)
            }
            if params:
                self._pub(self.topics.device_topic(agent, device, "params"), json.dumps(params))

    def _publish_configs(self, agent: str, entities: list[Entity]) -> None:
        wanted = {e.topic for e in entities}
        for e in entities:
            payload = json.dumps(e.config, sort_keys=True)
            if self._published.get(e.topic) != payload:
                self._pub(e.topic, payload)
                self._published[e.topic] = payload
                self.stats["configs"] += 1
            if e.command is not None:
                self._commands[e.config["command_topic"]] = e.command
        for gone in self._by_agent.get(agent, set()) - wanted:
            self._pub(gone, "")  # an empty retained config removes the entity
            self._published.pop(gone, None)
            self.stats["removed"] += 1
        keep = {e.config.get("command_topic") for e in entities}
        for topic in [t for t, c in self._commands.items() if c.agent == agent]:
            if topic not in keep:
                del self._commands[topic]
        self._by_agent[agent] = wanted

    def _pub(self, topic: str, payload: str, retain: bool = True) -> None:
        self._client.publish(topic, payload.encode(), qos=1, retain=retain)

    # -- state -----------------------------------------------------------------------------
    async def _states(self) -> None:
        while True:
            try:
                self.publish_states()
            except Exception:
                log.exception("Home Assistant bridge: publishing states failed")
            await asyncio.sleep(self.state_interval)

    def publish_states(self) -> None:
        """The latest value of every announced signal, one JSON object per device.

        A signal without data yet is null (Home Assistant shows it as unknown): a missing
        key would make its value template warn at every update.
        """
        if not self.connected:
            return
        for agent, info in self.hub.agents.all().items():
            for device, desc in info.devices.items():
                values: dict[str, float | None] = {}
                for s in desc.get("signals") or []:
                    if not isinstance(s, dict) or not isinstance(s.get("name"), str):
                        continue
                    sig = self.hub.signals.find(device, s["name"])
                    last = sig.latest() if sig is not None else None
                    values[s["name"]] = jsonable(last[1]) if last is not None else None
                if any(v is not None for v in values.values()):
                    topic = self.topics.device_topic(agent, device, "state")
                    self._pub(topic, json.dumps(values), retain=False)

    # -- commands --------------------------------------------------------------------------
    def _command(self, topic: str, payload: bytes) -> None:
        cmd = self._commands.get(topic)
        if cmd is None:
            log.warning("Home Assistant sent a command to an unknown entity: %s", topic)
            return
        self.stats["commands"] += 1
        if not self.may_write:
            self.stats["refused"] += 1
            self._result(cmd, {"ok": False, "error": f"permission: {cmd.op} needs write"})
            return
        try:
            value = parse_command(cmd, payload.decode("utf-8", "replace"))
        except ValueError as exc:
            self.stats["refused"] += 1
            self._result(cmd, {"ok": False, "error": f"{cmd.name}: {exc}"})
            return
        args = value if cmd.op == "set" else []
        assert self._loop is not None
        self._loop.create_task(self._send(cmd, args), name=f"ha-{cmd.op}-{cmd.name}")

    async def _send(self, cmd: Command, args: Any) -> None:
        result = await self.hub.send_command(cmd.device, cmd.op, cmd.name, args)
        self._result(cmd, result)

    def _result(self, cmd: Command, result: dict[str, Any]) -> None:
        ok = bool(result.get("ok"))
        text = (f"{cmd.name}: ok" if ok else f"{cmd.name}: {result.get('error', 'failed')}")[:250]
        body = {"text": text, "ok": ok, "op": cmd.op, "name": cmd.name}
        if ok and "result" in result:
            body["result"] = jsonable(result["result"])
        self._pub(self.topics.device_topic(cmd.agent, cmd.device, "result"), json.dumps(body))
