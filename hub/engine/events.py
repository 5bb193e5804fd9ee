"""Global events: conditions evaluated on every new sample, in sample order, with triggers.

A dependency index maps `Dev.Sig` to the events whose condition reads it, so a sample
costs only those conditions. A condition that uses the new signal only through `.latest`
and element-wise operations is evaluated once per batch over numpy arrays; others are
evaluated sample by sample with the signal's buffer as it was at that sample.

Triggers follow RTOC: `rising` fires when the condition is true and the previous state
was not true — so the very first evaluation fires if it is already true (what RTOC users
expect at start-up); `falling` needs a previous true; `both` is either edge; `true` and
`false` fire on every evaluation with that value. Beyond RTOC: `hysteresis` (once true,
comparisons give way by this amount before the condition is false again) and `hold`
(the condition must stay true this many seconds of sample time before it counts).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_agent.wire import WireError, check_event
from hub.db.base import EventRecord
from hub.engine.expr import (
    Expression,
    Frame,
    ParamReader,
    View,
    compile_expression,
    reads_history,
)
from hub.engine.limits import EvalError, Limits, SandboxError
from hub.signals import Signal, SignalStore

TRIGGERS = ("rising", "falling", "both", "true", "false")
Offload = Callable[
    ["CompiledEvent", Signal, np.ndarray, np.ndarray, "tuple[np.ndarray, np.ndarray] | None"],
    None,
]


class EventDefError(ValueError):
    """An event definition is invalid; the message names the field."""


@dataclass
class EventDef:
    """A global event as RTOC defines it, plus optional hysteresis and hold time."""

    name: str
    cond: str
    text: str = ""
    priority: int = 0
    id: str = ""
    trigger: str = "rising"
    sname: str = ""
    dname: str = ""
    active: bool = True
    ret: Any = None  # RTOC's "return": the event's value
    hysteresis: float = 0.0
    hold: float = 0.0
    extras: dict[str, Any] = field(default_factory=dict)  # other keys of RTOC's file, kept

    def validate(self) -> None:
        """Raise EventDefError naming the first invalid field."""
        if not isinstance(self.name, str) or not self.name:
            raise EventDefError("event: 'name' must be a non-empty string")
        if not isinstance(self.cond, str) or not self.cond.strip():
            raise EventDefError(f"event {self.name}: 'cond' must be a non-empty string")
        if self.trigger not in TRIGGERS:
            raise EventDefError(f"event {self.name}: 'trigger' must be one of {TRIGGERS}")
        if self.priority not in (0, 1, 2) or isinstance(self.priority, bool):
            raise EventDefError(f"event {self.name}: 'priority' must be 0, 1 or 2")
        for key in ("text", "id", "sname", "dname"):
            if not isinstance(getattr(self, key), str):
                raise EventDefError(f"event {self.name}: {key!r} must be a string")
        if not isinstance(self.active, bool):
            raise EventDefError(f"event {self.name}: 'active' must be true or false")
        for key in ("hysteresis", "hold"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
                raise EventDefError(f"event {self.name}: {key!r} must be a number >= 0")
            if not math.isfinite(v):
                raise EventDefError(f"event {self.name}: {key!r} must be finite")
        sample = EventRecord(
            time=0.0,  # stands in for the sample's time
            device=self.dname or "noDevice",
            signal=self.sname or "noName",
            text=self.text,
            priority=self.priority,
            event_id=self.id,
            value=self.ret,
        )
        try:  # what it raises will pass the one event check (edge_agent.wire.check_event)
            check_event(sample)
        except WireError as exc:
            raise EventDefError(f"event {self.name}: {exc}") from None


@dataclass
class EventState:
    """Edge-detection state of one event (memory only, cleared by reset)."""

    prev: bool | None = None  # last effective value, None before the first evaluation
    latch: bool = False  # hysteresis latch
    hold_raw: bool = False  # raw value of the previous sample (hold)
    run_start: float | None = None  # sample time the current true run began (hold)
    latest: bool | None = None  # last raw condition value (RTOC's `latest`)
    error: str | None = None
    evaluations: int = 0
    fired: int = 0
    errors: int = 0
    refusals: int = 0  # evaluations refused in a row (the worker stopped them)


@dataclass(eq=False)
class CompiledEvent:
    """An event definition with its compiled condition and state."""

    defn: EventDef
    expr: Expression
    state: EventState = field(default_factory=EventState)


def latch(on: np.ndarray, relaxed: np.ndarray, start: bool) -> np.ndarray:
    """Set where `on`, reset where not `relaxed`, else keep: the hysteresis latch."""
    n = len(on)
    code = np.where(on, 1, np.where(relaxed, -1, 0))
    idx = np.where(code >= 0, np.arange(n), -1)
    np.maximum.accumulate(idx, out=idx)
    return np.where(idx >= 0, code[np.maximum(idx, 0)] == 1, start)


def hold_filter(raw: np.ndarray, x: np.ndarray, hold: float, state: EventState) -> np.ndarray:
    """True only where raw has been true for at least `hold` seconds of sample time."""
    n = len(raw)
    prev = np.empty(n, dtype=bool)
    prev[0] = state.hold_raw
    prev[1:] = raw[:-1]
    starts = raw & ~prev
    idx = np.where(starts, np.arange(n), -1)
    np.maximum.accumulate(idx, out=idx)
    carried = state.run_start if (state.hold_raw and state.run_start is not None) else np.nan
    start_t = np.where(idx >= 0, x[np.maximum(idx, 0)], carried)
    with np.errstate(invalid="ignore"):
        eff = raw & (x - start_t >= hold)
    state.hold_raw = bool(raw[-1])
    state.run_start = float(start_t[-1]) if raw[-1] else None
    return eff


def edges(trigger: str, eff: np.ndarray, prev: bool | None) -> np.ndarray:
    """Indices where the trigger fires, given effective values and the previous state."""
    before = np.empty(len(eff), dtype=bool)
    before[0] = bool(prev)  # None (never evaluated) counts as "not true"
    before[1:] = eff[:-1]
    if trigger == "rising":
        fire = eff & ~before
    elif trigger == "falling":
        fire = ~eff & before
    elif trigger == "both":
        fire = eff ^ before
    elif trigger == "true":
        fire = eff
    else:
        fire = ~eff
    return np.flatnonzero(fire)


class EventEngine:
    """All global events, the dependency index, and per-batch evaluation."""

    def __init__(
        self,
        *,
        store: SignalStore,
        param: ParamReader,
        clock: Callable[[], float],
        limits: Limits | None = None,
    ) -> None:
        self.store = store
        self.param = param
        self.clock = clock
        self.limits = limits or Limits()
        self.events: dict[str, CompiledEvent] = {}
        self._index: dict[str, list[CompiledEvent]] = {}
        self.evaluations = 0  # sample-conditions evaluated
        self.batches = 0
        # set by the engine: evaluates a costly condition elsewhere, then calls finish()
        self.offload: Offload | None = None

    # --- definitions ---------------------------------------------------------------------

    def set(self, defn: EventDef) -> CompiledEvent:
        """Add or replace an event; raises EventDefError/EvalError/SandboxError if invalid."""
        defn.validate()
        expr = compile_expression(defn.cond, limits=self.limits, relax=float(defn.hysteresis))
        old = self.events.get(defn.name)
        ev = CompiledEvent(defn=defn, expr=expr)
        if old is not None and old.defn.cond == defn.cond and old.defn.trigger == defn.trigger:
            ev.state = old.state
        self.events[defn.name] = ev
        self._reindex()
        return ev

    def remove(self, name: str) -> bool:
        """Delete an event; False when there was none."""
        if self.events.pop(name, None) is None:
            return False
        self._reindex()
        return True

    def reset(self) -> None:
        """Forget every edge state (RTOC's automation `reset`)."""
        for ev in self.events.values():
            ev.state = EventState()

    def deps(self, name: str) -> frozenset[str]:
        """The signal keys an event's condition reads."""
        return self.events[name].expr.deps

    def _reindex(self) -> None:
        index: dict[str, list[CompiledEvent]] = {}
        for ev in self.events.values():
            for key in ev.expr.deps:
                index.setdefault(key, []).append(ev)
        self._index = index

    def watches(self, key: str) -> bool:
        """Whether any condition reads the signal."""
        return key in self._index

    # --- evaluation ----------------------------------------------------------------------

    def process(self, sig: Signal, x: np.ndarray, y: np.ndarray) -> list[EventRecord]:
        """Evaluate the conditions reading `sig` on its new samples; events in sample order.

        With `offload` set, conditions that are not provably cheap are handed to it (with
        the buffer snapshot they need) and their events come later, through `finish`.
        """
        evs = self._index.get(sig.key)
        n = len(x)
        if not evs or n == 0:
            return []
        self.batches += 1
        frame = Frame(store=self.store, param=self.param, clock=self.clock())
        cache: list[tuple[np.ndarray, np.ndarray]] = []
        fired: list[tuple[float, int, EventRecord]] = []
        for ev in evs:
            if not ev.defn.active:
                continue
            self.evaluations += n
            ev.state.evaluations += n
            history = None
            if ev.expr.vector(sig.key) is None and reads_history(ev.expr.tree, sig.key):
                if not cache:
                    cache.append(sig.buffer.arrays())
                history = cache[0]
            if self.offload is not None and not ev.expr.cheap:
                self.offload(ev, sig, np.array(x), np.array(y), history)
                continue
            result = evaluate_batch(ev.expr, sig.key, x, y, frame, history, self.limits)
            self.finish(ev, sig, x, y, result, fired)
        return sorted_records(fired)

    def finish(
        self,
        ev: CompiledEvent,
        sig: Signal,
        x: np.ndarray,
        y: np.ndarray,
        result: tuple[Any, ...],
        fired: list[tuple[float, int, EventRecord]],
    ) -> None:
        """Apply one condition's values over a batch: edge states, then fired events."""
        vals, relaxed, valid, error = result
        if error is not None:
            self._failed(ev, error)
        if vals is None:
            return
        if valid is not None:
            if not valid.any():
                return
            vals, xs, ys = vals[valid], x[valid], y[valid]
            relaxed = relaxed[valid] if relaxed is not None else None
        else:
            xs, ys = x, y
            if error is None:
                ev.state.error = None
        for i in self._fire(ev, vals, relaxed, xs):
            fired.append((float(xs[i]), len(fired), self._record(ev, sig, xs[i], ys[i])))

    def _failed(self, ev: CompiledEvent, error: str) -> None:
        ev.state.errors += 1
        ev.state.error = error

    def _fire(
        self, ev: CompiledEvent, vals: np.ndarray, relaxed: np.ndarray | None, x: np.ndarray
    ) -> np.ndarray:
        st, d = ev.state, ev.defn
        raw = vals
        if relaxed is not None:
            raw = latch(vals, relaxed | vals, st.latch)
            st.latch = bool(raw[-1])
        eff = hold_filter(raw, x, float(d.hold), st) if d.hold > 0 else raw
        idx = edges(d.trigger, eff, st.prev)
        st.prev = bool(eff[-1])
        st.latest = bool(vals[-1])
        st.fired += len(idx)
        return idx

    def _record(self, ev: CompiledEvent, sig: Signal, x: float, y: float) -> EventRecord:
        d = ev.defn
        return EventRecord(
            time=float(x),
            device=d.dname or sig.device,
            signal=d.sname or sig.name,
            text=d.text,
            priority=d.priority,
            event_id=d.id,
            value=d.ret if d.ret is not None else float(y),
        )

    def test(self, name: str) -> tuple[bool, Any, EventRecord | None]:
        """RTOC's testEvent: evaluate now; if it ran, make the event whatever the result."""
        ev = self.events[name]
        frame = Frame(store=self.store, param=self.param, clock=self.clock())
        ok, value = evaluate_now(ev.expr, frame)
        return ok, value, self.test_record(ev, frame.clock) if ok else None

    @staticmethod
    def test_record(ev: CompiledEvent, clock: float) -> EventRecord:
        """The event a testEvent that ran makes."""
        d = ev.defn
        return EventRecord(
            time=clock,
            device=d.dname or "noDevice",
            signal=d.sname or "noName",
            text=d.text,
            priority=d.priority,
            event_id=d.id,
            value=d.ret,
        )


def sorted_records(fired: list[tuple[float, int, EventRecord]]) -> list[EventRecord]:
    """Fired events in sample order (ties in the order they fired)."""
    if len(fired) > 1:
        fired.sort(key=lambda t: (t[0], t[1]))
    return [f[2] for f in fired]


def evaluate_now(expr: Expression, frame: Frame) -> tuple[bool, Any]:
    """(ran, truth value or error text) of a condition evaluated once, now."""
    try:
        return True, _truth(expr.fn(frame))
    except (EvalError, SandboxError) as exc:
        return False, str(exc)
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"


Result = tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None, str | None]


