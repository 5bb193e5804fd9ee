"""RTOC 3.0's logger, headless, serving its websocket in open mode (no password).

    QT_QPA_PLATFORM=offscreen <peer venv>/bin/python bench/rtoc_peer/start.py PORT

Runs under the Python 3.8 venv made by bench/rtoc_peer/setup.sh (RTOC 3.0 needs it); prints
"READY <pid>" once the server is up and runs until it is terminated. Its configuration lives in
a fresh temporary folder: no backup, no global actions or events, a long record length so the
ingest figures are not spent trimming buffers.
"""

import json
import os
import sys
import tempfile
import time

folder = tempfile.mkdtemp(prefix="rtoc-peer-")
os.makedirs(os.path.join(folder, "devices"), exist_ok=True)
settings = {
    "global": {
        "language": "en",
        "recordLength": 2000000,
        "name": "RTOC-peer",
        "documentfolder": folder,
        "globalActionsActivated": False,
        "globalEventsActivated": False,
    },
    "websocket": {
        "active": True,
        "port": int(sys.argv[1]),
        "password": None,
        "ssl": False,
        "keyfile": "",
        "certfile": "",
        "knownHosts": {},
        "host_whitelist": [],
    },
    "backup": {"active": False},
}
with open(os.path.join(folder, "config.json"), "w") as f:
    json.dump(settings, f)

from PyQt5 import QtCore  # noqa: E402  (RTOC's logger needs a Qt application object)

app = QtCore.QCoreApplication(sys.argv)

from RTOC.RTLogger.RTLogger import RTLogger  # noqa: E402

logger = RTLogger(customConfigPath=folder)
print("READY", os.getpid(), flush=True)
while True:  # until terminated
    time.sleep(3600)
