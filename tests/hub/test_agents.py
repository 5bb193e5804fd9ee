"""The agent directory: birth messages, device ownership, spool drops shown by the hub."""

from __future__ import annotations

from pathlib import Path

from edge_agent.wire import AgentStatus
from hub.agents import AgentDirectory
from hub.app import Hub
from hub.config import hub_config
from hub.db.sqlite import SQLiteStore


def status(devices: dict, dropped: int = 0, state: str = "online") -> AgentStatus:
    return AgentStatus.from_json(
        {
            "state": state,
            "agent": "a",
            "version": "0.1.0",
            "spool": {
                "batches": 3,
                "dropped_batches": int(dropped > 0),
                "dropped_samples": dropped,
            },
            "devices": {name: {"driver": "generator", "signals": []} for name in devices},
        }
    )


def test_second_agent_claiming_a_device_gets_a_conflict_not_the_device() -> None:
    seen: list[str] = []
    d = AgentDirectory()
    d.on_change.append(seen.append)
    d.update_status("a1", status({"Gen": 1}))
    d.update_status("a2", status({"Gen": 1, "Other": 1}))
    assert d.device_owner("Gen") == "a1" and d.device_owner("Other") == "a2"
    a2 = d.get("a2")
    assert a2 is not None and "Gen" not in a2.devices
    assert a2.conflicts == ["device 'Gen' is owned by agent 'a1'"]
    assert seen == ["a1", "a2"] and d.online_count() == 2
    d.update_status("a1", AgentStatus.offline("a1"))  # the last will keeps the devices known
    assert d.online_count() == 1 and "Gen" in d.get("a1").devices


def test_hub_status_shows_samples_an_agent_spool_had_to_drop(tmp_path: Path) -> None:
    hub = Hub(
        config=hub_config({"hub": {"data_dir": str(tmp_path)}}),
        store=SQLiteStore(path=tmp_path / "s.sqlite"),
    )
    hub.agents.update_status("a1", status({"Gen": 1}, dropped=120))
    hub.agents.update_status("a2", status({"Sys": 1}, dropped=5))
    assert hub.status()["agent_spool_dropped_samples"] == 125
