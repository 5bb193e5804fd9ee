"""logger export/backup write into the hub's data directory only, in RTOC's formats."""

from __future__ import annotations

import json
from pathlib import Path

from hub.app import Hub
from hub.db.base import EventRecord
from hub.export import read_table


async def test_export_json_csv_and_backup(server, hub: Hub, raw) -> None:
    hub.signals.append("A", "x", [1.0, 2.0], [3.0, 4.5], "V")
    hub.add_event(EventRecord(1.5, "A", "x", "ev", 1, "id1", None))
    r = await raw(server.url, authorize=True)
    _, resp = await r.request({"logger": {"export": ["/etc/evil/s.json", "json"]}})
    assert resp == {"error": False, "logger": {"export": True}}
    exports = Path(hub.config["hub"]["data_dir"]) / "exports"
    assert not Path("/etc/evil").exists()
    doc = json.loads((exports / "s.json").read_text())
    assert doc["signals"]["1"] == [1, "x", [1.0, 2.0], [3.0, 4.5], "V"]
    assert doc["devices"] == {"1": "A"} and doc["events"]["1"][3] == "ev"
    _, resp = await r.request({"logger": {"export": ["data.csv"]}})
    assert resp["logger"]["export"] is True
    assert (exports / "data.csv").read_text() == "1.0 2.0\n3.0 4.5\n"
    assert (exports / "data.txt").read_text() == "A.x X\nA.x Y\n"
    _, resp = await r.request({"logger": {"backup": {"now": True}}})
    assert resp["logger"]["backup"] is True
    backups = list((Path(hub.config["hub"]["data_dir"]) / "backup").glob("RTOC_*.json"))
    assert len(backups) == 1
    # xlsx: the layout `opencontrol import xlsx` reads back (hub/export.py).
    _, resp = await r.request({"logger": {"export": ["../x.xlsx", "xlsx"]}})
    assert resp["logger"]["export"] is True
    table = read_table(exports / "x.xlsx")
    assert table.units == {("A", "x"): "V"}
    assert (table.x[("A", "x")], table.y[("A", "x")]) == ([1.0, 2.0], [3.0, 4.5])
    _, resp = await r.request({"logger": {"export": ["x.xlsx", "xlsx"]}})
    assert "x.xlsx exists" in str(resp), resp  # kept, not overwritten
    assert read_table(exports / "x.xlsx").samples == 2
    _, resp = await r.request({"logger": {"export": ["y", "xlsx"]}})
    assert resp["logger"]["export"] is True and read_table(exports / "y.xlsx").samples == 2


async def test_get_event_list_latest_n(server, hub: Hub, raw) -> None:
    for i in range(5):
        hub.add_event(EventRecord(float(i), "D", "s", f"e{i}", 0, "", None))
    r = await raw(server.url, authorize=True)
    _, resp = await r.request({"getEventList": 2})
    assert [row[3] for row in resp["events"].values()] == ["e3", "e4"]
    _, resp = await r.request({"getEventList": True})
    assert len(resp["events"]) == 5
