"""logger exportTable/importTable/delete/settings: tables over the websocket, with rights."""

from __future__ import annotations

import base64
import io

from openpyxl import Workbook

from hub.app import Hub
from hub.db.base import EventRecord
from tests.fixtures.net import async_wait_for

CSV = "time,signal,unit,value\n100.0,Lab.T,°C,20.5\n101.0,Lab.T,°C,21.0\n100.5,Lab.P,bar,1.25\n"


def _b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


async def test_import_lists_at_once_and_exports_back(ws_factory, hub: Hub, raw) -> None:
    server = await ws_factory(password_permission="write")
    r = await raw(server.url, authorize=True)
    _, resp = await r.request({"logger": {"importTable": {"name": "lab.csv", "data": _b64(CSV)}}})
    assert resp["logger"]["importTable"] == {"signals": ["Lab.P", "Lab.T"], "samples": 3}, resp
    # listed and readable live at once, not only after a restart
    _, resp = await r.request({"getSignalList": True, "getLatest": ["Lab.T"]})
    assert ["Lab", "T"] in resp["signalList"] and resp["latest"]["Lab.T"][:3] == [101.0, 21.0, "°C"]
    _, resp = await r.request({"getSignal": ["Lab.T"]})
    assert resp["signals"]["Lab.T"][:2] == [[100.0, 101.0], [20.5, 21.0]]
    # a second import of the same names stores nothing
    _, resp = await r.request({"logger": {"importTable": {"name": "lab.csv", "data": _b64(CSV)}}})
    assert resp["error"] is True and "exist already" in resp["reason"]
    # export a time range of one signal from the store, as CSV and as xlsx
    await async_wait_for(lambda: hub.store.sample_count() >= 3, what="import stored")
    req = {"signals": ["Lab.T"], "xmin": 100.5, "xmax": 200, "format": "csv"}
    _, resp = await r.request({"logger": {"exportTable": req}})
    out = resp["logger"]["exportTable"]
    assert out["samples"] == 1 and out["name"].endswith(".csv")
    lines = base64.b64decode(out["data"]).decode().splitlines()
    assert lines[0] == "time,utc,signal,unit,value" and lines[1].endswith("Lab.T,°C,21.0")
    _, resp = await r.request({"logger": {"exportTable": {**req, "xmin": 0, "format": "xlsx"}}})
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(base64.b64decode(resp["logger"]["exportTable"]["data"])))
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    assert [r[4] for r in rows[1:]] == [20.5, 21.0]


async def test_bad_uploads_are_refused_whole(ws_factory, hub: Hub, raw) -> None:
    server = await ws_factory(password_permission="write")
    r = await raw(server.url, authorize=True)
    bad = CSV + "102.0,Lab.T,°C,nan\n"
    _, resp = await r.request({"logger": {"importTable": {"name": "bad.csv", "data": _b64(bad)}}})
    assert resp["error"] is True and "bad.csv row 5" in resp["reason"], resp
    assert hub.signals.find("Lab", "T") is None
    for arg, why in (
        ({"name": "x.txt", "data": _b64(CSV)}, "not a .csv or .xlsx"),
        ({"name": "x.csv", "data": "%%%"}, "not base64"),
        ({"name": "x.xlsx", "data": _b64("not a zip")}, "cannot read x.xlsx"),
        ({"signals": ["Lab.T"], "format": "pdf"}, None),
    ):
        key = "exportTable" if "signals" in arg else "importTable"
        _, resp = await r.request({"logger": {key: arg}})
        assert resp["error"] is True and (why is None or why in resp["reason"]), resp
    # an xlsx file imports like a CSV
    wb = Workbook()
    ws = wb.active
    ws.append(["time", "signal", "unit", "value"])
    ws.append([5.0, "Xl.V", "V", 3.5])
    buf = io.BytesIO()
    wb.save(buf)
    _, resp = await r.request(
        {"logger": {"importTable": {"name": "v.xlsx", "data": _b64(buf.getvalue())}}}
    )
    assert resp["logger"]["importTable"] == {"signals": ["Xl.V"], "samples": 1}


async def test_delete_needs_admin_and_settings_need_write(ws_factory, hub: Hub, raw) -> None:
    hub.signals.append("A", "x", [1.0], [2.0], "V")
    hub.signals.append("A", "y", [1.0], [3.0], "V")
    hub.add_event(EventRecord(1.5, "A", "x", "ev", 1, "id1", None))
    reader = await raw((await ws_factory(password_permission="read")).url, authorize=True)
    writer = await raw((await ws_factory(password_permission="write")).url, authorize=True)
    admin = await raw((await ws_factory(password_permission="admin")).url, authorize=True)
    delete = {"logger": {"delete": {"signals": ["A.x"], "events": "all"}}}
    for client, need in ((reader, "admin"), (writer, "admin")):
        _, resp = await client.request(delete)
        assert resp["error"] is True and f"logger.delete needs {need}" in resp["reason"]
    assert hub.signals.find("A", "x") is not None
    _, resp = await reader.request({"logger": {"settings": True}})
    assert resp["logger"]["settings"]["recordLength"] == hub.signals.record_length
    upload = {"importTable": {"name": "r.csv", "data": _b64(CSV)}}
    _, resp = await reader.request({"logger": upload})
    assert resp["error"] is True and "importTable needs write" in resp["reason"]
    assert hub.signals.find("Lab", "T") is None
    _, resp = await reader.request({"logger": {"resize": 50}})
    assert resp["error"] is True and "needs write" in resp["reason"]
    _, resp = await writer.request({"logger": {"resize": 50}})
    assert resp["logger"]["resize"] is True and hub.signals.record_length == 50
    _, resp = await admin.request(delete)
    assert resp["logger"]["delete"] == {"signals": 1, "events": 1}, resp
    assert hub.signals.find("A", "x") is None and hub.signals.find("A", "y") is not None
    _, resp = await admin.request({"logger": {"delete": {"signals": ["nodot"]}}})
    assert resp["error"] is True and "not Device.Name" in resp["reason"]


async def test_language_is_kept_only_for_hub_users(ws_factory, raw) -> None:
    server = await ws_factory(password_permission="read")
    r = await raw(server.url, authorize=True)  # no hub user: nothing to keep it with
    _, resp = await r.request({"logger": {"language": None}})
    assert resp["logger"]["language"] == "en"
    _, resp = await r.request({"logger": {"language": "de"}})
    assert resp["error"] is True and "log in as a hub user" in resp["reason"]
    _, resp = await r.request({"logger": {"language": "xx"}})
    assert resp["error"] is True and "one of ['de', 'en']" in resp["reason"]


async def test_one_event_deleted_by_its_id_is_gone_from_the_store_too(
    ws_factory, hub: Hub, raw
) -> None:
    admin = await raw((await ws_factory(password_permission="admin")).url, authorize=True)
    hub.add_event(EventRecord(1.5, "A", "x", "keep", 1, "k", None))
    hub.add_event(EventRecord(2.5, "A", "x", "drop", 1, "d", None))
    await async_wait_for(lambda: len(hub.store.events()) == 2, what="both events stored")
    _, resp = await admin.request({"getEventList": True})
    (drop_id,) = [row[2] for row in resp["events"].values() if row[3] == "drop"]
    _, resp = await admin.request({"logger": {"delete": {"events": [drop_id]}}})
    assert resp["logger"]["delete"] == {"signals": 0, "events": 1}, resp
    assert [e.text for e in hub.store.events()] == ["keep"]  # done in the store when answered
    assert [e.text for e in hub.recent_events] == ["keep"]
