"""The automation engine: events, actions, scripts wired together over injected callables.

Core without I/O: the engine sees the live `SignalStore`, and reaches the outside only
through what it is given — `emit_event(EventRecord)`, `async send_command(device, op,
name, args) -> dict`, `param(device, name)`, `emit_data(device, name, x, y, unit)`, a
document store (`get_doc`/`put_doc`, run through `run_store`), and a clock.

Events raised here go to `emit_event` (the hub stores, pushes and notifies them); the
hub then calls `Engine.on_event` for every event from any source, which runs the
actions listening to its id. Scripts, actions and conditions that are not provably
cheap run in worker processes (worker.py) whose CPU time and memory the OS limits; a
thread per worker talks to it, so the event loop only awaits, with a timeout. Their
commands are awaited on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hub.db.base import EventRecord
from hub.engine.actions import ActionDef, ActionTable
from hub.engine.events import CompiledEvent, EventDef, EventEngine, sorted_records
from hub.engine.limits import EvalError, Limits
from hub.engine.remote import serve_callbacks
from hub.engine.rtoc_import import (
    action_from_rtoc,
    action_to_rtoc,
    event_from_rtoc,
    event_to_rtoc,
)
from hub.engine.script import Script, ScriptResult, compile_script
from hub.engine.scripts import MAX_REFUSALS, ScriptManager
from hub.engine.worker import Worker, WorkerKilled, WorkerLimits
from hub.signals import Signal, SignalStore

log = logging.getLogger(__name__)

SendCommand = Callable[[str, str, str | None, Any], Awaitable[dict[str, Any]]]
EmitData = Callable[[str, str, list[float], list[float], str], Any]

DOC_EVENTS = "automation.events"
DOC_ACTIONS = "automation.actions"
DOC_SETTINGS = "automation.settings"
DOC_USER_ACTIONS = "automation.userActions"
DOC_SCRIPTS = "automation.scripts"
DOCS = (DOC_EVENTS, DOC_ACTIONS, DOC_USER_ACTIONS, DOC_SETTINGS, DOC_SCRIPTS)


class Docs(Protocol):
    """The part of the Store contract the engine uses for persistence."""

    def get_doc(self, key: str) -> Any | None:
        """A JSON document by key, or None."""

    def put_doc(self, key: str, value: Any) -> None:
        """Replace a JSON document."""


@dataclass
class EngineStats:
    """Counters of the engine's work."""

    events_fired: int = 0
    actions_run: int = 0
    action_failures: int = 0
    actions_dropped: int = 0  # queue full
    depth_refused: int = 0  # an action's event raising actions too deep
    conditions_offloaded: int = 0  # batches evaluated in the worker process
    conditions_dropped: int = 0  # batches skipped: the condition queue was full
    runs_refused: int = 0  # script runs refused: too many already waiting
    commands: int = 0
    errors: list[str] = field(default_factory=list)


class _Started:
    """What start() returns: nothing to wait for, but `await engine.start()` works too."""

    def __await__(self) -> Iterator[None]:
        return iter(())


@dataclass(frozen=True)
class TelegramCaller:
    """The Telegram user who pressed the user action being run, and the permission the
    action needs: scripts may answer them alone (telegram.send_message, send_photo to=)."""

    chat_id: int
    permission: str


