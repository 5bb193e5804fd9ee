"""Remote commands (`<p>/<agent>/cmd`) against the drivers; every answer names what failed.

Only declared parameters and functions are reachable: `set`/`get` go through the
driver's ParamSpecs, `call` through its FunctionSpecs. Shape: docs/ARCHITECTURE.md,
"Commands".
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from typing import Any

from .drivers.base import DriverError
from .scheduler import Scheduler
from .status import json_value

log = logging.getLogger(__name__)

OPS = ("set", "get", "call", "start", "stop", "samplerate")


class CommandError(ValueError):
    """A command that cannot be carried out; the message is sent back as `error`."""


class CommandHandler:
    """Parses a cmd payload, runs it against the scheduler's drivers, returns the result."""

    def __init__(
        self, *, scheduler: Scheduler, on_change: Callable[[str], None] | None = None
    ) -> None:
        self._scheduler = scheduler
        self._on_change = on_change or (lambda device: None)

    def handle(self, payload: bytes) -> dict[str, Any]:
        """Run one command payload; return the `cmd/result` body (never raises)."""
        cmd_id: Any = None
        try:
            try:
                body = json.loads(payload)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise CommandError(f"command is not JSON: {exc}") from None
            if not isinstance(body, dict):
                raise CommandError("command must be a JSON object")
            cmd_id = body.get("id")
            if cmd_id is not None and (
                isinstance(cmd_id, bool) or not isinstance(cmd_id, str | int)
            ):
                cmd_id = None
                raise CommandError("id must be a string or an integer")
            result = self.run(body)
            return {"id": cmd_id, "ok": True, "result": _json_result(result)}
        except CommandError as exc:
            return {"id": cmd_id, "ok": False, "error": str(exc)}
        except Exception as exc:  # a driver bug must not kill the agent
            log.exception("command %r failed", cmd_id)
            return {"id": cmd_id, "ok": False, "error": f"{type(exc).__name__}: {exc}"}

    def run(self, body: dict[str, Any]) -> Any:
        """Execute a parsed command; raise CommandError with a clear message."""
        op = body.get("op")
        if op not in OPS:
            raise CommandError(f"unknown op {op!r}; one of {', '.join(OPS)}")
        device = body.get("device")
        if not isinstance(device, str):
            raise CommandError("device must be a string")
        try:
            runner = self._scheduler.runner(device)
        except KeyError:
            raise CommandError(f"no device {device!r} on this agent") from None
        name = body.get("name")
        args = body.get("args")
        if op in ("set", "get", "call") and not isinstance(name, str):
            raise CommandError(f"{device}: '{op}' needs a name")
        name = str(name)
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
        # samplerate
        if isinstance(args, bool) or not isinstance(args, int | float):
            raise CommandError(f"{device}: samplerate takes a number (Hz), got {args!r}")
        try:
            rate = self._scheduler.set_samplerate(device, args)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self._on_change(device)
        return rate


def _prefixed(device: str, exc: Exception) -> str:
    text = str(exc)
    return text if text.startswith(device) else f"{device}: {text}"


def _json_result(value: Any) -> Any:
    """A function's return value as JSON can carry it."""
    if isinstance(value, dict):
        return {str(k): _json_result(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_result(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return json_value(value)
