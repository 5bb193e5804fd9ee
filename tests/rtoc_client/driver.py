"""Runs under Python 3.8 with RTOC 3.0's own RTWebsocketClient (websocket-client 0.57).

Usage: python3.8 driver.py RTOC_DIR HOST PORT PASSWORD|- SSL(0|1)
Prints one JSON object: what each handler received, in order, per step.
"""

import json
import sys
import threading
import time

rtoc_dir, host, port, password, usessl = sys.argv[1:6]
sys.path.insert(0, rtoc_dir)
import RTWebsocketClient as rtwc  # noqa: E402  (RTOC's file, loaded alone)

password = None if password == "-" else password
got = {"order": []}
lock = threading.Lock()
cond = threading.Condition(lock)


def record(kind):
    def handler(*args):
        with cond:
            got.setdefault(kind, []).append(args[0] if args else None)
            got["order"].append(kind)
            cond.notify_all()

    return handler


def wait(pred, timeout=10.0):
    deadline = time.time() + timeout
    with cond:
        while not pred():
            left = deadline - time.time()
            if left <= 0:
                return False
            cond.wait(left)
    return True


client = rtwc.RTWebsocketClient(port=int(port), password=password, usessl=usessl == "1")
for name in [
    "authorize",
    "pluginList",
    "signalList",
    "plugin",
    "latest",
    "automation",
    "client",
    "events",
    "signal",
    "userAction",
    "logger",
    "event",
    "signals",
    "session",
    "unknown",
]:
    setattr(client, "handle_" + name, record(name))
client.handle_RTOCError = record("RTOCError")
client.connect(host)
result = {}
result["authorized"] = wait(lambda: got.get("authorize") == [True])

client.send(y=[21.5, 40.0], sname=["T", "H"], dname="RTOC", unit=["\u00b0C", "%"])
result["stream_pushes"] = wait(lambda: len(got.get("signal", [])) >= 2)

client.send(getSignalList=True)
result["signalList"] = wait(lambda: "signalList" in got)

client.send(getPluginList=True)
result["pluginList"] = wait(lambda: "pluginList" in got)

client.send(subscribe=["signal", "Gen.Square"])
result["subscribed_data"] = wait(
    lambda: any(s.get("dname") == "Gen" and s.get("x") for s in got.get("signal", [])), 15
)

client.send(plugin={"Gen": {"setFrequency()": [3.0], "get": "gen_freq"}})
result["plugin"] = wait(lambda: "plugin" in got, 15)

client.send(getSignal=["RTOC.T"])
result["signals"] = wait(lambda: "signals" in got)

client.send(getLatest=["RTOC.T", "RTOC.H"])
result["latest"] = wait(lambda: "latest" in got)

client.send(getSignal=["No.Such"])
result["error_reported"] = wait(lambda: "RTOCError" in got)

client.disconnect()
with cond:
    result["got"] = got
print(json.dumps(result))
