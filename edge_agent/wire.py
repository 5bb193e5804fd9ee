"""The MQTT wire format shared by agents and the hub: topics and the data batch.

docs/DESIGN.md fixes the shapes; this module is the one place that encodes and checks them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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
class EdgeEvent:
    """An event raised at the edge; it travels in a batch, so it is stored exactly once."""

    time: float
    device: str
    signal: str
    text: str
    priority: int = 0
    event_id: str = ""
    value: Any = None

    def to_json(self) -> dict[str, Any]:
        return {
            "t": self.time,
            "device": self.device,
            "signal": self.signal,
            "text": self.text,
            "priority": self.priority,
            "id": self.event_id,
            "value": self.value,
        }


@dataclass
class Batch:
    """One data message: an agent's samples (and edge events) with a seq that only grows."""

    agent: str
    seq: int
    signals: list[Series]
    clock_synced: bool = True
    events: list[EdgeEvent] = field(default_factory=list)
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


def _events(raw: Any) -> list[EdgeEvent]:
    if not isinstance(raw, list) or len(raw) > 1000:
        raise WireError("events must be a list of at most 1000 objects")
    return [decode_event(e, f"events[{i}]") for i, e in enumerate(raw)]


def decode_event(e: Any, where: str = "event") -> EdgeEvent:
    """Check one event object (finite time within 1900..3000, bounded text and id)."""
    if not isinstance(e, dict):
        raise WireError(f"{where} must be an object")
    (t,) = _numbers([e.get("t")], f"{where}.t")
    if not T_MIN <= t < T_MAX:
        raise WireError(f"{where}.t is outside the years 1900..3000")
    text, event_id = e.get("text"), e.get("id", "")
    if not isinstance(text, str) or len(text) > MAX_EVENT_TEXT:
        raise WireError(f"{where}.text must be a string of at most {MAX_EVENT_TEXT} characters")
    if not isinstance(event_id, str) or len(event_id) > MAX_EVENT_ID:
        raise WireError(f"{where}.id must be a string of at most {MAX_EVENT_ID} characters")
    priority = e.get("priority", 0)
    if priority not in (0, 1, 2) or isinstance(priority, bool):
        raise WireError(f"{where}.priority must be 0, 1 or 2")
    return EdgeEvent(
        time=t,
        device=_name(e.get("device"), f"{where}.device"),
        signal=_name(e.get("signal"), f"{where}.signal"),
        text=text,
        priority=priority,
        event_id=event_id,
        value=e.get("value"),
    )


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
