#!/bin/sh
# One-time set-up (needs PyPI): RTOC 3.0's client runs on Python 3.8 with websocket-client
# 0.57.0 (0.58 broke its callbacks); numpy and scipy run RTOC's scriptLibrary.py for
# tests/hub/engine/test_rtoc_estimate.py. The tests find this cache and skip when it is missing.
set -e
CACHE="${OPENCONTROL_RTOC_CACHE:-$HOME/.cache/opencontrol-rtoc}"
PY38="${PY38:-$(ls -d "$HOME"/.pyenv/versions/3.8*/bin/python 2>/dev/null | tail -1)}"
[ -x "$PY38" ] || { echo "no Python 3.8 found (set PY38=/path/to/python3.8)"; exit 1; }
mkdir -p "$CACHE"
"$PY38" -m venv "$CACHE/venv38"
"$CACHE/venv38/bin/pip" install -q "websocket-client==0.57.0" pycryptodomex psutil numpy scipy
"$CACHE/venv38/bin/pip" download -q --no-deps RTOC==3.0 -d "$CACHE/wheels"
# RTOC 1.8, the last release that shipped the System plugin (tests/e2e/test_rtoc_plugins.py)
"$CACHE/venv38/bin/pip" download -q --no-deps RTOC==1.8 -d "$CACHE/wheels"
echo "ready: $CACHE"
