"""Golden RTOC request/response cases (tests/cases/rtoc_ws), in clear and password mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hub.app import Hub
from hub.db.base import EventRecord
from hub.ws.crypto import password_hash

CASES = Path(__file__).resolve().parents[2] / "cases" / "rtoc_ws"
PASSWORD = "geheim"


def _cases() -> list[Any]:
    out = []
    for path in sorted(CASES.glob("*.json")):
        case = json.loads(path.read_text())
        for mode in case.get("modes", ["clear", "password"]):
            out.append(pytest.param(path.stem, mode, case, id=f"{path.stem}-{mode}"))
    return out


def _subst(obj: Any, auth: Any) -> Any:
    if obj == "<auth>":
        return auth
    if isinstance(obj, dict):
        return {k: _subst(v, auth) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_subst(v, auth) for v in obj]
    return obj


def match(exp: Any, got: Any, hub: Hub, path: str = "$") -> None:
    """Assert `got` equals `exp` with placeholders; the message names the first difference."""
    if exp == "<any>":
        return
    if exp == "<number>":
        assert isinstance(got, int | float) and not isinstance(got, bool), f"{path}: {got!r}"
        return
    if isinstance(exp, str) and exp.startswith("<id:"):
        want = hub.signals.get(exp[4:-1]).id
        assert got == want, f"{path}: id {got!r} != {want!r} ({exp})"
        return
    if isinstance(exp, dict):
        assert isinstance(got, dict), f"{path}: expected object, got {got!r}"
        assert list(exp) == list(got) or set(exp) == set(got), (
            f"{path}: keys {sorted(got)} != {sorted(exp)}"
        )
        for k in exp:
            match(exp[k], got[k], hub, f"{path}.{k}")
        return
    if isinstance(exp, list):
        assert isinstance(got, list) and len(got) == len(exp), f"{path}: {got!r} != {exp!r}"
        for i, (e, g) in enumerate(zip(exp, got, strict=True)):
            match(e, g, hub, f"{path}[{i}]")
        return
    assert type(got) is type(exp) and got == exp, f"{path}: {got!r} != {exp!r}"


@pytest.mark.parametrize(("name", "mode", "case"), _cases())
async def test_golden(name: str, mode: str, case: dict, hub: Hub, ws_factory, raw) -> None:
    pw = PASSWORD if mode == "password" else None
    server = await ws_factory(password=pw, push_interval=0.0)
    setup = case.get("setup", {})
    for dev, sig, unit, xs, ys in setup.get("signals", []):
        if xs:
            hub.signals.append(dev, sig, np.asarray(xs, float), np.asarray(ys, float), unit)
        else:
            hub.signals.ensure(dev, sig, unit)
    for text, sname, dname, x, prio, eid, value in setup.get("events", []):
        hub.add_event(EventRecord(x, dname, sname, text, prio, eid, value))
    auth = password_hash(PASSWORD) if pw else True
    r = await raw(server.url, password=pw, authorize=auth if case.get("authorize", True) else None)
    for i, step in enumerate(case["steps"]):
        await r.send(_subst(step["send"], auth))
        for j, exp in enumerate(step["expect"]):
            got = await r.recv()
            match(exp, got, hub, f"step {i} frame {j}")
        assert await r.silent(0.05), f"step {i}: more frames than expected"
