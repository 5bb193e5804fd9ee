"""Signals as tables through the CLI (processes): `opencontrol export` of a time range to
CSV and xlsx while the hub runs, `opencontrol import csv|xlsx` into new signals, read back
through the hub's history; bad files import nothing and leave the store as it was."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from hub.bootstrap import running_hub
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import async_wait_for
from tests.hub.conftest import make_hub_config
from tests.hub.conftest import run_opencontrol as cli

T0 = 1_764_028_800.0  # 2025-11-25T00:00:00Z


@pytest.mark.slow
async def test_export_import_round_trip(tmp_path: Path, mosquitto: Mosquitto, prefix: str) -> None:
    cfg = make_hub_config(tmp_path / "a", mosquitto, prefix)
    conf = tmp_path / "a.toml"
    conf.write_text(f'[hub]\ndata_dir = "{cfg["hub"]["data_dir"]}"\n')
    empty = tmp_path / "b.toml"  # a second hub's store, empty
    empty.write_text(f'[hub]\ndata_dir = "{tmp_path / "b"}"\n')
    x = [T0 + i * 0.5 for i in range(400)]
    async with running_hub(cfg) as hub:
        hub.ingest_local("Lab", "Volt", x, [i / 7 for i in range(400)], "V")
        hub.ingest_local("Lab", "Temp", x, [20.0 + i % 3 for i in range(400)], "°C")
        await async_wait_for(lambda: hub.store.sample_count() == 800, what="stored")

        # 100 s from T0 + 50 s: samples 100..300 of each, both ends included.
        rng = ["--since", "2025-11-25T00:00:50", "--until", str(T0 + 150)]
        sigs = ["-s", "Lab.Volt", "-s", "Lab.Temp"]
        out = cli("export", str(tmp_path / "lab.csv"), "-c", str(conf), *sigs, *rng)
        assert out.returncode == 0, out.stderr
        assert "402 samples of 2 signals" in out.stdout
        out = cli("export", str(tmp_path / "lab.xlsx"), "-c", str(conf), *sigs, *rng)
        assert out.returncode == 0, out.stderr
        rows = list(csv.reader((tmp_path / "lab.csv").open()))
        assert rows[0] == ["time", "utc", "signal", "unit", "value"]
        assert rows[1] == [
            repr(T0 + 50),
            "2025-11-25T00:00:50.000000+00:00",
            "Lab.Volt",
            "V",
            repr(100 / 7),
        ]
        out = cli("export", str(tmp_path / "lab.csv"), "-c", str(conf), *sigs)
        assert out.returncode == 1 and "exists" in out.stderr  # never overwritten
        out = cli("export", str(tmp_path / "n.csv"), "-c", str(conf), "-s", "Lab.Nope")
        assert out.returncode == 1 and "no signal Lab.Nope" in out.stderr

        # The same signals again: refused, nothing stored.
        out = cli("import", "csv", str(tmp_path / "lab.csv"), "-c", str(conf))
        assert out.returncode == 1 and "Lab.Temp, Lab.Volt exist already" in out.stderr
        # Renamed, into the running hub's store: new signals, read through the hub.
        renamed = tmp_path / "copy.csv"
        renamed.write_text((tmp_path / "lab.csv").read_text().replace(",Lab.", ",Copy."))
        out = cli("import", "csv", str(renamed), "-c", str(conf))
        assert out.returncode == 0, out.stderr
        assert "imported 402 samples into Copy.Volt, Copy.Temp" in out.stdout
        for name in ("Volt", "Temp"):
            orig = await hub.history("Lab", name, T0 + 50, T0 + 150)
            copy = await hub.history("Copy", name)
            assert copy.x.tolist() == orig.x.tolist() and copy.y.tolist() == orig.y.tolist()
            assert len(copy.x) == 201

        # A bad row anywhere imports nothing.
        for n, (bad, why) in enumerate(
            (
                ("nan", "row 3: value 'nan' is not finite"),
                ("3.x", "row 3: value '3.x' is not a number"),
            )
        ):
            f = tmp_path / f"bad{n}.csv"
            lines = renamed.read_text().replace(",Copy.", ",Bad.").splitlines()
            lines[2] = lines[2].rsplit(",", 1)[0] + f",{bad}"
            f.write_text("\n".join(lines) + "\n")
            out = cli("import", "csv", str(f), "-c", str(conf))
            assert out.returncode == 1 and why in out.stderr, out.stderr
        assert hub.store.sample_count() == 800 + 402
        assert not [s for s in hub.store.signals() if s.device == "Bad"]

    # The xlsx into an empty hub's store: the same samples under the original names.
    out = cli("import", "xlsx", str(tmp_path / "lab.xlsx"), "-c", str(empty))
    assert out.returncode == 0, out.stderr
    cfg_b = make_hub_config(tmp_path / "b_", mosquitto, f"{prefix}b")
    cfg_b["store"]["path"] = str(tmp_path / "b" / "opencontrol.sqlite")
    async with running_hub(cfg_b) as hub_b:
        for name, unit in (("Volt", "V"), ("Temp", "°C")):
            got = await hub_b.history("Lab", name)
            assert got.x.tolist() == [T0 + i * 0.5 for i in range(100, 301)]
            assert [s.unit for s in hub_b.store.signals() if s.name == name] == [unit]
        assert hub_b.store.sample_count() == 402
    out = cli("import", "xlsx", str(tmp_path / "lab.csv"), "-c", str(empty))
    assert out.returncode == 2 and "not a .xlsx file" in out.stderr
