"""Scripts that run at a fixed rate or on new data of chosen signals (RTOC's two modes).

Sandboxed scripts (RTOC's language) may come from anyone with write permission. Plain
Python is possible only from a file the operator put in the hub's config directory: it
is named by file, never sent as text, and must define `run(ctx)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_agent.wire import check_event
from hub.db.base import EventRecord
from hub.engine.script import ScriptHost, ScriptResult, compile_script
from hub.signals import Signal, SignalStore

if TYPE_CHECKING:
    from hub.engine.engine import Engine

MODES = ("rate", "signal")
MAX_REFUSALS = 3  # refused runs in a row after which a job (or a condition) stops
_FILE_NAME = re.compile(r"^[A-Za-z0-9_-]+\.py$")


class ScriptJobError(ValueError):
    """A script job cannot be created or started; the message says why."""


class PythonContext:
    """What an operator's plain-Python script gets as `ctx`."""

    def __init__(
        self,
        *,
        store: SignalStore,
        param: Callable[[str, str], Any],
        host: ScriptHost,
        clock: float,
        state: dict[str, Any],
    ) -> None:
        self.signals = store
        self.param = param
        self.clock = clock
        self.state = state  # kept across runs
        self._host = host
        self.output: list[str] = []

    def command(self, device: str, op: str, name: str, args: Any = None) -> Any:
        """Send a command to the agent owning the device and return its result."""
        return self._host.command(device, op, name, args)

    def event(self, text: str, sname: str, dname: str, priority: int = 0, id: str = "") -> None:
        """Raise an event; ValueError (`wire.check_event`) for a bad one."""
        record = EventRecord(
            time=self.clock, device=dname, signal=sname, text=text, priority=priority, event_id=id
        )
        check_event(record)
        self._host.emit_event(record)

    def stream(
        self, dname: str, sname: str, y: float, unit: str = "", x: float | None = None
    ) -> None:
        """Add one sample."""
        self._host.emit_data(dname, sname, [self.clock if x is None else x], [float(y)], unit)

    def telegram_send_message_to_all(
        self, text: str, priority: int = 0, permission: str = "write"
    ) -> int:
        """Like scripts' telegram.send_message_to_all; returns how many users it goes to."""
        return self._host.telegram(
            {"text": str(text), "picture": None, "priority": priority, "permission": permission}
        )

    def telegram_send_photo(
        self, picture: Any, text: str = "", priority: int = 0, permission: str = "write"
    ) -> int:
        """A photo from a file path (any: the operator's script) or a matplotlib figure."""
        if hasattr(picture, "savefig"):
            import io

            buf = io.BytesIO()
            picture.savefig(buf, format="png")
            data = buf.getvalue()
        else:
            data = Path(picture).read_bytes()
        return self._host.telegram(
            {"text": str(text), "picture": data, "priority": priority, "permission": permission}
        )

    def print(self, *args: Any) -> None:
        """Capture output."""
        self.output.append(" ".join(str(a) for a in args) + "\n")


@dataclass(eq=False)
class PythonScript:
    """An operator's plain-Python script file; `run` has the signature of Script.run."""

    path: Path
    fn: Callable[[PythonContext], Any]
    state: dict[str, Any] = field(default_factory=dict)

    def run(
        self,
        *,
        store: SignalStore,
        param: Callable[[str, str], Any],
        host: ScriptHost,
        clock: float,
    ) -> ScriptResult:
        """Call the file's run(ctx); exceptions become a failed result."""
        ctx = PythonContext(store=store, param=param, host=host, clock=clock, state=self.state)
        try:
            value = self.fn(ctx)
        except Exception as exc:
            return ScriptResult(False, "".join(ctx.output), None, f"{type(exc).__name__}: {exc}")
        return ScriptResult(True, "".join(ctx.output), value)

    def reset(self) -> None:
        """Forget kept state."""
        self.state.clear()


