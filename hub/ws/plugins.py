"""RTOC's plugin view of the agents' devices: getPluginList and `plugin` requests (§2.5.3)."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

SIMPLE = (str, int, float, list, bool)


def _signature(args: list[dict[str, Any]]) -> str:
    parts = []
    for a in args:
        text = a.get("name", "?")
        if a.get("type"):
            text += f": {a['type']}"
        if not a.get("required", True):
            text += f"={a.get('default')!r}" if not a.get("type") else f" = {a.get('default')!r}"
        parts.append(text)
    return "(" + ", ".join(parts) + ")"


def function_row(fn: dict[str, Any]) -> list[Any]:
    """`[name, argNames, argCount, varnames, defaults, docstring, signature]`."""
    args = [a for a in fn.get("args", []) if isinstance(a, dict)]
    names = [str(a.get("name", "?")) for a in args]
    defaults = [a.get("default") for a in args if not a.get("required", True)]
    return [
        fn.get("name"),
        names,
        len(names),
        ["self", *names],
        defaults or None,
        fn.get("doc", ""),
        _signature(args),
    ]


def _value(v: Any) -> Any:
    return v if isinstance(v, SIMPLE) else "Unknown datatype"


def plugin_info(agent: str, online: bool, dev: dict[str, Any]) -> dict[str, Any]:
    """One device as an RTOC plugin entry (functions, parameters, status, autorun, info, log)."""
    running = bool(online and dev.get("running"))
    functions = [function_row(f) for f in dev.get("functions", []) if isinstance(f, dict)]
    params = [
        [p.get("name"), _value(p.get("value")), p.get("doc", "")]
        for p in dev.get("params", [])
        if isinstance(p, dict)
    ]
    if dev.get("samplerate") is not None:
        params.append(["samplerate", _value(dev.get("samplerate")), "samples per second (Hz)"])
    status: Any = running
    if online and dev.get("error"):
        status = str(dev["error"])
    elif not online:
        status = False
    return {
        "functions": functions,
        "parameters": params,
        "status": status,
        "autorun": bool(dev.get("running", False)),
        "info": f"{dev.get('driver', '?')} on agent {agent}" + ("" if online else " (offline)"),
        "log": None,
    }


class Plugins:
    """Builds the plugin list from `hub.agents` and routes plugin calls to agents' `cmd`."""

    def __init__(self, *, hub: Any, timeout: float = 5.0) -> None:
        self.hub = hub
        self.timeout = timeout

    def plugin_list(self) -> dict[str, dict[str, Any]]:
        """`{deviceName: info}` for every device every known agent announced."""
        out: dict[str, dict[str, Any]] = {}
        for agent_id, info in sorted(self.hub.agents.all().items()):
            for name, dev in sorted(info.devices.items()):
                out[name] = plugin_info(agent_id, info.online, dev)
        return out

    async def request(self, value: Any) -> dict[str, Any]:
        """`{"<device>": {"<call>": value, …}, …}` → same shape with each value's result."""
        if not isinstance(value, dict):
            from .state import RequestError

            raise RequestError('plugin takes {"<device>": {"<call>": value, …}}')
        out: dict[str, Any] = {}
        for device, calls in value.items():
            if not isinstance(calls, dict):
                out[device] = {"error": 'expected {"<call>": value, …}'}
                continue
            res: dict[str, Any] = {}
            for call, arg in calls.items():
                res[call] = await self._one(str(device), str(call), arg)
            out[device] = res
        return out

    async def _cmd(self, device: str, op: str, name: str | None = None, args: Any = None) -> dict:
        try:
            return await self.hub.send_command(device, op, name, args, timeout=self.timeout)
        except TimeoutError:
            return {"ok": False, "error": f"{device}: no answer from its agent in {self.timeout}s"}
        except Exception as exc:  # the agent's answer or routing failed: report, keep going
            log.warning("plugin %s %s: %s", device, op, exc)
            return {"ok": False, "error": f"{device}: {exc}"}

    async def _one(self, device: str, call: str, arg: Any) -> Any:
        if call == "start":
            r = await self._cmd(device, "start" if arg else "stop")
            if arg:
                return [bool(r.get("ok")), "" if r.get("ok") else str(r.get("error", ""))]
            return True if r.get("ok") else [False, str(r.get("error", ""))]
        if call == "autostart":
            return [False, "autostart is the agent's config ('enabled' of the device)"]
        if call.endswith("()"):
            args = arg if isinstance(arg, list | dict) else ([] if arg is None else [arg])
            r = await self._cmd(device, "call", call[:-2], args)
            return [True, r.get("result")] if r.get("ok") else [False, str(r.get("error", ""))]
        if call == "get":
            names = arg if isinstance(arg, list) else [arg]
            vals = []
            for n in names:
                r = await self._cmd(device, "get", str(n))
                vals.append(r.get("result") if r.get("ok") else False)
            return vals if isinstance(arg, list) else vals[0]
        if call == "samplerate":
            r = await self._cmd(device, "samplerate", None, arg)
        else:
            r = await self._cmd(device, "set", call, arg)
        return r.get("result", arg) if r.get("ok") else [False, str(r.get("error", ""))]
