"""RTOC request keys about signals: y, getSignalList, getLatest, getSignal, getSession, remove."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_agent.wire import Series
from hub.service import QueryError
from hub.signals import Signal, UnknownSignal

from .jsonfast import FloatArray
from .session import ClientSession
from .state import RequestError, ServerState, event_row

MAX_NAME = 100


def _num(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise RequestError(f"{what} must be a number, got {value!r}")
    try:
        f = float(value)
    except ValueError:
        raise RequestError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(f):
        raise RequestError(f"{what} must be a finite number, got {value!r}")
    return f


_PLAIN = frozenset((float, int))


def _nums(values: list[Any], what: str) -> list[float]:
    """Each value as a number (see _num); JSON numbers as they are (the parser let no
    non-finite one in, and the hub checks again)."""
    if set(map(type, values)) <= _PLAIN:
        return values
    return [_num(v, what) for v in values]


def _name(value: Any, default: str, what: str) -> str:
    if not isinstance(value, str) or value == "":
        return default
    if len(value) > MAX_NAME:
        raise RequestError(f"{what} longer than {MAX_NAME} characters")
    return value


def _new_signals(st: ServerState, s: ClientSession, keys: set[str], known: set[str]) -> set[str]:
    """The keys that would create signals (not live, not in `known`); RequestError past the
    client's limit. Changes nothing."""
    new = {k for k in keys if k not in st.service.signals} - known
    limit = st.config.max_signals_per_client
    if new and s.signals_created + len(new) > limit:
        st.stats["refused_signals"] += 1
        raise RequestError(
            f"signal limit: this connection may create {limit} signals, "
            f"{s.signals_created} created, {len(new)} more asked ({', '.join(sorted(new)[:5])})"
        )
    return new


def _check_new_signals(st: ServerState, s: ClientSession, keys: set[str]) -> None:
    s.signals_created += len(_new_signals(st, s, keys, set()))


@dataclass(slots=True)
class StreamFrame:
    """A stream-mode `y` frame, read and checked: one sample per name of one device."""

    device: str
    names: list[str]
    units: list[str]
    x: list[float]
    y: list[float]
    new: set[str]  # the `device.name` keys it creates

    @property
    def keys(self) -> list[str]:
        """The frame's signal keys."""
        return [f"{self.device}.{n}" for n in self.names]


def _own_device(st: ServerState, req: dict[str, Any]) -> str:
    """The request's device name; RequestError when an agent owns that device."""
    dname = _name(req.get("dname"), "noDevice", "dname")
    owner = st.service.agents.device_owner(dname)
    if owner is not None:
        raise RequestError(
            f"device {dname!r} belongs to agent {owner!r}: send websocket data to a device "
            "name of its own"
        )
    return dname


def read_stream_y(
    st: ServerState,
    s: ClientSession,
    req: dict[str, Any],
    known: set[str] | frozenset[str] = frozenset(),
) -> StreamFrame:
    """Read and check a stream-mode `y` request (RequestError for a bad one); changes
    nothing. `known`: keys created by frames read before it but not live yet."""
    dname = _own_device(st, req)
    y = req["y"]
    ys = y if isinstance(y, list) else [y]
    yv = _nums(ys, "y")
    sname = req.get("sname")
    snames = list(sname) if isinstance(sname, list) else ([sname] if sname is not None else [])
    snames = [_name(n, "Unnamed", "sname") for n in snames[: len(yv)]]
    snames += ["Unnamed"] * (len(yv) - len(snames))
    unit = req.get("unit")
    if isinstance(unit, list):
        units = [u if isinstance(u, str) else "" for u in unit[: len(yv)]]
        units += [""] * (len(yv) - len(units))
    else:
        units = [unit if isinstance(unit, str) else ""] * len(yv)
    x = req.get("x")
    if x is None:
        now = st.clock()
        xv = [now] * len(yv)
    elif isinstance(x, list):
        if len(x) < len(yv):
            raise RequestError(f"x has {len(x)} values for {len(yv)} y values")
        xv = _nums(x[: len(yv)], "x")
    else:
        xv = [_num(x, "x")] * len(yv)
    new = _new_signals(st, s, {f"{dname}.{n}" for n in snames}, set(known))
    return StreamFrame(dname, snames, units, xv, yv, new)


