"""The MQTT wire format shared by agents and the hub: every topic's message as a type.

docs/DESIGN.md and docs/ARCHITECTURE.md fix the shapes; this module is the one place that
encodes and checks them. Each message is a frozen dataclass with `encode()` (bytes) and a
`decode(payload)` that raises WireError saying what is wrong: the data batch (`Batch`, with
its `Event`s), the agent's status with its device declarations (`AgentStatus`,
`DeviceDecl`, `ParamDecl.coerce`), a command and its result (`Command`, `CommandResult`),
the hub's ack (`Ack`) and its state (`HubState`). Golden cases: tests/cases/wire/.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

WIRE_VERSION = 1
DEFAULT_PREFIX = "opencontrol"
# A batch larger than this is refused by the hub (the agent never builds one this big).
MAX_BATCH_BYTES = 4 * 1024 * 1024
# Sample times the stores can hold: 1900-01-01 .. 3000-01-01 (a wrong clock is still data).
T_MIN, T_MAX = -2_208_988_800.0, 32_503_680_000.0
# seq is a 64-bit signed integer in both stores' ledgers.
SEQ_MAX = 2**63 - 1
MAX_EVENT_TEXT = 4000
MAX_EVENT_ID = 200
# Largest payloads of the small topics (a data batch has MAX_BATCH_BYTES).
MAX_STATUS_BYTES = 256 * 1024
MAX_EVENT_BYTES = 64 * 1024
MAX_COMMAND_BYTES = 1024 * 1024
MAX_RESULT_BYTES = 1024 * 1024
MAX_SMALL_BYTES = 4096  # ack, hub state
MAX_DEPTH = 32  # JSON nesting of status, event, command and result bodies
MAX_INT = 2**63 - 1  # integers the stores, the websocket and the browser can carry

# A JSON value as parsed: None, bool, int, float, str, list or dict of JSON values.
JsonScalar: TypeAlias = bool | int | float | str | None
JsonObject: TypeAlias = dict[str, Any]


class WireError(ValueError):
    """A payload that does not follow the wire format; the message says why."""


@dataclass(frozen=True)
class Topics:
    """Topic names under one prefix (docs/DESIGN.md, "MQTT topics")."""

    prefix: str = DEFAULT_PREFIX

    def data(self, agent: str) -> str:
        return f"{self.prefix}/{agent}/data"

    def event(self, agent: str) -> str:
        return f"{self.prefix}/{agent}/event"

    def status(self, agent: str) -> str:
        return f"{self.prefix}/{agent}/status"

    def cmd(self, agent: str) -> str:
        return f"{self.prefix}/{agent}/cmd"

    def cmd_result(self, agent: str) -> str:
        return f"{self.prefix}/{agent}/cmd/result"

    def ack(self, agent: str) -> str:
        return f"{self.prefix}/{agent}/ack"

    @property
    def hub_state(self) -> str:
        return f"{self.prefix}/hub/state"

    def split(self, topic: str) -> tuple[str, str] | None:
        """Return (agent, kind) for a topic under this prefix, kind like 'data' or 'cmd/result'."""
        head = self.prefix + "/"
        if not topic.startswith(head):
            return None
        agent, _, kind = topic[len(head) :].partition("/")
        if not agent or not kind:
            return None
        return agent, kind


@dataclass
class Series:
    """Samples of one signal in one batch: parallel lists of times (epoch s) and values."""

    device: str
    signal: str
    unit: str
    t: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.device}.{self.signal}"


@dataclass(frozen=True)
class Event:
    """An event: raised at the edge (it travels in a batch, so it is stored exactly once) or
    on the hub (engine, scripts, users); stored and pushed the same way. Time in epoch s,
    priority 0..2, an id unique per raiser (may be empty), any JSON value."""

    time: float
    device: str
    signal: str
    text: str
    priority: int = 0
    event_id: str = ""
    value: Any = None

    def to_json(self) -> JsonObject:
        return {
            "t": self.time,
            "device": self.device,
            "signal": self.signal,
            "text": self.text,
            "priority": self.priority,
            "id": self.event_id,
            "value": self.value,
        }

    def encode(self) -> bytes:
        """The payload of `<p>/<agent>/event` (edge events normally ride in a batch)."""
        return encode_json(self.to_json())

    @classmethod
    def decode(cls, payload: bytes | bytearray, *, default_time: float | None = None) -> Event:
        """A checked event payload; `default_time` stands in for a missing `t`."""
        body = parse_body(payload, what="event", max_bytes=MAX_EVENT_BYTES)
        if default_time is not None:
            body.setdefault("t", default_time)
        return decode_event(body)


@dataclass
class Batch:
    """One data message: an agent's samples (and edge events) with a seq that only grows."""

    agent: str
    seq: int
    signals: list[Series]
    clock_synced: bool = True
    events: list[Event] = field(default_factory=list)
    # Series the hub refused while decoding (each with the reason); the others are stored.
    refused: list[str] = field(default_factory=list)
    # The hub's digest of the payload this batch was decoded from (None for batches made
    # in code): the ledger tells a replay (same digest) from other content under that seq.
    digest: bytes | None = field(default=None, compare=False)

    @property
    def sample_count(self) -> int:
        return sum(map(len, (s.t for s in self.signals)))

    def encode(self) -> bytes:
        """Serialise to the JSON payload of `<p>/<agent>/data`."""
        body = {
            "v": WIRE_VERSION,
            "agent": self.agent,
            "seq": self.seq,
            "clock_synced": self.clock_synced,
            "signals": [
                {"device": s.device, "signal": s.signal, "unit": s.unit, "t": s.t, "y": s.y}
                for s in self.signals
            ],
        }
        if self.events:
            body["events"] = [e.to_json() for e in self.events]
        return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


