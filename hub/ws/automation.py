"""`automation` and `userAction` requests, handed to the hub's automation engine.

The engine (hub/engine/) owns events, actions and scripts and decides what a permission
may do; this module only passes the request and the client's permission through.
"""

from __future__ import annotations

import inspect
from typing import Any

from .session import ClientSession

NO_ENGINE = "the automation engine is not running on this hub"


class AutomationBridge:
    """Finds the engine's websocket handlers on `hub.engine`; answers errors without one."""

    def __init__(self, *, hub: Any) -> None:
        self.hub = hub

    def _engine_fn(self, name: str) -> Any:
        engine = getattr(self.hub, "engine", None)
        return getattr(engine, name, None) if engine is not None else None

    async def _call(self, fn: Any, s: ClientSession, value: Any) -> Any:
        result = fn(value, permission=s.permission, user=s.user or f"ws-client-{s.cid}")
        if inspect.isawaitable(result):
            result = await result
        return result

    async def automation(self, s: ClientSession, value: Any) -> Any:
        """RTOC §8.4: setEvent/setAction/test*/remove*/active/reset → `{events, actions, …}`."""
        fn = self._engine_fn("ws_automation")
        if fn is None:
            return {"error": NO_ENGINE}
        return await self._call(fn, s, value)

    async def user_action(self, s: ClientSession, value: Any) -> Any:
        """Run a named user action → `{name, success, type, data}`."""
        fn = self._engine_fn("ws_user_action")
        if fn is None:
            return {"name": value, "success": False, "type": "text", "data": NO_ENGINE}
        return await self._call(fn, s, value)

    def user_action_names(self) -> list[str]:
        """Names of the user actions the engine offers (empty without an engine)."""
        fn = self._engine_fn("user_action_names")
        return list(fn()) if fn is not None else []
