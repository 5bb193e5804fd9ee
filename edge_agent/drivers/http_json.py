"""Poll a URL that answers JSON and take values by path (OctoPrint/Octotouch style)."""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .base import Driver, DriverError, DriverSpec, DriverUnavailable, ParamSpec, SignalSpec

_TOKEN = re.compile(r"\.?([^.\[\]]+)|\[(\d+)\]")

SAMPLE_CONFIG = """\
[devices.Printer]
driver = "http_json"
samplerate = 0.5
values = [
  { name = "Hotend", path = "temperature.tool0.actual", unit = "°C" },
  { name = "Bed", path = "temperature.bed.actual", unit = "°C" },
  { name = "Progress", path = "progress.completion", unit = "%" },
]
[devices.Printer.params]
url = "http://octopi.local/api/printer"
api_key_env = ""        # name of an environment variable holding the OctoPrint API key
timeout = 5.0
"""


def parse_path(path: str) -> tuple[str | int, ...]:
    """Split `a.b[0].c` (an optional leading `$.` allowed) into keys and list indexes."""
    text = path[2:] if path.startswith("$.") else path
    tokens: list[str | int] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or (pos == 0 and text.startswith(".")):
            raise ValueError(f"bad JSON path {path!r} at position {pos}")
        tokens.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
        pos = m.end()
    if not tokens:
        raise ValueError(f"empty JSON path {path!r}")
    return tuple(tokens)


def lookup(doc: Any, tokens: tuple[str | int, ...]) -> Any:
    """Follow the path through dicts and lists; KeyError names the missing step."""
    node = doc
    for i, tok in enumerate(tokens):
        if isinstance(tok, int):
            if not isinstance(node, list) or tok >= len(node):
                raise KeyError(f"no list item [{tok}] after {tokens[:i]}")
        elif not isinstance(node, dict) or tok not in node:
            raise KeyError(f"no key {tok!r} after {tokens[:i]}")
        node = node[tok]
    return node


@dataclass(frozen=True)
class JsonValue:
    """One configured value."""

    name: str
    path: str
    tokens: tuple[str | int, ...]
    unit: str


def parse_values(device: str, raw: Any) -> tuple[JsonValue, ...]:
    """Validate the `values` config list."""
    if not isinstance(raw, list) or not raw:
        raise DriverError(f"{device}: 'values' must be a non-empty list of {{name, path, unit}}")
    out: list[JsonValue] = []
    for i, entry in enumerate(raw):
        where = f"{device}: values[{i}]"
        if not isinstance(entry, Mapping):
            raise DriverError(f"{where}: must be a table")
        unknown = set(entry) - {"name", "path", "unit"}
        if unknown:
            raise DriverError(f"{where}: unknown keys {sorted(unknown)}")
        name, path, unit = entry.get("name"), entry.get("path"), entry.get("unit", "")
        if not isinstance(name, str) or not name:
            raise DriverError(f"{where}: 'name' must be non-empty text")
        if any(v.name == name for v in out):
            raise DriverError(f"{where}: name {name!r} used twice")
        if not isinstance(path, str):
            raise DriverError(f"{where} ({name}): 'path' must be text")
        if not isinstance(unit, str):
            raise DriverError(f"{where} ({name}): 'unit' must be text")
        try:
            tokens = parse_path(path)
        except ValueError as exc:
            raise DriverError(f"{where} ({name}): {exc}") from exc
        out.append(JsonValue(name, path, tokens, unit))
    return tuple(out)


class HttpJsonDriver(Driver):
    """GETs the URL once per sample and picks the configured values out of the JSON."""

    spec = DriverSpec(
        name="http_json",
        description="Values from a JSON HTTP endpoint (OctoPrint, Octotouch, …)",
        params=(
            ParamSpec("url", str, "http://127.0.0.1/api/printer", "URL to GET", writable=False),
            ParamSpec(
                "api_key_env",
                str,
                "",
                "environment variable whose value is sent as X-Api-Key (keeps the key "
                "out of config files and status messages)",
                writable=False,
            ),
            ParamSpec("timeout", float, 5.0, "request timeout", unit="s", min=0.05),
        ),
        bus="http",
        default_samplerate=0.5,
        max_samplerate=10.0,
        extra_config=("values",),
        sample_config=SAMPLE_CONFIG,
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.values = parse_values(self.device, self.extra.get("values"))
        if not self.params["url"].startswith(("http://", "https://")):
            raise DriverError(f"{self.device}: url must start with http:// or https://")
        self.missing: set[str] = set()

    def signals(self) -> tuple[SignalSpec, ...]:
        """One signal per configured value."""
        return tuple(SignalSpec(v.name, v.unit) for v in self.values)

    def _fetch(self) -> Any:
        import urllib.error
        import urllib.request

        url = self.params["url"]
        req = urllib.request.Request(url, headers={"Accept": "application/json"})
        env = self.params["api_key_env"]
        if env:
            key = os.environ.get(env)
            if not key:
                raise DriverError(f"{self.device}: environment variable {env} (API key) is not set")
            req.add_header("X-Api-Key", key)
        try:
            with urllib.request.urlopen(req, timeout=self.params["timeout"]) as resp:
                body = resp.read()
        except urllib.error.HTTPError as exc:
            raise DriverError(f"{self.device}: GET {url} answered HTTP {exc.code}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DriverUnavailable(f"{self.device}: GET {url} failed: {reason}") from exc
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DriverError(f"{self.device}: {url} did not answer JSON: {exc}") from exc

    def read(self) -> Mapping[str, float]:
        """Fetch once; values whose path is missing or not a number are left out."""
        doc = self._fetch()
        out: dict[str, float] = {}
        problems: dict[str, str] = {}
        for v in self.values:
            try:
                raw = lookup(doc, v.tokens)
            except KeyError as exc:
                problems[v.name] = str(exc.args[0])
                continue
            if isinstance(raw, bool) or (isinstance(raw, int | float) and math.isfinite(raw)):
                out[v.name] = float(raw)
            else:
                problems[v.name] = f"{v.path} is {raw!r}, not a number"
        for name, text in problems.items():
            if name not in self.missing:
                self.events(f"{self.device}.{name}: {text}", signal=name, priority=1)
        self.missing = set(problems)
        if not out:
            raise DriverError(f"{self.device}: no configured value in the answer: {problems}")
        return out
