"""RTOC's plugin view of the agents' devices: getPluginList and `plugin` requests (§2.5.3)."""

from __future__ import annotations

from typing import Any

from edge_agent.wire import ArgDecl, FunctionDecl
from hub.service import CommandResult, DeviceView, HubService

from .state import RequestError

SIMPLE = (str, int, float, list, bool)


def _signature(args: tuple[ArgDecl, ...]) -> str:
    parts = []
    for a in args:
        text = a.name
        if a.type:
            text += f": {a.type}"
        if not a.required:
            text += f" = {a.default!r}" if a.type else f"={a.default!r}"
        parts.append(text)
    return "(" + ", ".join(parts) + ")"


def function_row(fn: FunctionDecl) -> list[Any]:
    """`[name, argNames, argCount, varnames, defaults, docstring, signature]`."""
    names = [a.name for a in fn.args]
    defaults = [a.default for a in fn.args if not a.required]
    return [
        fn.name,
        names,
        len(names),
        ["self", *names],
        defaults or None,
        fn.doc,
        _signature(fn.args),
    ]


def _value(v: Any) -> Any:
    return v if isinstance(v, SIMPLE) else "Unknown datatype"


def plugin_info(device: DeviceView) -> dict[str, Any]:
    """One device as an RTOC plugin entry (functions, parameters, status, autorun, info, log)."""
    decl, online = device.decl, device.online
    params = [[p.name, _value(p.value), p.doc] for p in decl.params]
    if decl.samplerate is not None:
        params.append(["samplerate", _value(decl.samplerate), "samples per second (Hz)"])
    status: Any = bool(online and decl.running)
    if online and decl.error:
        status = str(decl.error)
    elif not online:
        status = False
    return {
        "functions": [function_row(f) for f in decl.functions],
        "parameters": params,
        "status": status,
        "autorun": decl.running,
        "info": f"{decl.driver or '?'} on agent {device.agent}" + ("" if online else " (offline)"),
        "log": None,
    }


class Plugins:
    """The plugin list from the service's device views; plugin calls as device commands."""

    def __init__(self, *, service: HubService, timeout: float = 5.0) -> None:
        self.service = service
        self.timeout = timeout

    def plugin_list(self) -> dict[str, dict[str, Any]]:
        """`{deviceName: info}` for every device every known agent announced."""
        return {name: plugin_info(d) for name, d in sorted(self.service.devices().items())}

    async def request(self, value: Any) -> dict[str, Any]:
        """`{"<device>": {"<call>": value, …}, …}` → same shape with each value's result."""
        if not isinstance(value, dict):
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

    async def _cmd(
        self, device: str, op: str, name: str | None = None, args: Any = None
    ) -> CommandResult:
        return await self.service.command(device, op, name, args, timeout=self.timeout)

    async def _one(self, device: str, call: str, arg: Any) -> Any:
        if call == "start":
            r = await self._cmd(device, "start" if arg else "stop")
            if arg:
                return [r.ok, r.error]
            return True if r.ok else [False, r.error]
        if call == "autostart":
            return [False, "autostart is the agent's config ('enabled' of the device)"]
        if call.endswith("()"):
            args = arg if isinstance(arg, list | dict) else ([] if arg is None else [arg])
            r = await self._cmd(device, "call", call[:-2], args)
            return [True, r.result] if r.ok else [False, r.error]
        if call == "get":
            names = arg if isinstance(arg, list) else [arg]
            vals = []
            for n in names:
                r = await self._cmd(device, "get", str(n))
                vals.append(r.result if r.ok else False)
            return vals if isinstance(arg, list) else vals[0]
        if call == "samplerate":
            r = await self._cmd(device, "samplerate", None, arg)
        else:
            r = await self._cmd(device, "set", call, arg)
        if not r.ok:
            return [False, r.error]
        return arg if r.result is None else r.result