def handle_y(st: ServerState, s: ClientSession, req: dict[str, Any]) -> bool:
    """Stream (one value per signal) or plot mode (replace a signal's data); `sent: true`."""
    if req.get("plot"):
        return _plot(st, s, req, _own_device(st, req))
    f = read_stream_y(st, s, req)
    s.signals_created += len(f.new)
    if len(set(f.names)) == len(f.names):  # one sample per signal: the usual frame
        not_kept = st.service.ingest_local_samples(f.device, f.names, f.units, f.x, f.y)
    else:
        not_kept = st.service.ingest_local_series(stream_series([f]))  # sorts each by time
    if not_kept:  # live already; the store is too far behind to take more now
        st.stats["not_stored"] = st.stats.get("not_stored", 0) + 1
        raise RequestError(f"live but not stored: the store is behind ({', '.join(not_kept[:5])})")
    return True


def stream_series(frames: list[StreamFrame]) -> list[Series]:
    """The frames' samples as one series per signal, in frame order (a later frame's
    unit, when it names one, wins)."""
    groups: dict[tuple[str, str], Series] = {}
    for f in frames:
        for n, xx, yy, u in zip(f.names, f.x, f.y, f.units, strict=True):
            g = groups.get((f.device, n))
            if g is None:
                groups[(f.device, n)] = Series(f.device, n, u, [xx], [yy])
            else:
                g.t.append(xx)
                g.y.append(yy)
                g.unit = u or g.unit
    return list(groups.values())


def _plot(st: ServerState, s: ClientSession, req: dict[str, Any], dname: str) -> bool:
    x, y = req.get("x"), req.get("y")
    if not isinstance(x, list) or not isinstance(y, list):
        raise RequestError("plot mode needs lists x and y")
    if len(x) != len(y):
        raise RequestError(f"plot mode: x has {len(x)} values, y has {len(y)}")
    sname = req.get("sname")
    sname = _name(sname, "noSignal", "sname") if isinstance(sname, str) else "noSignal"
    unit = req.get("unit")
    if isinstance(unit, list):
        unit = unit[-1] if unit else ""
    unit = unit if isinstance(unit, str) else ""
    xs = np.asarray([_num(v, "x") for v in x], dtype=np.float64)
    ys = np.asarray([_num(v, "y") for v in y], dtype=np.float64)
    _check_new_signals(st, s, {f"{dname}.{sname}"})
    sig = st.service.signals.ensure(dname, sname, unit)
    sig.buffer.clear()
    sig.buffer.append(xs, ys)
    return True


def signal_list(st: ServerState) -> list[list[str]]:
    """`[[dname, sname], …]` for every live signal."""
    return [[sig.device, sig.name] for sig in st.service.signals]


def _get(st: ServerState, key: Any) -> Signal:
    if not isinstance(key, str):
        raise RequestError(f"signal names are strings 'Device.Signal', got {key!r}")
    try:
        return st.service.signals.get(key)
    except UnknownSignal:
        raise RequestError(f"unknown signal {key!r}") from None


def _finite(v: float) -> float | None:
    # nothing non-finite gets in, but an answer must be JSON whatever the buffer holds
    return v if math.isfinite(v) else None


def latest(st: ServerState, value: Any) -> dict[str, list[Any]]:
    """getLatest: `true` → every signal with data (6 fields); a list → those (3 fields)."""
    if isinstance(value, list):
        out: dict[str, list[Any]] = {}
        for key in value:
            sig = _get(st, key)
            last = sig.latest()
            if last is None:
                raise RequestError(f"signal {key!r} has no data")
            out[key] = [_finite(last[0]), _finite(last[1]), sig.unit]
        return out
    out = {}
    for sig in st.service.signals:
        last = sig.latest()
        if last is None:
            continue
        x, y = _finite(last[0]), _finite(last[1])
        first = sig.buffer.first_x()
        out[sig.key] = [x, y, sig.unit, sig.id, x if first is None else _finite(first), x]
    return out


def _memory_answer(sig: Signal) -> list[Any]:
    x, y = sig.buffer.arrays()
    if len(x) == 0:
        raise RequestError(f"signal {sig.key!r} has no data")
    return [FloatArray(x), FloatArray(y), sig.unit, sig.id, float(x[0]), float(x[-1])]


