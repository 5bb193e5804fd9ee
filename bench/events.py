"""The issue's target: 100 conditions over 1,000 signals at 100,000 samples/s on one core.

    .venv/bin/python bench/events.py

Runs bench/engine.py with those figures (10 s of data), once with conditions that are
evaluated over whole batches and once with a quarter evaluated sample by sample.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import engine


def main() -> int:
    """Print the figures for both condition mixes."""
    common = ["--conditions", "100", "--signals", "1000", "--rate", "100000"]
    common += ["--samples", "1000000", "--record-length", "500"]
    for extra in ([], ["--per-sample", "0.25"]):
        engine.main(common + extra)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
