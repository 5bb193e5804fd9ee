#!/bin/sh
# One-time set-up (needs PyPI) of RTOC 3.0 itself as the speed peer for bench/ws.py: a Python 3.8
# venv with RTOC==3.0 and what its logger imports (PyQt5's QtCore, numpy, scipy). RTOC 3.0 as
# published does not import (RTLogger/RT_data.py line 1433 has an `elif` without its `if`); the
# set-up turns that line into an `if`. Prints the venv's path; reuses a venv that already works.
set -e
CACHE="${OPENCONTROL_RTOC_CACHE:-$HOME/.cache/opencontrol-rtoc}"
V="$CACHE/peer38"
PY38="${PY38:-$(ls -d "$HOME"/.pyenv/versions/3.8*/bin/python 2>/dev/null | tail -1)}"
check() { QT_QPA_PLATFORM=offscreen "$V/bin/python" -c "import RTOC.RTLogger.RTLogger" >/dev/null 2>&1; }
if [ -x "$V/bin/python" ] && check; then echo "$V"; exit 0; fi
[ -x "$PY38" ] || { echo "no Python 3.8 found (set PY38=/path/to/python3.8)" >&2; exit 1; }
rm -rf "$V"
"$PY38" -m venv "$V"
"$V/bin/pip" install -q "RTOC==3.0" PyQt5 scipy psutil numpy pycryptodomex websockets \
  "websocket-client==0.57.0" >&2
f="$("$V/bin/python" -c "import importlib.util as u; print(u.find_spec('RTOC').submodule_search_locations[0])")/RTLogger/RT_data.py"
sed -i '1433s/^\(\s*\)elif self.logger is not None:/\1if self.logger is not None:/' "$f"
check || { echo "RTOC 3.0 does not import in $V" >&2; exit 1; }
echo "$V"