def evaluate_batch(
    expr: Expression,
    key: str,
    x: np.ndarray,
    y: np.ndarray,
    frame: Frame,
    history: tuple[np.ndarray, np.ndarray] | None,
    limits: Limits,
) -> Result:
    """(values, relaxed values, valid mask or None, error text or None) over one batch.

    Vectorised when the condition allows; else sample by sample, each seeing the signal's
    buffer (`history`) as it was at that sample. A failed sample is only invalid.
    """
    with np.errstate(all="ignore"):  # IEEE results (inf/nan), as in scalar evaluation
        try:
            return _evaluate(expr, key, x, y, frame, history, limits)
        except SandboxError as exc:  # a limit, as scripts say it
            return None, None, None, f"refused: {exc}"
        except EvalError as exc:
            return None, None, None, str(exc)
        except Exception as exc:  # whatever Python raised: this condition's error only
            return None, None, None, f"{type(exc).__name__}: {exc}"


def _evaluate(
    expr: Expression,
    key: str,
    x: np.ndarray,
    y: np.ndarray,
    frame: Frame,
    history: tuple[np.ndarray, np.ndarray] | None,
    limits: Limits,
) -> Result:
    n = len(x)
    vec = expr.vector(key)
    if vec is not None:
        plain, relaxed_fn = vec
        frame.vkey, frame.view = key, View(y)
        vals = _bools(plain(frame), n)
        relaxed = _bools(relaxed_fn(frame), n) if relaxed_fn is not None else None
        return vals, relaxed, None, None
    bx, by = history if history is not None else (np.empty(0), np.empty(0))
    length = len(bx)
    vals = np.zeros(n, dtype=bool)
    relaxed = np.zeros(n, dtype=bool) if expr.relaxed_fn is not None else None
    valid = np.ones(n, dtype=bool)
    frame.vkey = key
    last_error: str | None = None
    deadline = time.perf_counter() + limits.max_condition_seconds
    for i in range(n):
        if time.perf_counter() > deadline:
            # A slow condition must not stall the others: the rest of this batch is
            # skipped for this condition only, and the error says so.
            valid[i:] = False
            last_error = (
                f"condition too slow: {n - i} of {n} samples skipped "
                f"(limit {limits.max_condition_seconds} s per batch)"
            )
            break
        end = max(length - (n - 1 - i), 0)
        frame.view = View(float(y[i]), bx[:end], by[:end])
        try:
            vals[i] = _truth(expr.fn(frame))
            if relaxed is not None:
                relaxed[i] = _truth(expr.relaxed_fn(frame))  # type: ignore[misc]
        except (EvalError, SandboxError) as exc:
            valid[i] = False
            last_error = str(exc)
        except Exception as exc:
            valid[i] = False
            last_error = f"{type(exc).__name__}: {exc}"
    if last_error is not None:
        return vals, relaxed, valid, last_error
    return vals, relaxed, None, None


def _truth(v: Any) -> bool:
    try:
        return bool(v)
    except ValueError as exc:  # an array's truth value
        raise EvalError(f"the condition gives {type(v).__name__}, not true/false: {exc}") from exc


def _bools(v: Any, n: int) -> np.ndarray:
    a = np.asarray(v)
    if a.ndim == 0:
        return np.full(n, bool(a))
    if a.shape != (n,):
        raise EvalError(f"the condition gives an array of shape {a.shape}, not true/false")
    return a.astype(bool)
