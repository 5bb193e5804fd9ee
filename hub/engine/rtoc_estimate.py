"""The rest of RTOC's script library: `resampleFourier`, `estimate`, `forwardEuler`,
`PT2_estimation` (RTOC's scriptLibrary.py), on numpy alone, size-checked.

- resampleFourier: scipy.signal.resample's Fourier method (what RTOC called), re-done
  with numpy's FFT; `n` defaults to the signal's length (RTOC: its record length).
- estimate: RTOC fitted statsmodels' AR(maxlag=6) by conditional least squares and walked
  it forward; the same model here with numpy's least squares (no statsmodels needed).
- forwardEuler: RTOC's explicit Euler integration of du/dt = f(u, t) from U_0.
- PT2_estimation: RTOC's version fitted the PT2 step response but failed before returning
  (its lsfit got n=None); here the fit (Levenberg-Marquardt) runs on the time since the
  first sample, and the n estimated points after the last sample are returned.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from hub.engine.guards import check_items
from hub.engine.limits import EvalError
from hub.engine.rtoc_lib import _xy, lib_resample

AR_LAGS = 6  # RTOC: AR(train).fit(maxlag=6)


def fourier_resample(y: np.ndarray, num: int) -> np.ndarray:
    """scipy.signal.resample(y, num) for real y: spectrum cut or zero-padded, scaled."""
    nx = len(y)
    spectrum = np.fft.rfft(y)
    out = np.zeros(num // 2 + 1, dtype=spectrum.dtype)
    n = min(num, nx)
    out[: n // 2 + 1] = spectrum[: n // 2 + 1]
    if n % 2 == 0:  # the Nyquist bin is split (upsampling) or joined (downsampling)
        if num < nx:
            out[n // 2] *= 2.0
        elif nx < num:
            out[n // 2] *= 0.5
    return np.fft.irfft(out, num) * (float(num) / float(nx))


def lib_resample_fourier(*args: Any, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(x as n equally spaced points, y resampled there by the Fourier method)."""
    x, y, rest = _xy(args, "resampleFourier")
    if rest:
        n = int(rest[0])
    n = len(x) if n is None else int(n)
    check_items(n, "resampleFourier")
    if len(x) == 0 or n <= 0:
        return np.empty(0), np.empty(0)
    return np.linspace(x[0], x[-1], n), fourier_resample(y, n)


def lib_estimate(*args: Any) -> tuple[np.ndarray, np.ndarray]:
    """The next n values of a signal by an autoregressive model of order 6 (RTOC's ARMA
    estimate): (x after the last sample at the signal's mean spacing, estimated y)."""
    x, y, rest = _xy(args, "estimate")
    if not rest:
        raise EvalError("estimate() needs n, the number of values to estimate")
    n = int(rest[0])
    check_items(n, "estimate")
    if len(y) < 2 * AR_LAGS + 2:
        raise EvalError(f"estimate() needs at least {2 * AR_LAGS + 2} points")
    x, y = lib_resample(x, y, len(x))  # equally spaced, as RTOC did
    dt = float(x[1] - x[0])
    if dt <= 0:
        raise EvalError("estimate(): x must grow")
    rows = len(y) - AR_LAGS
    design = np.ones((rows, AR_LAGS + 1))
    for lag in range(1, AR_LAGS + 1):
        design[:, lag] = y[AR_LAGS - lag : len(y) - lag]
    coef = np.linalg.lstsq(design, y[AR_LAGS:], rcond=None)[0]
    history = list(y[-AR_LAGS:])
    out = np.empty(n)
    for i in range(n):
        out[i] = coef[0] + sum(coef[lag] * history[-lag] for lag in range(1, AR_LAGS + 1))
        history.append(out[i])
    if not np.all(np.isfinite(out)):
        raise EvalError("estimate(): the model diverges for this signal")
    return x[-1] + dt * np.arange(1, n + 1), out


