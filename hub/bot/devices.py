"""Devices as the agents declared them, and typed user input checked against that declaration.

Values a user types are parsed as data (numbers, true/false, text, a JSON list or
object) and coerced by the wire contract (`ParamDecl.coerce`, `coerce_param`); nothing is ever
evaluated as code.
"""

from __future__ import annotations

import json
from typing import Any

from edge_agent.wire import FunctionDecl, ParamDecl, coerce_param
from hub.service import DeviceView

# A device as its agent declared it: the service's typed view.
DeviceInfo = DeviceView


def describe_param(p: ParamDecl) -> str:
    """A one-line hint of what a parameter takes."""
    bits = [p.type]
    if p.unit:
        bits.append(p.unit)
    if p.min is not None or p.max is not None:
        low = "" if p.min is None else p.min
        high = "" if p.max is None else p.max
        bits.append(f"{low}..{high}")
    if p.choices:
        bits.append("one of " + ", ".join(str(c) for c in p.choices))
    return ", ".join(bits)


def _scalar(text: str) -> Any:
    s = text.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        return s[1:-1]
    return s


def parse_param_value(p: ParamDecl, text: str) -> Any:
    """The typed value for a parameter (the wire contract's coercion), or ValueError
    saying what it takes."""
    if not p.writable:
        raise ValueError(f"{p.name} is read-only")
    raw = _scalar(text)
    if p.type != "str" and raw == "":
        raise ValueError(f"{p.name} takes {describe_param(p)}; got nothing")
    return p.coerce(raw)


def parse_call_args(fn: FunctionDecl, text: str) -> dict[str, Any]:
    """Arguments for a function from `a, b` or `name=value, ...` or a JSON list/object."""
    args = list(fn.args)
    fname = fn.name
    s = text.strip()
    given: dict[str, Any] = {}
    if s in ("", "-", "()"):
        pass
    elif s[0] in "[{":
        try:
            parsed = json.loads(s)
        except ValueError as exc:
            raise ValueError(f"{fname}: not valid JSON: {exc}") from None
        if isinstance(parsed, list):
            if len(parsed) > len(args):
                raise ValueError(f"{fname} takes {len(args)} arguments, got {len(parsed)}")
            given = {a.name: v for a, v in zip(args, parsed, strict=False)}
        else:
            given = dict(parsed)
    else:
        parts = s.split(",")
        if len(parts) > len(args):
            raise ValueError(f"{fname} takes {len(args)} arguments, got {len(parts)}")
        for i, part in enumerate(parts):
            if "=" in part and part.split("=", 1)[0].strip().isidentifier():
                k, v = part.split("=", 1)
                given[k.strip()] = _scalar(v)
            else:
                given[args[i].name] = _scalar(part)
    known = {a.name for a in args}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ValueError(f"{fname}: unknown arguments {unknown} (takes {sorted(known)})")
    out: dict[str, Any] = {}
    for a in args:
        if a.name not in given:
            if a.required:
                raise ValueError(f"{fname}: missing argument {a.name!r} ({a.type or 'str'})")
            continue
        out[a.name] = coerce_param(a.name, a.type or "str", given[a.name])
    return out


def parse_samplerate(limit: float | None, text: str) -> float:
    """A sample rate in Hz, greater than 0 and at most the driver's maximum (`limit`)."""
    try:
        rate = float(_scalar(text))
    except ValueError:
        raise ValueError(f"the sample rate is a number in Hz, got {text!r}") from None
    if not rate > 0 or rate != rate or rate == float("inf"):
        raise ValueError(f"the sample rate must be greater than 0, got {text!r}")
    if limit is not None and rate > float(limit):
        raise ValueError(f"the sample rate must be at most {limit} Hz, got {rate}")
    return rate


def signature(fn: FunctionDecl) -> str:
    """`name(a: float, b: int = 2)` for a function declaration."""
    parts = []
    for a in fn.args:
        p = f"{a.name}: {a.type or 'str'}"
        if not a.required:
            p += f" = {a.default!r}"
        parts.append(p)
    return f"{fn.name}({', '.join(parts)})"
