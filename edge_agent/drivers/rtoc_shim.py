"""`LoggerPlugin` for RTOC plugin files run by the `rtoc_plugin` driver, and their loader.

RTOC 3.0 plugins subclass `LoggerPlugin` (imported as `from LoggerPlugin import
LoggerPlugin`, `from RTOC.LoggerPlugin import LoggerPlugin` or relatively, e.g. the
built-in Generator's `from ...LoggerPlugin import LoggerPlugin`). This class offers the
same methods, but instead of RTOC's logger it talks to a `PluginHost` (the driver):
`stream`/`plot` hand samples over, `event` raises an edge event, and the perpetual timer
is ticked by the agent's scheduler instead of a chain of `threading.Timer`s.

Imported only when a device uses the `rtoc_plugin` driver (the agent stays small).
Plugins that import PyQt5 at module level (most do, even headless) get inert stand-in
modules when PyQt5 is not installed; their GUI code (`loadGUI`) is never called.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import math
import os
import re
import sys
import threading
import types
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

ROOT = "_oc_rtoc_plugins"  # synthetic package the plugin files are loaded under


class PluginHost(Protocol):
    """What a plugin instance reaches through its `LoggerPlugin` methods (the driver)."""

    def add_samples(
        self, dname: str | None, samples: Sequence[tuple[str, str, float | None, Any]]
    ) -> None:
        """Samples (sname, unit, x or None for now, y) of device `dname`."""

    def add_series(
        self, dname: str | None, sname: str, unit: str, xs: list[Any] | None, ys: list[Any]
    ) -> None:
        """A whole series from plot() (xs None: plotted without x)."""

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
        """An event from event()."""

    def timer_rate(self, rate: float) -> None:
        """The plugin asks for a new timer rate (Hz)."""

    def persistent(self) -> dict[str, dict[str, Any]]:
        """Persistent variables {dname: {name: value}} (changed in place)."""

    def save_persistent(self) -> None:
        """Write the persistent variables."""


_local = threading.local()


@contextmanager
def hosting(host: PluginHost) -> Iterator[None]:
    """While a plugin is constructed, its `LoggerPlugin.__init__` finds `host` here."""
    _local.host = host
    try:
        yield
    finally:
        _local.host = None


class _Timer:
    """The perpetual timer's state; the driver's read() ticks it."""

    def __init__(self, fn: Callable[[], Any], rate: float) -> None:
        self.fn = fn
        self.rate = rate
        self.active = False


class LoggerPlugin:
    """RTOC 3.0's plugin base class, on the agent (SPEC of RTOC: §4.2)."""

    def __init__(self, logger: Any = None, *args: Any, **kwargs: Any) -> None:
        self._host: PluginHost | None = getattr(_local, "host", None)
        self.logger = None  # RTOC's logger object has no counterpart on the agent
        self.rtoc = None
        self._devicename = "noDevice"
        self.widget = None
        self.smallGUI = False
        self.run = False
        self.lockPerpetialTimer = threading.Lock()
        self._log: deque[list[Any]] = deque(maxlen=100)
        self._samplerate: float = 1
        self._pluginThread: _Timer | None = None
        self._oldPerpetualTimer = False

    # -- data ----------------------------------------------------------------------------
    def stream(
        self,
        y: Any = (),
        snames: Any = (),
        dname: str | None = None,
        unit: Any = None,
        x: Any = None,
        slist: Any = None,
        sdict: Any = None,
    ) -> bool:
        """One value per signal, in one of RTOC's three forms (y/snames, slist or sdict)."""
        host = self._host
        if host is None:
            log.error("STREAM_ERROR: cannot stream signals. No callback connected")
            return False
        dname = self._own(dname)
        if sdict is not None:
            if not isinstance(sdict, dict):
                log.error("STREAM_ERROR: sdict must be a dict")
                return False
            for dev, sigs in sdict.items():
                if not isinstance(sigs, dict):
                    log.error("STREAM_ERROR: device %s was malformed.", dev)
                    continue
                out = []
                for sig, entry in sigs.items():
                    if isinstance(entry, list | tuple) and len(entry) == 2:
                        out.append((str(sig), str(entry[1] or ""), None, entry[0]))
                    else:
                        log.error("STREAM ERROR, signal %s.%s is not [y, 'unit']", dev, sig)
                host.add_samples(self._own(dev), out)
            return True
        if slist is not None:
            out = [
                (str(s[1]), str(s[2] or ""), None, s[0])
                for s in slist
                if isinstance(s, list | tuple) and len(s) == 3
            ]
            host.add_samples(dname, out)
            return True
        ys = list(y) if isinstance(y, list | tuple) else [y]
        names = [snames] if isinstance(snames, str) else [str(s) for s in snames]
        names += ["Unnamed"] * (len(ys) - len(names))
        if unit is None:
            units = [""] * len(ys)
        elif isinstance(unit, str):
            units = [unit] * len(ys)
        else:
            units = [str(u) for u in unit]
        units += [""] * (len(ys) - len(units))
        xs: list[float | None] = [None] * len(ys)
        if isinstance(x, list | tuple) and len(x) == len(ys):
            xs = list(x)
        host.add_samples(dname, [(names[i], units[i], xs[i], v) for i, v in enumerate(ys)])
        return True

    def plot(
        self,
        x: Any = (),
        y: Any = (),
        sname: str = "noName",
        dname: str | None = None,
        unit: Any = "",
        hold: str = "off",
        autoResize: bool = False,
    ) -> bool:
        """A whole x/y series for one signal (its x are the samples' times)."""
        if self._host is None:
            log.warning("No plot connected")
            return False
        xs: list[Any] | None = list(x)
        ys = list(y)
        if not ys:  # RTOC plots y over 0..n-1: no times for a time series
            ys, xs = list(x), None
        if isinstance(unit, list | tuple):
            unit = unit[-1] if unit else ""
        dname = self._own(dname)
        self._host.add_series(dname, str(sname), str(unit or ""), xs, ys)
        return True

    def event(
        self,
        text: Any = "",
        sname: str | None = None,
        dname: str | None = None,
        priority: Any = 0,
        id: Any = None,
        value: Any = None,
        x: Any = None,
    ) -> bool:
        """An event; id defaults to RTOC's sha1 of sname + dname + text."""
        if self._host is None:
            log.warning("No event connected")
            return False
        sname = "unknownEvent" if sname is None else str(sname)
        prio = priority if priority in (0, 1, 2) else 0
        if id is None:
            id = hashlib.sha1(f"{sname}{dname or self._devicename}{text}".encode()).hexdigest()
        when = float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None
        self._host.add_event(
            str(text),
            dname=self._own(dname),
            sname=sname,
            priority=prio,
            event_id=str(id),
            value=value,
            x=when,
        )
        return True

    def _own(self, dname: Any) -> str | None:
        """None for the plugin's own device (the agent's device name), else the name."""
        return None if dname is None or str(dname) == self._devicename else str(dname)

    def setDeviceName(self, devicename: str = "noDevice") -> None:
        """The default device name of stream, plot and event."""
        self._devicename = str(devicename)

    # -- timer ---------------------------------------------------------------------------
    def setPerpetualTimer(
        self,
        fun: Callable[[], Any],
        samplerate: float | None = None,
        interval: float | None = None,
        old: bool = False,
    ) -> bool:
        """Configure the periodic callback (the agent's scheduler calls it at this rate)."""
        if samplerate is None:
            samplerate = 1 / interval if interval else self._samplerate
        self._oldPerpetualTimer = bool(old)
        self._pluginThread = _Timer(fun, float(samplerate))
        self._set_rate(float(samplerate))
        return True

    def start(self) -> bool:
        """Start the timer; False if none is configured."""
        self.run = True
        if self._pluginThread is None:
            return False
        self._pluginThread.active = True
        return True

    def cancel(self) -> bool:
        """Stop the timer; False if none is configured."""
        if self._pluginThread is None:
            return False
        self._pluginThread.active = False
        return True

    def close(self) -> None:
        """Called when the device stops."""
        self.run = False
        self.cancel()

    @property
    def samplerate(self) -> float:
        return self._samplerate

    @samplerate.setter
    def samplerate(self, rate: float) -> None:
        self._set_rate(rate)

    def _set_rate(self, rate: Any) -> None:
        if isinstance(rate, bool) or not isinstance(rate, int | float):
            raise ValueError(f"samplerate must be a number, got {rate!r}")
        if not math.isfinite(rate) or rate <= 0:
            raise ValueError(f"samplerate must be a finite number > 0, got {rate!r}")
        self._samplerate = rate
        if self._pluginThread is not None:
            self._pluginThread.rate = float(rate)
        if self._host is not None:
            self._host.timer_rate(float(rate))

    def setSamplerate(self, rate: float) -> bool:
        if self._pluginThread is None:
            return False
        self.samplerate = rate
        return True

    def setInterval(self, interval: float) -> bool:
        if self._pluginThread is None:
            return False
        self.samplerate = 1 / interval
        return True

    # -- log and misc --------------------------------------------------------------------
    def _note(self, level: int, msg: Any) -> None:
        date = datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        self._log.append([date, level, str(msg)])
        py_level = {-1: logging.DEBUG, 0: logging.INFO, 1: logging.WARNING, 2: logging.ERROR}
        log.log(py_level[level], "%s: %s", self._devicename, msg)

    def info(self, msg: Any) -> None:
        self._note(0, msg)

    def warning(self, msg: Any) -> None:
        self._note(1, msg)

    def error(self, msg: Any) -> None:
        self._note(2, msg)

    def debug(self, msg: Any) -> None:
        self._note(-1, msg)

    def getDir(self, dir: str | None = None) -> str:
        return os.path.dirname(os.path.realpath(dir or __file__))

    def updateInfo(self) -> None:
        """RTOC re-read its plugin lists here; the agent reads them on every status."""

    def loadGUI(self) -> None:
        """No GUI on the agent."""
        return None

    # -- persistent variables ------------------------------------------------------------
    def _store(self, dname: str | None) -> dict[str, Any]:
        if self._host is None:
            return {}
        return self._host.persistent().setdefault(dname or self._devicename, {})

    def initPersistentVariable(
        self, parname: str, value: Any = None, dname: str | None = None
    ) -> Any:
        store = self._store(dname)
        return store.setdefault(parname, value)

    def loadPersistentVariable(
        self, parname: str, fallback: Any = None, dname: str | None = None
    ) -> Any:
        return self._store(dname).get(parname, fallback)

    def savePersistentVariable(self, parname: str, value: Any, dname: str | None = None) -> None:
        self._store(dname)[parname] = value
        if self._host is not None:
            self._host.save_persistent()

    def createPersistentVariable(
        self, name: str, fallback: Any = None, dname: str | None = None, docs: str | None = None
    ) -> None:
        value = self._store(dname).get(name, fallback)
        setattr(self.__class__, "_" + name, value)

        def setter(obj: Any, value: Any) -> None:
            setattr(obj.__class__, "_" + name, value)
            obj.savePersistentVariable(name, value, dname)

        setattr(self.__class__, name, property(lambda obj: getattr(obj, "_" + name), setter))
        if docs is not None:
            setattr(self, "__doc_" + name + "__", docs)

    # -- Telegram: the hub's bot sends, not the agent -------------------------------------
    def _no_telegram(self, *args: Any, **kwargs: Any) -> bool:
        self.warning(
            "telegram_send_* has no Telegram on the agent: raise an event and let a hub "
            "action call telegram.send_message_to_all"
        )
        return False

    telegram_send_message = _no_telegram
    telegram_send_photo = _no_telegram
    telegram_send_document = _no_telegram
    telegram_send_plot = _no_telegram


