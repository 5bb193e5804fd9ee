"""The `[websocket]` section: the hub's validated config starts the server; bad keys fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.config_schema import ConfigError
from hub.bootstrap import running_hub
from hub.client import OpenControlClient
from hub.ws.config import WsConfig
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for, free_port
from tests.hub.conftest import make_hub_config


def test_defaults_and_empty_strings() -> None:
    cfg = WsConfig.from_mapping({"password": "", "tls_cert": "", "tls_key": ""})
    assert cfg.password is None and cfg.tls_cert is None
    # Nothing is open by default: a login (or the RTOC password) is needed.
    assert cfg.require_login and cfg.auth_required
    assert cfg.port == 5050 and cfg.host_whitelist == () and cfg.allowed_origins == ()
    assert WsConfig.from_mapping({"password": "x", "require_login": False}).auth_required
    assert not WsConfig.from_mapping({"require_login": False}).auth_required


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"prot": 1}, "unknown key 'prot'"),
        ({"port": 70000}, "port"),
        ({"host_whitelist": [1]}, "list of strings"),
        ({"tls_cert": "/c.pem"}, "tls_cert and tls_key must be given together"),
        ({"password_permission": "root"}, "'root' is not one of"),
        ({"push_interval": -1}, "must be 0 or more"),
    ],
)
def test_bad_values_name_the_key(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        WsConfig.from_mapping(raw, source="hub.toml [websocket]")


async def test_running_hub_serves_the_websocket(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str
) -> None:
    port = free_port()
    cfg = make_hub_config(
        tmp_path, mosquitto, prefix, websocket={"enabled": True, "port": port, "password": "pw"}
    )
    async with running_hub(cfg) as hub:
        await async_wait_for(lambda: hub.ingest.subscribed, what="hub subscribed")
        assert hub.ws_server.port == port
        hub.ingest_local("Dev", "S", [1.0], [2.0], "V")
        async with OpenControlClient(f"ws://127.0.0.1:{port}", "pw") as c:
            assert (await c.latest(["Dev.S"]))["Dev.S"] == [1.0, 2.0, "V"]
