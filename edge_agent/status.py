"""The agent's status (birth) message: drivers' specs with their live state and the spool.

Shape: docs/ARCHITECTURE.md, "Status (birth) message". Built from plain data so it can
be tested without MQTT.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import __version__
from .drivers.base import ArgSpec, FunctionSpec, ParamSpec
from .scheduler import DriverRunner
from .spool import SpoolStats
from .wire import (
    AgentStatus,
    ArgDecl,
    DeviceDecl,
    FunctionDecl,
    ParamDecl,
    SignalDecl,
    SpoolState,
    json_value,
)


def type_name(t: type) -> str:
    """A declared type as the wire names it (float, int, bool, str)."""
    return getattr(t, "__name__", str(t))


def describe_param(spec: ParamSpec, value: Any) -> ParamDecl:
    """One parameter as the status lists it."""
    return ParamDecl(
        name=spec.name,
        type=type_name(spec.type),
        value=json_value(value),
        default=json_value(spec.default),
        doc=spec.doc,
        unit=spec.unit,
        writable=spec.writable,
        choices=tuple(json_value(c) for c in spec.choices) if spec.choices is not None else None,
        min=spec.min,
        max=spec.max,
    )


def _describe_arg(arg: ArgSpec) -> ArgDecl:
    return ArgDecl(
        name=arg.name,
        type=type_name(arg.type),
        required=arg.required,
        default=json_value(arg.default),
    )


def describe_function(spec: FunctionSpec) -> FunctionDecl:
    """One callable function as the status lists it."""
    return FunctionDecl(
        name=spec.name, doc=spec.doc, args=tuple(_describe_arg(a) for a in spec.args)
    )


def describe_device(runner: DriverRunner) -> DeviceDecl:
    """A device's declaration plus its live state and counters."""
    driver = runner.driver
    spec = driver.spec
    return DeviceDecl(
        driver=spec.name,
        running=runner.running,
        available=runner.available,
        error=None if runner.available else runner.stats.last_error,
        samplerate=runner.samplerate,
        max_samplerate=spec.max_samplerate,
        signals=tuple(SignalDecl(s.name, s.unit) for s in driver.signals()),
        params=tuple(describe_param(p, driver.params.get(p.name)) for p in spec.params),
        functions=tuple(describe_function(f) for f in spec.functions),
        stats={
            "reads": runner.stats.reads,
            "failures": runner.stats.failures,
            "samples": runner.stats.samples,
            "last_error": runner.stats.last_error,
            **_diagnostics(driver),
        },
    )


def _diagnostics(driver: Any) -> dict[str, float]:
    """The driver's own counters (bus retries, checksum failures); never breaks the status."""
    try:
        return {str(k): float(v) for k, v in driver.diagnostics().items()}
    except Exception:  # a driver bug must not silence the status message
        return {}


def build_status(
    *,
    agent: str,
    runners: Iterable[DriverRunner],
    spool: SpoolStats,
    clock_synced: bool,
    now: float,
    state: str = "online",
) -> AgentStatus:
    """The full status message of a running agent."""
    return AgentStatus(
        state="offline" if state == "offline" else "online",
        agent=agent,
        version=__version__,
        time=now,
        clock_synced=clock_synced,
        spool=SpoolState(
            batches=spool.batches,
            bytes=spool.bytes,
            samples=spool.samples,
            dropped_batches=spool.dropped_batches,
            dropped_samples=spool.dropped_samples,
        ),
        devices={r.device: describe_device(r) for r in runners},
    )


def offline_status(agent: str) -> AgentStatus:
    """The last will / clean-shutdown status."""
    return AgentStatus.offline(agent)
