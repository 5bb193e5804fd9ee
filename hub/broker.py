"""The embedded MQTT broker (amqtt) used when no external broker is configured.

It runs inside the hub's event loop: one machine, no setup. Production uses Mosquitto.
By default it authenticates every client and applies the ACL (hub/mqtt_auth.py); with
`users=None` (the operator's `allow_anonymous = true`) anyone may do anything.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

from .mqtt_auth import AuthFileError, BrokerUsers

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """A part of the hub cannot start (a port in use, a store that cannot be opened)."""


class EmbeddedBroker:
    """An amqtt broker listening on host:port; start() and stop() on the running loop."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        users: BrokerUsers | None = None,
        reserved_ids: dict[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.users = users
        # client id -> the only user who may connect with it (the hub's own id)
        self.reserved_ids = dict(reserved_ids or {})
        self._broker: Any = None

    async def start(self) -> None:
        """Open the listener; raises OSError-derived errors when the port is taken."""
        # amqtt logs every connection at INFO; keep our console for our own status.
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.WARNING)
        config = {
            "listeners": {
                "default": {"type": "tcp", "bind": f"{self.host}:{self.port}"},
            },
            # Only the anonymous mode asks this plugin; GuardedBroker decides itself.
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        _check_free(self.host, self.port)  # a clear message instead of amqtt's traceback
        if self.users is None:
            from amqtt.broker import Broker

            self._broker = Broker(config)
        else:
            try:
                self.users.load()
            except AuthFileError as exc:
                raise StartupError(f"embedded MQTT broker: {exc}") from exc
            from .broker_guard import GuardedBroker

            self._broker = GuardedBroker(config, users=self.users, reserved_ids=self.reserved_ids)
        try:
            await self._broker.start()
        except Exception as exc:
            self._broker = None
            raise StartupError(
                f"embedded MQTT broker cannot listen on {self.host}:{self.port}: {exc}"
            ) from exc
        log.info("embedded MQTT broker listening on %s:%d", self.host, self.port)

    @property
    def refused(self) -> int:
        """Connections refused so far (bad login, a client id of another user)."""
        return int(getattr(self._broker, "refused", 0))

    async def stop(self) -> None:
        """Shut the broker down (connected clients are disconnected)."""
        if self._broker is not None:
            try:
                await self._broker.shutdown()
            finally:
                self._broker = None


def _check_free(host: str, port: int) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise StartupError(
                f"embedded MQTT broker cannot listen on {host}:{port} ({exc.strerror}); "
                "set [mqtt] port to a free one, or [mqtt] host to use a running broker"
            ) from exc
