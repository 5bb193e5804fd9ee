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

from hub.engine.guards import check_items, nested_size
from hub.engine.limits import EvalError, SandboxError
from hub.engine.rtoc_estimate import (
    lib_estimate,
    lib_forward_euler,
    lib_pt2_estimation,
    lib_resample_fourier,
)
from hub.engine.rtoc_lib import (
    as_floats,
    lib_combine,
    lib_correlate,
    lib_d,
    lib_diff,
    lib_lsfit,
    lib_mean,
    lib_norm,
    lib_pid,
    lib_resample,
    lib_running_mean,
)

__all__ = ["BUILTINS", "CONSTANTS", "ELEMENTWISE", "MODULES", "check_items", "nested_size"]


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
    return np.diff(as_floats(a), n=_small_int(n, "diff(): n", 100), **kw)


def _np_polyfit(x: Any, y: Any, deg: int, **kw: Any) -> Any:
    return np.polyfit(as_floats(x), as_floats(y), _small_int(deg, "polyfit(): deg", 20), **kw)


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
    "resampleFourier": lib_resample_fourier,
    "estimate": lib_estimate,
    "forwardEuler": lib_forward_euler,
    "PT2_estimation": lib_pt2_estimation,
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
