"""Resource limits of the sandbox and the budget that enforces them while a script runs."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass


class SandboxError(Exception):
    """Code was refused before or while running: a forbidden construct or a spent budget."""


class EvalError(Exception):
    """Evaluating an expression or script failed (unknown name, wrong type, bad value)."""


@dataclass(frozen=True)
class Limits:
    """Ceilings for one evaluation: operations, wall time, sizes of values, output."""

    max_ops: int = 1_000_000  # statements + loop iterations + comprehension items
    max_seconds: float = 2.0  # wall time of one script run
    max_items: int = 2_000_000  # elements of one list/array/str created by the code
    max_int_bits: int = 4096  # integers bigger than this are refused
    max_output: int = 65_536  # characters of captured print output
    max_source: int = 65_536  # characters of script/condition text
    max_nodes: int = 20_000  # syntax tree nodes of one script/condition
    max_alloc: int = 50_000_000  # elements allocated in all during one run
    max_condition_nodes: int = 1_000  # syntax tree nodes of one condition
    max_condition_seconds: float = 0.25  # per condition and batch, on the ingest path


class Budget:
    """Counts operations and watches the clock; raises SandboxError when spent."""

    __slots__ = ("_check_every", "_deadline", "_limits", "_now", "allocated", "ops")

    def __init__(self, *, limits: Limits, now: Callable[[], float] = time.monotonic) -> None:
        self._limits = limits
        self._now = now
        self._deadline = now() + limits.max_seconds
        self.ops = 0
        self.allocated = 0
        self._check_every = 256

    @property
    def limits(self) -> Limits:
        """The limits this budget enforces."""
        return self._limits

    def alloc(self, n: int) -> None:
        """Count n elements allocated; raise when the run has allocated too much in all."""
        self.allocated += n
        if self.allocated > self._limits.max_alloc:
            raise SandboxError(f"memory budget exhausted ({self._limits.max_alloc} elements)")

    def charge(self, n: int = 1) -> None:
        """Spend n operations; raise when the operation or time budget is exhausted."""
        self.ops += n
        if self.ops > self._limits.max_ops:
            raise SandboxError(f"operation budget exhausted ({self._limits.max_ops} operations)")
        self._check_every -= n
        if self._check_every <= 0:
            self._check_every = 256
            if self._now() > self._deadline:
                raise SandboxError(f"time budget exhausted ({self._limits.max_seconds} s)")


# The budget of the run in progress on this thread/task; library functions that allocate
# charge it, so a loop creating big values is stopped even when each value is small enough.
CURRENT_BUDGET: ContextVar[Budget | None] = ContextVar("CURRENT_BUDGET", default=None)
