"""Runs under Python 3.8 with RTOC 3.0's own code: makes an RTOC user folder and records
what RTOC's event/action engine does with a sequence of values.

Usage: python3.8 make_userdir.py RTOC_DIR USERDIR VALUES_JSON
RTOC_DIR holds the RTOC package from the 3.0 wheel. The events and actions are created
with RTOC's EventActionFunctions (addGlobalEvent/addGlobalAction) and written by its
saveGlobalEvents/saveGlobalActions; config.json is RTOC's `defaultconfig` (read from
RTLogger.py) with automation switched on. Then every value is streamed into a store that
behaves like RT_data's for these calls (append, then performGlobalEvents; a new event, then
performGlobalActions), so conditions and action scripts run through RTOC's own code
generation and exec (ScriptFunctions). Prints one JSON object: the events RTOC raised and
the values its actions streamed.
"""

import ast
import json
import os
import sys
import time

rtoc_dir, userdir, values = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
sys.path.insert(0, rtoc_dir)
from RTOC.RTLogger.EventActionFunctions import EventActionFunctions  # noqa: E402
from RTOC.RTLogger.ScriptFunctions import ScriptFunctions  # noqa: E402


def rtoc_default_config():
    """RTOC 3.0's `defaultconfig` literal from RTLogger.py (importing it needs PyQt5)."""
    path = os.path.join(rtoc_dir, "RTOC", "RTLogger", "RTLogger.py")
    with open(path, encoding="utf-8") as fp:
        tree = ast.parse(fp.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "defaultconfig":
            return ast.literal_eval(node.value)
    raise SystemExit("defaultconfig not found in RTLogger.py")


class Store:
    """The calls of RT_data that RTOC's event/action/script code makes (SPEC §5.2 order)."""

    def __init__(self, logger):
        self.logger = logger
        self.devices = {}
        self._signals = {}
        self.events = []

    def signals(self):
        return self._signals

    def signalNames(self, units=(), devices=()):
        return [[self.devices[s[0]], s[1]] for s in self._signals.values()]

    def getSignalID(self, dname, sname, database=False):
        for sig_id, s in self._signals.items():
            if self.devices[s[0]] == dname and s[1] == sname:
                return sig_id
        return -1

    def addData(self, y=(), snames=(), dname="noDevice", unit=(), x=(), c=True):
        ys = [y] if isinstance(y, (int, float)) else list(y)
        names = [snames] if isinstance(snames, str) else list(snames)
        for i, v in enumerate(ys):
            sname = names[i] if i < len(names) else "Unnamed"
            dev_id = next((k for k, d in self.devices.items() if d == dname), None)
            if dev_id is None:
                dev_id = len(self.devices) + 1
                self.devices[dev_id] = dname
            sig_id = self.getSignalID(dname, sname)
            if sig_id == -1:
                sig_id = len(self._signals) + 1
                self._signals[sig_id] = [dev_id, sname, [], [], ""]
            self._signals[sig_id][2].append(time.time())
            self._signals[sig_id][3].append(float(v))
            if self.logger.config["global"]["globalEventsActivated"]:
                self.logger.performGlobalEvents(float(v), "", dname, sname, None)

    def addNewEvent(self, text="", sname="noName", dname="noDevice", x=None, priority=0,
                    id=None, value=None):  # fmt: skip
        self.events.append([id, text, dname, sname, priority, value])
        if self.logger.config["global"]["globalActionsActivated"]:
            self.logger.performGlobalActions(id, value)


class Remote:
    devices = {}


class Logger(EventActionFunctions, ScriptFunctions):
    """The RTLogger attributes RTOC's event/action and script mixins use."""

    def __init__(self, config):
        self.config = config
        self.database = Store(self)
        self.remote = Remote()
        self.pluginParameters = {}
        self.pluginFunctions = {}
        self.telegramBot = None
        self.executedCallback = None
        self.triggerExpressions = []
        self.triggerValues = []
        self.activeGlobalEvents = {}
        self.run = True


os.makedirs(userdir, exist_ok=True)
config = rtoc_default_config()
config["global"]["documentfolder"] = userdir
config["global"]["globalEventsActivated"] = True
config["global"]["globalActionsActivated"] = True
config["global"]["recordLength"] = 100000
config["telegram"]["inlineMenu"] = True
with open(os.path.join(userdir, "config.json"), "w", encoding="utf-8") as fp:
    json.dump(config, fp, sort_keys=False, indent=4, separators=(",", ": "))

logger = Logger(config)
logger.loadGlobalEvents()  # no file yet: RTOC's default myevent1
logger.loadGlobalActions()  # and action2
logger.addGlobalEvent(name="tooWarm", cond="Freezer.Temperature.latest > -10",
                      text="Freezer too warm", priority=2, retur="warm", id="freezerWarm",
                      trigger="rising", sname="Temperature", dname="Freezer")  # fmt: skip
logger.addGlobalEvent(name="cold", cond="Freezer.Temperature.latest <= -10",
                      text="Freezer cold again", priority=0, retur="ok", id="freezerOk",
                      trigger="rising", sname="Temperature", dname="Freezer")  # fmt: skip
logger.addGlobalEvent(name="shell",
                      cond="os.path.exists('/tmp') and Freezer.Temperature.latest > 100",
                      text="not for a sandbox", id="shell")  # fmt: skip
logger.addGlobalAction(name="alarmOn", listenID="freezerWarm",
                       script="stream(1.0, 'State', 'Alarm')")  # fmt: skip
logger.addGlobalAction(name="alarmOff", listenID=["freezerOk"],
                       script="stream(0.0, 'State', 'Alarm')")  # fmt: skip
logger.saveGlobalEvents()
logger.saveGlobalActions()

# telegram_clients.json and telegramActions.json as telegramBot.py keeps them (§9.1)
clients = {
    "1001": {"eventlevel": 0, "shortcuts": [["Warm?"], ["Freezer.limit"]], "permission": "admin",
             "first_name": "Ada", "last_name": "L", "menu": "menu", "preview": False},
    "1002": {"eventlevel": 2, "shortcuts": [[], []], "permission": "read",
             "first_name": "Bob", "last_name": "", "menu": "menu", "preview": False},
}  # fmt: skip
with open(os.path.join(userdir, "telegram_clients.json"), "w", encoding="utf-8") as fp:
    json.dump(clients, fp, sort_keys=False, indent=4, separators=(",", ": "))
actions = {"Alarm?": "return ('text', 'Alarm is ' + str(Alarm.State.latest))",
           "Shell": "import os\nreturn ('text', os.getcwd())",
           "Camera": "return ('picture', '/home/pi/cam.jpg')"}  # fmt: skip
with open(os.path.join(userdir, "telegramActions.json"), "w", encoding="utf-8") as fp:
    json.dump(actions, fp, sort_keys=False, indent=4, separators=(",", ": "))

for v in values:
    logger.database.addData([v], ["Temperature"], "Freezer", ["\u00b0C"])
logger.saveGlobalEvents()  # as RTOC does at stop: now with its runtime keys (errors, latest)
logger.saveGlobalActions()
alarm_id = logger.database.getSignalID("Alarm", "State")
print(json.dumps({
    "events": [[e[0], e[1], e[2], e[3], e[4], e[5]] for e in logger.database.events],
    "alarm": list(logger.database.signals()[alarm_id][3]) if alarm_id != -1 else [],
}))  # fmt: skip
