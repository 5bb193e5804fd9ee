"""The safe functions conditions and scripts may call: math, numpy reductions, RTOC's library.

Every function here takes plain values (numbers, strings, lists, numpy arrays) and returns
plain values; any function that can allocate checks the size first, so a script cannot
exhaust memory through them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from hub.engine.limits import CURRENT_BUDGET, EvalError, Limits, SandboxError

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


def _arr(v: Any) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    check_items(a.size, "array")
    return a


def _xy(args: tuple[Any, ...], name: str) -> tuple[np.ndarray, np.ndarray, tuple[Any, ...]]:
    """RTOC passes a bare signal as two arguments (x, y); accept (y) alone too."""
    if not args:
        raise EvalError(f"{name}() needs a signal or an array")
    if len(args) >= 2 and np.ndim(args[0]) == 1 and np.ndim(args[1]) == 1:
        x, y = _arr(args[0]), _arr(args[1])
        if x.shape != y.shape:
            raise EvalError(f"{name}(): x and y differ in length")
        return x, y, args[2:]
    y = _arr(args[0])
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
    pairs = [(_arr(signals[i]), _arr(signals[i + 1])) for i in range(0, len(signals), 2)]
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
    a, b = _arr(y1), _arr(y2)
    check_items(float(len(a)) * float(len(b)) / 1000.0, "correlate")
    if mode not in ("valid", "same", "full"):
        raise EvalError("correlate(): mode must be valid, same or full")
    return np.correlate(a, b, mode=mode)  # type: ignore[call-overload]


def _sized(fn: Callable[..., Any], size_of: Callable[..., float], name: str) -> Callable[..., Any]:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            n = size_of(*args, **kwargs)
        except (TypeError, ValueError) as exc:
            raise EvalError(f"{name}(): {exc}") from exc
        check_items(n, name)
        return fn(*args, **kwargs)

    wrapped.__name__ = name
    return wrapped


def _shape_size(shape: Any, *_: Any, **__: Any) -> float:
    if isinstance(shape, (list, tuple)):
        return float(np.prod([int(s) for s in shape])) if shape else 1.0
    return float(int(shape))


def _arange_size(*args: Any, **_: Any) -> float:
    if len(args) == 1:
        start, stop, step = 0.0, float(args[0]), 1.0
    else:
        start, stop = float(args[0]), float(args[1])
        step = float(args[2]) if len(args) > 2 else 1.0
    if step == 0:
        raise ValueError("step must not be 0")
    return max(0.0, math.ceil((stop - start) / step))


def _linspace_size(_start: Any, _stop: Any, num: int = 50, *_: Any, **__: Any) -> float:
    return float(int(num))


def _range(*args: int) -> range:
    r = range(*[int(a) for a in args])
    check_items(len(r), "range")
    return r


def _list(v: Any = ()) -> list[Any]:
    if isinstance(v, (range, list, tuple, str, np.ndarray)):
        check_items(len(v), "list")
    return list(v)


def _np_array(v: Any, dtype: Any = None) -> np.ndarray:
    if dtype not in (None, float, int, bool):
        raise EvalError("array(): only float, int or bool dtype")
    a = np.asarray(v, dtype=dtype)
    check_items(a.size, "array")
    if a.dtype == object:
        raise EvalError("array(): only numbers")
    return a


def _str(v: Any = "") -> str:
    nested_size(v, "str")
    s = str(v)
    check_items(len(s), "str")
    return s


def _small_int(v: Any, name: str, limit: int = 400) -> int:
    n = int(v)
    if abs(n) > limit:
        raise SandboxError(f"{name} must be between -{limit} and {limit}")
    return n


def _np_diff(a: Any, n: int = 1, **kw: Any) -> np.ndarray:
    return np.diff(_arr(a), n=_small_int(n, "diff(): n", 100), **kw)


def _np_polyfit(x: Any, y: Any, deg: int, **kw: Any) -> Any:
    return np.polyfit(_arr(x), _arr(y), _small_int(deg, "polyfit(): deg", 20), **kw)


def _round(v: Any, ndigits: int | None = None) -> Any:
    if ndigits is not None:
        ndigits = _small_int(ndigits, "round(): ndigits")
    if isinstance(v, np.ndarray):
        return np.round(v, ndigits or 0)
    return round(v, ndigits) if ndigits is not None else round(v)


_MATH = [
    "sqrt",
    "exp",
    "log",
    "log10",
    "log2",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "atan2",
    "sinh",
    "cosh",
    "tanh",
    "floor",
    "ceil",
    "fabs",
    "hypot",
    "degrees",
    "radians",
    "isnan",
    "isfinite",
    "isinf",
    "copysign",
    "fmod",
    "trunc",
]
_NP = [
    "mean",
    "median",
    "std",
    "var",
    "min",
    "max",
    "sum",
    "abs",
    "sqrt",
    "exp",
    "log",
    "log10",
    "log2",
    "sin",
    "cos",
    "tan",
    "arcsin",
    "arccos",
    "arctan",
    "arctan2",
    "floor",
    "ceil",
    "round",
    "clip",
    "diff",
    "cumsum",
    "argmax",
    "argmin",
    "any",
    "all",
    "isnan",
    "isfinite",
    "nanmean",
    "nanmax",
    "nanmin",
    "nanstd",
    "nansum",
    "percentile",
    "interp",
    "polyfit",
    "polyval",
    "sign",
    "maximum",
    "minimum",
    "count_nonzero",
    "where",
    "average",
    "ptp",
]

MATH_NS: dict[str, Any] = {name: getattr(math, name) for name in _MATH}
MATH_NS.update(pi=math.pi, e=math.e, inf=math.inf, nan=math.nan, pow=math.pow)

NP_NS: dict[str, Any] = {name: getattr(np, name) for name in _NP if hasattr(np, name)}
NP_NS["ptp"] = np.ptp
NP_NS.update(
    pi=np.pi,
    e=np.e,
    nan=np.nan,
    inf=np.inf,
    array=_np_array,
    asarray=_np_array,
    zeros=_sized(np.zeros, _shape_size, "zeros"),
    ones=_sized(np.ones, _shape_size, "ones"),
    full=_sized(np.full, _shape_size, "full"),
    arange=_sized(np.arange, _arange_size, "arange"),
    diff=_np_diff,
    polyfit=_np_polyfit,
    round=lambda a, decimals=0: np.round(a, _small_int(decimals, "round(): decimals")),
    linspace=_sized(np.linspace, _linspace_size, "linspace"),
)

RTOC_NS: dict[str, Any] = {
    "mean": lib_mean,
    "runningMean": lib_running_mean,
    "d": lib_d,
    "diff": lib_diff,
    "PID": lib_pid,
    "resample": lib_resample,
    "norm": lib_norm,
    "combine": lib_combine,
    "lsfit": lib_lsfit,
    "correlate": lib_correlate,
}

BUILTINS: dict[str, Any] = {
    "abs": abs,
    "min": min,
    "max": max,
    "sum": sum,
    "len": len,
    "round": _round,
    "int": int,
    "float": float,
    "bool": bool,
    "str": _str,
    "list": _list,
    "tuple": tuple,
    "range": _range,
    "any": any,
    "all": all,
    "sorted": lambda v, reverse=False: sorted(_list(v), reverse=bool(reverse)),
    "enumerate": lambda v: _list(enumerate(_list(v))),
    "zip": lambda *vs: _list(zip(*[_list(v) for v in vs], strict=False)),
    "isnan": math.isnan,
}
BUILTINS.update(RTOC_NS)

CONSTANTS: dict[str, Any] = {"True": True, "False": False, "None": None, "pi": math.pi}

# Names of modules scripts may reach with a dot: `math.sqrt`, `np.mean`, `rtoc.PID`.
MODULES: dict[str, dict[str, Any]] = {
    "math": MATH_NS,
    "np": NP_NS,
    "numpy": NP_NS,
    "rtoc": RTOC_NS,
}

# Functions applied element by element: a condition using only these on the varying
# signal's `.latest` can be evaluated over a whole batch at once.
ELEMENTWISE: frozenset[Any] = frozenset(
    {abs, np.abs, np.sqrt, np.exp, np.log, np.log10, np.sin, np.cos, np.tan, np.floor, np.ceil}
)
