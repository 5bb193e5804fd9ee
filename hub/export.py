"""Signals as tables: export a time range of chosen signals to CSV or xlsx, import such a
table into new signals.

One layout for both formats, one row per sample:
    time (epoch seconds), utc (ISO 8601, for people), signal (Device.Name), unit, value
An import reads `time` (or, without it, `utc`), `signal`, `unit` (optional) and `value`;
every row is checked first and a file with one bad row imports nothing.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge_agent.wire import T_MAX, T_MIN, Batch, Series, name_problem

from .db.base import Store

COLUMNS = ("time", "utc", "signal", "unit", "value")
XLSX_MAX_ROWS = 1_048_575  # Excel's sheet limit, less the header
IMPORT_AGENT = "import"  # the ledger's agent name for imported samples
CHUNK = 50_000  # samples per stored batch


class TableError(Exception):
    """A table that cannot be exported or imported; the message says where and why."""


@dataclass
class Table:
    """Samples per signal, keyed by (device, name)."""

    units: dict[tuple[str, str], str] = field(default_factory=dict)
    x: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    y: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    def add(self, key: tuple[str, str], unit: str, t: float, v: float) -> None:
        self.units.setdefault(key, unit)
        self.x.setdefault(key, []).append(t)
        self.y.setdefault(key, []).append(v)

    @property
    def samples(self) -> int:
        return sum(len(v) for v in self.x.values())

    def rows(self) -> Iterator[tuple[float, str, str, str, float]]:
        for key, xs in self.x.items():
            name, unit = f"{key[0]}.{key[1]}", self.units[key]
            for t, v in zip(xs, self.y[key], strict=True):
                iso = datetime.fromtimestamp(t, UTC).isoformat(timespec="microseconds")
                yield t, iso, name, unit, v


def split_key(text: str) -> tuple[str, str]:
    """'Device.Name' → ('Device', 'Name'); the device is what comes before the first dot."""
    device, dot, name = text.partition(".")
    if not dot:
        raise TableError(f"signal {text!r} is not Device.Name")
    for part in (device, name):
        if problem := name_problem(part):
            raise TableError(f"signal {text!r}: {problem}")
    return device, name


def read_store(
    store: Store, keys: Iterable[str], since: float | None, until: float | None
) -> Table:
    """The raw samples of the named signals in [since, until] (blocking: a worker thread)."""
    units = {(s.device, s.name): s.unit for s in store.signals()}
    table = Table()
    for text in keys:
        key = split_key(text)
        if key not in units:
            raise TableError(f"no signal {text} in the store")
        h = store.history(key[0], key[1], since, until, None)
        table.units[key] = units[key]
        table.x[key], table.y[key] = h.x.tolist(), h.y.tolist()
    return table


def table_from_session(session: dict[str, Any]) -> Table:
    """The live signals of a websocket session document (SPEC §5.4) as a table."""
    table = Table()
    for dev_id, name, xs, ys, unit in session["signals"].values():
        key = (session["devices"][str(dev_id)], name)
        table.units[key] = unit
        table.x[key], table.y[key] = _floats(xs), _floats(ys)
    return table


def _floats(values: Any) -> list[float]:
    return [float(v) for v in (values.tolist() if hasattr(values, "tolist") else values)]


def write_table(table: Table, path: Path) -> None:
    """Write CSV or xlsx by the file's suffix; an existing file is not overwritten."""
    kind = path.suffix.lower()
    if kind not in (".csv", ".xlsx"):
        raise TableError(f"{path.name}: export writes .csv or .xlsx")
    if path.exists():
        raise TableError(f"{path} exists; choose another name")
    part = path.with_name(path.name + ".part")
    try:
        if kind == ".csv":
            with part.open("w", newline="") as f:
                w = csv.writer(f)
                w.writerow(COLUMNS)
                w.writerows((repr(r[0]), r[1], r[2], r[3], repr(r[4])) for r in table.rows())
        else:
            _write_xlsx(table, part)
        part.replace(path)
    finally:
        part.unlink(missing_ok=True)


def _write_xlsx(table: Table, path: Path) -> None:
    from openpyxl import Workbook

    if table.samples > XLSX_MAX_ROWS:
        raise TableError(
            f"{table.samples} samples do not fit one xlsx sheet ({XLSX_MAX_ROWS} rows): "
            "export a shorter range or CSV"
        )
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("samples")
    ws.append(list(COLUMNS))
    for row in table.rows():
        ws.append(list(row))
    wb.save(path)


