"""`[hub] role`: all (default), ingest, live; `--check` refuses combinations that cannot
work, one clear line each (docs/scale.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.config_schema import ConfigError
from hub.config import hub_config
from tests.hub.cli.test_cli import run_hub
from tests.hub.test_check import _config, _one_line

PG = '[store]\nkind = "postgres"\ndsn = "host=127.0.0.1 dbname=x"\n'


def test_role_defaults_to_all() -> None:
    assert hub_config({})["hub"]["role"] == "all"


def test_unknown_role_is_refused() -> None:
    with pytest.raises(ConfigError, match="role"):
        hub_config({"hub": {"role": "worker"}})


@pytest.mark.parametrize(
    ("role", "text", "words"),
    [
        ("live", '[mqtt]\nhost = "b"\n', "set [store] kind = 'postgres'"),
        ("ingest", '[mqtt]\nhost = "b"\nshared_group = "g"\n', "set [store] kind = 'postgres'"),
        ("live", PG, "set [mqtt] host"),
        ("ingest", PG + '[mqtt]\nhost = "b"\n', "set [mqtt] shared_group"),
        ("live", PG + '[mqtt]\nhost = "b"\nshared_group = "g"\n', "remove [mqtt] shared_group"),
        (
            "ingest",
            PG + '[mqtt]\nhost = "b"\nshared_group = "g"\n[telegram]\nenabled = true\n',
            "[telegram] runs on live hubs",
        ),
    ],
)
def test_check_refuses_roles_that_cannot_work(
    tmp_path: Path, role: str, text: str, words: str
) -> None:
    cfg = _config(tmp_path, f'role = "{role}"\n' + text)
    _one_line(run_hub("-c", str(cfg), "--check"), words)


def test_sensible_roles_validate() -> None:
    base = {"store": {"kind": "postgres", "dsn": "host=x"}}
    live = hub_config({**base, "hub": {"role": "live"}, "mqtt": {"host": "b"}})
    assert live["hub"]["role"] == "live" and live["hub"]["lease_seconds"] == 6.0
    ingest = hub_config(
        {**base, "hub": {"role": "ingest"}, "mqtt": {"host": "b", "shared_group": "g"}}
    )
    assert ingest["hub"]["role"] == "ingest"
