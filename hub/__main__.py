"""`python -m hub` runs the hub (same options as `opencontrol hub`)."""

import sys

from .cli import main

sys.exit(main(["hub", *sys.argv[1:]]))