def name_problem(value: Any) -> str | None:
    """Why the hub refuses `value` as an agent, device or signal name; None when it is fine.

    The agent applies the same rule when a driver declares its signals and at config load,
    so a name the hub would refuse never leaves the agent.
    """
    if not isinstance(value, str) or not value or len(value) > 200:
        return "must be a non-empty string of at most 200 characters"
    if "/" in value or "+" in value or "#" in value:
        return f"{value!r} contains a character reserved by MQTT (/ + #)"
    return None


def _name(value: Any, what: str) -> str:
    problem = name_problem(value)
    if problem is not None or not isinstance(value, str):
        raise WireError(f"{what} {problem}")
    return value


_NUMBER_TYPES = frozenset((int, float))
_INF = float("inf")


def _numbers(values: Any, what: str) -> list[float]:
    """Check a list of numbers (C-speed set/min/max, no per-value Python loop)."""
    if not isinstance(values, list):
        raise WireError(f"{what} must be a list of numbers")
    numbers: list[float] = values
    if not numbers:
        return numbers
    types = set(map(type, numbers))  # bool is its own type: refused like strings
    if not types <= _NUMBER_TYPES:
        bad = next(v for v in numbers if type(v) not in _NUMBER_TYPES)
        raise WireError(f"{what} holds a non-number: {bad!r}")
    if int in types:
        try:
            numbers = list(map(float, numbers))
        except OverflowError as exc:
            raise WireError(f"{what} holds a number too large for a float") from exc
    # NaN/Infinity literals are refused by the parser; overflow (1e400) becomes inf here.
    if max(numbers) == _INF or min(numbers) == -_INF:
        raise WireError(f"{what} holds a non-finite number")
    return numbers


