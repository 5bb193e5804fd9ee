"""Typed answers of the hub service: what adapters (websocket, Telegram) read."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_agent.wire import CommandResult, DeviceDecl, FunctionDecl, ParamDecl
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
    """One device as its agent declared it in its last status message (typed)."""

    name: str
    agent: str
    online: bool
    decl: DeviceDecl

    @property
    def running(self) -> bool:
        return self.decl.running

    @property
    def params(self) -> tuple[ParamDecl, ...]:
        return self.decl.params

    @property
    def functions(self) -> tuple[FunctionDecl, ...]:
        return self.decl.functions

    def param(self, name: str) -> ParamDecl:
        """The declaration of parameter `name`; KeyError when the device has none."""
        found = self.decl.param(name)
        if found is None:
            raise KeyError(f"{self.name} has no parameter {name!r}")
        return found

    def function(self, name: str) -> FunctionDecl:
        """The declaration of function `name`; KeyError when the device has none."""
        found = self.decl.function(name)
        if found is None:
            raise KeyError(f"{self.name} has no function {name!r}")
        return found
