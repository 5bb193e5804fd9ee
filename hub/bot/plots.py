"""Plots and CSV exports for the bot, rendered off the event loop in a bounded worker pool.

matplotlib runs with the Agg backend in worker threads (a new Figure per plot, never
pyplot's global state), at most `max_workers` at once; events are vertical lines
coloured by priority. Each signal gets its own colour from `SIGNAL_COLORS`, drawn
without antialiasing, so a test can find every line in the decoded PNG.
"""

from __future__ import annotations

import asyncio
import csv
import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

SIGNAL_COLORS = [
    "#1f77b4",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#d62728",
]
EVENT_COLORS = {0: "#000000", 1: "#ffbf00", 2: "#ff0000"}


@dataclass(frozen=True)
class Series:
    """One signal's samples to plot."""

    key: str
    unit: str
    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class PlotEvent:
    """An event drawn as a vertical line."""

    time: float
    text: str
    priority: int = 0


@dataclass(frozen=True)
class PlotResult:
    """The PNG and what was drawn: one line per signal, one vertical line per event."""

    png: bytes
    signal_lines: int
    event_lines: int
    samples: int


def render_png(
    series: list[Series], events: list[PlotEvent], *, title: str = "", dpi: int = 100
) -> PlotResult:
    """Draw the signals (and events) into a PNG; blocking, call it from a worker thread."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import DateFormatter, date2num
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(8, 4.5), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    span = 0.0
    samples = 0
    local_tz = datetime.now().astimezone().tzinfo  # axis labels in the hub's local time
    for i, s in enumerate(series):
        if len(s.x) == 0:
            continue
        times = date2num([datetime.fromtimestamp(float(t), tz=UTC) for t in s.x])
        ax.plot(
            times,
            s.y,
            color=SIGNAL_COLORS[i % len(SIGNAL_COLORS)],
            antialiased=False,
            linewidth=1.5,
            label=f"{s.key} [{s.unit}]" if s.unit else s.key,
        )
        span = max(span, float(s.x[-1] - s.x[0]))
        samples += len(s.x)
    for ev in events:
        when = float(date2num(datetime.fromtimestamp(ev.time, tz=UTC)))
        ax.axvline(
            when,
            color=EVENT_COLORS.get(ev.priority, "#000000"),
            antialiased=False,
            linewidth=1.0,
            gid="event",
        )
        ax.text(
            when,
            1.0,
            ev.text[:40],
            rotation=90,
            fontsize=7,
            va="top",
            transform=ax.get_xaxis_transform(),
        )
    ax.xaxis.set_major_formatter(
        DateFormatter("%d.%m %H:%M:%S" if span <= 300 else "%d.%m %H:%M", tz=local_tz)
    )
    units = sorted({s.unit for s in series if s.unit})
    ax.set_ylabel(", ".join(units))
    ax.set_title(title or ", ".join(s.key for s in series), fontsize=9)
    ax.grid(True, alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=7, loc="upper left")
    fig.autofmt_xdate()
    lines = [ln for ln in ax.get_lines() if isinstance(ln, Line2D)]
    event_lines = sum(1 for ln in lines if ln.get_gid() == "event")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return PlotResult(
        png=buf.getvalue(),
        signal_lines=len(lines) - event_lines,
        event_lines=event_lines,
        samples=samples,
    )


def render_csv(series: list[Series]) -> bytes:
    """All samples as CSV rows: signal, unit, ISO time (UTC), epoch seconds, value."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["signal", "unit", "time", "epoch", "value"])
    for s in series:
        for t, v in zip(s.x, s.y, strict=True):
            iso = datetime.fromtimestamp(float(t), tz=UTC).isoformat()
            w.writerow([s.key, s.unit, iso, f"{float(t):.3f}", repr(float(v))])
    return out.getvalue().encode()


class Renderer:
    """A bounded pool of plot workers; `await plot(...)` never blocks the event loop."""

    def __init__(self, *, max_workers: int = 1, max_waiting: int = 4) -> None:
        self.max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None
        self._slots = asyncio.Semaphore(max_workers + max_waiting)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self.max_workers, thread_name_prefix="telegram-plot"
            )
        return self._pool

    async def plot(self, series: list[Series], events: list[PlotEvent], **kw: Any) -> PlotResult:
        """Render in a worker; raises BusyError when too many plots are already waiting."""
        if self._slots.locked():
            raise BusyError("too many plots are being drawn; try again in a moment")
        async with self._slots:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(
                self._executor(), lambda: render_png(series, events, **kw)
            )

    async def csv(self, series: list[Series]) -> bytes:
        """CSV export in a worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor(), render_csv, series)

    def close(self) -> None:
        """Stop the workers (waits for a running plot)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class BusyError(RuntimeError):
    """Too many plots queued."""
