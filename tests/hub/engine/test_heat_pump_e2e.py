"""Heat pump end to end: Modbus TCP simulator → agent → MQTT → hub engine → agent → register.

A websocket client defines the event and the action (RTOC's `automation` request), the
simulator's temperature rises, the event is stored and pushed to the client, and the
action writes the mode register on the simulator through the agent.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from hub.bootstrap import running_hub
from hub.client import OpenControlClient
from rigs import procs
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for
from tests.hub.conftest import make_hub_config

AGENT = """\
[agent]
id = "heatpump-pi"
spool_path = "{spool}"
batch_max_samples = 5
batch_max_age = 0.1
ack_timeout = 2.0
status_interval = 1.0

[mqtt]
host = "127.0.0.1"
port = {port}
prefix = "{prefix}"
reconnect_min = 0.1
reconnect_max = 1.0

[devices.Pump]
driver = "modbus"
samplerate = 20
[devices.Pump.params]
transport = "tcp"
host = "127.0.0.1"
tcp_port = {modbus_port}
unit = 1
timeout = 1.0
[[devices.Pump.registers]]
name = "Temperature"
address = 0
function = "input"
type = "int16"
scale = 0.1
unit = "°C"
[[devices.Pump.registers]]
name = "Mode"
address = 10
type = "int16"
writable = true
"""


async def test_heat_pump_scenario(tmp_path: Path, mosquitto: Mosquitto, prefix: str, tcp_rig):
    bank = tcp_rig.bank
    bank.set(1, "input", 0, [550])  # 55.0 °C
    bank.set(1, "holding", 10, [1])  # mode 1
    config = make_hub_config(tmp_path, mosquitto, prefix, websocket={"enabled": True})
    async with running_hub(config) as hub:
        await async_wait_for(lambda: hub.ingest.subscribed, what="hub subscribed")
        assert hub.engine is not None
        url = f"ws://127.0.0.1:{config['websocket']['port']}"
        async with OpenControlClient(url) as client:
            answer = await client.request(
                automation={
                    "setEvent": {
                        "name": "buffer hot",
                        "cond": "Pump.Temperature.latest > 60",
                        "text": "Buffer above 60 °C",
                        "priority": 1,
                        "retur": None,
                        "id": "hot",
                        "trigger": "rising",
                        "sname": "Temperature",
                        "dname": "Pump",
                        "active": True,
                    },
                    "setAction": {
                        "name": "mode 2",
                        "listenID": ["hot"],
                        "script": "Pump.write('Mode', 2)\nprint('mode set')",
                        "parameters": "",
                        "active": True,
                    },
                }
            )
            auto = answer["automation"]
            assert auto["setEvent"] is True and auto["setAction"] is True, auto
            cfg = tmp_path / "agent.toml"
            cfg.write_text(
                AGENT.format(
                    spool=tmp_path / "spool.sqlite",
                    port=mosquitto.port,
                    prefix=prefix,
                    modbus_port=tcp_rig.port,
                )
            )
            agent = procs.start("edge_agent", cfg, tmp_path / "agent.log")
            try:
                await async_wait_for(
                    lambda: "Pump.Temperature" in hub.signals, timeout=20, what="temperature"
                )
                await async_wait_for(
                    lambda: hub.agents.device_owner("Pump") is not None, what="agent status"
                )
                assert hub.signals.get("Pump.Temperature").latest()[1] == 55.0
                assert hub.engine.stats.events_fired == 0
                bank.set(1, "input", 0, [615])  # 61.5 °C: the event must fire once
                push = None
                while push is None or "event" not in push:
                    push = await client.next_push(timeout=15)
                ev = push["event"]
                assert ev["text"] == "Buffer above 60 °C" and ev["id"] == "hot"
                assert ev["priority"] == 1 and ev["dname"] == "Pump"
                await async_wait_for(
                    lambda: bank.get(1, "holding", 10) == [2], timeout=15, what="mode register"
                )
                await hub.engine.wait_idle()
                last = hub.engine.actions.actions["mode 2"].state.last
                assert last.ok and last.output == "mode set\n"

                async def stored_hot() -> list:
                    events = await hub.run_store(partial(hub.store.events, limit=100))
                    return [e for e in events if e.event_id == "hot"]

                stored = await async_wait_for(stored_hot, timeout=10, what="event stored")
                assert len(stored) == 1 and stored[0].value == 61.5
                assert hub.engine.stats.events_fired == 1
            finally:
                assert procs.stop(agent) == 0, (tmp_path / "agent.log").read_text()[-2000:]
        await hub.engine.stop()
