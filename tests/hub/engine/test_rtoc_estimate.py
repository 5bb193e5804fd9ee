"""RTOC's resampleFourier, estimate, forwardEuler and PT2_estimation: against RTOC 3.0's own
scriptLibrary.py where it runs (RTOC's package, run by a Python 3.8 with numpy and scipy),
against exact continuations where RTOC's needed packages it no longer gets (statsmodels'
AR) or failed (its PT2_estimation), and through the sandbox as scripts call them."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hub.engine.expr import Frame, compile_expression, evaluate
from hub.engine.limits import EvalError, SandboxError
from hub.engine.rtoc_estimate import (
    lib_estimate,
    lib_forward_euler,
    lib_pt2_estimation,
    lib_resample_fourier,
    pt2,
)
from tests.hub.engine.helpers import make_store

CACHE = Path(os.environ.get("OPENCONTROL_RTOC_CACHE", Path.home() / ".cache" / "opencontrol-rtoc"))
WHEEL = CACHE / "wheels" / "RTOC-3.0-py3-none-any.whl"
RUN_RTOC = """
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
import scriptLibrary as lib
cases = json.loads(sys.stdin.read())
out = {}
for name, (x, y, n) in cases["fourier"].items():
    rx, ry = lib.resampleFourier(None, np.array(x), np.array(y), n)
    out[name] = [list(map(float, rx)), list(map(float, ry))]
t, u = lib.forwardEuler([], [], np.add, *cases["euler"])
out["euler"] = [list(map(float, t)), list(map(float, u))]
print(json.dumps(out))
"""

X = np.linspace(100.0, 104.5, 10)
Y = np.array([3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0])
FOURIER = {  # up and down, even and odd lengths (the Nyquist bin is split or joined)
    "up_even": (X.tolist(), Y.tolist(), 24),
    "up_odd": (X[:9].tolist(), Y[:9].tolist(), 17),
    "down_even": (X.tolist(), Y.tolist(), 6),
    "down_odd": (X.tolist(), Y.tolist(), 5),
}
EULER = (1.5, 20, 2.0)  # U_0, samplerate, T


def _rtoc_python() -> str:
    """A Python of the RTOC cache with numpy and scipy (RTOC's scriptLibrary imports them)."""
    for env in ("venv38", "peer38"):
        py = CACHE / env / "bin" / "python"
        if py.exists() and subprocess.run([py, "-c", "import numpy, scipy"]).returncode == 0:
            return str(py)
    pytest.skip(
        f"no Python with numpy and scipy in {CACHE}: run tests/rtoc_client/setup_env.sh once"
    )


def test_same_results_as_rtocs_own_library(tmp_path: Path) -> None:
    if not WHEEL.exists():
        pytest.skip(f"RTOC 3.0 wheel missing ({WHEEL}): run tests/rtoc_client/setup_env.sh once")
    py = _rtoc_python()
    with zipfile.ZipFile(WHEEL) as whl:
        (tmp_path / "scriptLibrary.py").write_bytes(whl.read("RTOC/RTLogger/scriptLibrary.py"))
    out = subprocess.run(
        [py, "-c", RUN_RTOC, str(tmp_path)],
        input=json.dumps({"fourier": FOURIER, "euler": EULER}),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rtoc = json.loads(out.stdout.splitlines()[-1])
    for name, (x, y, n) in FOURIER.items():
        ours = lib_resample_fourier(np.array(x), np.array(y), n)
        assert len(ours[1]) == n
        np.testing.assert_allclose(ours[0], rtoc[name][0], rtol=0, atol=1e-12, err_msg=name)
        np.testing.assert_allclose(ours[1], rtoc[name][1], rtol=0, atol=1e-10, err_msg=name)
    t, u = lib_forward_euler([], [], np.add, *EULER)
    assert np.array_equal(t, rtoc["euler"][0]) and np.array_equal(u, rtoc["euler"][1])


def test_estimate_continues_an_autoregressive_signal() -> None:
    # A damped oscillation follows y[k] = 2 r cos(w) y[k-1] - r^2 y[k-2]: an AR model
    # of order 6 fitted to it continues it exactly.
    x = 1_764_028_800.0 + 0.5 * np.arange(60)
    k = np.arange(66)
    y = 10 + 0.95**k * np.cos(0.4 * k)
    xs, ys = lib_estimate(x, y[:60], 6)
    assert np.allclose(xs, 1_764_028_800.0 + 0.5 * np.arange(60, 66))
    np.testing.assert_allclose(ys, y[60:], rtol=0, atol=1e-8)
    with pytest.raises(EvalError, match="at least 14 points"):
        lib_estimate(x[:10], y[:10], 3)
    with pytest.raises(EvalError, match="needs n"):
        lib_estimate(x, y[:60])


def test_pt2_estimation_finds_the_step_response() -> None:
    # A heating curve (k=80 K, t1=120 s, t2=30 s, from 20 °C) at epoch times from the step
    # on: started from RTOC's default guess, the fit finds it and continues it.
    t = np.arange(0, 400, 5.0)
    x = 1_764_028_800.0 + t
    y = pt2(t, 80, 120, 30, 20)
    xs, ys = lib_pt2_estimation(x, y, 4, k=100, t1=101, t2=100, t0=25)
    assert np.allclose(xs, x[-1] + 5 * np.arange(1, 5))
    np.testing.assert_allclose(ys, pt2(t[-1] + 5 * np.arange(1, 5), 80, 120, 30, 20), rtol=1e-6)
    # The recorded part itself was not changed.
    assert np.array_equal(y, pt2(t, 80, 120, 30, 20))
    with pytest.raises(EvalError, match="t1 and t2 must differ"):
        lib_pt2_estimation(x, y, 4, t1=50, t2=50)
    with pytest.raises(EvalError, match="at least 5 points"):
        lib_pt2_estimation(x[:3], y[:3], 4)


def test_through_the_sandbox() -> None:
    store = make_store({"Heat.T": {"x": X.tolist(), "y": Y.tolist()}})
    frame = Frame(store=store, param=lambda *_: None, clock=0.0)

    def run(expr: str) -> Any:
        return evaluate(compile_expression(expr), frame)

    _, ry = run("rtoc.resampleFourier(Heat.T, 24)")
    np.testing.assert_allclose(ry, lib_resample_fourier(X, Y, 24)[1])
    # u' = max(u, t) from 1 in steps of 0.1 up to 1: u grows by 10 % a step.
    assert run("forwardEuler(0, 0, np.maximum, 1.0, 10, 1)[1][-1]") == pytest.approx(1.1**10)
    with pytest.raises(EvalError, match="at least 14 points"):
        run("estimate(Heat.T, 3)")
    with pytest.raises((EvalError, SandboxError), match="f must be a function"):
        run("forwardEuler(0, 0, 3, 1.0, 10, 1)")
    with pytest.raises((EvalError, SandboxError)):
        run("rtoc.resampleFourier(Heat.T, 10**9)")  # over the sandbox's size limit
