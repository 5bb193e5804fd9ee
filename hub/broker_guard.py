"""amqtt's broker with authentication before the session table is touched, the ACL on
every publish, delivery and retained message, and client ids bound to their user.

amqtt 0.12 looks up (and, with clean session, deletes) the session of a client id before
it authenticates, takes over a connected client id before it checks the result, sends
retained messages without asking the topic filter, and broadcasts a client's will without
checking its topic. This subclass closes each of those; the version is pinned in
pyproject.toml and tests/hub/test_broker_auth.py exercises every path against it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from amqtt.broker import Action, Broker
from amqtt.errors import AMQTTError, MQTTError, NoDataError
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.session import Session
from amqtt.utils import format_client_message, gen_client_id

from .loglimit import LogLimiter
from .mqtt_auth import BrokerUsers

log = logging.getLogger(__name__)


class GuardedBroker(Broker):
    """The embedded broker with the hub's users, ACL and reserved client ids."""

    def __init__(
        self, config: dict[str, Any], *, users: BrokerUsers, reserved_ids: dict[str, str]
    ) -> None:
        super().__init__(config)
        self.users = users
        self.reserved_ids = reserved_ids
        self.refused = 0
        self._log = LogLimiter(log)

    async def _check(self, session: Session) -> str | None:
        """Why this CONNECT is refused, or None: password, client id owner, will topic."""
        user, cid = session.username, session.client_id or ""
        try:
            await asyncio.to_thread(self.users.refresh)
        except Exception as exc:  # a broken file keeps the rules read before
            self._log.warning("files", "MQTT users: %s (keeping the previous rules)", exc)
        ok = await asyncio.to_thread(self.users.check_password, user, session.password)
        if not ok:
            return f"bad user name or password (user {user!r})"
        owner = self.reserved_ids.get(cid)
        if owner is not None and owner != user:
            return f"client id {cid!r} is reserved for user {owner!r}"
        existing = self._sessions.get(cid, (None, None))[0] if cid else None
        if existing is not None and existing.username != user:
            return f"client id {cid!r} belongs to a session of another user"
        if session.will_flag and not self.users.allows(user, cid, session.will_topic, "write"):
            return f"will topic {session.will_topic!r} is not writable by {user!r}"
        return None

    async def _initialize_client_session(
        self, reader: Any, writer: Any, remote_address: str, remote_port: int
    ) -> tuple[BrokerProtocolHandler, Session]:
        peer = format_client_message(address=remote_address, port=remote_port)
        try:
            handler, session = await BrokerProtocolHandler.init_from_connect(
                reader, writer, self.plugins_manager
            )
        except AMQTTError as exc:
            raise AMQTTError(exc) from exc
        except MQTTError as exc:
            await writer.close()
            raise MQTTError(exc) from exc
        except NoDataError as exc:
            raise AMQTTError(exc) from exc
        reason = await self._check(session)
        session.oc_auth = reason is None
        if reason is not None:
            # Refused before any session is looked up: a fresh throwaway id, so no existing
            # session (the hub's) is deleted, taken over or handed to this client.
            self.refused += 1
            # One budget of log lines per address (its ports change with every connect).
            self._log.warning(remote_address, "MQTT connection from %s refused: %s", peer, reason)
            session.oc_refused = True
            session.client_id = gen_client_id()
            session.clean_session = True
            session.will_flag = False
            session.parent = 0
            return handler, session
        if session.clean_session:
            if session.client_id:
                await self._delete_session(session.client_id)
            else:
                session.client_id = gen_client_id()
            session.parent = 0
        elif session.client_id in self._sessions:
            existing, _ = self._sessions[session.client_id]
            for name in ("will_flag", "will_message", "will_topic", "will_qos", "keep_alive"):
                setattr(existing, name, getattr(session, name))
            existing.username, existing.password = session.username, session.password
            existing.oc_auth = True
            session = existing
            session.parent = 1
        else:
            session.parent = 0
        return handler, session

    async def _handle_client_session(
        self,
        reader: Any,
        writer: Any,
        client_session: Session,
        handler: BrokerProtocolHandler,
        server: Any,
        listener_name: str,
    ) -> None:
        try:
            await super()._handle_client_session(
                reader, writer, client_session, handler, server, listener_name
            )
        finally:
            if getattr(client_session, "oc_refused", False):
                entry = self._sessions.get(client_session.client_id)
                if entry is not None and entry[0] is client_session:
                    del self._sessions[client_session.client_id]

    async def _authenticate(self, session: Session, _listener: Any) -> bool:
        return bool(getattr(session, "oc_auth", False))

    async def _topic_filtering(self, session: Session, topic: str, action: Action) -> bool:
        if not getattr(session, "oc_auth", False):
            return False
        if action == Action.SUBSCRIBE:
            return True  # granted; each message is checked for `read` on delivery
        access = "write" if action == Action.PUBLISH else "read"
        return self.users.allows(session.username, session.client_id or "", topic, access)

    async def _publish_retained_messages_for_subscription(
        self, subscription: tuple[str, int], session: Session
    ) -> None:
        topic_filter, qos = subscription
        subs = self._subscriptions.get(topic_filter, [])
        if not any(s.client_id == session.client_id for s, _ in subs):
            return  # amqtt calls this for every filter of every client at connect
        handler = self._get_handler(session)
        if handler is None:
            return
        tasks = [
            asyncio.ensure_future(
                handler.mqtt_publish(r.topic, r.data, min(qos, r.qos or qos), retain=True)
            )
            for topic, r in list(self._retained_messages.items())
            if self._matches(topic, topic_filter)
            and await self._topic_filtering(session, topic, Action.RECEIVE)
        ]
        if tasks:
            await asyncio.wait(tasks)