def read_table(path: Path) -> Table:
    """Read a CSV or xlsx table in the export layout; TableError names the first bad row."""
    kind = path.suffix.lower()
    if kind == ".csv":
        try:
            with path.open(newline="") as f:
                rows = list(csv.reader(f))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise TableError(f"cannot read {path}: {exc}") from exc
    elif kind == ".xlsx":
        rows = _read_xlsx(path)
    else:
        raise TableError(f"{path.name}: import reads .csv or .xlsx")
    if not rows:
        raise TableError(f"{path.name} is empty")
    header = [str(h or "").strip().lower() for h in rows[0]]
    col = {name: header.index(name) for name in COLUMNS if name in header}
    if "signal" not in col or "value" not in col or not ("time" in col or "utc" in col):
        raise TableError(
            f"{path.name}: the first row must name the columns signal, value and time "
            f"(or utc); it has {rows[0]}"
        )
    table = Table()
    for n, row in enumerate(rows[1:], start=2):
        if not any(str(c or "").strip() for c in row):
            continue
        try:
            key = split_key(str(_cell(row, col["signal"])).strip())
            t = _time(row, col)
            v = _number(_cell(row, col["value"]), "value")
            unit = str(_cell(row, col["unit"]) or "") if "unit" in col else ""
        except TableError as exc:
            raise TableError(f"{path.name} row {n}: {exc}") from None
        if table.units.get(key, unit) != unit:
            raise TableError(f"{path.name} row {n}: {key[0]}.{key[1]} changes its unit")
        table.add(key, unit, t, v)
    if not table.x:
        raise TableError(f"{path.name} holds no samples")
    return table


def _read_xlsx(path: Path) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile, XML and openpyxl's own errors
        raise TableError(f"cannot read {path.name} as xlsx: {exc}") from exc
    try:
        return [list(r) for r in wb.worksheets[0].iter_rows(values_only=True)]
    finally:
        wb.close()


def _cell(row: list[Any], i: int) -> Any:
    return row[i] if i < len(row) else None


def _number(cell: Any, what: str) -> float:
    if isinstance(cell, bool):
        raise TableError(f"{what} {cell!r} is not a number")
    try:
        v = float(cell)
    except (TypeError, ValueError):
        raise TableError(f"{what} {cell!r} is not a number") from None
    if not math.isfinite(v):
        raise TableError(f"{what} {cell!r} is not finite")
    return v


def _time(row: list[Any], col: dict[str, int]) -> float:
    if "time" in col and _cell(row, col["time"]) not in (None, ""):
        t = _number(_cell(row, col["time"]), "time")
    else:
        cell = _cell(row, col["utc"]) if "utc" in col else None
        if isinstance(cell, datetime):
            stamp = cell
        else:
            try:
                stamp = datetime.fromisoformat(str(cell).strip())
            except ValueError:
                raise TableError(f"utc {cell!r} is not an ISO 8601 time") from None
        t = (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
    if not T_MIN <= t < T_MAX:
        raise TableError(f"time {t!r} is outside the years 1900..3000")
    return t


def import_table(store: Store, table: Table) -> int:
    """Store the table's samples as new signals; refuse (storing nothing) when one of them
    exists already. Returns the samples stored. Blocking: a worker thread or the CLI."""
    existing = {(s.device, s.name) for s in store.signals()}
    taken = sorted(f"{d}.{n}" for d, n in table.x if (d, n) in existing)
    if taken:
        raise TableError(
            f"{', '.join(taken)} exist already: import makes new signals only "
            "(rename them in the file)"
        )
    seq = time.time_ns() // 1000  # the ledger's (agent, seq) stays unique between imports
    stored = 0
    for (device, name), xs in table.x.items():
        ys, unit = table.y[(device, name)], table.units[(device, name)]
        for i in range(0, len(xs), CHUNK):
            batch = Batch(
                IMPORT_AGENT,
                seq,
                [Series(device, name, unit, xs[i : i + CHUNK], ys[i : i + CHUNK])],
            )
            store.write_batch(batch, time.time())
            seq += 1
            stored += len(batch.signals[0].t)
    return stored


def parse_time(text: str | None) -> float | None:
    """An --since/--until value: epoch seconds or an ISO 8601 time (UTC when no zone)."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise TableError(f"{text!r} is neither epoch seconds nor an ISO 8601 time") from None
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()