class _Host:
    """The ScriptHost of one run: bridges the script's worker thread to the event loop."""

    def __init__(
        self,
        engine: Engine,
        loop: asyncio.AbstractEventLoop,
        depth: int,
        caller: TelegramCaller | None = None,
    ) -> None:
        self.engine = engine
        self.loop = loop
        self.depth = depth
        self.caller = caller

    def command(self, device: str, op: str, name: str, args: Any) -> Any:
        """Send the command on the event loop and wait for the agent's answer."""
        eng = self.engine
        eng.stats.commands += 1

        async def send() -> dict[str, Any]:
            return await eng.send_command(device, op, name, args)

        fut = asyncio.run_coroutine_threadsafe(send(), self.loop)
        try:
            res = fut.result(timeout=eng.command_timeout + 1.0)
        except TimeoutError:
            fut.cancel()
            raise EvalError(f"{device}.{name}: no answer from the agent") from None
        except Exception as exc:
            raise EvalError(f"{device}.{name}: {exc}") from exc
        if not isinstance(res, dict) or not res.get("ok"):
            err = res.get("error") if isinstance(res, dict) else res
            raise EvalError(f"{device}.{name}: {err}")
        return res.get("result")

    def emit_event(self, record: EventRecord) -> None:
        """Hand the event to the hub on the event loop (actions run one level deeper)."""
        self.loop.call_soon_threadsafe(self.engine._script_event, record, self.depth + 1)

    def emit_data(self, device: str, name: str, x: list[float], y: list[float], unit: str) -> None:
        """Hand samples to the hub's local ingest on the event loop."""
        if self.engine.emit_data is None:
            raise EvalError("stream()/plot() are not available: no data sink")
        owner = self.engine.device_owner(device) if self.engine.device_owner else None
        if owner is not None:
            raise EvalError(
                f"device {device!r} belongs to agent {owner!r}: stream to a device name of its own"
            )
        self.loop.call_soon_threadsafe(self.engine.emit_data, device, name, x, y, unit)

    def telegram(self, message: dict[str, Any]) -> int:
        """Hand a message to the bot on the event loop; how many users it goes to."""
        send = self.engine.telegram
        if send is None:
            raise EvalError("telegram: the hub runs no Telegram bot ([telegram] enabled)")
        if message.get("to") == "caller":
            if self.caller is None:
                raise EvalError(
                    "telegram: this run has no Telegram user to answer "
                    "(only a user action pressed in Telegram has one)"
                )
            message = {
                **message,
                "chat": self.caller.chat_id,
                "permission": str(self.caller.permission),
            }

        async def queue() -> int:
            return send(message)

        try:
            return asyncio.run_coroutine_threadsafe(queue(), self.loop).result(timeout=5.0)
        except TimeoutError:
            raise EvalError("telegram: the bot did not answer in time") from None
        except ValueError as exc:  # the bot refused it (no such picture, …)
            raise EvalError(f"telegram: {exc}") from None


