"""The script functions that reach outside: print, stream, plot, event — through a host."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from hub.db.base import EventRecord
from hub.engine import library as lib
from hub.engine.frame import Frame
from hub.engine.limits import EvalError


class ScriptHost(Protocol):
    """What a running script may do outside itself."""

    def command(self, device: str, op: str, name: str, args: Any) -> Any:
        """Send a command to the agent owning the device; return its result or raise."""

    def emit_event(self, record: EventRecord) -> None:
        """Raise an event (stored, pushed, notified, actions run)."""

    def emit_data(self, device: str, name: str, x: list[float], y: list[float], unit: str) -> None:
        """Add samples created by the script."""


def _print(fr: Frame, *args: Any, sep: str = " ", end: str = "\n") -> None:
    text = str(sep).join(str(a) for a in args) + str(end)
    used = sum(len(s) for s in fr.output)
    room = (fr.budget.limits.max_output if fr.budget else 65_536) - used
    if room <= 0:
        return
    fr.output.append(text[:room] if len(text) <= room else text[:room] + "…[output truncated]")


def _floats(v: Any, what: str) -> list[float]:
    lib.nested_size(v, what)
    try:
        arr = np.atleast_1d(np.asarray(v, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise EvalError(f"{what}(): values must be numbers ({exc})") from None
    lib.check_items(arr.size, what)
    if not np.isfinite(arr).all():
        raise EvalError(f"{what}(): values must be finite numbers, not NaN or infinity")
    return [float(a) for a in arr]


def _stream(
    fr: Frame,
    y: Any,
    snames: Any = "Unnamed",
    dname: Any = "noDevice",
    unit: Any = "",
    x: Any = None,
) -> bool:
    ys = _floats(y, "stream")
    names = [snames] if isinstance(snames, str) else [str(s) for s in snames]
    names += ["Unnamed"] * (len(ys) - len(names))
    units = [unit] * len(ys) if isinstance(unit, str) else [str(u) for u in unit]
    units += [""] * (len(ys) - len(units))
    xs = [fr.clock] * len(ys) if x is None else _floats(x, "stream")
    if len(xs) < len(ys):
        raise EvalError("stream(): fewer x than y values")
    dev = dname if isinstance(dname, str) else "noDevice"
    for i, v in enumerate(ys):
        fr.host.emit_data(dev, names[i], [xs[i]], [v], units[i])
    return True


def _plot(
    fr: Frame, x: Any, y: Any, sname: Any = "noName", dname: Any = "noDevice", unit: Any = ""
) -> bool:
    xs, ys = _floats(x, "plot"), _floats(y, "plot")
    if len(xs) != len(ys):
        raise EvalError("plot(): x and y differ in length")
    order = sorted(range(len(xs)), key=xs.__getitem__)
    fr.host.emit_data(
        str(dname), str(sname), [xs[i] for i in order], [ys[i] for i in order], str(unit)
    )
    return True


def _event(
    fr: Frame,
    text: Any = "",
    sname: Any = "noName",
    dname: Any = "noDevice",
    x: Any = None,
    priority: Any = 0,
    id: Any = "",
    value: Any = None,
) -> bool:
    prio = int(priority)
    if prio not in (0, 1, 2):
        raise EvalError("event(): priority must be 0, 1 or 2")
    if isinstance(value, np.generic):
        value = value.item()
    if value is not None and not isinstance(value, (int, float, str, bool)):
        raise EvalError("event(): value must be a number, text or bool")
    if isinstance(value, float) and not math.isfinite(value):
        raise EvalError("event(): value must be finite, not NaN or infinity")
    fr.host.emit_event(
        EventRecord(
            time=fr.clock if x is None else _floats(x, "event")[0],
            device=str(dname),
            signal=str(sname),
            text=str(text)[:4096],
            priority=prio,
            event_id=str(id),
            value=value,
        )
    )
    return True


FRAME_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "print": _print,
    "stream": _stream,
    "plot": _plot,
    "event": _event,
}
