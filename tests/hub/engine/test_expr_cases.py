"""Golden expression cases (tests/cases/expr/values.json) through the sandboxed evaluator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hub.engine.expr import Frame, compile_expression, evaluate
from hub.engine.limits import EvalError, SandboxError
from tests.hub.engine.helpers import Agents, load_cases, make_store

DATA = load_cases("expr/values.json")


def _plain(v):
    if isinstance(v, (tuple, list, np.ndarray)):
        return [_plain(i) for i in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


@pytest.mark.parametrize("case", DATA["cases"], ids=[c["expr"] for c in DATA["cases"]])
def test_expression_case(case):
    store = make_store(DATA["signals"])
    agents = Agents(DATA["params"])
    frame = Frame(store=store, param=agents.param, clock=DATA["clock"])
    if "error" in case:
        with pytest.raises((EvalError, SandboxError)) as info:
            evaluate(compile_expression(case["expr"]), frame)
        assert case["error"] in str(info.value)
    else:
        got = _plain(evaluate(compile_expression(case["expr"]), frame))
        want = math.inf if case["expected"] == "inf" else case["expected"]
        if isinstance(want, float):
            assert got == pytest.approx(want)
        else:
            assert got == want
    # Whatever the case did, the store is untouched and a plain condition still works.
    assert len(store.get("Heat.T").buffer) == 3
    assert evaluate(compile_expression("Heat.T.latest > 60"), frame) is True


def test_dependencies_are_read_from_the_syntax_tree_not_substrings():
    expr = compile_expression("Dev.Sig2.latest > 1 and mean(Dev.Sig) < np.max(Other.A.y)")
    assert {"Dev.Sig2", "Dev.Sig", "Other.A"} <= set(expr.deps)
    assert "Dev.Sig2" in expr.deps and "np.max" not in expr.deps


def test_batch_closure_only_for_elementwise_conditions():
    assert compile_expression("abs(Dev.S.latest) > 2 or Dev.S.latest < -5").vector("Dev.S")
    assert compile_expression("Dev.S.latest > mean(Other.T)").vector("Dev.S")
    assert compile_expression("Dev.S.latest > mean(Dev.S)").vector("Dev.S") is None
    assert compile_expression("len(Dev.S.y) > 2").vector("Dev.S") is None
    assert compile_expression("(Dev.S.latest or 1) + 1 > 2").vector("Dev.S") is None
