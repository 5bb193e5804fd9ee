"""User code runs in a worker process whose CPU time and memory the OS limits.

The sandbox counts operations, but one C call (`sum([[0]]*60000, [])`, a numpy dtype of
a million characters) runs to its end whatever the count; in the hub's process that
froze the event loop and could take gigabytes. So scripts, actions and conditions that
are not trivially cheap run in a child process with `RLIMIT_AS` (address space) and
`RLIMIT_CPU` set in the child. The parent's side is called from a worker thread: it
sends one request, answers the child's questions (signal data, parameters, commands,
samples, events) while it runs, and kills and restarts the child when it overruns its
time (the OS kills it first when it overruns its CPU time). The event loop only waits
for that thread with a timeout.

The child keeps each script's globals and `trig` states between runs; when the child
is restarted, every script starts afresh (its `global NAME = value` lines run again).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger(__name__)

MB = 1024 * 1024


class WorkerKilled(Exception):
    """The child overran a limit (or died) and was restarted; the message says which."""


@dataclass(frozen=True)
class WorkerLimits:
    """What the OS enforces on one worker process, and the parent's patience."""

    memory_bytes: int = 512 * MB  # address space the child may add to what it started with
    cpu_seconds: float = 2.0  # CPU time of one request (the OS kills the child past it)
    wall_seconds: float = 4.0  # the child's own time for one request, waiting excluded
    start_seconds: float = 60.0  # a child must be ready within this


# --- the parent's side ----------------------------------------------------------------------


class Worker:
    """One child process; `call` sends a request and serves the child's callbacks.

    Thread-safe (one request at a time); meant to be called from a worker thread, never
    from the event loop.
    """

    def __init__(self, *, name: str, limits: WorkerLimits | None = None) -> None:
        self.name = name
        self.limits = limits or WorkerLimits()
        self.restarts = 0
        self.requests = 0
        self._lock = threading.Lock()
        self._proc: Any = None
        self._conn: Connection | None = None
        self._closed = False

    @property
    def pid(self) -> int | None:
        """The child's process id (None before the first request)."""
        return self._proc.pid if self._proc is not None else None

    def _start(self) -> Connection:
        # The hub has threads: never fork it. A fork server (one clean process that has
        # imported numpy and the sandbox) forks each worker quickly and safely.
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["numpy", "hub.engine.remote"])
        parent, child = ctx.Pipe(duplex=True)
        proc = ctx.Process(
            target=child_main,
            args=(child, self.limits),
            name=f"opencontrol-{self.name}",
            daemon=True,
        )
        proc.start()
        child.close()
        if not parent.poll(self.limits.start_seconds):
            proc.kill()
            proc.join(5)
            raise WorkerKilled(f"the {self.name} worker did not start")
        parent.recv()  # ("ready",)
        self._proc, self._conn = proc, parent
        return parent

    def _stop(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(Exception):
                self._proc.kill()
            self._proc.join(5)
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._proc = self._conn = None

    def _died(self, why: str) -> WorkerKilled:
        code = self._proc.exitcode if self._proc is not None else None
        self._stop()
        self.restarts += 1
        if why:
            reason = why
        elif code == -signal.SIGXCPU:
            reason = f"over its CPU time limit ({self.limits.cpu_seconds:g} s)"
        elif code == -signal.SIGKILL:
            reason = "killed (out of memory?)"
        else:
            reason = f"ended (exit code {code})"
        log.warning("%s worker %s: restarted", self.name, reason)
        return WorkerKilled(f"{reason}: its process was stopped and restarted")

    def call(self, request: tuple[Any, ...], serve: Callable[[tuple[Any, ...]], Any]) -> Any:
        """Send one request; answer callbacks with `serve`; return the child's result.

        Raises WorkerKilled when the child overran its time or died (it is restarted on
        the next call). Time spent in `serve` (waiting for an agent, say) is not counted.
        """
        with self._lock:
            if self._closed:
                raise WorkerKilled(f"the {self.name} worker is shut down")
            conn = self._conn if self._proc is not None and self._proc.is_alive() else None
            if conn is None:
                self._stop()
                conn = self._start()
            self.requests += 1
            left = self.limits.wall_seconds
            try:
                conn.send(request)
                while True:
                    t0 = time.monotonic()
                    if not conn.poll(max(left, 0.0)):
                        raise self._died(f"over its time limit ({self.limits.wall_seconds:g} s)")
                    msg = conn.recv()
                    left -= time.monotonic() - t0
                    if msg[0] == "done":
                        return msg[1]
                    answer = serve(msg)
                    if msg[0] in ASKS:
                        conn.send(answer)
            except (EOFError, OSError, BrokenPipeError):
                raise self._died("") from None

    def close(self) -> None:
        """Stop the child for good (a request in progress ends at once: refused)."""
        self._closed = True
        proc = self._proc
        if proc is not None:
            proc.kill()  # without the lock: the caller's thread sees the pipe close
        with self._lock:
            self._stop()


# Callbacks that wait for an answer (the others are fire-and-forget).
ASKS = frozenset({"store", "param", "command", "data", "telegram"})


# --- the child's side -----------------------------------------------------------------------


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _limit_memory(extra: int) -> None:
    import resource

    base = _vm_size()
    if base:
        resource.setrlimit(resource.RLIMIT_AS, (base + extra, base + extra))


def _limit_cpu(seconds: float) -> None:
    """Let this request use `seconds` more CPU time; the OS sends SIGXCPU past it."""
    import resource

    used = resource.getrusage(resource.RUSAGE_SELF)
    now = used.ru_utime + used.ru_stime
    soft = int(now + seconds) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


class Child:
    """The child's loop: requests in, callbacks out, results back."""

    def __init__(self, conn: Connection, limits: WorkerLimits) -> None:
        from hub.engine.remote import ChildEngine

        self.conn = conn
        self.limits = limits
        self.engine = ChildEngine(ask=self.ask, tell=self.tell)

    def ask(self, *msg: Any) -> Any:
        """A callback that waits for the parent's answer: ("ok", value) or ("err", text)."""
        self.conn.send(msg)
        return self.conn.recv()

    def tell(self, *msg: Any) -> None:
        """A callback without answer (events)."""
        self.conn.send(msg)

    def serve(self) -> None:
        """Answer requests until the parent goes away."""
        self.conn.send(("ready",))
        while True:
            try:
                req = self.conn.recv()
            except (EOFError, OSError):
                return
            _limit_cpu(self.limits.cpu_seconds)
            result = self.engine.handle(req)
            self.conn.send(("done", result))


def child_main(conn: Connection, limits: WorkerLimits) -> None:
    """Entry point of the worker process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the hub decides when its workers stop
    with contextlib.suppress(OSError):
        os.nice(5)  # user code yields the CPU to ingest and the event loop
    import numpy  # noqa: F401  (imported before the limit: it is the hub's, not the user's)

    import hub.engine.remote  # noqa: F401

    _limit_memory(limits.memory_bytes)
    Child(conn, limits).serve()


class LRU(OrderedDict[Any, Any]):
    """A bounded mapping: the least recently used entry goes first."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def use(self, key: Any, make: Callable[[], Any]) -> Any:
        """The value for key, made when missing."""
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        while len(self) > self.size:
            self.popitem(last=False)
        return value


_TOKENS = itertools.count(1)


def new_token() -> int:
    """An id naming one compiled script across the process boundary."""
    return next(_TOKENS)
