"""Who leads the live hubs: a lease row in PostgreSQL, renewed by its holder.

A lease table rather than an advisory lock: an advisory lock lives as long as one
connection, which a leader cannot check without a round trip either, breaks behind a
transaction pooler (pgbouncer) and is held on for as long as the server takes to notice a
half-open connection. A lease has a time in it: the holder renews it every third of
`seconds` and steps down by itself when it has not renewed for two thirds of `seconds`
(its own monotonic clock), before the lease can expire (the server's clock, set at the
renewal's start or later). So an old leader has stopped before a new one can start,
without synchronised clocks (docs/scale.md).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from .db.base import StoreError
from .db.pgconn import PgConnections

log = logging.getLogger(__name__)

LEASE = "live"

# One statement: take the row when it is free, expired or ours; the server's clock decides.
_TAKE = """
INSERT INTO hub_lease AS l (name, holder, epoch, expires_at)
VALUES (%(name)s, %(holder)s, 1, now() + make_interval(secs => %(seconds)s))
ON CONFLICT (name) DO UPDATE
    SET holder = excluded.holder,
        epoch = l.epoch + CASE WHEN l.holder = excluded.holder THEN 0 ELSE 1 END,
        expires_at = excluded.expires_at
    WHERE l.holder = excluded.holder OR l.expires_at < now()
RETURNING epoch
"""
_RELEASE = "UPDATE hub_lease SET expires_at = now() WHERE name = %(name)s AND holder = %(holder)s"
_READ = "SELECT holder, epoch, expires_at > now() FROM hub_lease WHERE name = %(name)s"


@dataclass(frozen=True)
class LeaseHolder:
    """The lease as stored: who holds it, its epoch, and whether it is still valid."""

    holder: str
    epoch: int
    valid: bool


class Lease:
    """Blocking lease calls on a connection of their own (run them in a thread)."""

    def __init__(self, *, dsn: str, holder: str, seconds: float, name: str = LEASE) -> None:
        self.holder = holder
        self.seconds = seconds
        self.name = name
        self._conns = PgConnections(dsn=dsn, connect_timeout=max(1, int(seconds / 3)))

    def _args(self) -> dict[str, object]:
        return {"name": self.name, "holder": self.holder, "seconds": self.seconds}

    def try_take(self) -> int | None:
        """Take or renew the lease: its epoch when this holder has it now, else None.
        Raises StoreError when PostgreSQL does not answer."""
        with self._conns.use("m") as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f"SET statement_timeout = {int(self.seconds * 1000 / 3)}")
                cur.execute(_TAKE, self._args())
                row = cur.fetchone()
        return int(row[0]) if row else None

    def release(self) -> None:
        """Let the lease expire now (a clean stop: a standby takes over at once)."""
        with self._conns.use("m") as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(_RELEASE, self._args())

    def read(self) -> LeaseHolder | None:
        """The lease as stored now (None before anyone took it)."""
        with self._conns.use("m") as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(_READ, self._args())
                row = cur.fetchone()
        return LeaseHolder(str(row[0]), int(row[1]), bool(row[2])) if row else None

    def close(self) -> None:
        """Close the lease's connection."""
        self._conns.close()


class LeaseClock:
    """When a holder must step down: `seconds * 2/3` after the start of its last renewal
    that succeeded (monotonic), before the server lets the lease expire."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.renewed_at: float | None = None

    def renewing(self) -> float:
        """The monotonic time a renewal starts (call before sending it)."""
        return time.monotonic()

    def renewed(self, started: float) -> None:
        """The renewal begun at `started` succeeded."""
        self.renewed_at = started

    def valid(self) -> bool:
        """Still safe to act as the leader."""
        at = self.renewed_at
        return at is not None and time.monotonic() - at < self.seconds * 2 / 3


def safe_take(lease: Lease) -> int | None:
    """try_take, with a store outage said as None (logged by the caller's state change)."""
    try:
        return lease.try_take()
    except StoreError as exc:
        log.debug("lease: %s", exc)
        return None
