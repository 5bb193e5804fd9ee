"""Backups that restore: `opencontrol backup` of a running hub with history (SQLite's online
backup, pg_dump), `opencontrol restore` into an empty hub, and the same history read back
through the hub's read path; scheduled SQLite backups rotate; bad restores lose nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_agent.config_schema import ConfigError
from hub.app import Hub
from hub.bootstrap import running_hub
from hub.db.base import EventRecord
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for
from tests.fixtures.postgres import PgCluster
from tests.hub.conftest import make_hub_config
from tests.hub.conftest import run_opencontrol as cli

T0 = 1_764_028_800.0
BATCHES, PER_BATCH = 5, 200


def toml(path: Path, data_dir: Path, dsn: str = "") -> Path:
    """A hub TOML file naming the same store as the in-process hub's config."""
    store = f'kind = "postgres"\ndsn = "{dsn}"\n' if dsn else ""
    path.write_text(f'[hub]\ndata_dir = "{data_dir}"\n\n[store]\n{store}')
    return path


async def fill(hub: Hub) -> None:
    """History of two signals and two events, all stored."""
    for b in range(BATCHES):
        x = [T0 + b * PER_BATCH + i for i in range(PER_BATCH)]
        hub.ingest_local("Lab", "Volt", x, [np.sin(v) for v in x], "V")
        hub.ingest_local("Lab", "Temp", x, [20.0 + b] * PER_BATCH, "°C")
    hub.add_event(EventRecord(T0 + 3, "Lab", "Volt", "over 0.9", 1, "hi", 0.95))
    hub.add_event(EventRecord(T0 + 7, "Lab", "Temp", "stable", 0, "ok", None))
    expected = 2 * BATCHES * PER_BATCH
    await async_wait_for(
        lambda: hub.store.sample_count() == expected and len(hub.store.events()) == 2,
        what="history stored",
    )


async def read_back(hub: Hub) -> dict[str, Any]:
    """What a user sees of the store through the hub's read path."""
    out: dict[str, Any] = {}
    for name in ("Volt", "Temp"):
        h = await hub.history("Lab", name)
        out[name] = (h.x.tolist(), h.y.tolist())
    out["events"] = [
        (e.time, e.signal, e.text, e.priority, e.event_id, e.value)
        for e in await hub.run_store(hub.store.events)
    ]
    out["units"] = sorted(
        (s.name, s.unit) for s in await hub.run_store(hub.store.signals) if s.name != "Later"
    )
    return out


@pytest.mark.slow
async def test_sqlite_backup_restores_into_an_empty_hub(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str
) -> None:
    keep = 2
    cfg = make_hub_config(
        tmp_path / "a",
        mosquitto,
        prefix,
        store={"backup_every": 0.0002, "backup_keep": keep},  # ~0.7 s
    )
    conf_a = toml(tmp_path / "a.toml", Path(cfg["hub"]["data_dir"]))
    async with running_hub(cfg) as hub:
        await fill(hub)
        before = await read_back(hub)
        assert len(before["Volt"][0]) == BATCHES * PER_BATCH
        # Online: the hub keeps running and writing while the copy is made.
        hub.ingest_local("Lab", "Later", [T0], [1.0])
        out = cli("backup", "-c", str(conf_a), "-o", str(tmp_path / "now.sqlite"))
        assert out.returncode == 0, out.stderr
        assert "signals" in out.stdout and "2 events" in out.stdout
        await async_wait_for(lambda: hub.backups.made >= keep + 2, what="scheduled backups")
        backup_dir = Path(cfg["store"]["backup_dir"])
        await async_wait_for(
            lambda: len(list(backup_dir.glob("opencontrol-*Z.sqlite"))) == keep,
            what="rotation down to backup_keep",
        )
        assert hub.backups.failed == 0
        assert await read_back(hub) == before  # the hub's own data is untouched
    scheduled = sorted(backup_dir.glob("opencontrol-*Z.sqlite"))[-1]
    assert oct(scheduled.stat().st_mode & 0o777) == "0o600"

    # Each backup restored into an empty hub gives the same history.
    for n, backup in enumerate((tmp_path / "now.sqlite", scheduled)):
        data_b = tmp_path / f"b{n}" / "hub"  # where make_hub_config puts its data
        out = cli("restore", str(backup), "-c", str(toml(tmp_path / f"b{n}.toml", data_b)))
        assert out.returncode == 0, out.stderr
        cfg_b = make_hub_config(tmp_path / f"b{n}", mosquitto, f"{prefix}b{n}")
        assert Path(cfg_b["store"]["path"]).parent == data_b
        async with running_hub(cfg_b) as hub_b:
            assert await read_back(hub_b) == before

    # A second restore over a hub with history is refused, and that history stays.
    out = cli("restore", str(scheduled), "-c", str(tmp_path / "b0.toml"))
    assert out.returncode == 1 and "refuses to overwrite" in out.stderr
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a backup at all")
    out = cli("restore", str(garbage), "-c", str(tmp_path / "b0.toml"))
    assert out.returncode == 1 and "neither an SQLite backup" in out.stderr
    async with running_hub(make_hub_config(tmp_path / "b0", mosquitto, prefix)) as hub_b:
        assert await read_back(hub_b) == before


@pytest.mark.slow
async def test_postgres_backup_restores_into_an_empty_database(
    tmp_path: Path, mosquitto: Mosquitto, prefix: str, pg_dsn: str, pg_cluster: PgCluster
) -> None:
    cfg = make_hub_config(
        tmp_path / "a", mosquitto, prefix, store={"kind": "postgres", "dsn": pg_dsn}
    )
    dump = tmp_path / "hub.dump"
    with pytest.raises(ConfigError, match="backup_every schedules backups of the SQLite"):
        make_hub_config(tmp_path, mosquitto, prefix, store={**cfg["store"], "backup_every": 1})
    async with running_hub(cfg) as hub:
        await fill(hub)
        before = await read_back(hub)
        out = cli(
            "backup", "-c", str(toml(tmp_path / "a.toml", tmp_path / "a", pg_dsn)), "-o", str(dump)
        )
        assert out.returncode == 0, out.stderr
        assert "2 events" in out.stdout

    empty = pg_cluster.create_database("restore")
    conf_b = toml(tmp_path / "b.toml", tmp_path / "b", empty)
    sqlite_conf = toml(tmp_path / "s.toml", tmp_path / "s")
    out = cli("restore", str(dump), "-c", str(sqlite_conf))
    assert (
        out.returncode == 1 and "is a postgres backup but the hub's store is sqlite" in out.stderr
    )
    out = cli("restore", str(dump), "-c", str(conf_b))
    assert out.returncode == 0, out.stderr
    assert f"{2 * BATCHES * PER_BATCH} samples, 2 events" in out.stdout
    out = cli("restore", str(dump), "-c", str(conf_b))
    assert out.returncode == 1 and "refuses to overwrite" in out.stderr
    out = cli("restore", str(dump), "-c", str(conf_b), "--force")
    assert out.returncode == 0, out.stderr
    cfg_b = make_hub_config(
        tmp_path / "b", mosquitto, f"{prefix}b", store={"kind": "postgres", "dsn": empty}
    )
    async with running_hub(cfg_b) as hub_b:
        assert await read_back(hub_b) == before
