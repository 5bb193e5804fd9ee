"""`HubProcess`: the core (`Hub`) plus the parts hub/bootstrap.py starts around it.

The core knows none of its adapters; this subclass declares, typed, every part a running
hub process has, so bootstrap, the integrations and the tests reach them without probing.
A part the config turns off stays None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .app import Hub
from .db.base import Store

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from .backup_schedule import BackupSchedule
    from .bot.app import TelegramBot
    from .broker import EmbeddedBroker
    from .ingest import MqttIngest
    from .integrations.alerts import AlertTarget
    from .integrations.health import HealthProbe
    from .integrations.homeassistant import HomeAssistantBridge
    from .integrations.selfsignals import SelfSignals
    from .leadership import Leadership
    from .service import HubService
    from .ws.server import WebsocketServer


class HubProcess(Hub):
    """One running hub: the core and the parts started around it (set as they start)."""

    def __init__(self, *, config: dict[str, Any], store: Store) -> None:
        super().__init__(config=config, store=store)
        self.broker: EmbeddedBroker | None = None
        self.backups: BackupSchedule | None = None
        self.ingest: MqttIngest | None = None
        self.service: HubService | None = None
        self.leadership: Leadership | None = None
        self.ws_server: WebsocketServer | None = None
        self.bot: TelegramBot | None = None
        self.health: HealthProbe | None = None
        self.metrics_registry: CollectorRegistry | None = None
        self.selfsignals: SelfSignals | None = None
        self.homeassistant: HomeAssistantBridge | None = None
        self.alert_targets: list[AlertTarget] = []
