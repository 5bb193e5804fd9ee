"""Jinja filter `to_toml`: render a mapping (from inventory vars) as a TOML document."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


class TomlRenderError(ValueError):
    """A value has no TOML form (None, NaN keys, unsupported types)."""


def _key(key: Any) -> str:
    text = str(key)
    return text if _BARE.match(text) else json.dumps(text, ensure_ascii=False)


def _value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        # JSON string escapes are a subset of TOML basic-string escapes.
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        inner = ", ".join(f"{_key(k)} = {_value(v, f'{where}.{k}')}" for k, v in value.items())
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(_value(v, f"{where}[]") for v in value) + "]"
    if value is None:
        raise TomlRenderError(f"{where}: TOML has no null; leave the key out instead")
    raise TomlRenderError(f"{where}: cannot render {type(value).__name__} as TOML")


def _table(path: list[str], table: Mapping[str, Any], out: list[str]) -> None:
    scalars = [(k, v) for k, v in table.items() if not isinstance(v, Mapping)]
    tables = [(k, v) for k, v in table.items() if isinstance(v, Mapping)]
    if path and (scalars or not tables):
        out.append("[" + ".".join(_key(p) for p in path) + "]")
    for key, value in scalars:
        if value is None:
            continue  # an unset inventory value: let the program's default apply
        out.append(f"{_key(key)} = {_value(value, '.'.join([*path, str(key)]))}")
    if path and (scalars or not tables):
        out.append("")
    for key, value in tables:
        _table([*path, str(key)], value, out)


def to_toml(data: Mapping[str, Any]) -> str:
    """Render a mapping as TOML: nested mappings become tables, None values are left out."""
    if not isinstance(data, Mapping):
        raise TomlRenderError("to_toml expects a mapping at the top level")
    out: list[str] = []
    _table([], data, out)
    return "\n".join(out).rstrip("\n") + "\n"


class FilterModule:
    """Ansible filter plugin entry point."""

    def filters(self) -> dict[str, Any]:
        """The filters this plugin provides."""
        return {"to_toml": to_toml}
