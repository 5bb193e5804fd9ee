"""`python -m hub.cli ARGS` is `opencontrol ARGS`."""

import sys

from . import main

sys.exit(main())
