"""Two hub processes share one subscription (MQTT shared subscriptions) and one PostgreSQL:
each batch is stored exactly once, whichever hub took it (docs/DESIGN.md, "Scale")."""

from __future__ import annotations

from pathlib import Path

from hub.bootstrap import running_hub
from hub.config import hub_config
from rigs import procs
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for


def _config(tmp: Path, broker: Mosquitto, prefix: str, dsn: str, name: str) -> dict:
    return hub_config(
        {
            "hub": {"data_dir": str(tmp / name), "id": f"{name}-{prefix}"},
            "mqtt": {
                "host": "127.0.0.1",
                "port": broker.port,
                "prefix": prefix,
                "shared_group": "ingest",
            },
            "store": {"kind": "postgres", "dsn": dsn},
            "websocket": {"enabled": False},
        }
    )


async def test_two_hubs_share_the_stream_and_store_each_batch_once(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str, pg_dsn: str
) -> None:
    cfg_a = _config(tmp_path, mosquitto, prefix, pg_dsn, "hub-a")
    cfg_b = _config(tmp_path, mosquitto, prefix, pg_dsn, "hub-b")
    async with running_hub(cfg_a) as a, running_hub(cfg_b) as b:
        await async_wait_for(lambda: a.ingest.subscribed and b.ingest.subscribed, what="subs")
        agent_cfg = procs.write_agent_config(
            tmp_path / "agent.toml", port=mosquitto.port, prefix=prefix, rate=50, batch=30
        )
        agent = procs.start("edge_agent", agent_cfg, tmp_path / "agent.log")
        try:
            await async_wait_for(
                lambda: a.stats["batches"] >= 5 and b.stats["batches"] >= 5,
                timeout=30,
                what="both hubs storing batches",
            )
        finally:
            assert procs.stop(agent) == 0
        spool = tmp_path / "agent1-spool.sqlite"
        procs.write_agent_config(agent_cfg, port=mosquitto.port, prefix=prefix, enabled=False)
        agent = procs.start("edge_agent", agent_cfg, tmp_path / "agent.log")
        try:
            await async_wait_for(
                lambda: procs.spool_state(spool)[0] == 0, timeout=30, what="spool drained"
            )
        finally:
            procs.stop(agent)
        f = procs.pg_ledger_check(pg_dsn, "agent1")
        assert f["last_seq"] - f["first_seq"] + 1 == f["batches"], f
        assert f["stored"] == f["ledger_samples"] == f["distinct"], f
        # every batch went to one hub or the other, none to both. The counters are raised
        # on each hub's loop after the ack that emptied the spool: wait for them to land.
        await async_wait_for(
            lambda: a.stats["batches"] + b.stats["batches"] >= f["batches"],
            timeout=30,
            what=f"{f['batches']} batches counted by the hubs",
        )
        assert a.stats["batches"] + b.stats["batches"] == f["batches"]
