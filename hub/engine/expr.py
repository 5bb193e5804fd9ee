"""The sandboxed expression evaluator: a parsed AST compiled to closures over a whitelist.

Names resolve only to signals (`Dev.Sig.latest|.x|.y`, bare `Dev.Sig` = x, y), device
parameters (`Dev.param`), `clock`, constants, and the safe functions of `library.py`.
There is no attribute access on values, no imports, no dunder names, no lambdas; values
are size-checked before they are made, so time and memory stay bounded.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hub.engine import library as lib
from hub.engine.frame import (
    RESERVED_DEVICES,
    SIGNAL_ATTRS,
    Fn,
    Frame,
    NotVectorisable,
    ParamReader,
    SignalPair,
    View,
    check_name,
    dotted,
    refuse,
    refuse_private,
)
from hub.engine.limits import EvalError, Limits, SandboxError
from hub.engine.ops import (
    BINOPS,
    CMPOPS,
    FORMAT_SPEC_OK,
    PY_ERRORS,
    check_broadcast,
    wrap_errors,
)
from hub.signals import UnknownSignal

# Re-exported: what callers evaluate with.
__all__ = [
    "Compiler",
    "Expression",
    "Frame",
    "NotVectorisable",
    "ParamReader",
    "View",
    "compile_expression",
    "evaluate",
    "parse_expression",
]


# --- the compiler ------------------------------------------------------------------------


class Compiler:
    """Compiles expression AST nodes into closures `fn(frame)`, refusing everything else.

    `varying` names the signal whose `.latest` is a whole batch (numpy array) during a
    vectorised evaluation; nodes that cannot work element by element raise
    NotVectorisable. `relax` is the hysteresis applied to comparisons on the boolean
    path of a condition.
    """

    def __init__(
        self,
        *,
        limits: Limits,
        varying: str | None = None,
        relax: float = 0.0,
        local_names: frozenset[str] = frozenset(),
        global_names: frozenset[str] = frozenset(),
        frame_functions: dict[str, Callable[..., Any]] | None = None,
        allow_commands: bool = False,
    ) -> None:
        self.limits = limits
        self.varying = varying
        self.relax = relax
        self.local_names = local_names
        self.global_names = global_names
        self.frame_functions = frame_functions or {}
        self.allow_commands = allow_commands
        self.deps: set[str] = set()
        self.needs_budget = False

    # Each visitor returns (closure, varies): varies means "depends on the batch".
    def expr(self, node: ast.AST, pol: int = 0) -> tuple[Fn, bool]:
        """Compile one expression node; pol is +1/-1 on the condition's boolean path."""
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            raise refuse(node, f"{type(node).__name__!s} syntax")
        return method(node, pol)

    def value(self, node: ast.AST) -> Fn:
        """Compile an expression that must not vary over the batch."""
        fn, varies = self.expr(node)
        if varies:
            raise NotVectorisable
        return fn

    def _Constant(self, node: ast.Constant, pol: int) -> tuple[Fn, bool]:
        v = node.value
        if not isinstance(v, (int, float, str, bool, type(None), complex)):
            raise refuse(node, f"a constant of type {type(v).__name__}")
        return (lambda fr: v), False

    def _Name(self, node: ast.Name, pol: int) -> tuple[Fn, bool]:
        name = node.id
        check_name(name, node)
        if name in self.global_names:
            return self._global_load(name), False
        if name in self.local_names:
            return self._local_load(name), False
        if name == "clock":
            return (lambda fr: fr.clock), False
        if name in lib.CONSTANTS:
            v = lib.CONSTANTS[name]
            return (lambda fr: v), False
        if name in lib.BUILTINS:
            f = lib.BUILTINS[name]
            return (lambda fr: f), False
        raise SandboxError(f"unknown name {name!r} (line {node.lineno})")

    @staticmethod
    def _local_load(name: str) -> Fn:
        def f(fr: Frame) -> Any:
            try:
                return fr.locals[name]
            except KeyError:
                raise EvalError(f"name {name!r} is used before it is assigned") from None

        return f

    @staticmethod
    def _global_load(name: str) -> Fn:
        def f(fr: Frame) -> Any:
            try:
                return fr.globals[name]
            except KeyError:
                raise EvalError(f"global {name!r} is used before it is assigned") from None

        return f

    def _Attribute(self, node: ast.Attribute, pol: int) -> tuple[Fn, bool]:
        parts = dotted(node)
        if parts is None:
            raise refuse(node, f"attribute access on a value ('.{node.attr}')")
        head = parts[0]
        if head in self.local_names or head in self.global_names:
            raise refuse(node, f"attribute access on the variable {head!r}")
        if head in lib.MODULES:
            ns = lib.MODULES[head]
            if len(parts) != 2 or parts[1] not in ns:
                raise SandboxError(f"{'.'.join(parts)} is not available (line {node.lineno})")
            v = ns[parts[1]]
            return (lambda fr: v), False
        if len(parts) == 3 and parts[2] in SIGNAL_ATTRS:
            return self._signal_attr(f"{parts[0]}.{parts[1]}", parts[2])
        if len(parts) == 2:
            return self._dev_dot(parts[0], parts[1])
        raise SandboxError(f"unknown name {'.'.join(parts)} (line {node.lineno})")

    def _signal_attr(self, key: str, attr: str) -> tuple[Fn, bool]:
        self.deps.add(key)
        if key == self.varying:
            if attr != "latest":
                raise NotVectorisable
            return (lambda fr: fr.view.latest), True

        def f(fr: Frame) -> Any:
            if fr.vkey == key:
                return getattr(fr.view, attr)
            try:
                sig = fr.store.get(key)
            except UnknownSignal:
                raise EvalError(f"unknown signal {key}") from None
            if attr == "latest":
                last = sig.buffer.last()
                if last is None:
                    raise EvalError(f"signal {key} has no data yet")
                return last[1]
            x, y = sig.buffer.arrays()
            lib.check_items(len(x), "signal")
            return x if attr == "x" else y

        return f, False

    def _dev_dot(self, dev: str, name: str) -> tuple[Fn, bool]:
        key = f"{dev}.{name}"
        self.deps.add(key)
        if key == self.varying:
            raise NotVectorisable

        def f(fr: Frame) -> Any:
            if fr.vkey == key:
                return SignalPair((fr.view.x, fr.view.y))  # type: ignore[union-attr]
            if key in fr.store:
                x, y = fr.store.get(key).buffer.arrays()
                lib.check_items(len(x), "signal")
                return SignalPair((x, y))
            if (dev, name) in fr.params_set:  # set earlier in this script run
                return fr.params_set[(dev, name)]
            try:
                return fr.param(dev, name)
            except LookupError:
                raise EvalError(f"unknown name {key}: no such signal or parameter") from None

        return f, False

    def _UnaryOp(self, node: ast.UnaryOp, pol: int) -> tuple[Fn, bool]:
        if isinstance(node.op, ast.Not):
            inner, varies = self.expr(node.operand, -pol)
            if varies:
                return (lambda fr: np.logical_not(inner(fr))), True
            return (lambda fr: not inner(fr)), False
        inner, varies = self.expr(node.operand)
        if isinstance(node.op, ast.USub):
            return (lambda fr: -inner(fr)), varies
        if isinstance(node.op, ast.UAdd):
            return (lambda fr: +inner(fr)), varies
        if varies:
            raise NotVectorisable
        return (lambda fr: ~inner(fr)), False

    def _BinOp(self, node: ast.BinOp, pol: int) -> tuple[Fn, bool]:
        op = BINOPS.get(type(node.op))
        if op is None:
            raise refuse(node, f"the operator {type(node.op).__name__}")
        left, lv = self.expr(node.left)
        right, rv = self.expr(node.right)
        limits = self.limits
        name = type(node.op).__name__

        def f(fr: Frame) -> Any:
            try:
                return op(left(fr), right(fr), limits)
            except (EvalError, SandboxError):
                raise
            except PY_ERRORS as exc:
                raise wrap_errors(name, exc) from exc

        return f, lv or rv

    def _BoolOp(self, node: ast.BoolOp, pol: int) -> tuple[Fn, bool]:
        parts = [self.expr(v, pol) for v in node.values]
        fns = [p[0] for p in parts]
        is_and = isinstance(node.op, ast.And)
        if any(p[1] for p in parts):
            if pol == 0:
                raise NotVectorisable  # the value, not just its truth, would matter
            red = np.logical_and if is_and else np.logical_or

            def fv(fr: Frame) -> Any:
                out = np.asarray(fns[0](fr), dtype=bool)
                for g in fns[1:]:
                    out = red(out, np.asarray(g(fr), dtype=bool))
                return out

            return fv, True

        def f(fr: Frame) -> Any:
            v: Any = None
            for g in fns:
                v = g(fr)
                try:
                    truth = bool(v)
                except ValueError as exc:
                    raise wrap_errors("and/or", exc) from exc
                if truth != is_and:
                    return v
            return v

        return f, False

    def _Compare(self, node: ast.Compare, pol: int) -> tuple[Fn, bool]:
        items = [self.expr(node.left)] + [self.expr(c) for c in node.comparators]
        fns = [i[0] for i in items]
        varies = any(i[1] for i in items)
        ops = []
        h = self.relax * pol
        for op in node.ops:
            fn = CMPOPS.get(type(op))
            if fn is None:
                raise refuse(node, f"the comparison {type(op).__name__}")
            # Hysteresis: once true, `a > b` holds until a <= b - h (and mirrored).
            shift = 0.0
            if h and isinstance(op, (ast.Gt, ast.GtE)):
                shift = -h
            elif h and isinstance(op, (ast.Lt, ast.LtE)):
                shift = h
            ops.append((fn, shift))

        def f(fr: Frame) -> Any:
            a = fns[0](fr)
            out: Any = True
            for (op, shift), g in zip(ops, fns[1:], strict=True):
                b = g(fr)
                try:
                    r = op(a, b + shift if shift else b)
                except PY_ERRORS as exc:
                    raise wrap_errors("comparison", exc) from exc
                if varies:
                    out = np.logical_and(out, r)
                elif not r:
                    return False
                else:
                    out = r
                a = b
            return out

        return f, varies

    def _IfExp(self, node: ast.IfExp, pol: int) -> tuple[Fn, bool]:
        test, tv = self.expr(node.test, 0 if not pol else 1)
        body, bv = self.expr(node.body, pol)
        orelse, ov = self.expr(node.orelse, pol)
        if tv:
            return (lambda fr: np.where(test(fr), body(fr), orelse(fr))), True
        return (lambda fr: body(fr) if test(fr) else orelse(fr)), bv or ov

    def _Subscript(self, node: ast.Subscript, pol: int) -> tuple[Fn, bool]:
        value = self.value(node.value)
        index = self.value(node.slice)

        def f(fr: Frame) -> Any:
            v, i = value(fr), index(fr)
            if not isinstance(v, (list, tuple, str, dict, np.ndarray)):
                raise EvalError(f"cannot index a {type(v).__name__}")
            try:
                return v[i]
            except PY_ERRORS as exc:
                raise wrap_errors("index", exc) from exc

        return f, False

    def _Slice(self, node: ast.Slice, pol: int) -> tuple[Fn, bool]:
        parts = [None if p is None else self.value(p) for p in (node.lower, node.upper, node.step)]

        def f(fr: Frame) -> slice:
            lo, hi, st = (None if p is None else p(fr) for p in parts)
            return slice(lo, hi, st)

        return f, False

    def _List(self, node: ast.List, pol: int) -> tuple[Fn, bool]:
        elts = [self.value(e) for e in node.elts]
        return (lambda fr: [e(fr) for e in elts]), False

    def _Tuple(self, node: ast.Tuple, pol: int) -> tuple[Fn, bool]:
        elts = [self.value(e) for e in node.elts]
        return (lambda fr: tuple(e(fr) for e in elts)), False

    def _Dict(self, node: ast.Dict, pol: int) -> tuple[Fn, bool]:
        if any(k is None for k in node.keys):
            raise refuse(node, "'**' in a dict")
        keys = [self.value(k) for k in node.keys if k is not None]
        vals = [self.value(v) for v in node.values]
        return (lambda fr: {k(fr): v(fr) for k, v in zip(keys, vals, strict=True)}), False

    def _JoinedStr(self, node: ast.JoinedStr, pol: int) -> tuple[Fn, bool]:
        parts = [self.value(v) for v in node.values]

        def f(fr: Frame) -> str:
            s = "".join(str(p(fr)) for p in parts)
            lib.check_items(len(s), "string")
            return s

        return f, False

    def _FormattedValue(self, node: ast.FormattedValue, pol: int) -> tuple[Fn, bool]:
        value = self.value(node.value)
        spec = ""
        if node.format_spec is not None:
            fs = node.format_spec
            if not (
                isinstance(fs, ast.JoinedStr)
                and all(isinstance(v, ast.Constant) for v in fs.values)
            ):
                raise refuse(node, "a computed format spec")
            spec = "".join(str(v.value) for v in fs.values)  # type: ignore[attr-defined]
            digits = "".join(c if c.isdigit() else " " for c in spec).split()
            if set(spec) - FORMAT_SPEC_OK or any(len(d) > 3 for d in digits):
                raise refuse(node, f"the format spec {spec!r}")
        conv = node.conversion

        def f(fr: Frame) -> str:
            v = value(fr)
            lib.nested_size(v, "formatted value")
            if conv == ord("r"):
                v = repr(v)
            elif conv in (ord("s"), ord("a")):
                v = str(v)
            try:
                return format(v, spec)
            except PY_ERRORS as exc:
                raise wrap_errors("format", exc) from exc

        return f, False

    def _ListComp(self, node: ast.ListComp, pol: int) -> tuple[Fn, bool]:
        raise refuse(node, "a list comprehension in a condition")

    def _Call(self, node: ast.Call, pol: int) -> tuple[Fn, bool]:
        func, label, is_frame_fn, command = self._callee(node)
        args: list[tuple[Fn, bool]] = []
        varies = False
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise refuse(a, "'*' arguments")
            fn, v = self.expr(a)
            varies = varies or v
            args.append((fn, isinstance(a, ast.Attribute)))
        kwargs: list[tuple[str, Fn]] = []
        for kw in node.keywords:
            if kw.arg is None:
                raise refuse(node, "'**' arguments")
            check_name(kw.arg, node)
            kwargs.append((kw.arg, self.value(kw.value)))
        if varies and (func not in lib.ELEMENTWISE or len(args) != 1 or kwargs):
            raise NotVectorisable
        if command is not None:
            dev, name = command

            def fc(fr: Frame) -> Any:
                pos = [fn(fr) for fn, _ in args]
                kw = {k: fn(fr) for k, fn in kwargs}
                if pos and kw:
                    raise EvalError(f"{dev}.{name}(): use either positional or keyword arguments")
                return fr.host.command(dev, "call", name, kw if kw else pos)

            return fc, False

        def f(fr: Frame) -> Any:
            pos: list[Any] = []
            for fn, maybe_pair in args:
                v = fn(fr)
                if maybe_pair and isinstance(v, SignalPair):
                    pos.extend(v)
                else:
                    pos.append(v)
            kw = {k: fn(fr) for k, fn in kwargs}
            for v in pos:
                lib.nested_size(v, f"argument of {label}()")
            for v in kw.values():
                lib.nested_size(v, f"argument of {label}()")
            check_broadcast(pos, label)
            try:
                if is_frame_fn:
                    return func(fr, *pos, **kw)
                return func(*pos, **kw)
            except (EvalError, SandboxError):
                raise
            except PY_ERRORS as exc:
                raise wrap_errors(f"{label}()", exc) from exc

        return f, varies

    def _callee(self, node: ast.Call) -> tuple[Any, str, bool, tuple[str, str] | None]:
        """Resolve what a call calls, at compile time: a safe function or a device function."""
        fnode = node.func
        if isinstance(fnode, ast.Name):
            name = fnode.id
            check_name(name, fnode)
            if name in self.local_names or name in self.global_names:
                raise refuse(node, f"calling the variable {name!r}")
            if name in self.frame_functions:
                return self.frame_functions[name], name, True, None
            if name in lib.BUILTINS:
                return lib.BUILTINS[name], name, False, None
            raise SandboxError(f"unknown function {name!r} (line {node.lineno})")
        if isinstance(fnode, ast.Attribute):
            parts = dotted(fnode)
            if parts is None:
                raise refuse(node, f"calling a method of a value ('.{fnode.attr}')")
            label = ".".join(parts)
            if label in self.frame_functions:  # telegram.send_message_to_all, …
                return self.frame_functions[label], label, True, None
            if parts[0] in lib.MODULES:
                ns = lib.MODULES[parts[0]]
                if len(parts) == 2 and callable(ns.get(parts[1])):
                    return ns[parts[1]], label, False, None
                raise SandboxError(f"{label} is not available (line {node.lineno})")
            if parts[0] in self.local_names or parts[0] in self.global_names:
                raise refuse(node, f"calling a method of the variable {parts[0]!r}")
            if len(parts) == 2:
                if parts[0] in RESERVED_DEVICES:
                    raise SandboxError(f"{label} is not available (line {node.lineno})")
                if not self.allow_commands:
                    raise refuse(node, f"calling the device function {label} in a condition")
                return None, label, False, (parts[0], parts[1])
            raise SandboxError(f"unknown function {label} (line {node.lineno})")
        raise refuse(node, "calling the result of an expression")


