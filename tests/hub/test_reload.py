"""A restarted hub shows the live view the store left: signals, latest values, devices."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from edge_agent.wire import Batch, Series
from hub.bootstrap import running_hub
from hub.client import OpenControlClient
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for

from .conftest import Peer, make_hub_config

STATUS = {
    "state": "online",
    "agent": "a1",
    "devices": {
        "Dev": {
            "driver": "generator",
            "running": True,
            "samplerate": 10.0,
            "signals": [{"name": "Sig", "unit": "V"}],
            "params": [{"name": "gen_freq", "type": "float", "value": 2.0, "doc": "Hz"}],
            "functions": [],
            "stats": {"reads": 5, "failures": 0},
        }
    },
}


async def test_restart_with_no_agent_online_answers_from_the_store_at_once(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str
) -> None:
    cfg = make_hub_config(
        tmp_path, mosquitto, prefix, websocket={"enabled": True}, hub={"record_length": 50}
    )
    t0 = 1_700_000_000.0
    async with running_hub(cfg) as hub:
        await async_wait_for(lambda: hub.ingest.subscribed, what="hub subscribed")
        peer = Peer(mosquitto.port, prefix)
        try:
            peer.publish(json.dumps(STATUS).encode(), kind="status")
            for seq in range(1, 9):  # 80 samples of Dev.Sig, 8 of Dev.Other
                t = [t0 + seq * 10 + i for i in range(10)]
                signals = [Series("Dev", "Sig", "V", t, [float(v) for v in range(10)])]
                signals.append(Series("Dev", "Other", "A", [t[-1]], [float(seq)]))
                peer.publish(Batch("a1", seq, signals).encode())
            got: list[int] = []
            while len(got) < 8:
                got += await asyncio.to_thread(peer.acked)
            await async_wait_for(
                lambda: hub.store.get_doc("hub.agents"), what="devices kept in the store"
            )
        finally:
            peer.close()
    async with running_hub(cfg) as hub:  # no agent speaks to this one
        info = hub.agents.get("a1")
        assert info is not None and not info.online and "Dev" in info.devices
        assert "stats" not in info.devices["Dev"]  # counters are not kept
        url = f"ws://127.0.0.1:{cfg['websocket']['port']}"
        async with OpenControlClient(url) as client:
            answer = await client.request(
                getSignalList=True, getLatest=True, getPluginList=True, getSignal=["Dev.Sig"]
            )
        assert sorted(map(tuple, answer["signalList"])) == [("Dev", "Other"), ("Dev", "Sig")]
        latest = answer["latest"]
        assert latest["Dev.Sig"][:3] == [t0 + 89, 9.0, "V"]
        assert latest["Dev.Other"][:3] == [t0 + 89, 8.0, "A"]
        x, _y = answer["signals"]["Dev.Sig"][:2]
        assert len(x) == 50 and x[-1] == t0 + 89  # the newest record_length samples
        plugin = answer["pluginList"]["Dev"]
        assert plugin["status"] is False and "(offline)" in plugin["info"]
        assert ["gen_freq", 2.0, "Hz"] in plugin["parameters"]
        # The agent speaks again: it is online, its data continues the reloaded signal.
        peer = Peer(mosquitto.port, prefix)
        try:
            peer.publish(json.dumps(STATUS).encode(), kind="status")
            await async_wait_for(lambda: hub.agents.get("a1").online, what="agent online")
            peer.publish(Batch("a1", 9, [Series("Dev", "Sig", "V", [t0 + 95], [7.0])]).encode())
            assert await asyncio.to_thread(peer.acked) == [9]
        finally:
            peer.close()
        assert hub.signals.get("Dev.Sig").latest() == (t0 + 95, 7.0)
