"""Operators of the sandbox: Python's, with sizes checked before a result is made."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

import numpy as np

from hub.engine import library as lib
from hub.engine.limits import EvalError, Limits, SandboxError

# --- operators with size checks ----------------------------------------------------------


def _seq_len(v: Any) -> int | None:
    return len(v) if isinstance(v, (str, list, tuple, bytes)) else None


def _int_bits(v: Any) -> int:
    return abs(v).bit_length() if isinstance(v, int) and not isinstance(v, bool) else 0


def _check_arrays(a: Any, b: Any) -> None:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        lib.nested_size(a, "operand")
        lib.nested_size(b, "operand")
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        try:
            shape = np.broadcast_shapes(a.shape, b.shape)
        except ValueError as exc:
            raise EvalError(f"arrays of shapes {a.shape} and {b.shape} do not match") from exc
        lib.check_items(math.prod(shape), "array")


def check_broadcast(args: list[Any], label: str) -> None:
    """numpy functions broadcast their array arguments: refuse results too large."""
    shapes = [a.shape for a in args if isinstance(a, np.ndarray)]
    if len(shapes) < 2:
        return
    try:
        shape = np.broadcast_shapes(*shapes)
    except ValueError:
        return  # not broadcast together; the function itself will say what is wrong
    lib.check_items(math.prod(shape), f"result of {label}()")


def _mul(a: Any, b: Any, limits: Limits) -> Any:
    for s, n in ((a, b), (b, a)):
        ln = _seq_len(s)
        if ln is not None and isinstance(n, int):
            lib.check_items(ln * max(n, 0), "repeated sequence")
    if _int_bits(a) + _int_bits(b) > limits.max_int_bits:
        raise SandboxError(f"integer result too large (over {limits.max_int_bits} bits)")
    _check_arrays(a, b)
    return a * b


def _pow(a: Any, b: Any, limits: Limits) -> Any:
    ints = isinstance(a, int) and isinstance(b, int)
    if ints and b > 0 and abs(a) > 1 and b * abs(a).bit_length() > limits.max_int_bits:
        raise SandboxError(f"integer result too large: {a}**{b}")
    _check_arrays(a, b)
    return a**b


def _add(a: Any, b: Any, limits: Limits) -> Any:
    la, lb = _seq_len(a), _seq_len(b)
    if la is not None and lb is not None:
        lib.check_items(la + lb, "concatenation")
    _check_arrays(a, b)
    return a + b


def _lshift(a: Any, b: Any, limits: Limits) -> Any:
    if isinstance(b, int) and _int_bits(a) + b > limits.max_int_bits:
        raise SandboxError(f"integer result too large (over {limits.max_int_bits} bits)")
    return a << b


def _div(a: Any, b: Any, limits: Limits) -> Any:
    # IEEE semantics, the same in scalar and batch evaluation: x/0 is ±inf or nan.
    if isinstance(b, (int, float)) and b == 0 and isinstance(a, (int, float)):
        return math.nan if a == 0 or math.isnan(a) else math.copysign(math.inf, a)
    _check_arrays(a, b)
    return a / b


def _plain(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any, Limits], Any]:
    def f(a: Any, b: Any, limits: Limits) -> Any:
        _check_arrays(a, b)
        return op(a, b)

    return f


def _mod(a: Any, b: Any, limits: Limits) -> Any:
    if isinstance(a, str):
        raise EvalError("'%' formatting of strings is not allowed; use str() and +")
    _check_arrays(a, b)
    return a % b


BINOPS: dict[type, Callable[[Any, Any, Limits], Any]] = {
    ast.Add: _add,
    ast.Sub: _plain(operator.sub),
    ast.Mult: _mul,
    ast.Div: _div,
    ast.FloorDiv: _plain(operator.floordiv),
    ast.Mod: _mod,
    ast.Pow: _pow,
    ast.LShift: _lshift,
    ast.RShift: _plain(operator.rshift),
    ast.BitAnd: _plain(operator.and_),
    ast.BitOr: _plain(operator.or_),
    ast.BitXor: _plain(operator.xor),
}
CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
FORMAT_SPEC_OK = frozenset("<>^=+- #0123456789.,_eEfFgGdxXobns%")

PY_ERRORS = (
    ArithmeticError,
    TypeError,
    ValueError,
    IndexError,
    KeyError,
    MemoryError,
    RecursionError,
    np.linalg.LinAlgError,
)


def wrap_errors(what: str, exc: Exception) -> EvalError | SandboxError:
    """Turn an error raised by Python/numpy inside the sandbox into an EvalError (or, out
    of memory, a SandboxError: the worker's memory limit refused it)."""
    msg = str(exc) or type(exc).__name__
    if isinstance(exc, MemoryError):
        return SandboxError(f"{what}: out of memory (the worker's memory limit): {msg}")
    return EvalError(f"{what}: {msg}")
