"""Both ends of running user code in the worker process (see worker.py).

Child end: `ChildEngine` compiles what it is sent (cached), runs it against a signal
store and a host that ask the parent, and returns plain results. Parent end: `serve`
answers those questions from the hub's live store, parameters and agents.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import numpy as np

from hub.engine.expr import Expression, compile_expression
from hub.engine.frame import Frame
from hub.engine.limits import EvalError, Limits, SandboxError
from hub.engine.script import Script, ScriptResult, compile_script
from hub.engine.worker import LRU
from hub.signals import UnknownSignal

MAX_RESULT_BYTES = 1_000_000  # a script's returned value travels back only up to this

Ask = Callable[..., Any]


def _answer(reply: tuple[Any, ...]) -> Any:
    if reply[0] == "ok":
        return reply[1]
    raise EvalError(str(reply[1]))


class _RemoteBuffer:
    """A signal's buffer as the parent has it, fetched once per request."""

    def __init__(self, store: RemoteStore, key: str) -> None:
        self._store, self._key = store, key

    def last(self) -> tuple[float, float] | None:
        return self._store.fetch(self._key, "last")

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self._store.fetch(self._key, "arrays")


class _RemoteSignal:
    def __init__(self, store: RemoteStore, key: str) -> None:
        self.key = key
        self.buffer = _RemoteBuffer(store, key)


class RemoteStore:
    """The `SignalStore` surface the sandbox reads (`in`, `get(key).buffer.last/arrays`)."""

    def __init__(self, ask: Ask) -> None:
        self._ask = ask
        self._cache: dict[tuple[str, str], Any] = {}

    def fetch(self, key: str, what: str) -> Any:
        """One answer of the parent's store, cached for this request."""
        if (key, what) not in self._cache:
            self._cache[(key, what)] = _answer(self._ask("store", key, what))
        return self._cache[(key, what)]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(self.fetch(key, "has"))

    def get(self, key: str) -> _RemoteSignal:
        if key not in self:
            raise UnknownSignal(key)
        return _RemoteSignal(self, key)


class RemoteHost:
    """The ScriptHost of a run in the child: every call goes to the parent."""

    def __init__(self, ask: Ask, tell: Callable[..., None]) -> None:
        self._ask, self._tell = ask, tell

    def command(self, device: str, op: str, name: str, args: Any) -> Any:
        return _answer(self._ask("command", device, op, name, args))

    def emit_event(self, record: Any) -> None:
        self._tell("event", record)

    def emit_data(self, device: str, name: str, x: list[float], y: list[float], unit: str) -> None:
        _answer(self._ask("data", device, name, x, y, unit))

    def telegram(self, message: dict[str, Any]) -> int:
        return int(_answer(self._ask("telegram", message)))


def _small(value: Any) -> Any:
    try:
        if len(pickle.dumps(value)) <= MAX_RESULT_BYTES:
            return value
    except Exception:
        pass
    return f"<{type(value).__name__}: too large to return>"


class ChildEngine:
    """Runs requests in the worker process: scripts and conditions, cached by identity."""

    def __init__(self, *, ask: Ask, tell: Callable[..., None]) -> None:
        self.ask, self.tell = ask, tell
        self.scripts: LRU = LRU(1000)
        self.conditions: LRU = LRU(1000)

    def _param(self, device: str, name: str) -> Any:
        reply = self.ask("param", device, name)
        if reply[0] != "ok":
            raise KeyError(f"{device}.{name}")
        return reply[1]

    def handle(self, req: tuple[Any, ...]) -> Any:
        """One request → a picklable result; never raises for the user's code."""
        try:
            if req[0] == "script":
                return self._script(*req[1:])
            if req[0] == "cond":
                return self._cond(*req[1:])
            if req[0] == "test_cond":
                return self._test_cond(*req[1:])
            return ("err", f"unknown request {req[0]!r}")
        except MemoryError:
            return ("err", "refused: out of memory (the worker's memory limit)")

    def _script(
        self, token: int, generation: int, source: str, limits: Limits, clock: float
    ) -> ScriptResult:
        entry = self.scripts.use(token, lambda: [generation, compile_script(source, limits=limits)])
        script: Script = entry[1]
        if entry[0] != generation:
            entry[0] = generation
            script.reset()
        res = script.run(
            store=RemoteStore(self.ask),  # type: ignore[arg-type]
            param=self._param,
            host=RemoteHost(self.ask, self.tell),
            clock=clock,
        )
        res.value = _small(res.value)
        return res

    def _expression(self, text: str, relax: float, limits: Limits) -> Expression:
        return self.conditions.use(
            (text, relax, limits), lambda: compile_expression(text, limits=limits, relax=relax)
        )

    def _cond(
        self,
        text: str,
        relax: float,
        limits: Limits,
        key: str,
        x: np.ndarray,
        y: np.ndarray,
        history: tuple[np.ndarray, np.ndarray] | None,
        clock: float,
    ) -> tuple[Any, ...]:
        from hub.engine.events import evaluate_batch

        expr = self._expression(text, relax, limits)
        frame = Frame(store=RemoteStore(self.ask), param=self._param, clock=clock)  # type: ignore[arg-type]
        return evaluate_batch(expr, key, x, y, frame, history, limits)

    def _test_cond(self, text: str, relax: float, limits: Limits, clock: float) -> Any:
        from hub.engine.events import evaluate_now

        expr = self._expression(text, relax, limits)
        frame = Frame(store=RemoteStore(self.ask), param=self._param, clock=clock)  # type: ignore[arg-type]
        return evaluate_now(expr, frame)


# --- the parent's end -----------------------------------------------------------------------


def serve_callbacks(
    *,
    store: Any,
    param: Callable[[str, str], Any],
    host: Any,
) -> Callable[[tuple[Any, ...]], Any]:
    """The function answering a child's callbacks from the hub's store, params and host."""

    def serve(msg: tuple[Any, ...]) -> Any:
        kind = msg[0]
        try:
            if kind == "store":
                key, what = msg[1], msg[2]
                if what == "has":
                    return ("ok", key in store)
                sig = store.get(key)
                return ("ok", sig.buffer.last() if what == "last" else sig.buffer.arrays())
            if kind == "param":
                return ("ok", param(msg[1], msg[2]))
            if kind == "command":
                return ("ok", host.command(*msg[1:]))
            if kind == "data":
                host.emit_data(*msg[1:])
                return ("ok", None)
            if kind == "telegram":
                return ("ok", host.telegram(msg[1]))
            if kind == "event":
                host.emit_event(msg[1])
                return None
        except (EvalError, SandboxError, LookupError) as exc:
            return ("err", str(exc))
        return ("err", f"unknown callback {kind!r}")

    return serve
