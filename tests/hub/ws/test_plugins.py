"""Plugins are the agents' devices: getPluginList from birth messages, plugin calls routed
over MQTT to a real edge agent (generator driver), pluginList pushes on status changes."""

from __future__ import annotations

from edge_agent.agent import Agent
from hub.app import Hub
from hub.ws.server import WebsocketServer
from tests.fixtures.net import async_wait_for


async def _agent_known(hub: Hub) -> None:
    await async_wait_for(
        lambda: (
            hub.agents.device_owner("Gen") == "pi-test"
            and hub.agents.get("pi-test").online
            and (hub.agents.device("Gen") or {}).get("running")
        ),
        what="agent status at the hub",
    )


async def test_plugin_list_shape(server: WebsocketServer, hub: Hub, agent: Agent, raw) -> None:
    await _agent_known(hub)
    r = await raw(server.url, authorize=True)
    _, resp = await r.request({"getPluginList": True})
    gen = resp["pluginList"]["Gen"]
    assert set(gen) == {"functions", "parameters", "status", "autorun", "info", "log"}
    assert gen["status"] is True and gen["autorun"] is True and gen["log"] is None
    fns = {f[0]: f for f in gen["functions"]}
    assert fns["setFrequency"] == [
        "setFrequency",
        ["freq", "inverse"],
        2,
        ["self", "freq", "inverse"],
        [False],
        "Set the frequency (1/s); inverse=true takes a period in seconds instead.",
        "(freq: float, inverse: bool = False)",
    ]
    params = {p[0]: p for p in gen["parameters"]}
    assert params["gen_freq"] == ["gen_freq", 1.0, "Frequency of selected signal"]
    assert params["samplerate"][1] == 5.0
    assert "pi-test" in gen["info"]


async def test_plugin_calls_reach_the_agent(
    server: WebsocketServer, hub: Hub, agent: Agent, raw
) -> None:
    await _agent_known(hub)
    r = await raw(server.url, authorize=True)
    pushes, resp = await r.request(
        {"plugin": {"Gen": {"setFrequency()": [4.0], "get": ["gen_freq", "waveform"]}}},
        timeout=10,
    )
    assert any("pluginList" in p for p in pushes)  # pushed before the answer, as RTOC
    assert resp["plugin"] == {"Gen": {"setFrequency()": [True, 4.0], "get": [4.0, "Square"]}}

    # set a parameter; the agent republishes status and every client gets a pluginList push
    def shows_new_level(m: dict) -> bool:
        return (
            "pluginList" in m
            and ["gen_level", 2.5, "Amplitude of selected signal"]
            in m["pluginList"]["Gen"]["parameters"]
        )

    pushes, resp = await r.request({"plugin": {"Gen": {"gen_level": 2.5}}}, timeout=10)
    assert resp["plugin"] == {"Gen": {"gen_level": 2.5}}
    # the agent's new status may be pushed before or after the answer
    if not any(shows_new_level(p) for p in pushes):
        assert await r.recv_until(shows_new_level, timeout=10)
    # errors from the agent come back as [false, reason]; the other calls still run
    _, resp = await r.request(
        {"plugin": {"Gen": {"noSuch()": [], "gen_freq": -1, "get": "gen_level"}}}, timeout=10
    )
    res = resp["plugin"]["Gen"]
    assert res["noSuch()"][0] is False and "noSuch" in res["noSuch()"][1]
    assert res["gen_freq"][0] is False
    assert res["get"] == 2.5
    # unknown device
    _, resp = await r.request({"plugin": {"Nope": {"start": True}}})
    assert resp["plugin"] == {"Nope": {"start": [False, "unknown device 'Nope'"]}}


async def test_stop_and_start(server: WebsocketServer, hub: Hub, agent: Agent, raw) -> None:
    await _agent_known(hub)
    r = await raw(server.url, authorize=True)
    _, resp = await r.request({"plugin": {"Gen": {"start": False}}}, timeout=10)
    assert resp["plugin"] == {"Gen": {"start": True}}
    await r.recv_until(
        lambda m: "pluginList" in m and m["pluginList"]["Gen"]["status"] is False, timeout=10
    )
    _, resp = await r.request({"plugin": {"Gen": {"start": True}}}, timeout=10)
    assert resp["plugin"] == {"Gen": {"start": [True, ""]}}


async def test_read_only_client_cannot_call(ws_factory, hub: Hub, agent: Agent, raw) -> None:
    server = await ws_factory(password_permission="read")
    await _agent_known(hub)
    r = await raw(server.url, authorize=True)
    _, resp = await r.request({"plugin": {"Gen": {"gen_level": 9}}})
    assert resp == {
        "error": True,
        "reason": "permission: 'plugin' needs write, this client has read",
    }
    _, resp = await r.request({"plugin": {"Gen": {"get": "gen_level"}}, "getSignalList": True})
    assert resp["error"] is True  # nothing of a refused request runs
    _, resp = await r.request({"getPluginList": True})
    params = {p[0]: p[1] for p in resp["pluginList"]["Gen"]["parameters"]}
    assert params["gen_level"] == 1.0  # unchanged


async def test_websocket_data_cannot_overwrite_an_agents_device(
    server: WebsocketServer, hub: Hub, agent: Agent, raw
) -> None:
    await _agent_known(hub)
    await async_wait_for(lambda: "Gen.Square" in hub.signals, what="agent data")
    r = await raw(server.url, authorize=True)
    for req in (
        {"y": [99.0], "sname": ["Square"], "dname": "Gen", "x": [1.0]},
        {"y": [99.0], "x": [1.0], "sname": "Square", "dname": "Gen", "plot": True},
    ):
        _, resp = await r.request(req)
        assert resp["reason"].startswith("device 'Gen' belongs to agent 'pi-test'")
    assert 99.0 not in hub.signals.get("Gen.Square").buffer.arrays()[1]
    # events about an agent's signal are fine (annotations)
    _, resp = await r.request({"event": ["note", "Square", "Gen", 5.0]})
    assert resp == {"error": False}
