"""Devices as the agents declared them, and typed user input checked against that declaration.

Values a user types are parsed as data (numbers, true/false, text, a JSON list or
object) and coerced with the driver contract's own `ParamSpec.coerce`; nothing is ever
evaluated as code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from edge_agent.drivers.base import ParamSpec
from hub.service import DeviceView

_TYPES: dict[str, type] = {"float": float, "int": int, "str": str, "bool": bool}


# A device as its agent declared it: the service's typed view.
DeviceInfo = DeviceView


def param_spec(decl: dict[str, Any]) -> ParamSpec:
    """A ParamSpec rebuilt from a parameter's declaration in a birth message."""
    t = _TYPES.get(str(decl.get("type", "str")))
    if t is None:
        raise ValueError(f"parameter {decl.get('name')!r} has unknown type {decl.get('type')!r}")
    choices = decl.get("choices")
    return ParamSpec(
        name=str(decl["name"]),
        type=t,
        default=decl.get("default"),
        unit=str(decl.get("unit") or ""),
        writable=bool(decl.get("writable", True)),
        choices=tuple(choices) if choices else None,
        min=decl.get("min"),
        max=decl.get("max"),
    )


def describe_param(decl: dict[str, Any]) -> str:
    """A one-line hint of what a parameter takes."""
    bits = [str(decl.get("type", "str"))]
    if decl.get("unit"):
        bits.append(str(decl["unit"]))
    if decl.get("min") is not None or decl.get("max") is not None:
        bits.append(f"{decl.get('min', '')}..{decl.get('max', '')}")
    if decl.get("choices"):
        bits.append("one of " + ", ".join(str(c) for c in decl["choices"]))
    return ", ".join(bits)


def _scalar(text: str) -> Any:
    s = text.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        return s[1:-1]
    return s


def parse_param_value(decl: dict[str, Any], text: str) -> Any:
    """The typed value for a parameter, or ValueError saying what it takes."""
    spec = param_spec(decl)
    if not spec.writable:
        raise ValueError(f"{spec.name} is read-only")
    raw = _scalar(text)
    if spec.type is not str and raw == "":
        raise ValueError(f"{spec.name} takes {describe_param(decl)}; got nothing")
    return spec.coerce(raw)


def parse_call_args(decl: dict[str, Any], text: str) -> dict[str, Any]:
    """Arguments for a function from `a, b` or `name=value, ...` or a JSON list/object."""
    args = list(decl.get("args") or [])
    fname = str(decl.get("name"))
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
            given = {a["name"]: v for a, v in zip(args, parsed, strict=False)}
        else:
            given = dict(parsed)
    else:
        parts = [p for p in s.split(",")]
        if len(parts) > len(args):
            raise ValueError(f"{fname} takes {len(args)} arguments, got {len(parts)}")
        for i, part in enumerate(parts):
            if "=" in part and part.split("=", 1)[0].strip().isidentifier():
                k, v = part.split("=", 1)
                given[k.strip()] = _scalar(v)
            else:
                given[args[i]["name"]] = _scalar(part)
    known = {a["name"] for a in args}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ValueError(f"{fname}: unknown arguments {unknown} (takes {sorted(known)})")
    out: dict[str, Any] = {}
    for a in args:
        name = a["name"]
        if name not in given:
            if a.get("required", True):
                raise ValueError(f"{fname}: missing argument {name!r} ({a.get('type', 'str')})")
            continue
        spec = param_spec({"name": name, "type": a.get("type", "str")})
        out[name] = spec.coerce(given[name])
    return out


def parse_samplerate(decl: Mapping[str, Any], text: str) -> float:
    """A sample rate in Hz, greater than 0 and at most the driver's maximum."""
    try:
        rate = float(_scalar(text))
    except ValueError:
        raise ValueError(f"the sample rate is a number in Hz, got {text!r}") from None
    if not rate > 0 or rate != rate or rate == float("inf"):
        raise ValueError(f"the sample rate must be greater than 0, got {text!r}")
    limit = decl.get("max_samplerate")
    if limit is not None and rate > float(limit):
        raise ValueError(f"the sample rate must be at most {limit} Hz, got {rate}")
    return rate


def signature(decl: dict[str, Any]) -> str:
    """`name(a: float, b: int = 2)` for a function declaration."""
    parts = []
    for a in decl.get("args") or []:
        p = f"{a['name']}: {a.get('type', 'str')}"
        if not a.get("required", True):
            p += f" = {a.get('default')!r}"
        parts.append(p)
    return f"{decl.get('name')}({', '.join(parts)})"