def decode_batch(payload: bytes | bytearray, *, expected_agent: str | None = None) -> Batch:
    """Parse and check a data payload; raise WireError with the reason when it is bad."""
    if len(payload) > MAX_BATCH_BYTES:
        raise WireError(f"batch of {len(payload)} bytes exceeds the limit of {MAX_BATCH_BYTES}")
    try:
        body = _loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WireError(f"not JSON: {exc}") from exc
    except ValueError as exc:  # orjson.JSONDecodeError is a ValueError too
        raise WireError(f"not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise WireError(f"batch must be a JSON object, got {type(body).__name__}")
    if body.get("v") != WIRE_VERSION:
        raise WireError(f"unsupported wire version {body.get('v')!r} (expected {WIRE_VERSION})")
    agent = _name(body.get("agent"), "agent")
    if expected_agent is not None and agent != expected_agent:
        raise WireError(f"agent {agent!r} does not match the topic's agent {expected_agent!r}")
    seq = body.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= SEQ_MAX:
        raise WireError(f"seq must be an integer from 0 to 2^63-1, got {seq!r}")
    raw_signals = body.get("signals")
    if not isinstance(raw_signals, list):
        raise WireError("signals must be a list")
    series, refused = [], []
    for i, raw in enumerate(raw_signals):
        try:  # one bad series is refused alone: the good ones of the batch are still stored
            series.append(_series(raw, f"signals[{i}]"))
        except WireError as exc:
            refused.append(str(exc))
    synced = body.get("clock_synced", True)
    if not isinstance(synced, bool):
        raise WireError("clock_synced must be a boolean")
    events = _events(body.get("events", []))
    return Batch(
        agent=agent,
        seq=seq,
        signals=series,
        clock_synced=synced,
        events=events,
        refused=refused,
        digest=hashlib.blake2b(payload, digest_size=16).digest(),
    )


def _series(raw: Any, what: str) -> Series:
    if not isinstance(raw, dict):
        raise WireError(f"{what} must be an object")
    device = _name(raw.get("device"), f"{what}.device")
    signal = _name(raw.get("signal"), f"{what}.signal")
    unit = raw.get("unit", "")
    if not isinstance(unit, str):
        raise WireError(f"{what}.unit must be a string")
    t = _numbers(raw.get("t"), f"{what}.t")
    if t and not (min(t) >= T_MIN and max(t) < T_MAX):
        raise WireError(f"{what}.t holds a time outside the years 1900..3000")
    y = _numbers(raw.get("y"), f"{what}.y")
    if len(t) != len(y):
        raise WireError(f"{what}: t has {len(t)} values but y has {len(y)}")
    return Series(device, signal, unit, t, y)


def refused_reason(batch: Batch) -> str:
    """The reason kept with a batch whose bad series were refused (its others are stored)."""
    kept = len(batch.signals)
    return (
        f"batch {batch.agent}/{batch.seq}: refused {len(batch.refused)} series, "
        f"stored the other {kept}: " + "; ".join(batch.refused)
    )


def _events(raw: Any) -> list[Event]:
    if not isinstance(raw, list) or len(raw) > 1000:
        raise WireError("events must be a list of at most 1000 objects")
    return [decode_event(e, f"events[{i}]") for i, e in enumerate(raw)]


def decode_event(e: Any, where: str = "event") -> Event:
    """Check one event object (the rules of `check_event`) and return it as an `Event`."""
    if not isinstance(e, dict):
        raise WireError(f"{where} must be an object")
    (t,) = _numbers([e.get("t")], f"{where}.t")
    event = Event(
        time=t,
        device=e.get("device"),  # type: ignore[arg-type]  # checked below
        signal=e.get("signal"),  # type: ignore[arg-type]
        text=e.get("text"),  # type: ignore[arg-type]
        priority=e.get("priority", 0),
        event_id=e.get("id", ""),
        value=e.get("value"),
    )
    check_event(event, where)
    return event


def check_event(event: Event, where: str = "event") -> None:
    """The one check of an event, whichever way it came in (agent batch, websocket,
    script, Telegram): finite time within 1900..3000, text and id strings of bounded
    length, priority 0..2, device and signal names, no non-finite number in the value.
    Raises WireError (a ValueError) naming the first field that is wrong."""
    t = event.time
    if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
        raise WireError(f"{where}.t is not a finite number")
    if not T_MIN <= t < T_MAX:
        raise WireError(f"{where}.t is outside the years 1900..3000")
    if not isinstance(event.text, str) or len(event.text) > MAX_EVENT_TEXT:
        raise WireError(f"{where}.text must be a string of at most {MAX_EVENT_TEXT} characters")
    if not isinstance(event.event_id, str) or len(event.event_id) > MAX_EVENT_ID:
        raise WireError(f"{where}.id must be a string of at most {MAX_EVENT_ID} characters")
    if event.priority not in (0, 1, 2) or isinstance(event.priority, bool):
        raise WireError(f"{where}.priority must be 0, 1 or 2")
    _name(event.device, f"{where}.device")
    _name(event.signal, f"{where}.signal")
    if _non_finite(event.value):
        raise WireError(f"{where}.value holds a non-finite number")


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_non_finite(v) for v in value)
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} is not allowed")


def _stdlib_loads(payload: bytes | bytearray) -> Any:
    return json.loads(payload, parse_constant=_refuse_constant)


_loads: Callable[[bytes | bytearray], Any] = _stdlib_loads


try:  # orjson (the hub's extra) parses about 3x faster and refuses NaN/Infinity itself
    import orjson

    _loads = orjson.loads
except ImportError:  # the agent: stdlib json
    pass


def parse_json(payload: bytes | bytearray) -> Any:
    """JSON as the hub reads it: NaN/Infinity refused (ValueError); orjson when installed."""
    return _loads(payload)