# Names RTOC hides from its plugin lists (SPEC of RTOC §2.5.3), plus this class's own.
HIDDEN_FUNCTIONS = frozenset(
    {
        "savePersistentVariable", "info", "error", "warning", "debug", "loadPersistentVariable",
        "loadGUI", "updateT", "stream", "plot", "event", "close", "cancel", "start",
        "setPerpetualTimer", "createPerpetualTimer", "initPerpetualTimer",
        "initPersistentVariable", "createPersistentVariable", "setDeviceName", "setSamplerate",
        "setInterval", "getDir", "telegram_send_message", "telegram_send_photo",
        "telegram_send_document", "telegram_send_plot", "updateInfo",
    }
)  # fmt: skip
HIDDEN_PARAMS = frozenset(
    {"run", "smallGUI", "widget", "lockPerpetialTimer", "logger", "rtoc", "samplerate"}
)


# -- loading plugin files ------------------------------------------------------------------
class _Inert:
    """Stands in for any PyQt5 object: accepts everything, does nothing, is falsy."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Inert()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return _Inert()

    def __bool__(self) -> bool:
        return False


class _InertModule(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        # Submodules and namespaces (QtWidgets, uic, Qt) are modules, the rest classes.
        if name.startswith("Qt") or name.islower():
            value: Any = _InertModule(f"{self.__name__}.{name}")
        else:
            value = type(name, (_Inert,), {})
        setattr(self, name, value)
        return value


class _QtStandIn(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves `PyQt5` and its submodules as inert modules (only when PyQt5 is missing)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname == "PyQt5" or fullname.startswith("PyQt5."):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec: Any) -> types.ModuleType:
        return _InertModule(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        module.__path__ = []


_install_lock = threading.Lock()


def _install_import_names() -> None:
    """`LoggerPlugin`, `RTOC.LoggerPlugin` (when RTOC is absent) and a PyQt5 stand-in."""
    this = sys.modules[__name__]
    with _install_lock:
        sys.modules.setdefault("LoggerPlugin", this)
        if "RTOC" not in sys.modules and importlib.util.find_spec("RTOC") is None:
            pkg = types.ModuleType("RTOC")
            pkg.__path__ = []
            pkg.LoggerPlugin = this  # type: ignore[attr-defined]
            sys.modules["RTOC"] = pkg
            sys.modules["RTOC.LoggerPlugin"] = this
        if importlib.util.find_spec("PyQt5") is None and not any(
            isinstance(f, _QtStandIn) for f in sys.meta_path
        ):
            sys.meta_path.append(_QtStandIn())


def _package(name: str, path: Sequence[str]) -> None:
    pkg = types.ModuleType(name)
    pkg.__path__ = list(path)
    pkg.LoggerPlugin = sys.modules[__name__]  # type: ignore[attr-defined]
    sys.modules[name] = pkg
    sys.modules[f"{name}.LoggerPlugin"] = sys.modules[__name__]


def load_plugin_class(path: Path, key: str) -> type:
    """Import the plugin file at `path` (unchanged) and return its class `Plugin`.

    The file is loaded as `_oc_rtoc_plugins.<key>.pkg.<name>`, three package levels deep
    like RTOC's own `RTOC.RTLogger.plugins.Generator`, so relative imports of LoggerPlugin
    (`from ...LoggerPlugin`, `from ..LoggerPlugin`) and of sibling modules (`from . import
    helper`, found in the plugin's folder) work.
    """
    _install_import_names()
    path = path.resolve()
    safe = re.sub(r"\W", "_", key) or "plugin"
    mid, inner = f"{ROOT}.{safe}", f"{ROOT}.{safe}.pkg"
    if ROOT not in sys.modules:
        _package(ROOT, [])
    _package(mid, [str(path.parent.parent)])
    _package(inner, [str(path.parent)])
    stem = re.sub(r"\W", "_", path.stem) or "plugin"
    name = f"{inner}.{stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    cls = getattr(module, "Plugin", None)
    if not isinstance(cls, type):
        raise ImportError(f"{path} defines no class Plugin (an RTOC plugin needs one)")
    return cls


def load_persistent(path: Path | None) -> dict[str, dict[str, Any]]:
    """RTOC's persistentVariables.json ({dname: {name: value}}), or {} without a file."""
    if path is None or not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: must be a JSON object of device → variables")
    return {str(k): dict(v) for k, v in data.items() if isinstance(v, dict)}


def save_persistent(path: Path, data: dict[str, dict[str, Any]]) -> None:
    """Write the variables atomically (a crash leaves the old file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=4, default=str), encoding="utf-8")
    os.replace(tmp, path)
