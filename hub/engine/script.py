"""RTOC's script language, parsed (not rewritten by substring) and run in the sandbox.

The language is a safe subset of Python plus RTOC's three extensions, recognised on the
token stream: `global NAME = value` at column 0 (initialised once, kept across runs of
the script), `global.NAME` (the same variable), and `trig COND:` (a block entered only
on a rising edge of COND). `Dev.PARAM = v` and `Dev.FUNC(args)` become commands to the
agent owning the device; `print`, `stream`, `event`, `plot` reach the hub through a host.
"""

from __future__ import annotations

import ast
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hub.engine import library as lib
from hub.engine.expr import Compiler
from hub.engine.frame import (
    RESERVED_DEVICES,
    Fn,
    Frame,
    ParamReader,
    check_name,
    dotted,
    refuse,
    refuse_private,
)
from hub.engine.hostfns import FRAME_FUNCTIONS, ScriptHost
from hub.engine.limits import CURRENT_BUDGET, Budget, EvalError, Limits, SandboxError
from hub.engine.source import preprocess
from hub.engine.worker import new_token
from hub.signals import SignalStore

__all__ = ["Script", "ScriptHost", "ScriptResult", "compile_script", "preprocess"]


class _Return(Exception):
    def __init__(self, value: Any) -> None:
        self.value = value


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def _assigned_names(tree: ast.AST) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            out.add(node.id)
    return out


