"""The embedded broker's users: Mosquitto's password and ACL formats, the role's rules, the
`opencontrol mqtt` command, and the warnings when anyone may connect."""

from __future__ import annotations

import asyncio
import logging
import subprocess
from pathlib import Path

import pytest

from hub.bootstrap import running_hub
from hub.cli import main
from hub.config import hub_config, load_hub_config
from hub.mqtt_auth import (
    OWN_RULES,
    Acl,
    AuthFileError,
    BrokerUsers,
    hash_password,
    read_passwords,
    render_acl,
    verify_password,
)
from tests.ansible.mqttc import Collector, login_refused
from tests.fixtures.mosquitto import AUTH_USERS, Mosquitto, role_acl
from tests.fixtures.net import async_wait_for, free_port


def test_hashes_are_mosquittos_both_ways(tmp_path: Path) -> None:
    """mosquitto_passwd's hashes verify here; ours load into Mosquitto (the fixture's
    authenticated broker runs on them)."""
    f = tmp_path / "passwd"
    f.write_text("u:s3cret\n")
    subprocess.run(["mosquitto_passwd", "-U", str(f)], check=True)
    theirs = read_passwords(f)["u"]
    assert theirs.startswith("$7$") and verify_password("s3cret", theirs)
    assert not verify_password("s3cret!", theirs)
    ours = hash_password("s3cret")
    assert verify_password("s3cret", ours) and not verify_password("", ours)
    assert not verify_password("s3cret", "$7$x$y$z") and not verify_password("s3cret", "plain")


def test_the_acl_is_the_roles_template(tmp_path: Path) -> None:
    """render_acl gives the rules acl.j2 renders for the same hub and agents."""
    role = role_acl("oc", ["pi-kitchen", "workshop"])

    def rules(text: str) -> list[str]:
        return [ln.strip() for ln in text.splitlines() if ln.strip() and ln[0] != "#"]

    assert rules(render_acl("oc", ["workshop", "pi-kitchen", "hub"])) == rules(role)
    acl = Acl.parse(role)
    assert acl.allows("workshop", "c", "oc/workshop/data", "write")
    assert acl.allows("workshop", "c", "oc/workshop/cmd/result", "write")
    assert not acl.allows("workshop", "c", "oc/pi-kitchen/data", "write")
    assert not acl.allows("workshop", "c", "oc/workshop/ack", "write")
    assert acl.allows("workshop", "c", "oc/workshop/ack", "read")
    assert not acl.allows("workshop", "c", "oc/pi-kitchen/cmd", "read")
    assert acl.allows("hub", "c", "oc/pi-kitchen/cmd", "write")
    assert not acl.allows(None, "c", "oc/hub/state", "read")
    assert not acl.allows("stranger", "c", "oc/hub/state", "read")
    deny = Acl.parse("pattern write +/%u/data\nuser a\ntopic deny x/a/data\n")
    assert deny.allows("b", "c", "x/b/data", "write") and not deny.allows(
        "a", "c", "x/a/data", "write"
    )
    with pytest.raises(AuthFileError, match="cannot read"):
        Acl.parse("bogus line")


def test_broker_users_follow_their_files(tmp_path: Path) -> None:
    users = BrokerUsers(password_file=tmp_path / "p", acl_file=tmp_path / "a")
    users.ensure_files("oc")
    users.load()
    assert not users.check_password("a1", "pw")
    (tmp_path / "p").write_text(f"a1:{hash_password('pw')}\n")
    users.refresh()
    assert users.check_password("a1", "pw") and users.agents == ["a1"]
    (tmp_path / "p").write_text("a1 no colon\n")
    with pytest.raises(AuthFileError, match=":1:"):
        users.refresh()
    assert users.check_password("a1", "pw")  # a broken file keeps the rules read before