def load_python_script(config_dir: Path, file_name: str) -> PythonScript:
    """Load `<config_dir>/scripts/<file_name>`; refuses anything outside that directory."""
    if not _FILE_NAME.match(file_name):
        raise ScriptJobError(f"script file name {file_name!r} must look like name.py")
    base = (Path(config_dir) / "scripts").resolve()
    path = (base / file_name).resolve()
    if path.parent != base or not path.is_file():
        raise ScriptJobError(f"no script file {file_name!r} in {base}")
    source = path.read_text(encoding="utf-8")
    namespace: dict[str, Any] = {"__name__": f"opencontrol_script_{path.stem}"}
    try:
        exec(compile(source, str(path), "exec"), namespace)  # operator's own file only
    except Exception as exc:
        raise ScriptJobError(f"{path}: {type(exc).__name__}: {exc}") from exc
    fn = namespace.get("run")
    if not callable(fn):
        raise ScriptJobError(f"{path}: must define run(ctx)")
    return PythonScript(path=path, fn=fn)


@dataclass(eq=False)
class ScriptJob:
    """A script with its trigger mode and counters."""

    name: str
    script: Any  # Script or PythonScript
    source: str | None = None  # sandboxed script text; None for an operator's file
    file: str | None = None  # the operator's file name
    mode: str = "rate"
    rate: float = 1.0  # Hz, mode "rate"
    signals: frozenset[str] = frozenset()  # mode "signal"
    running: bool = False
    runs: int = 0
    failures: int = 0
    coalesced: int = 0  # triggers that arrived while a run was pending
    overruns: int = 0  # rate ticks missed because a run took longer than the period
    last: ScriptResult | None = None
    task: asyncio.Task[None] | None = None
    pending: bool = False
    refusals: int = 0  # runs refused in a row (the worker stopped them)