def lib_forward_euler(
    x: Any, y: Any, f: Any, U_0: float, samplerate: float, T: float
) -> tuple[np.ndarray, np.ndarray]:
    """RTOC's forwardEuler: u' = f(u, t), u(0) = U_0, step 1/samplerate up to T → (t, u).
    x and y are not used (RTOC's signature)."""
    if not callable(f):
        raise EvalError("forwardEuler(): f must be a function f(u, t)")
    rate, span = float(samplerate), float(T)
    if not (math.isfinite(rate) and rate > 0 and math.isfinite(span) and span >= 0):
        raise EvalError("forwardEuler(): samplerate must be > 0 and T >= 0")
    dt = 1 / rate
    steps = round(span / dt)
    check_items(steps + 1, "forwardEuler")
    u = np.zeros(steps + 1)
    t = np.linspace(0, steps * dt, steps + 1)
    u[0] = float(U_0)
    for i in range(steps):
        u[i + 1] = u[i] + dt * float(f(u[i], t[i]))
    if not np.all(np.isfinite(u)):
        raise EvalError("forwardEuler(): the solution leaves the finite numbers")
    return t, u


def pt2(t: np.ndarray, k: float, t1: float, t2: float, t0: float) -> np.ndarray:
    """RTOC's PT2 step response: k(1 - (t1 e^(-t/t1) - t2 e^(-t/t2)) / (t1 - t2)) + t0."""
    return k * (1 - (1 / (t1 - t2)) * (t1 * np.exp(-t / t1) - t2 * np.exp(-t / t2))) + t0


def fit_pt2(t: np.ndarray, y: np.ndarray, p0: list[float], steps: int = 200) -> np.ndarray:
    """Levenberg-Marquardt least squares of pt2 to (t, y) from p0 → (k, t1, t2, t0)."""
    p = np.asarray(p0, dtype=np.float64)

    def residual(q: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return pt2(t, *q) - y

    r = residual(p)
    cost, damping = float(r @ r), 1e-3
    for _ in range(steps):
        jac = np.empty((len(t), 4))
        for j in range(4):
            h = 1e-6 * max(1.0, abs(p[j]))
            q = p.copy()
            q[j] += h
            jac[:, j] = (residual(q) - r) / h
        if not np.all(np.isfinite(jac)):
            break
        a, g = jac.T @ jac, jac.T @ r
        step = np.linalg.solve(a + damping * np.diag(np.diag(a) + 1e-12), -g)
        trial = p + step
        rt = residual(trial)
        new = float(rt @ rt)
        if math.isfinite(new) and new < cost and trial[1] > 0 and trial[2] > 0:
            converged = cost - new <= 1e-15 * max(cost, 1e-300)
            p, r, cost, damping = trial, rt, new, max(damping / 3, 1e-12)
            if converged:
                break
        else:
            damping *= 4
            if damping > 1e12:
                break
    return p


def lib_pt2_estimation(
    *args: Any, k: float = 100, t1: float = 101, t2: float = 100, t0: float = 25
) -> tuple[np.ndarray, np.ndarray]:
    """The next n values of a signal with PT2 behaviour: (x, y) after the last sample."""
    x, y, rest = _xy(args, "PT2_estimation")
    if not rest:
        raise EvalError("PT2_estimation() needs n, the number of values to estimate")
    n = int(rest[0])
    start = [k, t1, t2, t0]
    for i, v in enumerate(rest[1:5]):
        start[i] = v
    check_items(n, "PT2_estimation")
    check_items(len(x) * 4 * 200, "PT2_estimation fit")
    if len(x) < 5:
        raise EvalError("PT2_estimation() needs at least 5 points")
    if float(start[1]) == float(start[2]):
        raise EvalError("PT2_estimation(): t1 and t2 must differ")
    params = fit_pt2(x - x[0], y, [float(v) for v in start])
    dt = float(x[-1] - x[0]) / (len(x) - 1)
    xs = x[-1] + dt * np.arange(1, n + 1)
    ys = pt2(xs - x[0], *params)
    if not np.all(np.isfinite(ys)):
        raise EvalError("PT2_estimation(): no PT2 fits this signal")
    return xs, ys
