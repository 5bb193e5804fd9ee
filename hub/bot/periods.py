"""Plot periods: presets relative to now, and typed ranges like `16.05.19 - 13.06.19 14:33`."""

from __future__ import annotations

from datetime import datetime, timedelta

PRESETS: list[tuple[str, float | None]] = [
    ("Last minute", 60.0),
    ("Last 10 minutes", 600.0),
    ("Last hour", 3600.0),
    ("Last 6 hours", 6 * 3600.0),
    ("Last 24 hours", 86400.0),
    ("Last week", 7 * 86400.0),
    ("Last month", 30 * 86400.0),
    ("All", None),
]

_WITH_YEAR = [
    "%d.%m.%y %H:%M:%S",
    "%d.%m.%y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
]
_DATE_ONLY = ["%d.%m.%y", "%d.%m.%Y", "%Y-%m-%d"]
_NO_YEAR = ["%d.%m %H:%M:%S", "%d.%m %H:%M"]
_NO_YEAR_DATE = ["%d.%m", "%d.%m."]


def _parse_one(text: str, *, end: bool, now: datetime) -> datetime:
    s = text.strip()
    for fmt in _WITH_YEAR:
        try:
            return datetime.strptime(s, fmt).replace(tzinfo=now.tzinfo)
        except ValueError:
            pass
    for fmt in _DATE_ONLY:
        try:
            d = datetime.strptime(s, fmt).replace(tzinfo=now.tzinfo)
            return d + timedelta(days=1, microseconds=-1) if end else d
        except ValueError:
            pass
    # A missing year means this year (RTOC assumed 2019).
    for fmt in _NO_YEAR:
        try:
            return datetime.strptime(f"{now.year} {s}", f"%Y {fmt}").replace(tzinfo=now.tzinfo)
        except ValueError:
            pass
    for fmt in _NO_YEAR_DATE:
        try:
            d = datetime.strptime(f"{now.year} {s}", f"%Y {fmt}").replace(tzinfo=now.tzinfo)
            return d + timedelta(days=1, microseconds=-1) if end else d
        except ValueError:
            pass
    raise ValueError(
        f"cannot read {s!r} as a date; use e.g. 16.05.25 14:33, 2025-05-16 or 16.05 14:33"
    )


def parse_period(text: str, *, now: float) -> tuple[float, float]:
    """(start, end) epoch seconds from `A - B` (local time); ValueError says what is wrong."""
    now_dt = datetime.fromtimestamp(now).astimezone()
    parts = [p for p in text.replace("–", "-").split(" - ")]
    if len(parts) != 2:
        raise ValueError("send a period as START - END, e.g. 16.05.25 - 13.06.25 14:33")
    start = _parse_one(parts[0], end=False, now=now_dt).timestamp()
    stop = _parse_one(parts[1], end=True, now=now_dt).timestamp()
    if stop <= start:
        raise ValueError("the end of the period must come after its start")
    return start, stop


def preset_range(seconds: float | None, *, now: float) -> tuple[float | None, float | None]:
    """(start, end) for a preset: the last `seconds` up to now, or everything."""
    if seconds is None:
        return None, None
    return now - seconds, now
