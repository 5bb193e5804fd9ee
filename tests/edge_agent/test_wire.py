"""The data batch format: what decode_batch accepts and what it refuses (with a reason)."""

from __future__ import annotations

import json
import re

import pytest

from edge_agent.wire import Batch, Event, Series, Topics, WireError, decode_batch

GOOD = {"device": "D", "signal": "S", "unit": "V", "t": [1.0, 2.0], "y": [3, 4.5]}


def body(**signal: object) -> bytes:
    """A batch of two series: a good one, and the good one changed by `signal`."""
    sig = {**GOOD, "device": "D2", **signal}
    return json.dumps({"v": 1, "agent": "a", "seq": 1, "signals": [GOOD, sig]}).encode()


def test_round_trip_and_ints_become_floats() -> None:
    b = Batch("a", 5, [Series("D", "S", "V", [1.0, 2.0], [3.0, 4.5])], clock_synced=False)
    assert decode_batch(b.encode()) == b
    b.events = [Event(1.5, "D", "S", "hot", 2, "id1", {"v": [1, 2]})]
    assert decode_batch(b.encode()) == b
    got = decode_batch(body())
    assert got.signals[0].y == [3.0, 4.5] and all(type(v) is float for v in got.signals[0].y)


@pytest.mark.parametrize(
    ("signal", "reason"),
    [
        ({"y": [1.0, True]}, "non-number: True"),
        ({"y": [1.0, "2"]}, "non-number: '2'"),
        ({"y": [1.0, None]}, "non-number: None"),
        ({"y": [1.0]}, "t has 2 values but y has 1"),
        ({"t": [1.0, 1e13]}, "outside the years"),
        ({"t": "x"}, "must be a list"),
        ({"device": "a/b"}, "reserved by MQTT"),
        ({"signal": "Ruecklauf/Speichersolltemperatur"}, "signals.1..signal .* reserved by MQTT"),
        ({"signal": "a+b"}, "reserved by MQTT"),
        ({"signal": ""}, "must be a non-empty string"),
        ({"unit": 5}, "unit must be a string"),
    ],
)
def test_a_bad_series_is_refused_alone_with_the_reason(signal: dict, reason: str) -> None:
    got = decode_batch(body(**signal))
    # The good series of the same batch is kept, whole; the bad one is named with the reason.
    assert got.signals == [Series("D", "S", "V", [1.0, 2.0], [3.0, 4.5])]
    assert len(got.refused) == 1 and re.search(reason, got.refused[0]), got.refused
    assert got.refused[0].startswith("signals[1]")


def test_overflow_to_infinity_is_refused() -> None:
    payload = body().replace(b"4.5", b"1e400")
    with pytest.raises(WireError):  # orjson refuses the number (stdlib json: the series)
        decode_batch(payload)


def test_a_batch_of_only_bad_series_keeps_its_seq_and_events() -> None:
    ev = {"t": 1.0, "device": "D", "signal": "S", "text": "x"}
    bad = {**GOOD, "signal": "a/b"}
    raw = {"v": 1, "agent": "a", "seq": 7, "signals": [bad, bad], "events": [ev]}
    got = decode_batch(json.dumps(raw).encode())
    assert (got.seq, got.signals, len(got.refused), len(got.events)) == (7, [], 2, 1)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"seq": -1}, "seq must be"),
        ({"agent": "a/b"}, "agent .* reserved by MQTT"),
        ({"signals": {}}, "signals must be a list"),
        ({"v": 2}, "unsupported wire version"),
    ],
)
def test_a_bad_batch_header_refuses_the_whole_batch(change: dict, reason: str) -> None:
    raw = {"v": 1, "agent": "a", "seq": 1, "signals": [GOOD], **change}
    with pytest.raises(WireError, match=reason):
        decode_batch(json.dumps(raw).encode())


def test_topics_split() -> None:
    t = Topics("p")
    assert t.split("p/agent1/cmd/result") == ("agent1", "cmd/result")
    assert t.split("q/agent1/data") is None and t.split("p/agent1") is None


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"text": 1}, "text must be a string"),
        ({"priority": 5}, "priority must be 0, 1 or 2"),
        ({"t": "now"}, "non-number"),
        ({"device": ""}, "device must be a non-empty string"),
        ({"id": 7}, "id must be a string"),
    ],
)
def test_bad_edge_events_are_refused_with_the_reason(event: dict, reason: str) -> None:
    ev = {"t": 1.0, "device": "D", "signal": "S", "text": "x", "priority": 0, "id": ""}
    ev.update(event)
    body = {"v": 1, "agent": "a", "seq": 1, "signals": [], "events": [ev]}
    with pytest.raises(WireError, match=reason):
        decode_batch(json.dumps(body).encode())
