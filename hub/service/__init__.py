"""The hub's use cases, typed, between its core (hub/app.py) and its adapters.

The websocket server (hub/ws/), the Telegram bot (hub/bot/) and bootstrap get one
`HubService`; adapters translate their protocol into its calls and nothing else.
"""

from .automation import AutomationService, NoEngine, ScriptOutcome
from .service import HubService
from .views import CommandResult, DeviceView, EventRange, QueryError, SignalHistory

__all__ = [
    "AutomationService",
    "CommandResult",
    "DeviceView",
    "EventRange",
    "HubService",
    "NoEngine",
    "QueryError",
    "ScriptOutcome",
    "SignalHistory",
]
