"""Runs an RTOC `LoggerPlugin` file unchanged: its device, signals, events, functions and
parameters become the agent's.

The plugin's module is imported and its `Plugin` class constructed in `open()` (in the
device's thread, like RTOC's start). Its perpetual timer (`setPerpetualTimer` + `start`)
is ticked by the agent's scheduler: every read() calls the timer function once (holding
the plugin's `lockPerpetialTimer`, as RTOC does) at the rate the plugin asked for
(`samplerate`); `cancel()` pauses the ticks. Whatever the plugin streams or plots —
from the tick or from threads of its own — goes out with the next read, with the
plugin's device names and x values as times. A tick that raises is a failed read (the
device is marked unavailable and retried with backoff), where RTOC's timer silently
stopped for good. `event()` becomes an edge event with the plugin's id.

Functions: the plugin's public methods (names not starting with `_`, minus LoggerPlugin's
own), with their arguments. Parameters: its public attributes of type bool, int, float
or str (`__doc_<name>__` is the doc); `samplerate` is the device's samplerate.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import threading
import traceback
from collections import deque
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .base import (
    ArgSpec,
    Driver,
    DriverError,
    DriverSpec,
    FunctionSpec,
    ParamSpec,
    SignalSpec,
    TimedSample,
)

log = logging.getLogger(__name__)

MAX_PENDING = 100_000  # samples kept between reads; beyond that the oldest are dropped
MIN_TIME, MAX_TIME = -2208988800.0, 32503680000.0  # 1900 .. 3000, as the wire accepts

SAMPLE_CONFIG = """\
[devices.Freezer]
driver = "rtoc_plugin"
plugin = "/home/pi/.RTOC/devices/Freezer/Freezer.py"   # the plugin file, unchanged
persistent = "/home/pi/.RTOC/persistentVariables.json"  # optional: RTOC's file
samplerate = 1           # Hz until the plugin's setPerpetualTimer asks for its own rate
[devices.Freezer.params]
limit = -18              # optional: plugin attributes, set right after it started
"""

BASE_SPEC = DriverSpec(
    name="rtoc_plugin",
    description="An RTOC LoggerPlugin file, run unchanged",
    bus="none",
    default_samplerate=1.0,
    max_samplerate=1000.0,
    extra_config=("plugin", "persistent"),
    sample_config=SAMPLE_CONFIG,
    params_from_device=True,
)

_SCALARS = (bool, int, float, str)


class RtocPluginDriver(Driver):
    """One RTOC plugin instance; see the module docstring."""

    spec = BASE_SPEC

    def __init__(self, *, device: str, params: Mapping[str, Any] | None = None, **kw: Any) -> None:
        super().__init__(device=device, params=None, **kw)
        plugin = self.extra.get("plugin")
        if not isinstance(plugin, str) or not plugin:
            raise DriverError(f'{device}: rtoc_plugin needs plugin = "/path/to/Plugin.py"')
        self.path = Path(plugin).expanduser()
        persistent = self.extra.get("persistent")
        self.persistent_path = Path(persistent).expanduser() if persistent else None
        self.initial = dict(params or {})
        self.plugin: Any = None
        self._lock = threading.Lock()
        self._pending: deque[TimedSample] = deque(maxlen=MAX_PENDING)
        self._dropped = 0
        self._units: dict[str, str] = {}
        self._rate: float | None = None
        self._vars: dict[str, dict[str, Any]] = {}
        self._threads: list[threading.Thread] = []
        self._thread_errors: dict[threading.Thread, str] = {}
        self._untimed: set[str] = set()

    # -- the host the plugin talks to (rtoc_shim.PluginHost) -------------------------------
    def add_samples(
        self, dname: str | None, samples: Sequence[tuple[str, str, float | None, Any]]
    ) -> None:
        with self._lock:
            for sname, unit, x, y in samples:
                self._keep((dname or self.device, sname, unit, self._time(x), y))

    def add_series(
        self, dname: str | None, sname: str, unit: str, xs: list[Any] | None, ys: list[Any]
    ) -> None:
        if xs is None:
            if sname not in self._untimed:
                self._untimed.add(sname)
                log.warning(
                    "%s: plot(y) of %r has no x: a time series needs times; skipped (logged once)",
                    self.device,
                    sname,
                )
            return
        with self._lock:
            for x, y in zip(xs, ys, strict=False):
                t = self._time(x)
                if t is not None:  # a point without a valid time is skipped
                    self._keep((dname or self.device, sname, unit, t, y))

    def add_event(
        self,
        text: str,
        *,
        dname: str | None,
        sname: str,
        priority: int,
        event_id: str,
        value: Any,
        x: float | None,
    ) -> None:
        self.events(
            text,
            signal=sname,
            priority=priority,
            value=value,
            device=dname or self.device,
            event_id=event_id,
            time=self._time(x),
        )

    def timer_rate(self, rate: float) -> None:
        self._rate = rate

    def persistent(self) -> dict[str, dict[str, Any]]:
        return self._vars

    def save_persistent(self) -> None:
        if self.persistent_path is not None:
            from .rtoc_shim import save_persistent

            save_persistent(self.persistent_path, self._vars)

    def _keep(self, sample: TimedSample) -> None:
        if len(self._pending) == self._pending.maxlen:
            self._dropped += 1
        self._pending.append(sample)
        if sample[0] == self.device:
            self._units[sample[1]] = sample[2]

    @staticmethod
    def _time(x: Any) -> float | None:
        if isinstance(x, bool) or not isinstance(x, int | float):
            return None
        x = float(x)
        return x if math.isfinite(x) and MIN_TIME <= x <= MAX_TIME else None

    # -- driver ----------------------------------------------------------------------------
    def open(self) -> None:
        """Import the plugin file and construct its Plugin (RTOC's start)."""
        from . import rtoc_shim  # lazily: only agents running RTOC plugins load it

        if not self.path.is_file():
            raise DriverError(f"{self.device}: plugin file {str(self.path)!r} does not exist")
        try:
            self._vars = rtoc_shim.load_persistent(self.persistent_path)
            cls = rtoc_shim.load_plugin_class(self.path, self.device)
            before = set(threading.enumerate())
            self._watch_threads(before)
            with rtoc_shim.hosting(self):
                self.plugin = cls()
            self._threads = [t for t in threading.enumerate() if t not in before]
        except Exception as exc:
            raise DriverError(f"{self.device}: plugin {self.path.name} failed to start: "
                              + _short_trace(exc)) from exc  # fmt: skip
        self.spec = self._describe()  # type: ignore[misc]  # per instance, from the plugin
        for name, value in self.initial.items():
            self.set_param(name, value)
        self.params = self._param_values()

    def _watch_threads(self, before: set[threading.Thread]) -> None:
        """A plugin thread that dies of an exception is reported, not silent as in RTOC
        (threads started while the plugin is constructed are the plugin's)."""
        previous = threading.excepthook

        def hook(args: Any) -> None:
            thread = args.thread
            if thread is not None and thread not in before and len(self._thread_errors) < 20:
                self._thread_errors[thread] = f"{args.exc_type.__name__}: {args.exc_value}"
            previous(args)

        threading.excepthook = hook

    def read(self) -> Mapping[str, float]:
        """One tick of the plugin's timer (if started); samples go out via timed_samples()."""
        if self.plugin is None:
            raise DriverError(f"{self.device}: plugin not started")
        timer = getattr(self.plugin, "_pluginThread", None)
        if timer is not None and timer.active:
            with self.plugin.lockPerpetialTimer:
                try:
                    timer.fn()
                except Exception as exc:
                    raise DriverError(f"{self.device}: timer function failed: "
                                      + _short_trace(exc)) from exc  # fmt: skip
        elif self._threads and not any(t.is_alive() for t in self._threads) and not self._pending:
            died = "; ".join(
                f"{t.name}: {e}" for t, e in self._thread_errors.items() if t in self._threads
            )
            raise DriverError(
                f"{self.device}: the plugin has no timer and its threads have ended"
                + (f" ({died})" if died else "")
            )
        self.params = self._param_values()
        return {}

    def timed_samples(self) -> list[TimedSample]:
        with self._lock:
            out = list(self._pending)
            self._pending.clear()
        return out

    def samplerate_request(self) -> float | None:
        rate, self._rate = self._rate, None
        return rate

    def signals(self) -> tuple[SignalSpec, ...]:
        return tuple(SignalSpec(name, unit) for name, unit in sorted(self._units.items()))

    def diagnostics(self) -> Mapping[str, float]:
        return {"dropped_samples": float(self._dropped)}

    def close(self) -> None:
        if self.plugin is not None:
            try:
                self.plugin.close()
            finally:
                self.plugin = None

    # -- parameters and functions ----------------------------------------------------------
    def _public(self) -> list[tuple[str, Any]]:
        from .rtoc_shim import HIDDEN_FUNCTIONS, HIDDEN_PARAMS

        out = []
        for name in dir(self.plugin):
            if name.startswith("_") or name in HIDDEN_FUNCTIONS or name in HIDDEN_PARAMS:
                continue
            try:
                value = getattr(self.plugin, name)
            except Exception:  # a property that fails is not a parameter
                continue
            out.append((name, value))
        return out

    def _describe(self) -> DriverSpec:
        params, functions = [], []
        cls = type(self.plugin)
        for name, value in self._public():
            if callable(value):
                functions.append(_function_spec(name, value))
            elif isinstance(value, _SCALARS):
                prop = getattr(cls, name, None)
                writable = not isinstance(prop, property) or prop.fset is not None
                doc = getattr(self.plugin, f"__doc_{name}__", "") or ""
                # Python plugins write 1 for 1.0: a number parameter takes any number
                typ = float if type(value) is int else type(value)
                params.append(ParamSpec(name, typ, typ(value), doc=str(doc), writable=writable))
        doc = inspect.getdoc(cls) or BASE_SPEC.description
        return DriverSpec(
            name=BASE_SPEC.name,
            description=doc.strip().splitlines()[0][:200],
            params=tuple(params),
            functions=tuple(functions),
            bus=BASE_SPEC.bus,
            default_samplerate=BASE_SPEC.default_samplerate,
            max_samplerate=BASE_SPEC.max_samplerate,
            extra_config=BASE_SPEC.extra_config,
            sample_config=BASE_SPEC.sample_config,
            params_from_device=True,
        )

    def _param_values(self) -> dict[str, Any]:
        out = {}
        for p in self.spec.params:
            try:
                out[p.name] = getattr(self.plugin, p.name)
            except Exception:
                out[p.name] = None
        return out

    def apply_param(self, name: str, value: Any) -> None:
        """Set the plugin's attribute (a persistent variable saves itself, as in RTOC)."""
        if self.plugin is None:
            raise DriverError(f"{self.device}: plugin not started")
        with self.plugin.lockPerpetialTimer:
            setattr(self.plugin, name, value)
        store = self._vars.get(getattr(self.plugin, "_devicename", ""), {})
        if name in store:
            store[name] = value
            self.save_persistent()

    def set_param(self, name: str, value: Any) -> Any:
        if self.plugin is None:
            raise DriverError(f"{self.device}: plugin not started (parameters come from it)")
        out = super().set_param(name, value)
        self.params = self._param_values()
        return out

    def call(self, name: str, args: Any) -> Any:
        """Call a public method: typed arguments are checked, untyped ones passed as given."""
        if self.plugin is None:
            raise DriverError(f"{self.device}: plugin not started (functions come from it)")
        kwargs = self.bind_args(name, args, callee_defaults=True)
        method = getattr(self.plugin, name)
        try:
            with self.plugin.lockPerpetialTimer:
                result = method(**kwargs)
        except Exception as exc:
            raise DriverError(f"{self.device}.{name} failed: {_short_trace(exc)}") from exc
        self.params = self._param_values()
        try:
            json.dumps(result, allow_nan=False)
        except (TypeError, ValueError):
            result = repr(result)
        return result


def _function_spec(name: str, fn: Any) -> FunctionSpec:
    args = []
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        sig = None
    for p in sig.parameters.values() if sig else ():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        has_default = p.default is not p.empty
        typ: type = object
        if p.annotation in _SCALARS:
            typ = p.annotation
        elif isinstance(p.annotation, str) and p.annotation in ("float", "int", "str", "bool"):
            typ = {"float": float, "int": int, "str": str, "bool": bool}[p.annotation]
        elif has_default and type(p.default) in _SCALARS:
            typ = type(p.default)
        args.append(
            ArgSpec(p.name, typ, p.default if has_default else None, required=not has_default)
        )
    doc = (inspect.getdoc(fn) or "").strip()
    return FunctionSpec(name, args=tuple(args), doc=doc[:1000])


def _short_trace(exc: BaseException) -> str:
    """The exception and where in the plugin it happened (last frame), on one line."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"
