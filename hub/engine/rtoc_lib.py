"""RTOC's script library (`rtoc.mean`, `runningMean`, `d`, `PID`, …) on numpy, size-checked.

A bare signal is passed as two arguments (x, y), as RTOC's rewriting did.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hub.engine.guards import check_items
from hub.engine.limits import EvalError


def as_floats(v: Any) -> np.ndarray:
    """A float array of v, size-checked."""
    a = np.asarray(v, dtype=np.float64)
    check_items(a.size, "array")
    return a


def _xy(args: tuple[Any, ...], name: str) -> tuple[np.ndarray, np.ndarray, tuple[Any, ...]]:
    """RTOC passes a bare signal as two arguments (x, y); accept (y) alone too."""
    if not args:
        raise EvalError(f"{name}() needs a signal or an array")
    if len(args) >= 2 and np.ndim(args[0]) == 1 and np.ndim(args[1]) == 1:
        x, y = as_floats(args[0]), as_floats(args[1])
        if x.shape != y.shape:
            raise EvalError(f"{name}(): x and y differ in length")
        return x, y, args[2:]
    y = as_floats(args[0])
    return np.arange(len(y), dtype=np.float64), y, args[1:]


def lib_mean(*args: Any, n: int | None = None) -> float:
    """Mean of the last n values (all when n is None) of y."""
    _, y, rest = _xy(args, "mean")
    if rest:
        n = int(rest[0])
    if n is not None:
        y = y[-int(n) :] if n > 0 else y[:0]
    if len(y) == 0:
        raise EvalError("mean() of no values")
    return float(np.mean(y))


def lib_running_mean(*args: Any, n: int = 5) -> np.ndarray:
    """Running mean of y over n values (same length as y; the first values use fewer)."""
    _, y, rest = _xy(args, "runningMean")
    if rest:
        n = int(rest[0])
    n = max(1, int(n))
    if len(y) == 0:
        return y
    c = np.cumsum(np.insert(y, 0, 0.0))
    idx = np.arange(1, len(y) + 1)
    lo = np.maximum(idx - n, 0)
    return (c[idx] - c[lo]) / (idx - lo)


def lib_d(*args: Any) -> float:
    """Derivative dy/dx of the last two points."""
    x, y, _ = _xy(args, "d")
    if len(y) < 2:
        raise EvalError("d() needs at least two points")
    dx = x[-1] - x[-2]
    if dx == 0:
        raise EvalError("d(): the last two points have the same x")
    return float((y[-1] - y[-2]) / dx)


def lib_diff(*args: Any) -> tuple[np.ndarray, np.ndarray]:
    """Full derivative: (x[1:], dy/dx)."""
    x, y, _ = _xy(args, "diff")
    with np.errstate(all="ignore"):
        return x[1:], np.diff(y) / np.diff(x)


def lib_pid(
    *args: Any,
    desvalue: float | None = None,
    kp: float = 1.0,
    ki: float = 0.0,
    kd: float = 0.0,
    initI: float | None = None,
) -> Any:
    """RTOC's PID: control value from the signal's last points (error = value - setpoint).

    Returns the control value, or (value, new integral) when initI is given.
    """
    x, y, rest = _xy(args, "PID")
    names = ["desvalue", "kp", "ki", "kd", "initI"]
    vals: dict[str, Any] = {
        "desvalue": desvalue,
        "kp": kp,
        "ki": ki,
        "kd": kd,
        "initI": initI,
    }
    for name, v in zip(names, rest, strict=False):
        vals[name] = v
    if vals["desvalue"] is None:
        raise EvalError("PID() needs desvalue")
    if len(y) == 0:
        raise EvalError("PID() of an empty signal")
    err = float(y[-1]) - float(vals["desvalue"])
    integral = float(vals["initI"] or 0.0)
    deriv = 0.0
    if len(y) >= 2 and x[-1] != x[-2]:
        dt = float(x[-1] - x[-2])
        integral += err * dt
        deriv = (float(y[-1]) - float(y[-2])) / dt
    out = float(vals["kp"]) * err + float(vals["ki"]) * integral + float(vals["kd"]) * deriv
    if vals["initI"] is not None:
        return out, integral
    return out


def lib_resample(*args: Any, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of (x, y) to n equally spaced points."""
    x, y, rest = _xy(args, "resample")
    if rest:
        n = int(rest[0])
    n = len(x) if n is None else int(n)
    check_items(n, "resample")
    if len(x) == 0 or n <= 0:
        return np.empty(0), np.empty(0)
    xs = np.linspace(x[0], x[-1], n)
    return xs, np.interp(xs, x, y)


def lib_norm(
    *args: Any,
    max: float = 1.0,
    min: float = 0.0,
    oldMin: float | None = None,
    oldMax: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Scale y linearly into [min, max] (from [oldMin, oldMax], default its own range)."""
    x, y, _ = _xy(args, "norm")
    lo = float(np.min(y)) if oldMin is None else float(oldMin)
    hi = float(np.max(y)) if oldMax is None else float(oldMax)
    if hi == lo:
        raise EvalError("norm(): the value range is empty")
    return x, (y - lo) / (hi - lo) * (max - min) + min


def lib_combine(signals: list[Any], n: int | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Common x grid over the overlap of [x1, y1, x2, y2, ...] → (x, [y1', y2', ...])."""
    if len(signals) < 2 or len(signals) % 2:
        raise EvalError("combine() needs a list [x1, y1, x2, y2, ...]")
    pairs = [(as_floats(signals[i]), as_floats(signals[i + 1])) for i in range(0, len(signals), 2)]
    lo = max(float(p[0][0]) for p in pairs if len(p[0]))
    hi = min(float(p[0][-1]) for p in pairs if len(p[0]))
    if hi < lo:
        raise EvalError("combine(): the signals do not overlap")
    n = n or max(len(p[0]) for p in pairs)
    check_items(n * len(pairs), "combine")
    xs = np.linspace(lo, hi, int(n))
    return xs, [np.interp(xs, px, py) for px, py in pairs]


def lib_lsfit(*args: Any, func: str = "linear", x0: Any = None, n: int | None = None) -> Any:
    """Least-squares polynomial fit ('linear' or 'quad') → (x, fitted y, params)."""
    x, y, rest = _xy(args, "lsfit")
    if rest:
        func = rest[0]
    deg = {"linear": 1, "quad": 2}.get(str(func))
    if deg is None:
        raise EvalError("lsfit(): func must be 'linear' or 'quad' in the sandbox")
    if len(x) <= deg:
        raise EvalError("lsfit(): too few points")
    params = np.polyfit(x, y, deg)
    n = len(x) if n is None else int(n)
    check_items(n, "lsfit")
    xs = np.linspace(x[0], x[-1], n)
    return xs, np.polyval(params, xs), params


def lib_correlate(x1: Any, y1: Any, x2: Any, y2: Any, mode: str = "valid") -> np.ndarray:
    """numpy.correlate of two signals' y values."""
    a, b = as_floats(y1), as_floats(y2)
    check_items(float(len(a)) * float(len(b)) / 1000.0, "correlate")
    if mode not in ("valid", "same", "full"):
        raise EvalError("correlate(): mode must be valid, same or full")
    return np.correlate(a, b, mode=mode)  # type: ignore[call-overload]
