"""The script functions that reach outside: print, stream, plot, event — through a host."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from edge_agent.wire import WireError, check_event
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

    def telegram(self, message: dict[str, Any]) -> int:
        """Queue a Telegram message (text, picture, priority, permission) for the users it
        may reach; returns how many; raises EvalError when there is no bot."""


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
    if isinstance(value, np.generic):
        value = value.item()
    if value is not None and not isinstance(value, (int, float, str, bool)):
        raise EvalError("event(): value must be a number, text or bool")
    record = EventRecord(
        time=fr.clock if x is None else _floats(x, "event")[0],
        device=str(dname),
        signal=str(sname),
        text=str(text),
        priority=int(priority),
        event_id=str(id),
        value=value,
    )
    try:
        check_event(record)  # the check every way in shares: refused here, said to the script
    except WireError as exc:
        raise EvalError(f"event(): {exc}") from None
    fr.host.emit_event(record)
    return True


AUDIENCES = ("read", "write", "admin")  # who may receive: at least read (notifications)
PICTURE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def _audience(priority: Any, permission: Any, what: str) -> tuple[int, str]:
    if isinstance(priority, bool) or priority not in (0, 1, 2):
        raise EvalError(f"{what}(): priority must be 0, 1 or 2")
    if permission not in AUDIENCES:
        raise EvalError(f"{what}(): permission must be one of {', '.join(AUDIENCES)}")
    return int(priority), str(permission)


def _send_message_to_all(fr: Frame, text: Any, priority: Any = 0, permission: Any = "write") -> int:
    """RTOC's telegram.send_message_to_all: to every user whose permission is at least
    `permission` and whose notification level admits `priority`; returns how many."""
    what = "telegram.send_message_to_all"
    prio, perm = _audience(priority, permission, what)
    body = str(text)
    if not body.strip():
        raise EvalError(f"{what}(): the text is empty")
    return fr.host.telegram(
        {"text": body[:4000], "picture": None, "priority": prio, "permission": perm}
    )


def picture_spec(picture: Any, what: str) -> str | dict[str, tuple[list[float], list[float]]]:
    """A picture a script names: a file name of the hub's `<config_dir>/pictures`, or a
    plot `{label: [xs, ys], …}` checked here (finite numbers, equal lengths, ≤ 10 curves)."""
    if isinstance(picture, str):
        return file_name(picture, what, "pictures")
    if isinstance(picture, dict) and picture:
        if len(picture) > 10:
            raise EvalError(f"{what}: at most 10 curves in one plot")
        pic = {}
        for label, pair in picture.items():
            if not (isinstance(pair, list | tuple) and len(pair) == 2):
                raise EvalError(f"{what}: {label!r} must map to [xs, ys]")
            xs, ys = _floats(pair[0], what), _floats(pair[1], what)
            if len(xs) != len(ys):
                raise EvalError(f"{what}: {label!r}: xs and ys differ in length")
            pic[str(label)[:100]] = (xs, ys)
        return pic
    raise EvalError(f"{what}: give a picture's file name or {{label: [xs, ys]}}")


def file_name(name: Any, what: str, folder: str) -> str:
    """A plain file name of the hub's `<config_dir>/<folder>` (never a path)."""
    if not isinstance(name, str) or not PICTURE_NAME.match(name) or ".." in name:
        raise EvalError(
            f"{what}: {name!r} is not a file name in the hub's {folder} folder "
            "(letters, digits, _ . -; no paths)"
        )
    return name


def _send_photo(
    fr: Frame,
    picture: Any,
    text: Any = "",
    priority: Any = 0,
    permission: Any = "write",
    to: Any = "all",
) -> int:
    """RTOC's telegram.send_photo: a picture file of the hub's `<config_dir>/pictures`
    (by name) or a plot of {label: [xs, ys], …} (RTOC's send_plot form), to the same
    audience as send_message_to_all — or, with to="caller", only to the Telegram user
    who pressed the user action being run."""
    what = "telegram.send_photo"
    prio, perm = _audience(priority, permission, what)
    if to not in ("all", "caller"):
        raise EvalError(f"{what}(): to must be 'all' or 'caller'")
    pic = picture_spec(picture, f"{what}()")
    message = {"text": str(text)[:1000], "picture": pic, "priority": prio, "permission": perm}
    if to == "caller":
        message["to"] = "caller"
    return fr.host.telegram(message)


def _send_message(fr: Frame, text: Any) -> int:
    """Answer the Telegram user who pressed the user action being run (only them)."""
    what = "telegram.send_message"
    body = str(text)
    if not body.strip():
        raise EvalError(f"{what}(): the text is empty")
    return fr.host.telegram(
        {"text": body[:4000], "picture": None, "priority": 0, "permission": "write", "to": "caller"}
    )


FRAME_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "telegram.send_message_to_all": _send_message_to_all,
    "telegram.send_photo": _send_photo,
    "telegram.send_message": _send_message,
    "print": _print,
    "stream": _stream,
    "plot": _plot,
    "event": _event,
}
