"""Home Assistant bridge on a real broker with a real agent: discovery configs, state,
commands through the hub to the agent, availability, and removal of entities."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from hub.bootstrap import running_hub
from tests.fixtures.agents import generator_agent
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for
from tests.hub.conftest import Peer, make_hub_config


class Observer:
    """Subscribes like Home Assistant would and keeps the last payload of every topic."""

    def __init__(self, port: int, *topics: str) -> None:
        self.last: dict[str, bytes] = {}
        self.retained: dict[str, bool] = {}
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        ready = threading.Event()
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([(t, 1) for t in topics])
        self.client.loop_start()
        assert ready.wait(10)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.last[msg.topic] = bytes(msg.payload)
            self.retained[msg.topic] = bool(msg.retain)

    def json(self, topic: str) -> Any:
        with self.lock:
            raw = self.last.get(topic)
        return json.loads(raw) if raw else None

    def configs(self, component: str) -> dict[str, dict[str, Any]]:
        """Non-empty discovery configs of one component, by unique_id."""
        with self.lock:
            items = list(self.last.items())
        out = {}
        for topic, raw in items:
            if topic.split("/")[1:2] == [component] and topic.endswith("/config") and raw:
                cfg = json.loads(raw)
                out[cfg["unique_id"]] = cfg
        return out

    def publish(self, topic: str, payload: str) -> None:
        self.client.publish(topic, payload.encode(), qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def ha_prefix(prefix: str) -> str:
    return f"{prefix}-ha"


@pytest.fixture
def observer(mosquitto: Mosquitto, prefix: str, ha_prefix: str) -> Iterator[Observer]:
    o = Observer(mosquitto.port, f"{ha_prefix}/#", f"{prefix}/hub/ha/#")
    yield o
    o.close()


def param_value(hub: Any, device: str, name: str) -> Any:
    desc = hub.agents.device(device) or {}
    for p in desc.get("params") or []:
        if p.get("name") == name:
            return p.get("value")
    return None


async def test_agent_appears_as_a_device_and_takes_commands(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str, ha_prefix: str, observer: Observer
) -> None:
    ha = {"enabled": True, "discovery_prefix": ha_prefix, "state_interval": 0.2}
    cfg = make_hub_config(tmp_path, mosquitto, prefix, homeassistant=ha)
    async with running_hub(cfg) as hub:
        await async_wait_for(lambda: hub.ingest.subscribed, what="hub subscribed")
        with generator_agent(
            tmp_path, port=mosquitto.port, prefix=prefix, agent_id="pi1", device="Gen"
        ):
            sensors = await async_wait_for(
                lambda: len(observer.configs("sensor")) >= 7 and observer.configs("sensor"),
                what="sensor configs",
            )
            node = f"{hub.homeassistant.topics.hub}_pi1"
            square = sensors[f"{node}_Gen_Square"]
            assert square["device"]["identifiers"] == [f"opencontrol_{node}"]
            assert square["device"]["name"] == "pi1" and square["state_class"] == "measurement"
            assert square["availability_mode"] == "all"
            avail = [a["topic"] for a in square["availability"]]
            assert avail == [f"{prefix}/hub/ha/availability", f"{prefix}/hub/ha/pi1/availability"]
            await async_wait_for(
                lambda: all(observer.last.get(t) == b"online" for t in avail), what="available"
            )
            state = await async_wait_for(
                lambda: observer.json(square["state_topic"]), what="sensor state"
            )
            assert isinstance(state["Square"], float)
            # every announced signal has its key (null until it has data): no template warns
            assert set(state) == {"Square", "Sawtooth", "Random", "Sinus", "AC", "DC"}

            numbers = observer.configs("number")
            freq = numbers[f"{node}_Gen_param_gen_freq"]
            assert freq["mode"] == "box" and freq["step"] == 0.001
            (select,) = observer.configs("select").values()
            assert select["options"] == ["Square", "Sawtooth", "Random", "Sinus", "AC", "DC", "all"]
            buttons = observer.configs("button")
            assert set(buttons) == {f"{node}_Gen_fn_changeType"}  # setFrequency needs an arg

            observer.publish(freq["command_topic"], "2.5")
            await async_wait_for(lambda: param_value(hub, "Gen", "gen_freq") == 2.5, what="set")
            await async_wait_for(
                lambda: (observer.json(freq["state_topic"]) or {}).get("gen_freq") == 2.5,
                what="param state",
            )
            result_topic = f"{prefix}/hub/ha/pi1/Gen/result"
            assert observer.json(result_topic)["ok"] is True

            observer.publish(select["command_topic"], "Sinus")
            await async_wait_for(lambda: param_value(hub, "Gen", "waveform") == "Sinus", what="sel")

            observer.publish(freq["command_topic"], "nan")
            await async_wait_for(
                lambda: (observer.json(result_topic) or {}).get("ok") is False, what="refused"
            )
            assert "finite" in observer.json(result_topic)["text"]
            assert param_value(hub, "Gen", "gen_freq") == 2.5  # nothing else changed

            observer.publish(buttons[f"{node}_Gen_fn_changeType"]["command_topic"], "PRESS")
            await async_wait_for(
                lambda: (
                    observer.json(result_topic)["name"] == "changeType"
                    and observer.json(result_topic)["ok"]
                ),
                what="button result",
            )
        await async_wait_for(
            lambda: observer.last.get(f"{prefix}/hub/ha/pi1/availability") == b"offline",
            what="agent offline",
        )
        assert len(observer.configs("sensor")) == 7  # unavailable, not removed
        assert hub.homeassistant.stats["removed"] == 0
    assert observer.last.get(f"{prefix}/hub/ha/availability") == b"offline"


def status(devices: dict[str, Any]) -> bytes:
    return json.dumps({"state": "online", "agent": "a1", "devices": devices}).encode()


RELAY = {
    "signals": [{"name": "Power", "unit": "W"}, {"name": "Energy", "unit": "kWh"}],
    "params": [
        {"name": "on", "type": "bool", "value": True, "writable": True},
        {"name": "label", "type": "str", "value": "x", "writable": True},
        {"name": "serial", "type": "str", "value": "s", "writable": False},
    ],
    "functions": [{"name": "reset", "args": []}],
}


async def test_removing_a_device_removes_its_entities_and_read_only_has_no_commands(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str, ha_prefix: str, observer: Observer
) -> None:
    ha = {"enabled": True, "discovery_prefix": ha_prefix, "permission": "read"}
    cfg = make_hub_config(tmp_path, mosquitto, prefix, homeassistant=ha)
    peer = Peer(mosquitto.port, prefix)
    try:
        async with running_hub(cfg) as hub:
            await async_wait_for(
                lambda: hub.homeassistant.connected and hub.ingest.subscribed,
                what="bridge connected, hub subscribed (the peer's status is not retained)",
            )
            peer.publish(
                status({"Relay": RELAY, "Meter": {"signals": [{"name": "T", "unit": "°C"}]}}),
                kind="status",
            )
            sensors = await async_wait_for(
                lambda: len(observer.configs("sensor")) == 3 and observer.configs("sensor"),
                what="three sensors",
            )
            by_name = {c["name"]: c for c in sensors.values()}
            assert by_name["Relay Power"]["device_class"] == "power"
            assert by_name["Relay Energy"]["state_class"] == "total_increasing"
            assert by_name["Meter T"]["device_class"] == "temperature"
            for component in ("number", "select", "switch", "text", "button"):
                assert observer.configs(component) == {}  # read: no command entities
            meter_topic = next(t for t, raw in observer.last.items() if raw and b'"Meter T"' in raw)
            peer.publish(status({"Relay": RELAY}), kind="status")
            await async_wait_for(lambda: observer.last.get(meter_topic) == b"", what="removed")
            assert len(observer.configs("sensor")) == 2
            assert hub.homeassistant.stats["removed"] == 1
    finally:
        peer.close()
    # a newcomer (Home Assistant starting later) sees no config of the removed device
    late = Observer(mosquitto.port, f"{ha_prefix}/#")
    try:
        await async_wait_for(lambda: len(late.configs("sensor")) == 2, what="retained configs")
        assert meter_topic not in late.last
    finally:
        late.close()


async def test_write_permission_gives_switch_text_and_button(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str, ha_prefix: str, observer: Observer
) -> None:
    ha = {"enabled": True, "discovery_prefix": ha_prefix}
    cfg = make_hub_config(tmp_path, mosquitto, prefix, homeassistant=ha)
    peer = Peer(mosquitto.port, prefix)
    try:
        async with running_hub(cfg) as hub:
            await async_wait_for(
                lambda: hub.homeassistant.connected and hub.ingest.subscribed,
                what="bridge connected, hub subscribed (the peer's status is not retained)",
            )
            peer.publish(status({"Relay": RELAY}), kind="status")
            switch = await async_wait_for(
                lambda: observer.configs("button") and observer.configs("switch"),
                what="switch and button configs",
            )
            (sw,) = switch.values()
            assert sw["payload_on"] == "ON" and "value_json" in sw["value_template"]
            assert len(observer.configs("text")) == 1  # 'serial' is not writable
            assert len(observer.configs("button")) == 1
            params = await async_wait_for(lambda: observer.json(sw["state_topic"]), what="params")
            assert params == {"on": True, "label": "x", "serial": "s"}
            # the agent does not answer (a plain peer): the result says so, nothing hangs
            observer.publish(sw["command_topic"], "OFF")
            result = await async_wait_for(
                lambda: observer.json(f"{prefix}/hub/ha/a1/Relay/result"), timeout=20, what="res"
            )
            assert result["ok"] is False and "did not answer" in result["text"]
            observer.publish(sw["command_topic"], "MAYBE")
            await async_wait_for(
                lambda: "ON or OFF" in observer.json(f"{prefix}/hub/ha/a1/Relay/result")["text"],
                what="bad payload refused",
            )
    finally:
        peer.close()


async def test_a_device_removed_while_the_hub_was_away_is_removed_after_its_restart(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str, ha_prefix: str, observer: Observer
) -> None:
    ha = {"enabled": True, "discovery_prefix": ha_prefix, "permission": "read"}
    cfg = make_hub_config(tmp_path, mosquitto, prefix, homeassistant=ha)
    meter = {"signals": [{"name": "T", "unit": "°C"}]}
    peer = Peer(mosquitto.port, prefix)
    try:
        async with running_hub(cfg) as hub:
            await async_wait_for(
                lambda: hub.homeassistant.connected and hub.ingest.subscribed, what="ready"
            )
            peer.publish(status({"Relay": RELAY, "Meter": meter}), kind="status")
            await async_wait_for(lambda: len(observer.configs("sensor")) == 3, what="3 sensors")
        # the hub is away; the agent restarts without Meter; the hub comes back
        async with running_hub(cfg) as hub:
            await async_wait_for(
                lambda: hub.homeassistant.connected and hub.ingest.subscribed, what="ready"
            )
            peer.publish(status({"Relay": RELAY}), kind="status")
            await async_wait_for(
                lambda: len(observer.configs("sensor")) == 2, what="Meter's sensor removed"
            )
            assert hub.homeassistant.stats["removed"] == 1
            assert {c["name"] for c in observer.configs("sensor").values()} == {
                "Relay Power",
                "Relay Energy",
            }
    finally:
        peer.close()
