"""Config declared as data and validated once: every key checked, unknown keys refused.

Shared by the agent and the hub. Errors name the file, the key and the reason.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_MISSING: Any = object()


class ConfigError(ValueError):
    """A config file or value that cannot be used; the message names file, key and reason."""


@dataclass(frozen=True)
class Field:
    """One config key: its type, default (omit for required), a check and a doc line."""

    type: type | tuple[type, ...]
    default: Any = _MISSING
    doc: str = ""
    check: Callable[[Any], str | None] | None = None
    choices: tuple[Any, ...] | None = None

    @property
    def required(self) -> bool:
        return self.default is _MISSING


@dataclass(frozen=True)
class Section:
    """A table of known keys; `items` validates every value of a free-keyed table."""

    fields: Mapping[str, Field | Section] = field(default_factory=dict)
    items: Field | Section | None = None
    optional: bool = True
    doc: str = ""


def positive(value: Any) -> str | None:
    """Check: a number greater than zero."""
    return None if value > 0 else "must be greater than 0"


def non_negative(value: Any) -> str | None:
    """Check: a number of zero or more."""
    return None if value >= 0 else "must be 0 or more"


def port(value: Any) -> str | None:
    """Check: a TCP port (0 means pick a free one)."""
    return None if 0 <= value <= 65535 else "must be a port number 0..65535"


def _type_name(t: type | tuple[type, ...]) -> str:
    if isinstance(t, tuple):
        return " or ".join(x.__name__ for x in t)
    return t.__name__


def _check_value(value: Any, spec: Field, where: str) -> Any:
    wanted = spec.type if isinstance(spec.type, tuple) else (spec.type,)
    if float in wanted and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and bool not in wanted:
        raise ConfigError(f"{where}: expected {_type_name(spec.type)}, got a boolean")
    if not isinstance(value, wanted):
        raise ConfigError(
            f"{where}: expected {_type_name(spec.type)}, got {type(value).__name__} {value!r}"
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: must be a finite number, got {value!r}")
    if spec.choices is not None and value not in spec.choices:
        allowed = ", ".join(repr(c) for c in spec.choices)
        raise ConfigError(f"{where}: {value!r} is not one of {allowed}")
    if spec.check is not None:
        problem = spec.check(value)
        if problem:
            raise ConfigError(f"{where}: {problem} (got {value!r})")
    return value


def validate(data: Any, schema: Section, *, source: str, path: str = "") -> dict[str, Any]:
    """Return `data` with defaults filled in, or raise ConfigError naming source and key."""
    where = f"{source}: [{path}]" if path else source
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a table, got {type(data).__name__}")
    out: dict[str, Any] = {}
    for key, value in data.items():
        key_path = f"{path}.{key}" if path else str(key)
        spec = schema.fields.get(key, schema.items)
        if spec is None:
            known = ", ".join(sorted(schema.fields)) or "none"
            raise ConfigError(f"{source}: unknown key '{key_path}' (known keys here: {known})")
        if isinstance(spec, Section):
            out[key] = validate(value, spec, source=source, path=key_path)
        else:
            out[key] = _check_value(value, spec, f"{source}: '{key_path}'")
    for key, spec in schema.fields.items():
        if key in out:
            continue
        key_path = f"{path}.{key}" if path else key
        if isinstance(spec, Section):
            if not spec.optional:
                raise ConfigError(f"{source}: missing table '[{key_path}]'")
            out[key] = validate({}, spec, source=source, path=key_path)
        elif spec.required:
            raise ConfigError(f"{source}: missing required key '{key_path}'")
        else:
            out[key] = spec.default
    return out


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file; every failure becomes a ConfigError naming the file."""
    p = Path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{p}: file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from exc


def load_toml(path: str | Path, schema: Section) -> dict[str, Any]:
    """Read and validate a TOML file against `schema`."""
    return validate(read_toml(path), schema, source=str(path))


def _show_default(spec: Field) -> str:
    if spec.required:
        return "required"
    value = spec.default
    if value is None or value == "" or value == [] or value == {}:
        return "empty"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, str):
        return f"`{value}`"
    return f"`{value!r}`"


def _rows(section: Section, path: str) -> list[str]:
    rows: list[str] = []
    for key, spec in section.fields.items():
        rows += _entry(spec, f"{path}.{key}" if path else key)
    if section.items is not None:
        rows += _entry(section.items, f"{path}.<name>" if path else "<name>")
    return rows


def _entry(spec: Field | Section, key: str) -> list[str]:
    if isinstance(spec, Section):
        if not spec.fields and isinstance(spec.items, Field) and spec.items.type is dict:
            return [f"| `{key}.<name>` | table | | {spec.doc} |"]
        return _rows(spec, key)
    doc = spec.doc.replace("|", "\\|")
    if spec.choices is not None:
        doc = (doc + "; " if doc else "") + "one of " + ", ".join(f"`{c}`" for c in spec.choices)
    return [f"| `{key}` | {_type_name(spec.type)} | {_show_default(spec)} | {doc} |"]


def markdown_table(section: Section) -> str:
    """The keys of a schema as a Markdown table (key, type, default, meaning): the config
    tables in docs/ are this output, and a test keeps them equal."""
    head = ["| key | type | default | meaning |", "|---|---|---|---|"]
    return "\n".join(head + _rows(section, "")) + "\n"