def encode_json(obj: Any) -> bytes:
    """Compact JSON for the small control messages (status, cmd, ack, event)."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


# -- the small control messages: shared checks ---------------------------------------------


def parse_body(payload: bytes | bytearray, *, what: str, max_bytes: int) -> JsonObject:
    """A JSON object of at most max_bytes, MAX_DEPTH levels, finite numbers, 64-bit ints."""
    if len(payload) > max_bytes:
        raise WireError(f"{what} of {len(payload)} bytes exceeds the limit of {max_bytes}")
    try:
        body = parse_json(payload)
    except (ValueError, RecursionError) as exc:  # orjson.JSONDecodeError is a ValueError
        raise WireError(f"{what} is not JSON: {str(exc)[:200]}") from None
    if not isinstance(body, dict):
        raise WireError(f"{what} must be a JSON object, got {type(body).__name__}")
    check_json(body, what)
    return body


def check_json(value: Any, what: str) -> None:
    """Refuse nesting deeper than MAX_DEPTH, integers beyond 64 bits, non-finite floats."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            if isinstance(item, int) and not isinstance(item, bool) and abs(item) > MAX_INT:
                raise WireError(f"{what} holds an integer beyond 64 bits")
            if isinstance(item, float) and not math.isfinite(item):
                raise WireError(f"{what} holds a non-finite number")
            continue
        if depth >= MAX_DEPTH:
            raise WireError(f"{what} is nested deeper than {MAX_DEPTH} levels")
        stack.extend((c, depth + 1) for c in children)