class Engine:
    """Global events, global actions, user actions and running scripts of one hub."""

    def __init__(
        self,
        *,
        emit_event: Callable[[EventRecord], Any],
        send_command: SendCommand,
        param: Callable[[str, str], Any],
        emit_data: EmitData | None = None,
        device_owner: Callable[[str], str | None] | None = None,
        docs: Docs | None = None,
        run_store: Callable[..., Awaitable[Any]] | None = None,
        clock: Callable[[], float] = time.time,
        limits: Limits | None = None,
        command_timeout: float = 5.0,
        max_queue: int = 1000,
        max_depth: int = 3,
        config_dir: Path | None = None,
        worker_limits: WorkerLimits | None = None,
        max_waiting_runs: int = 64,
        max_condition_queue: int = 16,
    ) -> None:
        self.emit_event_sink = emit_event
        self.send_command = send_command
        self.param = param
        self.emit_data = emit_data
        self.device_owner = device_owner
        self.docs = docs
        self.run_store = run_store
        self.clock = clock
        self.limits = limits or Limits()
        self.command_timeout = command_timeout
        self.max_depth = max_depth
        self.store = SignalStore(record_length=1)
        self.events = EventEngine(store=self.store, param=param, clock=clock, limits=self.limits)
        self.actions = ActionTable(limits=self.limits)
        self.user_actions: dict[str, str] = {}
        self._user_scripts: dict[str, Script] = {}
        self.events_active = True
        self.actions_active = True
        self.stats = EngineStats()
        self.on_data_hooks: list[Callable[[Signal, np.ndarray, np.ndarray], None]] = []
        # Where events fired by conditions go (default: the event sink); a live hub's
        # leadership takes them to fire them once across hubs (hub/leadership.py).
        self.condition_sink: Callable[[EventRecord], Any] | None = None
        # Scripts' telegram.send_*: the bot queues a message and says to how many users
        # (set when the hub runs a bot; called on the event loop; ValueError refuses).
        self.telegram: Callable[[dict[str, Any]], int] | None = None
        self._queue: asyncio.Queue[tuple[str, int]] | None = None
        self._max_queue = max_queue
        self._depth: dict[int, tuple[EventRecord, int]] = {}
        self._runner: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._busy = 0
        # user code runs in worker processes, started lazily; each has one thread talking to it
        self.worker_limits = worker_limits or WorkerLimits(
            cpu_seconds=self.limits.max_seconds, wall_seconds=2 * self.limits.max_seconds
        )
        self.script_worker: Worker | None = None
        self.condition_worker: Worker | None = None
        self._cond_executor: ThreadPoolExecutor | None = None
        self._cond_queue: asyncio.Queue[tuple[Any, ...]] | None = None
        self._cond_runner: asyncio.Task[None] | None = None
        self._max_cond_queue = max_condition_queue
        self._max_waiting = max_waiting_runs
        self._waiting = 0
        self.scripts = ScriptManager(engine=self, config_dir=config_dir)

    # --- wiring --------------------------------------------------------------------------

    def attach(self, store: SignalStore) -> None:
        """Listen to new samples of the live signal store."""
        self.store = store
        self.events.store = store
        store.on_data.append(self._on_data)

    def detach(self) -> None:
        """Stop listening to the signal store."""
        with contextlib.suppress(ValueError):
            self.store.on_data.remove(self._on_data)

    def start(self) -> _Started:
        """Start the action runner (call on the hub's event loop; may also be awaited)."""
        if self._runner is not None:
            return _Started()
        self._loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine-script")
        self._queue = asyncio.Queue(maxsize=self._max_queue)
        self._runner = asyncio.create_task(self._run_actions(), name="engine-actions")
        self.script_worker = Worker(name="scripts", limits=self.worker_limits)
        self.condition_worker = Worker(name="conditions", limits=self.worker_limits)
        self._cond_executor = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="engine-conditions"
        )
        self._cond_queue = asyncio.Queue(maxsize=self._max_cond_queue)
        self._cond_runner = asyncio.create_task(self._run_conditions(), name="conditions")
        self.events.offload = self._offload
        return _Started()

    async def stop(self) -> None:
        """Stop scripts and the runner; a script in progress finishes within its budget."""
        await self.scripts.stop_all()
        self.events.offload = None
        for task in (self._runner, self._cond_runner):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._runner = self._cond_runner = None
        for worker in (self.script_worker, self.condition_worker):
            if worker is not None:  # ends a run in progress: its thread sees the pipe close
                await asyncio.to_thread(worker.close)
        for ex in (self._executor, self._cond_executor):
            if ex is not None:
                ex.shutdown(wait=False, cancel_futures=True)
        self._executor = self._cond_executor = None

    # --- data path -----------------------------------------------------------------------

    def _on_data(self, sig: Signal, x: np.ndarray, y: np.ndarray) -> None:
        # Called by the signal store on the ingest path: never raise into it.
        try:
            if self.events_active:
                for rec in self.events.process(sig, x, y):
                    self.stats.events_fired += 1
                    self._fired(rec)
            for hook in list(self.on_data_hooks):
                hook(sig, x, y)
        except Exception as exc:
            self._error(f"automation on {sig.key}: {type(exc).__name__}: {exc}")

    def _fired(self, rec: EventRecord) -> None:
        sink = self.condition_sink
        if sink is None:
            self._emit(rec)
            return
        try:
            sink(rec)
        except Exception as exc:  # never let it break ingest
            self._error(f"condition event sink failed: {exc}")

    def _emit(self, rec: EventRecord) -> None:
        try:
            self.emit_event_sink(rec)
        except Exception as exc:  # the sink is the hub's; never let it break ingest
            self._error(f"event sink failed: {exc}")

    def _script_event(self, rec: EventRecord, depth: int) -> None:
        # Remembered until the hub hands the record back through on_event (the record is
        # kept in the value so its id cannot be reused meanwhile).
        self._depth[id(rec)] = (rec, depth)
        if len(self._depth) > 1000:
            for key in list(self._depth)[:500]:
                del self._depth[key]
        self._emit(rec)

    def on_event(self, rec: EventRecord) -> None:
        """Run the actions listening to this event's id (register on hub.on_event)."""
        held = self._depth.pop(id(rec), None)
        depth = held[1] if held is not None and held[0] is rec else 0
        if not self.actions_active or not rec.event_id:
            return
        for act in self.actions.listening(rec.event_id):
            if depth > self.max_depth:
                self.stats.depth_refused += 1
                self._error(f"action {act.defn.name}: events raised by actions nest too deep")
                continue
            if self._queue is None:
                self._error("engine not started: action not run")
                return
            try:
                self._queue.put_nowait((act.defn.name, depth))
            except asyncio.QueueFull:
                self.stats.actions_dropped += 1

    async def _run_actions(self) -> None:
        assert self._queue is not None
        while True:
            name, depth = await self._queue.get()
            self._busy += 1
            try:
                act = self.actions.actions.get(name)
                if act is not None:
                    res = await self.run_script(act.script, depth=depth)
                    act.state.runs += 1
                    act.state.last = res
                    self.stats.actions_run += 1
                    if not res.ok:
                        act.state.failures += 1
                        self.stats.action_failures += 1
                        self._error(f"action {name}: {res.error}")
            except Exception as exc:  # keep the runner alive whatever happens
                self._error(f"action {name}: {exc}")
            finally:
                self._busy -= 1
                self._queue.task_done()

    async def run_script(
        self, script: Script, *, depth: int = 0, caller: TelegramCaller | None = None
    ) -> ScriptResult:
        """Run a script in the worker process (an operator's Python file: on a thread);
        serialised with all other scripts, waited for with a timeout."""
        if self._loop is None or self._executor is None:
            raise RuntimeError("Engine.start() was not called")
        if self._waiting >= self._max_waiting:
            self.stats.runs_refused += 1
            return ScriptResult(
                False, error=f"refused: {self._waiting} script runs are already waiting"
            )
        host = _Host(self, self._loop, depth, caller)
        clock = self.clock()
        worker = self.script_worker
        if worker is not None and isinstance(script, Script):
            serve = serve_callbacks(store=self.store, param=self.param, host=host)
            request = ("script", script.token, script.generation, script.source, script.limits)

            def run() -> ScriptResult:
                try:
                    res = worker.call((*request, clock), serve)
                except WorkerKilled as exc:
                    return ScriptResult(False, error=f"refused: {exc}")
                if isinstance(res, ScriptResult):
                    return res
                return ScriptResult(False, error=str(res[1]))

        else:

            def run() -> ScriptResult:
                return script.run(store=self.store, param=self.param, host=host, clock=clock)

        self._waiting += 1
        try:
            async with asyncio.timeout(self._run_timeout()):
                return await self._loop.run_in_executor(self._executor, run)
        except TimeoutError:
            return ScriptResult(False, error="refused: no result in time (queued too long)")
        finally:
            self._waiting -= 1

    def _run_timeout(self) -> float:
        # the worker's own limit, plus commands the script waits for, plus the runs queued
        # before this one: generous, but a bound
        per_run = self.worker_limits.wall_seconds + 2 * self.command_timeout + 5.0
        return per_run * (self._waiting + 1) + self.worker_limits.start_seconds

    # --- conditions in the worker ------------------------------------------------------------

    def _offload(
        self,
        ev: CompiledEvent,
        sig: Signal,
        x: np.ndarray,
        y: np.ndarray,
        history: tuple[np.ndarray, np.ndarray] | None,
    ) -> None:
        assert self._cond_queue is not None
        try:
            self._cond_queue.put_nowait((ev, sig, x, y, history, self.clock()))
        except asyncio.QueueFull:
            self.stats.conditions_dropped += 1
            ev.state.errors += 1
            ev.state.error = (
                f"condition falling behind: a batch of {len(x)} samples of {sig.key} skipped "
                f"({self._max_cond_queue} batches waiting)"
            )

    async def _run_conditions(self) -> None:
        assert self._cond_queue is not None and self._loop is not None
        while True:
            ev, sig, x, y, history, clock = await self._cond_queue.get()
            e = ev.expr
            try:
                result = await self._ask_conditions(
                    ("cond", e.text, e.relax, e.limits, sig.key, x, y, history, clock),
                    lambda why: (None, None, None, why),
                )
                fired: list[Any] = []
                self.events.finish(ev, sig, x, y, result, fired)
                self.stats.conditions_offloaded += 1
                self._count_refusal(ev, result[3])
                for rec in sorted_records(fired):
                    self.stats.events_fired += 1
                    self._fired(rec)
            except Exception as exc:  # keep the runner alive whatever happens
                self._error(f"condition {ev.defn.name}: {type(exc).__name__}: {exc}")

    def _count_refusal(self, ev: CompiledEvent, error: str | None) -> None:
        """A condition the worker had to stop again and again is turned off (it would
        cost a CPU and a restarted worker on every batch)."""
        st = ev.state
        st.refusals = st.refusals + 1 if error and error.startswith("refused") else 0
        if st.refusals >= MAX_REFUSALS and ev.defn.active:
            ev.defn.active = False
            st.error = f"{error} — turned off after {MAX_REFUSALS} refusals in a row"
            self._error(f"condition {ev.defn.name}: {st.error}")

    async def _ask_conditions(self, request: tuple[Any, ...], failed: Callable[[str], Any]) -> Any:
        """The condition worker's answer to `request`, or `failed(reason)` when it was
        stopped or took too long; waited for on a thread, with a timeout."""
        worker = self.condition_worker
        assert worker is not None and self._loop is not None
        serve = serve_callbacks(store=self.store, param=self.param, host=_Host(self, self._loop, 0))

        def run() -> Any:
            try:
                return worker.call(request, serve)
            except WorkerKilled as exc:
                return failed(f"refused: {exc}")

        try:
            async with asyncio.timeout(
                self.worker_limits.wall_seconds + self.worker_limits.start_seconds + 5.0
            ):
                return await self._loop.run_in_executor(self._cond_executor, run)
        except TimeoutError:
            return failed("refused: no result in time")

    async def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until queued actions have run (tests, shutdown)."""
        if self._queue is not None:
            await asyncio.wait_for(self._queue.join(), timeout)

    def _error(self, msg: str) -> None:
        log.warning("%s", msg)
        self.stats.errors.append(msg)
        del self.stats.errors[:-50]

    # --- definitions ---------------------------------------------------------------------

    def set_event(self, defn: EventDef) -> None:
        """Add or replace a global event (raises with a clear message when invalid)."""
        self.events.set(defn)

    def set_action(self, defn: ActionDef) -> None:
        """Add or replace a global action (raises with a clear message when invalid)."""
        self.actions.set(defn)

    def set_user_action(self, name: str, source: str) -> None:
        """Add or replace a user action (RTOC's telegramActions); compiled now to check it."""
        self._user_scripts[name] = compile_script(source, limits=self.limits)
        self.user_actions[name] = source

    def reset(self) -> None:
        """Clear edge states of events and `trig` states/globals of action scripts."""
        self.events.reset()
        self.actions.reset()

    async def test_action(self, name: str) -> ScriptResult:
        """Run an action's script now (RTOC's testAction)."""
        return await self.run_script(self.actions.actions[name].script)

    async def run_user_action(
        self, name: str, caller: TelegramCaller | None = None
    ) -> ScriptResult:
        """Run a user action's script now (for `caller`: the Telegram user who pressed it)."""
        return await self.run_script(self._user_scripts[name], caller=caller)

    async def test_event(self, name: str) -> tuple[bool, Any]:
        """Evaluate a condition now; if it ran, raise its event whatever the result."""
        ev = self.events.events[name]
        if ev.expr.cheap or self.condition_worker is None or self._loop is None:
            ok, value, rec = self.events.test(name)
        else:
            e, clock = ev.expr, self.clock()
            ok, value = await self._ask_conditions(
                ("test_cond", e.text, e.relax, e.limits, clock), lambda why: (False, why)
            )
            rec = self.events.test_record(ev, clock) if ok else None
        if rec is not None:
            self._emit(rec)
        return ok, value

    # --- RTOC-shaped views and persistence -----------------------------------------------

    def events_doc(self) -> dict[str, Any]:
        """All events in globalEvents.json form."""
        return {
            name: event_to_rtoc(ev.defn, ev.state.latest) for name, ev in self.events.events.items()
        }

    def actions_doc(self) -> dict[str, Any]:
        """All actions in globalActions.json form."""
        return {name: action_to_rtoc(a.defn) for name, a in self.actions.actions.items()}

    def active_doc(self) -> dict[str, bool]:
        """RTOC's `active` object."""
        return {"events": self.events_active, "actions": self.actions_active}

    def load_docs(self, docs: dict[str, Any]) -> list[str]:
        """Apply documents (as saved); returns errors for entries that could not be loaded."""
        errors: list[str] = []
        for name, d in (docs.get(DOC_EVENTS) or {}).items():
            try:
                self.events.set(event_from_rtoc(name, d))
            except (ValueError, EvalError, Exception) as exc:
                errors.append(f"event {name}: {exc}")
        for name, d in (docs.get(DOC_ACTIONS) or {}).items():
            try:
                self.actions.set(action_from_rtoc(name, d))
            except Exception as exc:
                errors.append(f"action {name}: {exc}")
        for name, src in (docs.get(DOC_USER_ACTIONS) or {}).items():
            try:
                self.set_user_action(name, src)
            except Exception as exc:
                errors.append(f"user action {name}: {exc}")
        for e in self.scripts.load(docs.get(DOC_SCRIPTS) or {}):
            errors.append(e)
        settings = docs.get(DOC_SETTINGS) or {}
        self.events_active = bool(settings.get("events", self.events_active))
        self.actions_active = bool(settings.get("actions", self.actions_active))
        for e in errors:
            self._error(e)
        return errors

    def dump_docs(self) -> dict[str, Any]:
        """The documents to persist."""
        return {
            DOC_EVENTS: self.events_doc(),
            DOC_ACTIONS: self.actions_doc(),
            DOC_USER_ACTIONS: dict(self.user_actions),
            DOC_SETTINGS: self.active_doc(),
            DOC_SCRIPTS: self.scripts.dump(),
        }

    async def load(self) -> list[str]:
        """Read the automation documents from the store."""
        if self.docs is None:
            return []
        docs = self.docs

        def read() -> dict[str, Any]:
            return {k: docs.get_doc(k) for k in DOCS}

        return self.load_docs(await self._blocking(read))

    async def save(self) -> None:
        """Write the automation documents to the store."""
        if self.docs is None:
            return
        docs, data = self.docs, self.dump_docs()

        def write() -> None:
            for k, v in data.items():
                docs.put_doc(k, v)

        await self._blocking(write)

    async def _blocking(self, fn: Callable[[], Any]) -> Any:
        if self.run_store is not None:
            return await self.run_store(fn)
        return fn()
