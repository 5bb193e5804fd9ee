"""What an evaluation sees (Frame), and the name rules every compiled node obeys."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.engine.limits import Budget, SandboxError
from hub.signals import SignalStore

Fn = Callable[["Frame"], Any]
ParamReader = Callable[[str, str], Any]
SIGNAL_ATTRS = ("latest", "x", "y")
# Names that look like devices but must never become commands (RTOC had objects there).
RESERVED_DEVICES = frozenset({"telegram", "self", "os", "sys", "global", "builtins"})


class NotVectorisable(Exception):
    """The condition cannot be evaluated over a whole batch at once (internal)."""


class SignalPair(tuple[Any, ...]):
    """A bare `Dev.Sig`: (x, y); a call argument expands to two arguments, as in RTOC."""


class View:
    """How the signal whose samples are being evaluated looks at one sample (or a batch)."""

    __slots__ = ("latest", "x", "y")

    def __init__(self, latest: Any, x: Any = None, y: Any = None) -> None:
        self.latest = latest
        self.x = x
        self.y = y


@dataclass(eq=False)
class Frame:
    """What one evaluation sees: live signals, parameters, the clock, variables, budget."""

    store: SignalStore
    param: ParamReader
    clock: float = 0.0
    locals: dict[str, Any] = field(default_factory=dict)
    globals: dict[str, Any] = field(default_factory=dict)
    budget: Budget | None = None
    vkey: str | None = None  # the signal whose sample is being evaluated
    view: View | None = None
    host: Any = None  # scripts: the object that sends commands and emits data/events
    output: list[str] = field(default_factory=list)
    trig: dict[tuple[int, int], bool] = field(default_factory=dict)
    # Parameters this run set (as the agent confirmed them): read back before the agent's
    # next status message brings them to the hub.
    params_set: dict[tuple[str, str], Any] = field(default_factory=dict)


def refuse(node: ast.AST, what: str) -> SandboxError:
    """A SandboxError saying what is not allowed, and on which line."""
    line = getattr(node, "lineno", None)
    where = f" (line {line})" if line else ""
    return SandboxError(f"{what} is not allowed{where}")


def check_name(name: str, node: ast.AST) -> None:
    """Refuse dunder and private names anywhere."""
    if name.startswith("_"):
        raise refuse(node, f"the name {name!r} (names starting with '_')")


def refuse_private(tree: ast.AST) -> None:
    """Refuse any dunder/private identifier anywhere in the tree, before anything else."""
    for node in ast.walk(tree):
        for attr in ("id", "attr", "arg", "name"):
            v = getattr(node, attr, None)
            if isinstance(v, str):
                check_name(v, node)


def dotted(node: ast.AST) -> list[str] | None:
    """`a.b.c` as ['a', 'b', 'c'] when the chain ends in a plain name, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        check_name(node.attr, node)
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    check_name(node.id, node)
    parts.append(node.id)
    return parts[::-1]