async def test_opencontrol_mqtt_manages_agents_of_a_running_hub(
    tmp_path: Path, prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`opencontrol mqtt add` lets an agent in without a restart; remove shuts it out."""
    port = free_port()
    toml = tmp_path / "hub.toml"
    toml.write_text(
        f'[hub]\ndata_dir = "{tmp_path / "data"}"\n[mqtt]\nport = {port}\nprefix = "{prefix}"\n'
        "[websocket]\nenabled = false\n"
    )

    def refused(user: str, password: str) -> bool:
        return login_refused(port, user, password)

    async def cli(*args: str) -> tuple[int, str, str]:
        code = await asyncio.to_thread(main, ["mqtt", "-c", str(toml), *args])
        out, err = capsys.readouterr()
        return code, out, err

    async with running_hub(load_hub_config(toml)):
        assert await asyncio.to_thread(refused, "pi1", "x")
        code, out, err = await cli("add", "pi1")
        assert code == 0, err
        password = out.split('password = "')[1].split('"')[0]
        assert 'username = "pi1"' in out
        assert not await asyncio.to_thread(refused, "pi1", password)
        assert (await cli("list"))[1].split() == ["pi1"]
        passwd = tmp_path / "data" / "mqtt.passwd"
        assert passwd.stat().st_mode & 0o777 == 0o600
        assert password not in passwd.read_text()
        acl = (tmp_path / "data" / "mqtt.acl").read_text()
        assert f"topic write {prefix}/pi1/data" in acl
        # The operator's own rules below the marker line are kept, and their users (Home
        # Assistant's) get no agent rules.
        acl_file = tmp_path / "data" / "mqtt.acl"
        own = "user homeassistant\ntopic read homeassistant/#\n"
        acl_file.write_text(acl_file.read_text() + own)
        assert (await cli("add", "homeassistant"))[0] == 0
        assert (await cli("acl"))[0] == 0
        text = acl_file.read_text()
        assert text.endswith(OWN_RULES + own) and f"{prefix}/homeassistant/data" not in text
        rules = Acl.parse(text)
        assert rules.allows("homeassistant", "c", "homeassistant/x", "read")
        assert rules.allows("pi1", "c", f"{prefix}/pi1/data", "write")
        assert (await cli("remove", "pi1"))[0] == 0
        assert await asyncio.to_thread(refused, "pi1", password)
        code, _, err = await cli("add", "hub")
        assert code == 2 and "the hub's own user" in err
        assert (await cli("add", "a/b"))[0] == 2
        assert (await cli("remove", "nobody"))[0] == 1


async def test_anonymous_access_is_an_opt_in_with_a_warning(
    tmp_path: Path, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    cfg = hub_config(
        {
            "hub": {"data_dir": str(tmp_path)},
            "mqtt": {"port": port, "prefix": prefix, "allow_anonymous": True},
            "websocket": {"enabled": False},
        }
    )
    with caplog.at_level(logging.WARNING):
        async with running_hub(cfg) as hub:
            assert not await asyncio.to_thread(login_refused, port, None, None)
            await async_wait_for(lambda: "mqtt_anonymous" in hub.stats, what="the probe")
    assert "lets anyone in" in caplog.text


@pytest.mark.parametrize("auth", [False, True])
async def test_an_external_broker_that_lets_anyone_in_is_warned_about(
    tmp_path: Path,
    prefix: str,
    caplog: pytest.LogCaptureFixture,
    mosquitto: Mosquitto,
    auth_mosquitto: Mosquitto,
    auth: bool,
) -> None:
    broker = auth_mosquitto if auth else mosquitto
    mqtt = {"host": "127.0.0.1", "port": broker.port, "prefix": prefix}
    if auth:
        mqtt.update(username="hub", password=AUTH_USERS["hub"])
    cfg = hub_config(
        {"hub": {"data_dir": str(tmp_path)}, "mqtt": mqtt, "websocket": {"enabled": False}}
    )
    with caplog.at_level(logging.WARNING):
        async with running_hub(cfg) as hub:
            await async_wait_for(lambda: "mqtt_anonymous" in hub.stats, what="the probe")
            assert hub.stats["mqtt_anonymous"] == (not auth)
    assert ("accepts clients without a password" in caplog.text) == (not auth)


async def test_the_home_assistant_bridge_logs_in_to_the_embedded_broker_as_the_hub(
    tmp_path: Path, prefix: str
) -> None:
    cfg = hub_config(
        {
            "hub": {"data_dir": str(tmp_path)},
            "mqtt": {"port": free_port(), "prefix": prefix},
            "websocket": {"enabled": False},
            "homeassistant": {"enabled": True, "discovery_prefix": f"ha{prefix}"},
        }
    )
    async with running_hub(cfg) as hub:
        await async_wait_for(lambda: hub.homeassistant.connected, what="bridge connected")
        user, password = hub.ingest.credentials
        seen = await asyncio.to_thread(
            Collector,
            port=cfg["mqtt"]["port"],
            username=user,
            password=password,
            topics=[hub.homeassistant.topics.availability],
        )
        try:  # the bridge's retained availability got through the ACL
            await async_wait_for(lambda: seen.messages, what="availability")
            assert seen.messages[-1][1] == b"online"
        finally:
            seen.close()
        assert hub.broker.refused == 0