def json_value(value: Any) -> JsonScalar:
    """A parameter value as JSON can carry it (non-finite floats and objects become text)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


def json_result(value: Any) -> Any:
    """A function's return value as JSON can carry it (containers kept, the rest as above)."""
    if isinstance(value, dict):
        return {str(k): json_result(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_result(v) for v in value]
    return json_value(value)


def _get(body: Mapping[str, Any], key: str, kinds: type | tuple[type, ...], what: str) -> Any:
    """body[key] if it is of `kinds` (bool is never a number); WireError naming it if not."""
    value = body.get(key)
    types = kinds if isinstance(kinds, tuple) else (kinds,)
    if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
        names = " or ".join(k.__name__ for k in types)
        raise WireError(f"{what}.{key} must be {names}, got {value!r}"[:300])
    return value


def _opt(
    body: Mapping[str, Any], key: str, kinds: type | tuple[type, ...], what: str, default: Any
) -> Any:
    """Like _get, with a default for a missing key (or null)."""
    if body.get(key) is None:
        return default
    return _get(body, key, kinds, what)


def _number(body: Mapping[str, Any], key: str, what: str) -> float | None:
    value = _opt(body, key, (int, float), what, None)
    return None if value is None else float(value)


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise WireError(f"{what} must be an object, got {type(value).__name__}")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise WireError(f"{what} must be a list, got {type(value).__name__}")
    return value


# -- device declarations (inside the status message) ---------------------------------------

PARAM_TYPES = ("float", "int", "bool", "str")
_TRUE, _FALSE = ("true", "1", "on"), ("false", "0", "off")


def coerce_param(
    name: str,
    type_name: str,
    value: Any,
    *,
    choices: Iterable[Any] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
) -> bool | int | float | str:
    """`value` as a parameter of `type_name` (float, int, bool, str) takes it, within its
    choices and bounds; WireError (a ValueError) saying why not. Text is accepted for
    numbers and booleans ("12.5", "on"), as users type it; one rule on both sides."""
    out: bool | int | float | str
    if type_name == "bool":
        if isinstance(value, bool):
            out = value
        elif isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            out = value.strip().lower() in _TRUE
        else:
            raise WireError(f"{name} takes true or false, got {value!r}")
    elif type_name in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise WireError(f"{name} takes a number, got {value!r}")
        try:
            number = float(value)
        except ValueError:
            raise WireError(f"{name} takes a number, got {value!r}") from None
        if not math.isfinite(number):
            raise WireError(f"{name} takes a finite number, got {value!r}")
        if type_name == "int":
            if isinstance(value, str):
                try:
                    out = int(value.strip())
                except ValueError:
                    raise WireError(f"{name} takes a whole number, got {value!r}") from None
            elif number != int(number):
                raise WireError(f"{name} takes a whole number, got {value!r}")
            else:
                out = int(value)
        else:
            out = number
        if minimum is not None and out < minimum:
            raise WireError(f"{name} must be at least {_show(minimum)}, got {_show(out)}")
        if maximum is not None and out > maximum:
            raise WireError(f"{name} must be at most {_show(maximum)}, got {_show(out)}")
    elif type_name == "str":
        if not isinstance(value, str):
            raise WireError(f"{name} takes text, got {value!r}")
        out = value
    else:
        raise WireError(f"{name}: unsupported parameter type {type_name!r}")
    if choices is not None:
        allowed = list(choices)
        if out not in allowed:
            raise WireError(f"{name} must be one of {allowed}, got {out!r}")
    return out


def _show(number: float) -> str:
    """A bound or value in a message: 30 for 30 and 30.0 alike, 2.5 as 2.5."""
    whole = float(number).is_integer() and abs(number) < 1e15
    return str(int(number)) if whole else repr(float(number))


@dataclass(frozen=True)
class SignalDecl:
    """A signal a device produces."""

    name: str
    unit: str = ""

    def to_json(self) -> JsonObject:
        return {"name": self.name, "unit": self.unit}

    @classmethod
    def from_json(cls, raw: Any, what: str) -> SignalDecl:
        body = _object(raw, what)
        return cls(_name(body.get("name"), f"{what}.name"), _opt(body, "unit", str, what, ""))


@dataclass(frozen=True)
class ParamDecl:
    """A parameter as the agent declares it, with its current value."""

    name: str
    type: str  # one of PARAM_TYPES
    value: JsonScalar = None
    default: JsonScalar = None
    doc: str = ""
    unit: str = ""
    writable: bool = True
    choices: tuple[JsonScalar, ...] | None = None
    min: float | None = None
    max: float | None = None

    def coerce(self, value: Any) -> bool | int | float | str:
        """`value` as this parameter takes it (see coerce_param); WireError if it cannot."""
        return coerce_param(
            self.name,
            self.type,
            value,
            choices=self.choices,
            minimum=self.min,
            maximum=self.max,
        )

    def to_json(self) -> JsonObject:
        return {
            "name": self.name,
            "type": self.type,
            "value": self.value,
            "default": self.default,
            "doc": self.doc,
            "unit": self.unit,
            "writable": self.writable,
            "choices": list(self.choices) if self.choices is not None else None,
            "min": self.min,
            "max": self.max,
        }

    @classmethod
    def from_json(cls, raw: Any, what: str) -> ParamDecl:
        body = _object(raw, what)
        choices = body.get("choices")
        if choices is not None:
            choices = tuple(_scalar(c, f"{what}.choices") for c in _list(choices, what))
        return cls(
            name=_get(body, "name", str, what),
            type=_get(body, "type", str, what),
            value=_scalar(body.get("value"), f"{what}.value"),
            default=_scalar(body.get("default"), f"{what}.default"),
            doc=_opt(body, "doc", str, what, ""),
            unit=_opt(body, "unit", str, what, ""),
            writable=_opt(body, "writable", bool, what, True),
            choices=choices,
            min=_number(body, "min", what),
            max=_number(body, "max", what),
        )


def _scalar(value: Any, what: str) -> JsonScalar:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise WireError(f"{what} must be a number, text, true/false or null, got {value!r}"[:300])


@dataclass(frozen=True)
class ArgDecl:
    """One argument of a callable function."""

    name: str
    type: str
    required: bool = True
    default: JsonScalar = None

    def to_json(self) -> JsonObject:
        return {
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "default": self.default,
        }

    @classmethod
    def from_json(cls, raw: Any, what: str) -> ArgDecl:
        body = _object(raw, what)
        return cls(
            name=_get(body, "name", str, what),
            type=_opt(body, "type", str, what, ""),
            required=_opt(body, "required", bool, what, True),
            default=_scalar(body.get("default"), f"{what}.default"),
        )


@dataclass(frozen=True)
class FunctionDecl:
    """A function a device offers (`call` command)."""

    name: str
    doc: str = ""
    args: tuple[ArgDecl, ...] = ()

    def to_json(self) -> JsonObject:
        return {"name": self.name, "doc": self.doc, "args": [a.to_json() for a in self.args]}

    @classmethod
    def from_json(cls, raw: Any, what: str) -> FunctionDecl:
        body = _object(raw, what)
        args = _list(body.get("args"), f"{what}.args")
        return cls(
            name=_get(body, "name", str, what),
            doc=_opt(body, "doc", str, what, ""),
            args=tuple(ArgDecl.from_json(a, f"{what}.args[{i}]") for i, a in enumerate(args)),
        )


@dataclass(frozen=True)
class DeviceDecl:
    """A device as its agent announces it: driver, state, signals, parameters, functions."""

    driver: str = ""
    running: bool = True
    available: bool = True
    error: str | None = None
    samplerate: float | None = None
    max_samplerate: float | None = None
    signals: tuple[SignalDecl, ...] = ()
    params: tuple[ParamDecl, ...] = ()
    functions: tuple[FunctionDecl, ...] = ()
    stats: Mapping[str, JsonScalar] = field(default_factory=dict)

    def param(self, name: str) -> ParamDecl | None:
        return next((p for p in self.params if p.name == name), None)

    def function(self, name: str) -> FunctionDecl | None:
        return next((f for f in self.functions if f.name == name), None)

    def to_json(self) -> JsonObject:
        return {
            "driver": self.driver,
            "running": self.running,
            "available": self.available,
            "error": self.error,
            "samplerate": self.samplerate,
            "max_samplerate": self.max_samplerate,
            "signals": [s.to_json() for s in self.signals],
            "params": [p.to_json() for p in self.params],
            "functions": [f.to_json() for f in self.functions],
            "stats": dict(self.stats),
        }

    @classmethod
    def from_json(cls, raw: Any, what: str = "device") -> DeviceDecl:
        """A declaration from its JSON form; missing parts take their defaults, present
        ones must have the right type (WireError names the first that does not)."""
        body = _object(raw, what)
        stats = _object(body.get("stats") or {}, f"{what}.stats")
        return cls(
            driver=_opt(body, "driver", str, what, ""),
            running=_opt(body, "running", bool, what, True),
            available=_opt(body, "available", bool, what, True),
            error=_opt(body, "error", str, what, None),
            samplerate=_number(body, "samplerate", what),
            max_samplerate=_number(body, "max_samplerate", what),
            signals=tuple(
                SignalDecl.from_json(s, f"{what}.signals[{i}]")
                for i, s in enumerate(_list(body.get("signals"), f"{what}.signals"))
            ),
            params=tuple(
                ParamDecl.from_json(p, f"{what}.params[{i}]")
                for i, p in enumerate(_list(body.get("params"), f"{what}.params"))
            ),
            functions=tuple(
                FunctionDecl.from_json(f, f"{what}.functions[{i}]")
                for i, f in enumerate(_list(body.get("functions"), f"{what}.functions"))
            ),
            stats={str(k): _scalar(v, f"{what}.stats.{k}") for k, v in stats.items()},
        )


@dataclass(frozen=True)
class SpoolState:
    """The agent's spool as its status reports it."""

    batches: int = 0
    bytes: int = 0
    samples: int = 0
    dropped_batches: int = 0
    dropped_samples: int = 0

    def to_json(self) -> JsonObject:
        return {
            "batches": self.batches,
            "bytes": self.bytes,
            "samples": self.samples,
            "dropped_batches": self.dropped_batches,
            "dropped_samples": self.dropped_samples,
        }

    @classmethod
    def from_json(cls, raw: Any, what: str = "spool") -> SpoolState:
        body = _object(raw, what)
        return cls(**{k: _opt(body, k, int, what, 0) for k in cls.__dataclass_fields__})


AgentState = Literal["online", "offline"]


@dataclass(frozen=True)
class AgentStatus:
    """`<p>/<agent>/status` (retained): online with its devices, or offline (the will)."""

    state: AgentState
    agent: str
    version: str = ""
    time: float | None = None
    clock_synced: bool = True
    spool: SpoolState | None = None
    devices: Mapping[str, DeviceDecl] = field(default_factory=dict)
    # Devices refused while decoding (each with the reason); the others are kept.
    refused: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def offline(cls, agent: str) -> AgentStatus:
        """The last will / clean-shutdown status."""
        return cls(state="offline", agent=agent)

    def to_json(self) -> JsonObject:
        if self.state == "offline" and not self.devices:
            return {"state": "offline", "agent": self.agent}
        return {
            "state": self.state,
            "agent": self.agent,
            "version": self.version,
            "time": self.time,
            "clock_synced": self.clock_synced,
            "spool": self.spool.to_json() if self.spool is not None else None,
            "devices": {name: d.to_json() for name, d in self.devices.items()},
        }

    def encode(self) -> bytes:
        return encode_json(self.to_json())

    @classmethod
    def decode(
        cls,
        payload: bytes | bytearray,
        *,
        expected_agent: str | None = None,
        max_devices: int | None = None,
    ) -> AgentStatus:
        """A checked status; a malformed device is refused alone (see `refused`)."""
        body = parse_body(payload, what="status", max_bytes=MAX_STATUS_BYTES)
        return cls.from_json(body, expected_agent=expected_agent, max_devices=max_devices)

    @classmethod
    def from_json(
        cls,
        body: Mapping[str, Any],
        *,
        expected_agent: str | None = None,
        max_devices: int | None = None,
    ) -> AgentStatus:
        state = body.get("state")
        if state not in ("online", "offline"):
            raise WireError(f"status.state must be 'online' or 'offline', got {state!r}"[:300])
        agent = body.get("agent", expected_agent)
        agent = _name(agent, "status.agent")
        if expected_agent is not None and agent != expected_agent:
            raise WireError(f"agent {agent!r} does not match the topic's agent {expected_agent!r}")
        raw_devices = _object(body.get("devices") or {}, "status.devices")
        if max_devices is not None and len(raw_devices) > max_devices:
            raise WireError(f"status announces more than {max_devices} devices")
        devices, refused = {}, []
        for name, raw in raw_devices.items():
            try:  # one bad declaration is refused alone: the agent's other devices stay
                devices[_name(name, "status.devices key")] = DeviceDecl.from_json(
                    raw, f"devices[{name!r}]"
                )
            except WireError as exc:
                refused.append(str(exc))
        spool = body.get("spool")
        return cls(
            state="online" if state == "online" else "offline",
            agent=agent,
            version=str(body.get("version") or ""),
            time=_number(body, "time", "status"),
            clock_synced=_opt(body, "clock_synced", bool, "status", True),
            spool=SpoolState.from_json(spool, "status.spool") if spool is not None else None,
            devices=devices,
            refused=tuple(refused),
        )


# -- commands ------------------------------------------------------------------------------

OPS = ("set", "get", "call", "start", "stop", "samplerate")
CommandId: TypeAlias = str | int | None


class CommandRefused(WireError):
    """A command payload that cannot be run; `cmd_id` is its id when that could be read."""

    def __init__(self, message: str, cmd_id: CommandId = None) -> None:
        super().__init__(message)
        self.cmd_id = cmd_id


@dataclass(frozen=True)
class Command:
    """`<p>/<agent>/cmd`: an operation on one device (checked when made, on either side)."""

    op: str
    device: str
    name: str | None = None
    args: Any = None
    id: CommandId = None

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise CommandRefused(f"unknown op {self.op!r}; one of {', '.join(OPS)}", self.id)
        if not isinstance(self.device, str):
            raise CommandRefused("device must be a string", self.id)
        if self.op in ("set", "get", "call") and not isinstance(self.name, str):
            raise CommandRefused(f"{self.device}: '{self.op}' needs a name", self.id)
        if self.op == "samplerate" and (
            isinstance(self.args, bool)
            or not isinstance(self.args, int | float)
            or not math.isfinite(self.args)
        ):
            raise CommandRefused(
                f"{self.device}: samplerate takes a number (Hz), got {self.args!r}", self.id
            )
        check_json(self.args, "command args")

    def to_json(self) -> JsonObject:
        body: JsonObject = {"id": self.id, "op": self.op, "device": self.device}
        if self.name is not None:
            body["name"] = self.name
        if self.args is not None:
            body["args"] = self.args
        return body

    def encode(self) -> bytes:
        return encode_json(self.to_json())

    @classmethod
    def decode(cls, payload: bytes | bytearray) -> Command:
        """A checked command; CommandRefused (with the id when readable) says why not."""
        try:
            body = parse_body(payload, what="command", max_bytes=MAX_COMMAND_BYTES)
        except WireError as exc:
            raise CommandRefused(str(exc)) from None
        cmd_id = body.get("id")
        if cmd_id is not None and (isinstance(cmd_id, bool) or not isinstance(cmd_id, str | int)):
            raise CommandRefused("id must be a string or an integer")
        op, device, name = body.get("op"), body.get("device"), body.get("name")
        if not isinstance(op, str) or op not in OPS:
            raise CommandRefused(f"unknown op {op!r}; one of {', '.join(OPS)}"[:300], cmd_id)
        if not isinstance(device, str):
            raise CommandRefused("device must be a string", cmd_id)
        if name is not None and not isinstance(name, str):
            raise CommandRefused(f"name must be a string, got {name!r}"[:300], cmd_id)
        return cls(
            op=op,
            device=device,
            name=name,
            args=body.get("args"),
            id=cmd_id,
        )


@dataclass(frozen=True)
class CommandResult:
    """`<p>/<agent>/cmd/result`: the command's id, and its result or the error."""

    id: CommandId
    ok: bool
    result: Any = None
    error: str = ""

    @classmethod
    def success(cls, cmd_id: CommandId, result: Any) -> CommandResult:
        return cls(id=cmd_id, ok=True, result=json_result(result))

    @classmethod
    def failure(cls, error: str, cmd_id: CommandId = None) -> CommandResult:
        return cls(id=cmd_id, ok=False, error=error)

    def to_json(self) -> JsonObject:
        if self.ok:
            return {"id": self.id, "ok": True, "result": self.result}
        return {"id": self.id, "ok": False, "error": self.error}

    def encode(self) -> bytes:
        return encode_json(self.to_json())

    @classmethod
    def decode(cls, payload: bytes | bytearray) -> CommandResult:
        body = parse_body(payload, what="cmd/result", max_bytes=MAX_RESULT_BYTES)
        cmd_id = body.get("id")
        if cmd_id is not None and (isinstance(cmd_id, bool) or not isinstance(cmd_id, str | int)):
            raise WireError("cmd/result.id must be a string, an integer or null")
        ok = _get(body, "ok", bool, "cmd/result")
        if ok:
            return cls(id=cmd_id, ok=True, result=body.get("result"))
        return cls(id=cmd_id, ok=False, error=_get(body, "error", str, "cmd/result"))


# -- acks and the hub's state --------------------------------------------------------------


@dataclass(frozen=True)
class Ack:
    """`<p>/<agent>/ack`: seqs of batches the hub's store committed."""

    seqs: tuple[int, ...]

    def encode(self) -> bytes:
        return encode_json({"seq": list(self.seqs)})

    @classmethod
    def decode(cls, payload: bytes | bytearray) -> Ack:
        """`{"seq": [..]}` (a bare integer or list is read too); WireError if not."""
        if len(payload) > MAX_BATCH_BYTES:
            raise WireError(f"ack of {len(payload)} bytes exceeds the limit")
        try:
            body = parse_json(payload)
        except (ValueError, RecursionError) as exc:
            raise WireError(f"ack is not JSON: {str(exc)[:200]}") from None
        seqs = body.get("seq") if isinstance(body, dict) else body
        if isinstance(seqs, int) and not isinstance(seqs, bool):
            seqs = [seqs]
        if not isinstance(seqs, list) or not all(
            isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= SEQ_MAX for s in seqs
        ):
            raise WireError(f"ack must be {{'seq': [integers]}}, got {bytes(payload[:100])!r}")
        return cls(tuple(seqs))


HubOnline = Literal["online", "offline"]


@dataclass(frozen=True)
class HubState:
    """`<p>/hub/state` (retained): online with its store up/down and writer queue, or the
    plain `offline` (the hub's last will)."""

    state: HubOnline
    store: Literal["up", "down"] | None = None
    queue: int = 0
    queue_max: int = 0

    @property
    def store_down(self) -> bool:
        """The hub is up but its store is not: agents send live only, resend nothing."""
        return self.state == "online" and self.store == "down"

    def encode(self) -> bytes:
        if self.state == "offline":
            return b"offline"
        body: JsonObject = {"state": "online"}
        if self.store is not None:
            body.update(store=self.store, queue=self.queue, queue_max=self.queue_max)
        return encode_json(body)

    @classmethod
    def decode(cls, payload: bytes | bytearray) -> HubState:
        """The plain `online`/`offline`, a JSON string of it, or the JSON object."""
        if len(payload) > MAX_SMALL_BYTES:
            raise WireError(f"hub state of {len(payload)} bytes exceeds {MAX_SMALL_BYTES}")
        text = bytes(payload).decode("utf-8", "replace").strip()
        body: Any = text
        if text.startswith(("{", '"')):
            try:
                body = parse_json(text.encode())
            except (ValueError, RecursionError):
                raise WireError(f"hub state is not JSON: {text[:50]!r}") from None
        if isinstance(body, str):
            body = {"state": body}
        if not isinstance(body, dict) or body.get("state") not in ("online", "offline"):
            raise WireError(f"unknown hub state {text[:50]!r}")
        if body["state"] == "offline":
            return cls("offline")
        store = body.get("store")
        if store not in (None, "up", "down"):
            raise WireError(f"hub state.store must be 'up' or 'down', got {store!r}"[:300])
        return cls(
            "online",
            store="up" if store == "up" else "down" if store == "down" else None,
            queue=_opt(body, "queue", int, "hub state", 0),
            queue_max=_opt(body, "queue_max", int, "hub state", 0),
        )
