"""Size guards: every value the sandbox makes or walks is counted before it is made."""

from __future__ import annotations

from typing import Any

import numpy as np

from hub.engine.limits import CURRENT_BUDGET, Limits, SandboxError

_LIMITS = Limits()


def check_items(n: float, what: str = "value") -> None:
    """Refuse creating a value with more than Limits.max_items elements."""
    if n > _LIMITS.max_items:
        raise SandboxError(f"{what} too large: {int(n)} elements (limit {_LIMITS.max_items})")
    budget = CURRENT_BUDGET.get()
    if budget is not None:
        budget.alloc(int(n))


def nested_size(v: Any, what: str = "value") -> None:
    """Refuse a value whose nested lists/arrays hold more than max_items elements in all.

    `[[0] * 10**6] * 10**6` is small in memory (shared rows) but would explode when
    numpy, str() or sum() walks it; this counts what such a walk would touch.
    """
    if not isinstance(v, (list, tuple, dict)):
        return
    limit = _LIMITS.max_items
    total = 0
    stack: list[Any] = [v]
    while stack:
        item = stack.pop()
        if isinstance(item, np.ndarray):
            total += item.size
        elif isinstance(item, (list, tuple)):
            total += len(item)
            if total > limit:
                break
            stack.extend(e for e in item if isinstance(e, (list, tuple, dict, np.ndarray)))
        elif isinstance(item, dict):
            total += len(item)
            stack.extend(e for e in item.values() if isinstance(e, (list, tuple, dict, np.ndarray)))
        elif isinstance(item, str):
            total += len(item)
        if total > limit:
            break
    if total > limit:
        raise SandboxError(f"{what} too large: over {limit} nested elements")
