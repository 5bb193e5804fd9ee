"""`[engine.scripts.NAME]` in the hub config: operator script files start with the hub."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.config_schema import ConfigError
from hub.bootstrap import running_hub
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for

from .conftest import make_hub_config

SCRIPT = "def run(ctx):\n    ctx.event('heartbeat', 'Beat', 'Operator', id='beat')\n"


async def test_configured_script_file_runs_at_its_rate(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str
) -> None:
    config = make_hub_config(
        tmp_path, mosquitto, prefix, engine={"scripts": {"beat": {"file": "beat.py", "rate": 20.0}}}
    )
    scripts = Path(config["hub"]["config_dir"]) / "scripts"
    scripts.mkdir(parents=True)
    (scripts / "beat.py").write_text(SCRIPT)
    async with running_hub(config) as hub:
        await async_wait_for(
            lambda: sum(e.text == "heartbeat" for e in hub.recent_events) >= 3,
            what="events from the operator's script",
        )
        assert hub.engine.scripts.jobs["beat"].running


async def test_a_missing_script_file_is_a_config_error_naming_it(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str
) -> None:
    config = make_hub_config(
        tmp_path, mosquitto, prefix, engine={"scripts": {"beat": {"file": "nope.py"}}}
    )
    with pytest.raises(ConfigError, match=r"\[engine.scripts.beat\]: no script file 'nope.py'"):
        async with running_hub(config):
            pass