class ScriptCompiler(Compiler):
    """Adds statements, comprehensions and commands to the expression compiler."""

    def __init__(self, *, trig_lines: frozenset[int], **kwargs: Any) -> None:
        super().__init__(allow_commands=True, **kwargs)
        self.trig_lines = trig_lines

    def block(self, stmts: list[ast.stmt]) -> Callable[[Frame], None]:
        """Compile a list of statements into one closure that charges the budget."""
        compiled = [(s.lineno, self.stmt(s)) for s in stmts]

        def run(fr: Frame) -> None:
            budget = fr.budget
            for lineno, f in compiled:
                budget.charge()  # type: ignore[union-attr]
                try:
                    f(fr)
                except (EvalError, SandboxError) as exc:
                    if not getattr(exc, "line", None):
                        exc.line = lineno  # type: ignore[union-attr]
                    raise
                except (_Return, _Break, _Continue):
                    raise
                except MemoryError:
                    refused = SandboxError("out of memory (the worker's memory limit)")
                    refused.line = lineno  # type: ignore[attr-defined]
                    raise refused from None
                except Exception as exc:  # anything Python raised inside: the script's error
                    err = EvalError(f"{type(exc).__name__}: {exc}")
                    err.line = lineno  # type: ignore[attr-defined]
                    raise err from exc

        return run

    def stmt(self, node: ast.stmt) -> Fn:
        """Compile one statement."""
        method = getattr(self, "_s_" + type(node).__name__, None)
        if method is None:
            raise refuse(node, f"the statement {type(node).__name__}")
        return method(node)

    def _s_Expr(self, node: ast.Expr) -> Fn:
        return self.expr(node.value)[0]

    def _s_Pass(self, node: ast.Pass) -> Fn:
        return lambda fr: None

    def _s_Break(self, node: ast.Break) -> Fn:
        def f(fr: Frame) -> None:
            raise _Break

        return f

    def _s_Continue(self, node: ast.Continue) -> Fn:
        def f(fr: Frame) -> None:
            raise _Continue

        return f

    def _s_Return(self, node: ast.Return) -> Fn:
        value = self.expr(node.value)[0] if node.value is not None else (lambda fr: None)

        def f(fr: Frame) -> None:
            raise _Return(value(fr))

        return f

    def _s_Global(self, node: ast.Global) -> Fn:
        raise refuse(node, "the plain 'global' statement (write 'global NAME = value')")

    def _s_Assign(self, node: ast.Assign) -> Fn:
        value = self.expr(node.value)[0]
        stores = [self.target(t) for t in node.targets]

        def f(fr: Frame) -> None:
            v = value(fr)
            for s in stores:
                s(fr, v)

        return f

    def _s_AugAssign(self, node: ast.AugAssign) -> Fn:
        load = ast.copy_location(
            ast.BinOp(left=_as_load(node.target), op=node.op, right=node.value), node
        )
        return self._s_Assign(
            ast.copy_location(ast.Assign(targets=[node.target], value=load), node)
        )

    def target(self, node: ast.expr) -> Callable[[Frame, Any], None]:
        """Compile an assignment target: a variable, a tuple, an item, or `Dev.PARAM`."""
        if isinstance(node, ast.Name):
            name = node.id
            check_name(name, node)
            if name in lib.MODULES or name == "clock":
                raise refuse(node, f"assigning to {name!r}")
            if name in self.global_names:

                def sg(fr: Frame, v: Any) -> None:
                    fr.globals[name] = v

                return sg

            def sl(fr: Frame, v: Any) -> None:
                fr.locals[name] = v

            return sl
        if isinstance(node, (ast.Tuple, ast.List)):
            subs = [self.target(e) for e in node.elts]

            def st(fr: Frame, v: Any) -> None:
                vals = list(v) if isinstance(v, (list, tuple, np.ndarray)) else None
                if vals is None or len(vals) != len(subs):
                    raise EvalError(f"cannot unpack into {len(subs)} names")
                for s, x in zip(subs, vals, strict=True):
                    s(fr, x)

            return st
        if isinstance(node, ast.Subscript):
            container = self.value(node.value)
            index = self.value(node.slice)

            def ss(fr: Frame, v: Any) -> None:
                c = container(fr)
                if not isinstance(c, (list, dict, np.ndarray)):
                    raise EvalError(f"cannot assign an item of a {type(c).__name__}")
                try:
                    c[index(fr)] = v
                except (TypeError, ValueError, IndexError, KeyError) as exc:
                    raise EvalError(f"item assignment: {exc}") from exc

            return ss
        if isinstance(node, ast.Attribute):
            parts = dotted(node)
            if parts is None:
                raise refuse(node, f"assigning an attribute of a value ('.{node.attr}')")
            if parts[0] in lib.MODULES or parts[0] in self.local_names | self.global_names:
                raise refuse(node, f"assigning {'.'.join(parts)}")
            if len(parts) == 2:
                dev, pname = parts
                if dev in RESERVED_DEVICES:
                    raise refuse(node, f"the device name {dev!r}")

                def sp(fr: Frame, v: Any) -> None:
                    if isinstance(v, np.generic):
                        v = v.item()
                    confirmed = fr.host.command(dev, "set", pname, v)
                    fr.params_set[(dev, pname)] = v if confirmed is None else confirmed

                return sp
            if len(parts) == 3 and parts[2] in ("latest", "x", "y"):
                raise refuse(node, "assigning to a signal (use stream(...))")
        raise refuse(node, f"assigning to {type(node).__name__}")

    def _s_If(self, node: ast.If) -> Fn:
        is_trig = node.lineno in self.trig_lines
        test = self.expr(node.test, 1 if is_trig else 0)[0]
        body = self.block(node.body)
        orelse = self.block(node.orelse)
        if not is_trig:

            def f(fr: Frame) -> None:
                try:
                    cond = bool(test(fr))
                except ValueError as exc:
                    raise EvalError(f"condition: {exc}") from exc
                (body if cond else orelse)(fr)

            return f
        key = (node.lineno, node.col_offset)

        def ft(fr: Frame) -> None:
            try:
                cond = bool(test(fr))
            except ValueError as exc:
                raise EvalError(f"trig condition: {exc}") from exc
            prev = fr.trig.get(key, False)
            fr.trig[key] = cond
            (body if cond and not prev else orelse)(fr)

        return ft

    def _s_While(self, node: ast.While) -> Fn:
        test = self.expr(node.test)[0]
        body = self.block(node.body)
        orelse = self.block(node.orelse)

        def f(fr: Frame) -> None:
            while True:
                fr.budget.charge()  # type: ignore[union-attr]
                if not test(fr):
                    orelse(fr)
                    return
                try:
                    body(fr)
                except _Break:
                    return
                except _Continue:
                    continue

        return f

    def _s_For(self, node: ast.For) -> Fn:
        store = self.target(node.target)
        it = self.value(node.iter)
        body = self.block(node.body)
        orelse = self.block(node.orelse)

        def f(fr: Frame) -> None:
            seq = it(fr)
            if not isinstance(seq, (list, tuple, range, str, dict, np.ndarray)):
                raise EvalError(f"cannot loop over a {type(seq).__name__}")
            if isinstance(seq, np.ndarray):
                lib.check_items(seq.size, "loop")
                seq = seq.tolist()
            for v in seq:
                fr.budget.charge()  # type: ignore[union-attr]
                store(fr, v)
                try:
                    body(fr)
                except _Break:
                    return
                except _Continue:
                    continue
            orelse(fr)

        return f

    def _ListComp(self, node: ast.ListComp, pol: int) -> tuple[Fn, bool]:
        gens = [
            (self.target(g.target), self.value(g.iter), [self.value(c) for c in g.ifs])
            for g in node.generators
        ]
        if any(g.is_async for g in node.generators):
            raise refuse(node, "async comprehensions")
        elt = self.value(node.elt)

        def f(fr: Frame) -> list[Any]:
            out: list[Any] = []

            def loop(level: int) -> None:
                if level == len(gens):
                    out.append(elt(fr))
                    return
                store, it, ifs = gens[level]
                seq = it(fr)
                if not isinstance(seq, (list, tuple, range, str, dict, np.ndarray)):
                    raise EvalError(f"cannot loop over a {type(seq).__name__}")
                if isinstance(seq, np.ndarray):
                    seq = seq.tolist()
                for v in seq:
                    fr.budget.charge()  # type: ignore[union-attr]
                    store(fr, v)
                    if all(c(fr) for c in ifs):
                        loop(level + 1)

            loop(0)
            lib.check_items(len(out), "list")
            return out

        return f, False


