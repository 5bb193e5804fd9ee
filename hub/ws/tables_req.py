"""`logger` extensions for the dashboard: tables in and out, deleting, run-time settings.

- `exportTable {signals, xmin, xmax, format}` (read): a time range of chosen signals from the
  store as CSV or xlsx (hub/export.py's layout), answered as base64 bytes.
- `importTable {name, data}` (write): a CSV/xlsx file (base64) into new signals; they are
  stored and listed live at once (the newest `record_length` samples in their rings).
- `delete {signals: ["Dev.Sig"…], events: [evID…] | "all"}` (admin): delete signals and
  events for good, in the live view and in the store (hub/service `delete_signals`).
- `settings true` (read): record length, each device's sample rate, whether automation
  events and actions are evaluated.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import tempfile
from pathlib import Path
from typing import Any

from ..db.base import StoreError
from ..export import (
    Table,
    TableError,
    read_table,
    split_key,
    write_table,
)
from .signals_req import _num
from .state import RequestError, ServerState

MAX_EXPORT_SAMPLES = 500_000  # an answer of ~30 MB of CSV; more goes by `opencontrol export`
FORMATS = ("csv", "xlsx")


def _keys(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise RequestError(f'{what} takes a list of "Device.Signal" names')
    return value


async def export_table(st: ServerState, arg: Any) -> dict[str, Any]:
    """The chosen signals' stored samples in [xmin, xmax] as a CSV or xlsx file (base64)."""
    if not isinstance(arg, dict):
        raise RequestError("exportTable takes {signals, xmin, xmax, format}")
    unknown = set(arg) - {"signals", "xmin", "xmax", "format"}
    if unknown:
        raise RequestError(f"exportTable takes signals, xmin, xmax, format; not {sorted(unknown)}")
    keys = _keys(arg.get("signals"), "exportTable.signals")
    if not keys:
        raise RequestError("exportTable: choose at least one signal")
    kind = arg.get("format", "csv")
    if kind not in FORMATS:
        raise RequestError(f"exportTable.format is one of {FORMATS}")
    xmin = None if arg.get("xmin") is None else _num(arg["xmin"], "xmin")
    xmax = None if arg.get("xmax") is None else _num(arg["xmax"], "xmax")
    try:
        table: Table = await st.service.read_table(keys, xmin, xmax)
    except TableError as exc:
        raise RequestError(f"exportTable: {exc}") from exc
    if table.samples > MAX_EXPORT_SAMPLES:
        raise RequestError(
            f"exportTable: {table.samples} samples are more than {MAX_EXPORT_SAMPLES} in one "
            "answer; choose a shorter range or fewer signals (or use `opencontrol export`)"
        )
    try:
        data = await asyncio.to_thread(_table_bytes, table, kind)
    except TableError as exc:
        raise RequestError(f"exportTable: {exc}") from exc
    return {
        "name": f"opencontrol_export.{kind}",
        "format": kind,
        "samples": table.samples,
        "data": base64.b64encode(data).decode(),
    }


def _table_bytes(table: Table, kind: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="oc-export-") as tmp:
        path = Path(tmp) / f"export.{kind}"
        write_table(table, path)
        return path.read_bytes()


def _read_upload(name: str, data: bytes) -> Table:
    with tempfile.TemporaryDirectory(prefix="oc-import-") as tmp:
        base = Path(name).name  # the user's file name in messages, never a path
        path = Path(tmp) / (base if not base.startswith(".") else f"upload{Path(name).suffix}")
        path.write_bytes(data)
        return read_table(path)


async def import_upload(st: ServerState, arg: Any) -> dict[str, Any]:
    """A CSV/xlsx file into new signals: stored, then listed live at once."""
    if not isinstance(arg, dict) or not isinstance(arg.get("name"), str):
        raise RequestError("importTable takes {name: 'file.csv' or 'file.xlsx', data: base64}")
    name = arg["name"]
    if Path(name).suffix.lower() not in (".csv", ".xlsx"):
        raise RequestError(f"importTable: {name!r} is not a .csv or .xlsx file")
    try:
        data = base64.b64decode(str(arg.get("data", "")), validate=True)
    except (binascii.Error, ValueError):
        raise RequestError("importTable: data is not base64") from None
    if not data:
        raise RequestError("importTable: the file is empty")
    try:
        table = await asyncio.to_thread(_read_upload, name, data)
    except TableError as exc:
        raise RequestError(f"importTable: {exc}") from exc
    try:
        stored = await st.service.import_table(table)
    except TableError as exc:
        raise RequestError(f"importTable: {exc}") from exc
    return {"signals": sorted(f"{d}.{n}" for d, n in table.x), "samples": stored}


async def delete(st: ServerState, arg: Any) -> dict[str, int]:
    """Delete signals (by name) and events (by evID, or all) for good: from the live view
    and from the store (through the writer's queue, after what is queued before)."""
    if not isinstance(arg, dict) or set(arg) - {"signals", "events"}:
        raise RequestError('delete takes {"signals": ["Dev.Sig"…], "events": [evID…] or "all"}')
    keys = _keys(arg.get("signals", []), "delete.signals")
    for key in keys:
        try:
            split_key(key)
        except TableError as exc:
            raise RequestError(f"delete: {exc}") from exc
    events = arg.get("events", [])
    if events != "all" and (
        not isinstance(events, list)
        or not all(isinstance(e, int) and not isinstance(e, bool) for e in events)
    ):
        raise RequestError('delete.events takes a list of event ids or "all"')
    try:
        n_sig = await st.service.delete_signals(keys) if keys else 0
        if events == "all":
            n_ev = max(len(st.events), await st.service.delete_events(None))
            st.events.clear()
        else:
            wanted = set(events)
            chosen = [(eid, ev) for eid, ev in st.events.items() if eid in wanted]
            for eid, _ev in chosen:
                st.events.remove(eid)
            n_ev = len(chosen)
            if chosen:
                await st.service.delete_events([ev for _eid, ev in chosen])
    except (StoreError, TimeoutError) as exc:
        raise RequestError(
            f"delete: gone from the live view, but the store has not deleted it yet ({exc}); "
            "it will once the store is back"
        ) from exc
    return {"signals": n_sig, "events": n_ev}


def settings(st: ServerState) -> dict[str, Any]:
    """What may be changed at run time, as it is now."""
    service = st.service
    rates = {name: d.decl.samplerate for name, d in service.devices().items()}
    switches = service.automation.switches()
    return {
        "recordLength": service.signals.record_length,
        "samplerates": dict(sorted(rates.items())),
        "events": None if switches is None else switches["events"],
        "actions": None if switches is None else switches["actions"],
    }
