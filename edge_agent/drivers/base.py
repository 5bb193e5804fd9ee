"""The driver contract: a typed declaration and a small read() interface.

A driver sees a sink (for edge events), nothing else: it never touches MQTT, the spool
or timestamps. `read()` returns values by signal name, or raises DriverError; a failed
read produces no sample, never a placeholder value. Hardware libraries are imported in
`open()`, so every module loads on a machine without them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from ..wire import coerce_param, name_problem


class DriverError(RuntimeError):
    """A read, write or open that failed; the message names device and port."""


class DriverUnavailable(DriverError):
    """The device cannot be reached now (unplugged, timeout); the agent backs off."""


@dataclass(frozen=True)
class SignalSpec:
    """A signal a driver produces."""

    name: str
    unit: str = ""
    doc: str = ""


@dataclass(frozen=True)
class ParamSpec:
    """A parameter: set from config at start, readable and (if writable) settable remotely."""

    name: str
    type: type  # float, int, str or bool
    default: Any
    doc: str = ""
    unit: str = ""
    writable: bool = True
    choices: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None

    def coerce(self, value: Any) -> Any:
        """Return `value` converted to this parameter's type, or raise ValueError saying why
        (the wire's rule, so the hub checks a value the same way before sending it)."""
        return coerce_param(
            self.name,
            getattr(self.type, "__name__", str(self.type)),
            value,
            choices=self.choices,
            minimum=self.min,
            maximum=self.max,
        )


# The argument types a call coerces with the wire's rule (a plugin may declare others).
_SCALAR_TYPES: tuple[type, ...] = (bool, int, float, str)


@dataclass(frozen=True)
class ArgSpec:
    """One argument of a callable function."""

    name: str
    type: type
    default: Any = None
    required: bool = True
    doc: str = ""


@dataclass(frozen=True)
class FunctionSpec:
    """A function callable remotely; the driver implements it as method `fn_<name>`."""

    name: str
    args: tuple[ArgSpec, ...] = ()
    doc: str = ""


@dataclass(frozen=True)
class DriverSpec:
    """Everything the agent, the hub and the UIs need to know about a driver."""

    name: str
    description: str
    signals: tuple[SignalSpec, ...] = ()
    params: tuple[ParamSpec, ...] = ()
    functions: tuple[FunctionSpec, ...] = ()
    bus: str = "none"  # none | i2c | gpio | serial | modbus-rtu | modbus-tcp | http
    default_samplerate: float = 1.0
    max_samplerate: float = 100.0
    extra_config: tuple[str, ...] = field(default=())  # extra per-device keys (e.g. "registers")
    sample_config: str = ""  # a TOML [devices.X] block, documented and loaded by a test
    # True: params/functions are learnt from the device when it opens (RTOC plugins); the
    # config's params are then passed on unchecked and the driver checks them at open().
    params_from_device: bool = False

    def __post_init__(self) -> None:
        check_signal_names(self.name, self.signals)

    def param(self, name: str) -> ParamSpec:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def function(self, name: str) -> FunctionSpec:
        for f in self.functions:
            if f.name == name:
                return f
        raise KeyError(name)


def check_signal_names(driver: str, signals: tuple[SignalSpec, ...]) -> None:
    """Refuse a signal name the hub would refuse (the message names driver and signal)."""
    for s in signals:
        problem = name_problem(s.name)
        if problem is not None:
            raise ValueError(f"driver {driver!r} declares signal {s.name!r}: the name {problem}")


class EventSink(Protocol):
    """Where a driver reports an edge event (e.g. a value out of range). `device` defaults
    to the driver's device, `event_id` to RTOC's sha1 of signal + device + text, `time`
    to now."""

    def __call__(
        self,
        text: str,
        *,
        signal: str = "",
        priority: int = 0,
        value: Any = None,
        device: str = "",
        event_id: str = "",
        time: float | None = None,
    ) -> None: ...


def _no_events(text: str, **kwargs: Any) -> None:
    return None


# A sample a driver made itself, with its own device and time: (device, signal, unit, t or
# None for "when read", y). Drivers that push (RTOC plugins) hand these over after read().
TimedSample = tuple[str, str, str, float | None, Any]


class Driver(ABC):
    """Base class of all drivers. Construction does no I/O; open() does."""

    spec: ClassVar[DriverSpec]

    def __init__(
        self,
        *,
        device: str,
        params: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
        events: EventSink = _no_events,
        clock: Callable[[], float] | None = None,
    ) -> None:
        import time

        self.device = device
        self.events = events
        self.clock = clock or time.monotonic
        self.extra: dict[str, Any] = dict(extra or {})
        self.params: dict[str, Any] = {p.name: p.default for p in self.spec.params}
        for name, value in (params or {}).items():
            try:
                spec = self.spec.param(name)
            except KeyError:
                raise DriverError(
                    f"{device}: driver {self.spec.name!r} has no parameter {name!r}"
                ) from None
            self.params[name] = spec.coerce(value)

    def signals(self) -> tuple[SignalSpec, ...]:
        """The signals this instance produces (override when they come from config)."""
        return self.spec.signals

    def open(self) -> None:  # noqa: B027 - optional hook
        """Open the hardware (import its library here)."""

    @abstractmethod
    def read(self) -> Mapping[str, float]:
        """Read once; return {signal name: value}. Raise DriverError on failure."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the hardware."""

    def set_param(self, name: str, value: Any) -> Any:
        """Set a declared writable parameter; returns the coerced value."""
        try:
            spec = self.spec.param(name)
        except KeyError:
            raise DriverError(f"{self.device}: no parameter {name!r}") from None
        if not spec.writable:
            raise DriverError(f"{self.device}: parameter {name!r} is read-only")
        coerced = spec.coerce(value)
        self.apply_param(name, coerced)
        self.params[name] = coerced
        return coerced

    def apply_param(self, name: str, value: Any) -> None:  # noqa: B027 - optional hook
        """Push a changed parameter to the hardware (override where needed)."""

    def timed_samples(self) -> list[TimedSample]:
        """Samples made since the last call with their own device/time (default: none)."""
        return []

    def samplerate_request(self) -> float | None:
        """A rate (Hz) the driver asks its runner to read at from now on (default: none)."""
        return None

    def diagnostics(self) -> Mapping[str, float]:
        """Driver-specific counters for the status message (e.g. checksum failures)."""
        return {}

    def call(self, name: str, args: Any) -> Any:
        """Call a declared function with a list or dict of arguments, checked against its spec."""
        kwargs = self.bind_args(name, args)  # first: an undeclared name is refused here
        return getattr(self, f"fn_{name}")(**kwargs)

    def bind_args(self, name: str, args: Any, *, callee_defaults: bool = False) -> dict[str, Any]:
        """The keyword arguments of a call to the declared function `name`: `args` is a list,
        a dict or one bare value, checked against the function's spec; scalar arguments are
        coerced to their declared type (the wire's rule), others passed as given. An argument
        not given gets its declared default, or with `callee_defaults` is left out so that
        the callee's own default applies."""
        try:
            fspec = self.spec.function(name)
        except KeyError:
            raise DriverError(f"{self.device}: no function {name!r}") from None
        if args is None:
            args = []
        if isinstance(args, Mapping):
            given = dict(args)
        elif isinstance(args, list | tuple):
            if len(args) > len(fspec.args):
                raise DriverError(
                    f"{self.device}.{name} takes {len(fspec.args)} arguments, got {len(args)}"
                )
            given = {a.name: v for a, v in zip(fspec.args, args, strict=False)}
        else:
            given = {fspec.args[0].name: args} if fspec.args else {}
        unknown = set(given) - {a.name for a in fspec.args}
        if unknown:
            raise DriverError(f"{self.device}.{name}: unknown arguments {sorted(unknown)}")
        kwargs: dict[str, Any] = {}
        for a in fspec.args:
            if a.name in given:
                value = given[a.name]
                if a.type in _SCALAR_TYPES:
                    try:
                        value = ParamSpec(a.name, a.type, a.default).coerce(value)
                    except ValueError as exc:
                        raise DriverError(f"{self.device}.{name}: {exc}") from exc
                kwargs[a.name] = value
            elif a.required:
                raise DriverError(f"{self.device}.{name}: missing argument {a.name!r}")
            elif not callee_defaults:
                kwargs[a.name] = a.default
        return kwargs