def _as_load(node: ast.expr) -> ast.expr:
    new = ast.parse(ast.unparse(node), mode="eval").body
    return ast.copy_location(new, node)


# --- compiled scripts ---------------------------------------------------------------------


@dataclass
class ScriptResult:
    """The outcome of one run: ok, captured output, the returned value, the error text."""

    ok: bool
    output: str = ""
    value: Any = None
    error: str | None = None
    ops: int = 0


@dataclass(eq=False)
class Script:
    """A compiled script with its persistent state (globals and trig edges)."""

    source: str
    init: Callable[[Frame], None]
    body: Callable[[Frame], None]
    global_names: frozenset[str]
    limits: Limits
    globals: dict[str, Any] = field(default_factory=dict)
    trig: dict[tuple[int, int], bool] = field(default_factory=dict)
    initialised: bool = False
    token: int = field(default_factory=new_token)  # names it in the worker process
    generation: int = 0  # bumped by reset(): the worker's copy resets too

    def reset(self) -> None:
        """Forget globals and trig edge states: the next run initialises again."""
        self.globals.clear()
        self.trig.clear()
        self.initialised = False
        self.generation += 1

    def run(
        self,
        *,
        store: SignalStore,
        param: ParamReader,
        host: ScriptHost,
        clock: float,
        now: Callable[[], float] = time.monotonic,
    ) -> ScriptResult:
        """Run the script once in the sandbox; never raises for errors in the script."""
        budget = Budget(limits=self.limits, now=now)
        fr = Frame(
            store=store,
            param=param,
            clock=clock,
            globals=self.globals,
            budget=budget,
            host=host,
            trig=self.trig,
        )
        token = CURRENT_BUDGET.set(budget)
        value: Any = None
        try:
            if not self.initialised:
                self.init(fr)
                self.initialised = True
            try:
                self.body(fr)
            except _Return as ret:
                value = ret.value
        except (_Break, _Continue):
            return ScriptResult(False, "".join(fr.output), None, "break/continue outside a loop")
        except (EvalError, SandboxError) as exc:
            line = getattr(exc, "line", None)
            where = f"line {line}: " if line else ""
            kind = "refused" if isinstance(exc, SandboxError) else "error"
            msg = f"{kind}: {where}{exc}"
            return ScriptResult(False, "".join(fr.output), None, msg, budget.ops)
        except RecursionError:
            return ScriptResult(False, "".join(fr.output), None, "refused: nested too deeply")
        finally:
            CURRENT_BUDGET.reset(token)
        return ScriptResult(True, "".join(fr.output), value, None, budget.ops)


def compile_script(source: str, *, limits: Limits | None = None) -> Script:
    """Parse and compile a script; raises EvalError/SandboxError with a clear message."""
    limits = limits or Limits()
    if not isinstance(source, str):
        raise EvalError("a script must be text")
    if len(source) > limits.max_source:
        raise SandboxError(f"script longer than {limits.max_source} characters")
    src = preprocess(source.expandtabs(4) if "\t" in source else source)
    try:
        tree = ast.parse(src.text, mode="exec")
    except SyntaxError as exc:
        raise EvalError(f"syntax error in script: line {exc.lineno}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise SandboxError("script nested too deeply") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > limits.max_nodes:
        raise SandboxError(f"script too complex ({count} nodes)")
    refuse_private(tree)
    local_names = frozenset(_assigned_names(tree) - src.global_names)
    comp = ScriptCompiler(
        limits=limits,
        trig_lines=src.trig_lines,
        local_names=local_names,
        global_names=src.global_names,
        frame_functions=FRAME_FUNCTIONS,
    )
    init = [s for s in tree.body if s.lineno in src.init_lines]
    body = [s for s in tree.body if s.lineno not in src.init_lines]
    try:
        return Script(
            source=source,
            init=comp.block(init),
            body=comp.block(body),
            global_names=src.global_names,
            limits=limits,
        )
    except RecursionError:
        raise SandboxError("script nested too deeply") from None
