"""http_json driver against a loopback JSON server (OctoPrint-shaped answers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from edge_agent.drivers.base import DriverError, DriverUnavailable
from edge_agent.drivers.http_json import HttpJsonDriver, parse_path
from simulators.http_server import JsonServer
from tests.fixtures.sim import ANSWER_TIMEOUT

OCTOPRINT = {
    "temperature": {"tool0": {"actual": 214.8, "target": 215.0}, "bed": {"actual": 60.1}},
    "state": {"flags": {"printing": True}},
    "progress": {"completion": 42.5},
    "fans": [{"rpm": 1200}, {"rpm": 900}],
}
VALUES = [
    {"name": "Hotend", "path": "temperature.tool0.actual", "unit": "°C"},
    {"name": "Bed", "path": "$.temperature.bed.actual", "unit": "°C"},
    {"name": "Printing", "path": "state.flags.printing"},
    {"name": "Fan2", "path": "fans[1].rpm", "unit": "rpm"},
]


@pytest.fixture
def server() -> Iterator[JsonServer]:
    srv = JsonServer().start()
    srv.payload = OCTOPRINT
    yield srv
    srv.stop()


def make(server: JsonServer, events: Any = None, **params: Any) -> HttpJsonDriver:
    kw: dict[str, Any] = {} if events is None else {"events": events}
    drv = HttpJsonDriver(
        device="Printer",
        params={"url": server.url, "timeout": ANSWER_TIMEOUT, **params},
        extra={"values": VALUES},
        **kw,
    )
    drv.open()
    return drv


def test_values_by_path(server: JsonServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OC_TEST_OCTOPRINT_KEY", "s3cret")
    drv = make(server, api_key_env="OC_TEST_OCTOPRINT_KEY")
    assert drv.read() == {"Hotend": 214.8, "Bed": 60.1, "Printing": 1.0, "Fan2": 900.0}
    assert server.requests[-1]["X-Api-Key"] == "s3cret"
    assert "s3cret" not in repr(drv.params)  # the key never becomes a (published) parameter
    assert [s.unit for s in drv.signals()] == ["°C", "°C", "", "rpm"]


def test_missing_or_non_numeric_value_is_left_out_and_reported_once(server: JsonServer) -> None:
    events: list[str] = []
    drv = make(server, lambda text, **kw: events.append(text))
    server.payload = {**OCTOPRINT, "temperature": {"tool0": {"actual": None}, "bed": {}}}
    assert drv.read() == {"Printing": 1.0, "Fan2": 900.0}
    drv.read()
    assert len(events) == 2
    assert "Printer.Hotend" in events[0] and "None" in events[0]
    assert "Printer.Bed" in events[1] and "'actual'" in events[1]


@pytest.mark.parametrize(
    ("fault", "error", "match"),
    [
        ({"status": 500}, DriverError, "HTTP 500"),
        ({"raw": b"<html>oops"}, DriverError, "did not answer JSON"),
        ({"payload": {"other": 1}}, DriverError, "no configured value"),
        ({"delay": ANSWER_TIMEOUT + 0.5}, DriverUnavailable, "timed out"),
    ],
)
def test_faults_give_no_sample_then_recover(
    server: JsonServer, fault: dict[str, Any], error: type[Exception], match: str
) -> None:
    drv = make(server)
    for k, v in fault.items():
        setattr(server, k, v)
    with pytest.raises(error, match=match):
        drv.read()
    server.status, server.raw, server.delay, server.payload = 200, None, 0.0, OCTOPRINT
    assert drv.read()["Hotend"] == 214.8


def test_server_down_is_unavailable_then_recovers() -> None:
    srv = JsonServer().start()
    srv.payload = OCTOPRINT
    port = srv.port
    drv = make(srv)
    srv.stop()
    with pytest.raises(DriverUnavailable, match="refused"):
        drv.read()
    srv.start(port)
    try:
        assert drv.read()["Bed"] == 60.1
    finally:
        srv.stop()


def test_missing_api_key_variable_is_a_clear_error(server: JsonServer) -> None:
    drv = make(server, api_key_env="OC_TEST_UNSET_VARIABLE_X")
    with pytest.raises(DriverError, match="OC_TEST_UNSET_VARIABLE_X"):
        drv.read()
    assert server.requests == []  # nothing was sent without the key


def test_paths() -> None:
    assert parse_path("a.b[2].c") == ("a", "b", 2, "c")
    assert parse_path("$.x") == ("x",)
    for bad in ["", "a..b", "a[x]", ".a"]:
        with pytest.raises(ValueError):
            parse_path(bad)


@pytest.mark.parametrize(
    ("values", "params", "match"),
    [
        (None, {}, "non-empty list"),
        ([{"name": "a", "path": "a[x]"}], {}, "bad JSON path"),
        ([{"name": "a", "path": "a", "colour": 1}], {}, "unknown keys"),
        ([{"name": "a", "path": "a"}, {"name": "a", "path": "b"}], {}, "used twice"),
        ([{"name": "a", "path": "a"}], {"url": "ftp://x"}, "http://"),
    ],
)
def test_bad_config_is_refused(values: Any, params: dict[str, Any], match: str) -> None:
    with pytest.raises(DriverError, match=match):
        HttpJsonDriver(device="P", params=params, extra={"values": values})
