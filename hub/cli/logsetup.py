"""Logging for the hub's entry points (`opencontrol hub`, `opencontrol demo`)."""

from __future__ import annotations

import logging


def setup_logging(level: str) -> None:
    """Log lines with time, level and logger at `level`; never the Telegram token."""
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # The HTTP client logs request URLs, which contain the Telegram token, at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