def parse_expression(text: str, limits: Limits) -> ast.Expression:
    """Parse a condition; refuse oversized or syntactically wrong text with a clear message."""
    if not isinstance(text, str):
        raise EvalError("a condition must be text")
    if len(text) > limits.max_source:
        raise SandboxError(f"condition longer than {limits.max_source} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise EvalError(f"syntax error in condition: {exc.msg} (column {exc.offset})") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > limits.max_condition_nodes:
        raise SandboxError(
            f"condition too complex ({count} syntax nodes, limit {limits.max_condition_nodes})"
        )
    refuse_private(tree)
    return tree


# What a trivially cheap condition is made of: numbers, `Dev.Sig.latest`, `clock`,
# arithmetic, comparisons and logic. Every value is a number (or a batch of numbers of
# the signal being evaluated) and every node one operation on it, so its cost is bounded
# by its node count; such conditions are evaluated on the event loop. Anything else runs
# in the worker process, where the OS limits it.
_CHEAP_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.IfExp,
    ast.Load,
)
_CHEAP_CALLS = frozenset({"abs", "min", "max"})
_CHEAP_NAMES = frozenset({"clock", "True", "False", "pi"})


def is_cheap(tree: ast.AST) -> bool:
    """True when a condition is provably cheap (see _CHEAP_NODES); False when unsure."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, _CHEAP_NODES):
            continue
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bool) or (isinstance(v, (int, float)) and abs(v) < 2**53):
                continue
            return False
        if isinstance(node, ast.Name) and node.id in _CHEAP_NAMES:
            continue
        if isinstance(node, ast.Attribute):
            parts = dotted(node)
            if parts is None or len(parts) != 3 or parts[2] != "latest":
                return False
            skip.update(id(n) for n in ast.walk(node))  # the chain's own nodes
            continue
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _CHEAP_CALLS
            and not node.keywords
            and 0 < len(node.args) <= 8
            and not any(isinstance(a, ast.Starred) for a in node.args)
        ):
            skip.add(id(node.func))
            continue
        return False
    return True


def reads_history(tree: ast.AST, key: str) -> bool:
    """True when a condition reads more of signal `key` than `.latest` (`.x`, `.y`, bare)."""
    inner = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and id(node) not in inner:
            parts = dotted(node)
            if parts is None or len(parts) < 2 or f"{parts[0]}.{parts[1]}" != key:
                continue
            if len(parts) == 2 or parts[2] != "latest":
                return True
    return False


@dataclass
class Expression:
    """A compiled condition: a scalar closure plus, per signal, a batch closure if possible."""

    text: str
    tree: ast.Expression
    fn: Fn
    deps: frozenset[str]
    limits: Limits
    relax: float = 0.0
    relaxed_fn: Fn | None = None
    cheap: bool = False  # provably bounded: evaluated on the event loop
    _vector: dict[str, tuple[Fn, Fn | None] | None] = field(default_factory=dict)

    def vector(self, key: str) -> tuple[Fn, Fn | None] | None:
        """Closures evaluating the condition over a batch of `key` (plain, relaxed), or None."""
        if key not in self._vector:
            try:
                plain = Compiler(limits=self.limits, varying=key).expr(self.tree.body, 1)
                relaxed = None
                if self.relax:
                    relaxed = Compiler(limits=self.limits, varying=key, relax=self.relax).expr(
                        self.tree.body, 1
                    )[0]
                self._vector[key] = (plain[0], relaxed)
            except NotVectorisable:
                self._vector[key] = None
        return self._vector[key]


def compile_expression(
    text: str, *, limits: Limits | None = None, relax: float = 0.0
) -> Expression:
    """Parse and compile a condition; raises SandboxError/EvalError with a clear message."""
    limits = limits or Limits()
    tree = parse_expression(text, limits)
    comp = Compiler(limits=limits)
    fn, _ = comp.expr(tree.body, 1)
    relaxed = None
    if relax:
        relaxed = Compiler(limits=limits, relax=relax).expr(tree.body, 1)[0]
    return Expression(
        text=text,
        tree=tree,
        fn=fn,
        deps=frozenset(comp.deps),
        limits=limits,
        relax=relax,
        relaxed_fn=relaxed,
        cheap=is_cheap(tree),
    )


def evaluate(expr: Expression, frame: Frame) -> Any:
    """Evaluate a compiled expression once; errors come out as EvalError/SandboxError."""
    try:
        return expr.fn(frame)
    except (EvalError, SandboxError):
        raise
    except RecursionError as exc:
        raise SandboxError("expression nested too deeply") from exc
    except Exception as exc:
        raise EvalError(f"{type(exc).__name__}: {exc}") from exc
