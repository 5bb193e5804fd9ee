"""Typed answers of the hub service: what adapters (websocket, Telegram) read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_agent.wire import CommandResult
from hub.db.base import EventRecord

__all__ = [
    "CommandResult",
    "DeviceView",
    "EventRange",
    "QueryError",
    "SignalHistory",
]


class QueryError(Exception):
    """A query that cannot be answered (unknown signal, no data); the message says why."""


@dataclass(frozen=True)
class SignalHistory:
    """Samples of one signal in a range: the store's, then the live ones not yet committed.

    `first`/`last` span everything known of the signal (store and memory), not only the
    range asked for; `store_error` says why the store did not answer (memory only then).
    """

    key: str
    unit: str
    signal_id: int | None
    x: np.ndarray
    y: np.ndarray
    first: float | None
    last: float | None
    store_error: str | None = None


@dataclass(frozen=True)
class EventRange:
    """Events of a time range, stored ones and those only in memory yet, in time order."""

    events: list[EventRecord]
    store_error: str | None = None


@dataclass(frozen=True)
class DeviceView:
    """One device as its agent declared it in its last status message."""

    name: str
    agent: str
    online: bool
    decl: Mapping[str, Any]

    @property
    def driver(self) -> str:
        return str(self.decl.get("driver", "?"))

    @property
    def running(self) -> bool:
        return bool(self.decl.get("running", False))

    def params(self) -> list[dict[str, Any]]:
        return [p for p in self.decl.get("params") or [] if isinstance(p, dict)]

    def functions(self) -> list[dict[str, Any]]:
        return [f for f in self.decl.get("functions") or [] if isinstance(f, dict)]

    def param(self, name: str) -> dict[str, Any]:
        """The declaration of parameter `name`; KeyError when the device has none."""
        for p in self.params():
            if p.get("name") == name:
                return p
        raise KeyError(f"{self.name} has no parameter {name!r}")

    def function(self, name: str) -> dict[str, Any]:
        """The declaration of function `name`; KeyError when the device has none."""
        for f in self.functions():
            if f.get("name") == name:
                return f
        raise KeyError(f"{self.name} has no function {name!r}")
