"""Remote commands (`<p>/<agent>/cmd`) against the drivers; every answer names what failed.

Only declared parameters and functions are reachable: `set`/`get` go through the
driver's ParamSpecs, `call` through its FunctionSpecs. Shape: docs/ARCHITECTURE.md,
"Commands".
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from .drivers.base import DriverError
from .scheduler import Scheduler
from .wire import OPS, Command, CommandRefused, CommandResult

log = logging.getLogger(__name__)

__all__ = ["OPS", "CommandError", "CommandHandler"]


class CommandError(ValueError):
    """A command that cannot be carried out; the message is sent back as `error`."""


class CommandHandler:
    """Decodes a cmd payload, runs it against the scheduler's drivers, returns the result."""

    def __init__(
        self, *, scheduler: Scheduler, on_change: Callable[[str], None] | None = None
    ) -> None:
        self._scheduler = scheduler
        self._on_change = on_change or (lambda device: None)

    def handle(self, payload: bytes) -> CommandResult:
        """Run one command payload; return its `cmd/result` (never raises)."""
        try:
            cmd = Command.decode(payload)
        except CommandRefused as exc:
            return CommandResult.failure(str(exc), exc.cmd_id)
        try:
            return CommandResult.success(cmd.id, self.run(cmd))
        except CommandError as exc:
            return CommandResult.failure(str(exc), cmd.id)
        except Exception as exc:  # a driver bug must not kill the agent
            log.exception("command %r failed", cmd.id)
            return CommandResult.failure(f"{type(exc).__name__}: {exc}", cmd.id)

    def run(self, cmd: Command) -> Any:
        """Execute a checked command; raise CommandError with a clear message."""
        op, device, args = cmd.op, cmd.device, cmd.args
        try:
            runner = self._scheduler.runner(device)
        except KeyError:
            raise CommandError(f"no device {device!r} on this agent") from None
        name = str(cmd.name)
        driver = runner.driver
        if op == "get":
            if name not in driver.params:
                raise CommandError(f"{device}: no parameter {name!r}")
            return driver.params[name]
        if op == "set":
            try:
                with runner.lock:
                    value = driver.set_param(name, args)
            except (DriverError, ValueError) as exc:
                raise CommandError(_prefixed(device, exc)) from None
            self._on_change(device)
            return value
        if op == "call":
            try:
                with runner.lock:
                    result = driver.call(name, args)
            except (DriverError, ValueError, TypeError) as exc:
                raise CommandError(_prefixed(device, exc)) from None
            self._on_change(device)
            return result
        if op == "start":
            self._scheduler.start_device(device)
            self._on_change(device)
            return True
        if op == "stop":
            self._scheduler.stop_device(device)
            self._on_change(device)
            return True
        # samplerate: Command checked it is a finite number
        try:
            rate = self._scheduler.set_samplerate(device, args)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self._on_change(device)
        return rate


def _prefixed(device: str, exc: Exception) -> str:
    text = str(exc)
    return text if text.startswith(device) else f"{device}: {text}"
