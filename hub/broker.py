"""The embedded MQTT broker (amqtt) used when no external broker is configured.

It runs inside the hub's event loop: one machine, no setup. Production uses Mosquitto.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


class EmbeddedBroker:
    """An amqtt broker listening on host:port; start() and stop() on the running loop."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 1883) -> None:
        self.host = host
        self.port = port
        self._broker: Any = None

    async def start(self) -> None:
        """Open the listener; raises OSError-derived errors when the port is taken."""
        from amqtt.broker import Broker

        # amqtt logs every connection at INFO; keep our console for our own status.
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        config = {
            "listeners": {
                "default": {"type": "tcp", "bind": f"{self.host}:{self.port}"},
            },
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        self._broker = Broker(config)
        try:
            await self._broker.start()
        except Exception as exc:
            self._broker = None
            raise RuntimeError(
                f"embedded MQTT broker cannot listen on {self.host}:{self.port}: {exc}"
            ) from exc
        log.info("embedded MQTT broker listening on %s:%d", self.host, self.port)

    async def stop(self) -> None:
        """Shut the broker down (connected clients are disconnected)."""
        if self._broker is not None:
            try:
                await self._broker.shutdown()
            finally:
                self._broker = None
