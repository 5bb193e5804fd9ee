"""The agent speaks TLS to the broker (`[mqtt] tls_ca`), as the hub does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.agent import Agent
from edge_agent.config import make_agent_config
from edge_agent.config_schema import ConfigError
from hub.bootstrap import running_hub
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for
from tests.hub.conftest import make_hub_config
from tests.hub.ws.tls import make_cert


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Mosquitto, Path]]:
    cert, key = make_cert(tmp_path / "certs")
    broker = Mosquitto(tmp_path / "mosquitto", tls=(cert, key))
    broker.start()
    yield broker, cert
    broker.stop()


async def test_agent_to_hub_over_tls(tmp_path: Path, tls_broker, prefix: str) -> None:
    broker, ca = tls_broker
    hub_cfg = make_hub_config(tmp_path, broker, prefix, mqtt={"tls_ca": str(ca)})
    cfg = make_agent_config(
        agent_id="tls-agent",
        port=broker.port,
        prefix=prefix,
        spool_path=tmp_path / "spool.sqlite",
        devices={"Gen": {"driver": "generator", "samplerate": 20.0}},
        mqtt={"tls_ca": str(ca)},
    )
    async with running_hub(hub_cfg) as hub:
        await async_wait_for(lambda: hub.ingest.subscribed, timeout=30, what="hub over TLS")
        agent = Agent(config=cfg)
        agent.start()
        try:
            await async_wait_for(lambda: hub.stats["samples"] >= 20, timeout=30, what="samples")
            assert agent.publisher.connected
        finally:
            agent.stop(drain=1.0)
        assert await hub.run_store(hub.store.sample_count) >= 20
        assert hub.stats["rejected"] == 0


def test_tls_files_are_checked_at_config_load(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(ConfigError, match=r"'mqtt.tls_ca'.*no such file"):
        make_agent_config(agent_id="a", mqtt={"tls_ca": missing})
    cert, _key = make_cert(tmp_path / "c")
    with pytest.raises(ConfigError, match=r"'mqtt.tls_cert'.*needs mqtt.tls_key"):
        make_agent_config(agent_id="a", mqtt={"tls_ca": str(cert), "tls_cert": str(cert)})
    ok = make_agent_config(agent_id="a", mqtt={"tls_ca": str(cert)})
    assert ok["mqtt"]["tls_ca"] == str(cert) and ok["mqtt"]["tls_cert"] == ""
