"""A restarted hub shows the live view the store left: signals, latest values, devices."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from edge_agent.wire import Batch, Series
from hub.bootstrap import running_hub
from hub.client import ClientError, OpenControlClient
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
        # (The status is not retained: it must find the hub subscribed.)
        await async_wait_for(lambda: hub.ingest.subscribed, what="hub subscribed")
        peer = Peer(mosquitto.port, prefix)
        try:
            peer.publish(json.dumps(STATUS).encode(), kind="status")
            await async_wait_for(lambda: hub.agents.get("a1").online, what="agent online")
            peer.publish(Batch("a1", 9, [Series("Dev", "Sig", "V", [t0 + 95], [7.0])]).encode())
            assert await asyncio.to_thread(peer.acked) == [9]
        finally:
            peer.close()
        assert hub.signals.get("Dev.Sig").latest() == (t0 + 95, 7.0)


OPEN_MODE = {"host": "127.0.0.1", "port": 0, "require_login": False}


async def test_signals_and_events_deleted_by_an_admin_stay_gone_after_a_restart(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str
) -> None:
    from edge_agent.wire import Event
    from hub.ws.server import serve

    from .conftest import service_of

    cfg = make_hub_config(tmp_path, mosquitto, prefix)
    t0 = 1_700_000_000.0
    async with running_hub(cfg) as hub:
        await async_wait_for(lambda: hub.ingest.subscribed, what="hub subscribed")
        peer = Peer(mosquitto.port, prefix)
        try:
            for seq in range(1, 5):  # 40 samples of Dev.Sig and of Dev.Other, 4 edge events
                t = [t0 + seq * 10 + i for i in range(10)]
                signals = [
                    Series("Dev", "Sig", "V", t, [float(v) for v in range(10)]),
                    Series("Dev", "Other", "A", t, [float(seq * v) for v in range(10)]),
                ]
                ev = Event(t[0], "Dev", "Sig", f"edge {seq}", 1, f"e{seq}")
                peer.publish(Batch("a1", seq, signals, events=[ev]).encode())
            got: list[int] = []
            while len(got) < 4:
                got += await asyncio.to_thread(peer.acked)
        finally:
            peer.close()
        store = hub.store
        assert len(store.events()) == 4 and store.sample_count() == 80
        other_before = store.history("Dev", "Other", None, None, None)
        service = service_of(hub)
        servers = {  # open mode: whoever connects gets that permission
            perm: await serve(
                service,
                {
                    "host": "127.0.0.1",
                    "port": 0,
                    "require_login": False,
                    "password_permission": perm,
                },
            )
            for perm in ("write", "admin")
        }
        delete = {"logger": {"delete": {"signals": ["Dev.Sig"], "events": "all"}}}
        try:
            async with OpenControlClient(servers["write"].url) as client:  # read/write: refused
                with pytest.raises(ClientError, match=r"logger\.delete needs admin"):
                    await client.request(delete)
            assert store.sample_count() == 80 and len(store.events()) == 4
            async with OpenControlClient(servers["admin"].url) as client:
                answer = await client.request(delete)
            assert answer["logger"]["delete"] == {"signals": 1, "events": 4}, answer
        finally:
            for server in servers.values():
                await server.close()
        # Done in the store when the answer came (the writer ran it in its queue's order).
        assert [r.key for r in store.signals()] == ["Dev.Other"]
        assert store.events() == [] and store.sample_count() == 40
    async with running_hub(cfg) as hub:  # the restart reloads from the store: nothing comes back
        assert hub.signals.find("Dev", "Sig") is None
        assert hub.signals.find("Dev", "Other") is not None
        assert hub.store.events() == [] and list(hub.recent_events) == []
        # The other signal's history is untouched by the delete.
        other_after = hub.store.history("Dev", "Other", None, None, None)
        assert np.array_equal(other_before.x, other_after.x)
        assert np.array_equal(other_before.y, other_after.y) and len(other_after.x) == 40
