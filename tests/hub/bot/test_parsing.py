"""Typed input, periods, operator actions and the users document: bad input gets a clear error."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_agent.config_schema import ConfigError
from edge_agent.drivers.generator import GeneratorDriver
from edge_agent.wire import FunctionDecl, ParamDecl
from hub.bot.actions import fill_placeholders, load_actions, parse_actions
from hub.bot.devices import parse_call_args, parse_param_value, parse_samplerate
from hub.bot.periods import parse_period
from hub.bot.plots import PlotEvent, Series, render_png
from hub.bot.ui import Session
from hub.bot.users import Permission, UserDirectory, import_rtoc_clients


def decl(name: str) -> ParamDecl:
    """A parameter declaration as the agent announces it in its birth message, decoded."""
    p = GeneratorDriver.spec.param(name)
    return ParamDecl.from_json(_param_json(p), name)


def _param_json(p: Any) -> dict[str, Any]:
    return {
        "name": p.name,
        "type": p.type.__name__,
        "value": p.default,
        "default": p.default,
        "unit": p.unit,
        "writable": p.writable,
        "choices": list(p.choices) if p.choices else None,
        "min": p.min,
        "max": p.max,
    }


def fdecl(name: str) -> FunctionDecl:
    f = GeneratorDriver.spec.function(name)
    raw = {
        "name": f.name,
        "args": [
            {"name": a.name, "type": a.type.__name__, "required": a.required, "default": a.default}
            for a in f.args
        ],
    }
    return FunctionDecl.from_json(raw, name)


def test_parameter_values_are_parsed_as_data_against_the_declaration() -> None:
    assert parse_param_value(decl("gen_freq"), " 2.5 ") == 2.5
    assert parse_param_value(decl("waveform"), "Sinus") == "Sinus"
    assert parse_param_value(decl("waveform"), '"Sinus"') == "Sinus"
    for text, why in [
        ("__import__('os')", "takes a number"),
        ("0", "at least 1e-06"),
        ("nan", "finite"),
        ("", "got nothing"),
        ("1e99", "at most"),
    ]:
        with pytest.raises(ValueError, match=why):
            parse_param_value(decl("gen_freq"), text)
    with pytest.raises(ValueError, match="must be one of"):
        parse_param_value(decl("waveform"), "os.system('x')")
    ro = dataclasses.replace(decl("gen_freq"), writable=False)
    with pytest.raises(ValueError, match="read-only"):
        parse_param_value(ro, "2")


def test_function_arguments_positional_named_and_json() -> None:
    d = fdecl("setFrequency")
    assert parse_call_args(d, "3") == {"freq": 3.0}
    assert parse_call_args(d, "3, true") == {"freq": 3.0, "inverse": True}
    assert parse_call_args(d, "inverse=on, freq=0.5") == {"freq": 0.5, "inverse": True}
    assert parse_call_args(d, '{"freq": 2}') == {"freq": 2.0}
    assert parse_call_args(d, "[4, false]") == {"freq": 4.0, "inverse": False}
    for text, why in [
        ("", "missing argument 'freq'"),
        ("1, 2, 3", "takes 2 arguments"),
        ("speed=3", "unknown arguments"),
        ("[1,", "not valid JSON"),
        ("x", "freq takes a number"),
        ("1, maybe", "true or false"),
    ]:
        with pytest.raises(ValueError, match=why):
            parse_call_args(d, text)
    assert parse_call_args(fdecl("changeType"), "") == {}


def test_samplerate_bounds() -> None:
    d = 100.0  # the driver's max_samplerate
    assert parse_samplerate(d, "2.5") == 2.5
    for text in ("0", "-1", "fast", "inf", "101"):
        with pytest.raises(ValueError, match="sample rate"):
            parse_samplerate(d, text)


def test_typed_periods() -> None:
    now = datetime(2025, 6, 20, 12, 0).astimezone().timestamp()
    a, b = parse_period("16.05.25 - 13.06.25 14:33", now=now)
    assert datetime.fromtimestamp(a).strftime("%Y-%m-%d %H:%M") == "2025-05-16 00:00"
    assert datetime.fromtimestamp(b).strftime("%Y-%m-%d %H:%M") == "2025-06-13 14:33"
    a, b = parse_period("01.06 - 02.06", now=now)  # no year: this year, not 2019
    assert datetime.fromtimestamp(a).year == 2025
    assert datetime.fromtimestamp(b).strftime("%d %H:%M") == "02 23:59"
    with pytest.raises(ValueError, match="START - END"):
        parse_period("yesterday", now=now)
    with pytest.raises(ValueError, match=r"cannot read '31\.02\.25'"):
        parse_period("31.02.25 - 01.03.25", now=now)
    with pytest.raises(ValueError, match="after its start"):
        parse_period("02.06.25 - 01.06.25", now=now)


def test_operator_actions_are_validated_and_placeholders_are_not_format_strings(
    tmp_path: Path,
) -> None:
    acts = parse_actions(
        {
            "action": [
                {"label": "Heat", "command": {"device": "H", "op": "set", "name": "t", "args": 21}},
                {"label": "_Wipe", "permission": "read", "reply": "x"},
                {"label": "Show", "permission": "custom", "reply": "T={Room.Temp} {0.__class__}"},
            ]
        },
        source="a.toml",
    )
    assert [a.permission for a in acts] == [Permission.WRITE, Permission.ADMIN, Permission.CUSTOM]
    assert not acts[0].allowed(Permission.READ) and acts[0].allowed(Permission.WRITE)
    assert not acts[2].allowed(Permission.BLOCKED)
    text = fill_placeholders(acts[2].reply, lambda k: 21.456 if k == "Room.Temp" else None)
    assert text == "T=21.46 n/a"  # looked up as a signal name, never evaluated
    bad = [
        ({"action": [{"label": "x", "script": "import os"}]}, "unknown key"),
        ({"action": [{"label": "x"}]}, "needs 'reply', 'command'"),
        ({"action": [{"label": "x", "permission": "blocked", "reply": "r"}]}, "cannot be blocked"),
        ({"action": [{"label": "x", "command": {"device": "H", "op": "exec"}}]}, "needs device"),
        ({"action": [{"label": "x", "reply": "a"}, {"label": "x", "reply": "b"}]}, "twice"),
        ({"actions": []}, "unknown key"),
    ]
    for raw, why in bad:
        with pytest.raises(ConfigError, match=why):
            parse_actions(raw, source="a.toml")
    (tmp_path / "telegram_actions.toml").write_text("[[action]\nlabel=")
    with pytest.raises(ConfigError, match=r"telegram_actions\.toml: cannot read"):
        load_actions(tmp_path)
    assert load_actions(tmp_path / "missing") == []


def test_users_document_round_trip_and_permission_rules() -> None:
    d = UserDirectory(default_permission=Permission.READ, default_eventlevel=2)
    admin, new = d.register(1, "Ann", "A")
    assert new and admin.permission == Permission.ADMIN
    bob, _ = d.register(2, "Bob")
    assert bob.permission == Permission.READ and bob.eventlevel == 2
    with pytest.raises(PermissionError, match="own permission"):
        d.set_permission(admin, 1, Permission.READ)
    with pytest.raises(PermissionError, match="only admins"):
        d.set_permission(bob, 1, Permission.READ)
    with pytest.raises(KeyError, match="no user 9"):
        d.set_permission(admin, 9, Permission.READ)
    with pytest.raises(ValueError, match=r"0\.\.3"):
        d.set_eventlevel(bob, 7)
    assert d.set_permission(admin, 2, Permission.CUSTOM).permission == Permission.CUSTOM
    assert admin.permission == Permission.ADMIN
    admin.preview = Permission.READ
    assert d.effective(admin) == Permission.READ
    d.only_admin = True
    assert d.effective(bob) == Permission.BLOCKED
    e = UserDirectory()
    e.load_doc(d.to_doc())
    assert e.to_doc() == d.to_doc()
    with pytest.raises(ValueError, match="object keyed by chat id"):
        import_rtoc_clients(e, [])


def test_session_callback_data_fits_and_expires() -> None:
    s = Session()
    assert s.encode("p", "Gen", "freq") == "p:Gen:freq"
    long = s.encode("p", "D" * 60, "x")
    assert len(long) <= 64 and s.decode(long) == ("p", ("D" * 60, "x"))
    odd = s.encode("d", "a:b")  # a name containing the separator goes by reference
    assert s.decode(odd) == ("d", ("a:b",))
    with pytest.raises(ValueError, match="expired"):
        s.decode("r:999")


def test_plot_draws_one_line_per_signal_and_one_per_event() -> None:
    x = np.arange(100.0) + 1.7e9
    series = [
        Series("A.b", "V", x, np.sin(x)),
        Series("A.c", "V", x, np.cos(x)),
        Series("A.d", "", x, x * 0),
    ]
    res = render_png(series, [PlotEvent(1.7e9 + 10, "a", 0), PlotEvent(1.7e9 + 50, "b", 2)])
    assert (res.signal_lines, res.event_lines, res.samples) == (3, 2, 300)
    assert res.png[:8] == b"\x89PNG\r\n\x1a\n"