async def get_signal(st: ServerState, value: Any) -> Any:
    """getSignal: a list of names, "all", or one object with xmin/xmax/maxN/database."""
    if value == "all":
        return {sig.key: _memory_answer(sig) for sig in st.service.signals if len(sig.buffer)}
    if isinstance(value, list):
        return {k: _memory_answer(_get(st, k)) for k in value}
    if not isinstance(value, dict):
        raise RequestError("getSignal takes a list of names, 'all' or an object")
    dname, sname = value.get("dname"), value.get("sname")
    if not isinstance(dname, str) or not isinstance(sname, str):
        return False
    xmin = None if value.get("xmin") is None else _num(value["xmin"], "xmin")
    xmax = None if value.get("xmax") is None else _num(value["xmax"], "xmax")
    max_n = value.get("maxN")
    if max_n is not None:
        if isinstance(max_n, bool) or not isinstance(max_n, int | float) or max_n < 1:
            raise RequestError(f"maxN must be a positive integer, got {max_n!r}")
        max_n = int(max_n)
    stored = bool(value.get("database", True))
    try:
        h = await st.service.history(dname, sname, xmin, xmax, max_n, stored=stored)
    except QueryError as exc:
        raise RequestError(str(exc)) from exc
    return {h.key: [FloatArray(h.x), FloatArray(h.y), h.unit, h.signal_id, h.first, h.last]}


MAX_SESSION_POINTS = 5_000_000


def answer_points(st: ServerState, req: dict[str, Any], limit: int) -> int:
    """Points of signal data the answer to `req` holds, where memory tells in advance
    (getSession, getSignal of names or "all"); a getSignal object counts its memory
    answer only (the store's is counted when it is known: `points_in`).

    A getSignal object without maxN is given maxN = `limit`, so no request asks for an
    unbounded range of history.
    """
    signals = st.service.signals
    n = 0
    if "getSession" in req:
        n += sum(len(sig.buffer) for sig in signals)
    value = req.get("getSignal")
    if value == "all":
        n += sum(len(sig.buffer) for sig in signals)
    elif isinstance(value, list):
        n += sum(len(signals.get(k).buffer) for k in value if isinstance(k, str) and k in signals)
    elif isinstance(value, dict) and value.get("maxN") is None:
        value["maxN"] = limit
    return n


def points_in(resp: dict[str, Any]) -> int:
    """Points of signal data in an answer (what it cost)."""
    n = 0
    for row in (resp.get("signals") or {}).values():
        if isinstance(row, list) and row and isinstance(row[0], FloatArray):
            n += len(row[0])
    session = resp.get("session")
    if isinstance(session, dict):
        n += sum(len(row[2]) for row in session["signals"].values())
    return n


def session_json(st: ServerState) -> dict[str, Any]:
    """The session document of SPEC §5.4 (maxLength, signals, events, devices)."""
    points = sum(len(sig.buffer) for sig in st.service.signals)
    if points > MAX_SESSION_POINTS:
        raise RequestError(
            f"the session holds {points} points (limit {MAX_SESSION_POINTS}): "
            "fetch signals with getSignal and maxN instead"
        )
    devices: dict[str, int] = {}
    signals: dict[str, list[Any]] = {}
    for sig in st.service.signals:
        dev_id = devices.setdefault(sig.device, len(devices) + 1)
        x, y = sig.buffer.arrays()
        signals[str(sig.id)] = [dev_id, sig.name, FloatArray(x), FloatArray(y), sig.unit]
    events: dict[str, list[Any]] = {}
    for eid, ev in st.events.items():
        dev_id = devices.setdefault(ev.device, len(devices) + 1)
        found = st.service.signals.find(ev.device, ev.signal)
        row = event_row(eid, ev)
        events[str(eid)] = [dev_id, found.id if found else None, *row[2:]]
    return {
        "maxLength": st.service.signals.record_length,
        "signals": signals,
        "events": events,
        "devices": {str(i): name for name, i in devices.items()},
    }


def remove(st: ServerState, value: Any) -> list[int]:
    """remove `[[signalIDs…], [eventIDs…]]` → `[nSignals, nEvents]` actually removed."""
    if not isinstance(value, list) or not value:
        raise RequestError("remove takes [[signal ids…], [event ids…]]")
    sig_ids = value[0] if isinstance(value[0], list) else []
    ev_ids = value[1] if len(value) > 1 and isinstance(value[1], list) else []
    n_sig = n_ev = 0
    for sid in sig_ids:
        if not isinstance(sid, int):
            continue
        try:
            sig = st.service.signals.by_id(sid)
        except UnknownSignal:
            continue
        n_sig += st.service.remove_signal(sig.key)
    for eid in ev_ids:
        if isinstance(eid, int):
            n_ev += st.events.remove(eid)
    return [n_sig, n_ev]