class ScriptManager:
    """Creates, starts and stops script jobs; signal-mode jobs hook the engine's data path."""

    def __init__(
        self,
        *,
        engine: Engine,
        config_dir: Path | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.config_dir = config_dir
        self.sleep = sleep
        self.monotonic = monotonic
        self.jobs: dict[str, ScriptJob] = {}
        # False on a standby live hub: jobs stay started, only the leader runs them
        self.leading: Callable[[], bool] = lambda: True
        engine.on_data_hooks.append(self._on_data)

    def add(
        self,
        name: str,
        source: str,
        *,
        mode: str = "rate",
        rate: float = 1.0,
        signals: list[str] | None = None,
    ) -> ScriptJob:
        """Add (or replace, stopped) a sandboxed script job."""
        script = compile_script(source, limits=self.engine.limits)
        return self._add(ScriptJob(name=name, script=script, source=source), mode, rate, signals)

    def add_file(
        self,
        name: str,
        file_name: str,
        *,
        mode: str = "rate",
        rate: float = 1.0,
        signals: list[str] | None = None,
    ) -> ScriptJob:
        """Add a plain-Python job from the operator's config directory (admin only)."""
        if self.config_dir is None:
            raise ScriptJobError("no config directory: plain-Python scripts are off")
        script = load_python_script(self.config_dir, file_name)
        job = ScriptJob(name=name, script=script, file=file_name)
        return self._add(job, mode, rate, signals)

    def _add(self, job: ScriptJob, mode: str, rate: float, signals: list[str] | None) -> ScriptJob:
        if not isinstance(job.name, str) or not job.name:
            raise ScriptJobError("a script needs a non-empty name")
        if signals is not None and (
            not isinstance(signals, list) or not all(isinstance(k, str) for k in signals)
        ):
            raise ScriptJobError(f"script {job.name}: signals must be a list of 'Dev.Sig'")
        if isinstance(rate, bool) or not isinstance(rate, (int, float)):
            raise ScriptJobError(f"script {job.name}: rate must be a number")
        if mode not in MODES:
            raise ScriptJobError(f"script {job.name}: mode must be one of {MODES}")
        if mode == "rate" and not (0 < rate <= 100):
            raise ScriptJobError(f"script {job.name}: rate must be in (0, 100] Hz")
        if mode == "signal" and not signals:
            raise ScriptJobError(f"script {job.name}: signal mode needs signals")
        job.mode, job.rate, job.signals = mode, float(rate), frozenset(signals or ())
        old = self.jobs.get(job.name)
        if old is not None:
            self._cancel(old)
        self.jobs[job.name] = job
        return job

    def start(self, name: str) -> ScriptJob:
        """Start a job (call on the event loop)."""
        job = self._job(name)
        if job.running:
            return job
        job.running = True
        if job.mode == "rate":
            job.task = asyncio.create_task(self._rate_loop(job), name=f"script-{name}")
        return job

    def stop(self, name: str) -> ScriptJob:
        """Stop a job; a run in progress finishes."""
        job = self._job(name)
        self._cancel(job)
        return job

    def remove(self, name: str) -> bool:
        """Stop and forget a job."""
        job = self.jobs.pop(name, None)
        if job is None:
            return False
        self._cancel(job)
        return True

    async def stop_all(self) -> None:
        """Stop every job and wait for the rate loops to end."""
        tasks = [j.task for j in self.jobs.values() if j.task is not None]
        for job in self.jobs.values():
            self._cancel(job)
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t

    def _job(self, name: str) -> ScriptJob:
        try:
            return self.jobs[name]
        except KeyError:
            raise ScriptJobError(f"no script named {name!r}") from None

    @staticmethod
    def _cancel(job: ScriptJob) -> None:
        job.running = False
        if job.task is not None:
            job.task.cancel()
            job.task = None

    def describe(self) -> dict[str, Any]:
        """Every job with its settings and counters (the `scripts` answer)."""
        out: dict[str, Any] = {}
        for name, j in self.jobs.items():
            out[name] = {
                "script": j.source,
                "file": j.file,
                "mode": j.mode,
                "rate": j.rate,
                "signals": sorted(j.signals),
                "running": j.running,
                "runs": j.runs,
                "failures": j.failures,
                "coalesced": j.coalesced,
                "overruns": j.overruns,
                "error": j.last.error if j.last is not None else None,
                "output": j.last.output if j.last is not None else "",
            }
        return out

    def dump(self) -> dict[str, Any]:
        """Sandboxed jobs to persist (operator files come from the hub's own config)."""
        return {
            name: {
                "script": j.source,
                "mode": j.mode,
                "rate": j.rate,
                "signals": sorted(j.signals),
                "running": j.running,
            }
            for name, j in self.jobs.items()
            if j.source is not None
        }

    def load(self, doc: dict[str, Any]) -> list[str]:
        """Recreate saved sandboxed jobs (and start the running ones); returns errors."""
        errors: list[str] = []
        for name, d in doc.items():
            try:
                self.add(
                    name,
                    d["script"],
                    mode=d.get("mode", "rate"),
                    rate=d.get("rate", 1.0),
                    signals=d.get("signals") or None,
                )
                if d.get("running"):
                    self.start(name)
            except Exception as exc:
                errors.append(f"script {name}: {exc}")
        return errors

    async def run_once(self, job: ScriptJob) -> ScriptResult:
        """Run a job's script now and record the outcome."""
        res = await self.engine.run_script(job.script)
        job.runs += 1
        job.last = res
        if not res.ok:
            job.failures += 1
        refused = not res.ok and (res.error or "").startswith("refused")
        job.refusals = job.refusals + 1 if refused else 0
        if job.refusals >= MAX_REFUSALS and job.running:
            # each such run costs a CPU for seconds and a restarted worker: stop the job
            res.error = f"{res.error} — stopped after {MAX_REFUSALS} refused runs in a row"
            job.running = False
        return res

    async def _rate_loop(self, job: ScriptJob) -> None:
        period = 1.0 / job.rate
        due = self.monotonic()
        while job.running:
            if self.leading():
                await self.run_once(job)
            due += period
            delay = due - self.monotonic()
            if delay < 0:
                missed = int(-delay // period) + 1
                job.overruns += missed
                due += missed * period
                delay = due - self.monotonic()
            await self.sleep(max(delay, 0.0))

    def _on_data(self, sig: Signal, x: np.ndarray, y: np.ndarray) -> None:
        if not self.leading():
            return
        for job in self.jobs.values():
            if job.running and job.mode == "signal" and sig.key in job.signals:
                if job.pending:
                    job.coalesced += 1
                    continue
                job.pending = True
                job.task = asyncio.get_running_loop().create_task(self._signal_run(job))

    async def _signal_run(self, job: ScriptJob) -> None:
        try:
            await self.run_once(job)
        finally:
            job.pending = False
