"""PostgreSQL connections for the store: one per role, reconnecting, errors as StoreError.

Role 'w' is the writer thread's, 'r' the readers' (serialised by a lock), 'm' the
maintenance thread's; with `single_connection` all share one (servers that take one
connection, e.g. PGlite).
psycopg2 is imported lazily.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hub.db.base import StoreError, UnstorableError


class ConnectionLost(StoreError):
    """The connection broke (server restarted or gone); the next use reconnects."""


class PgConnections:
    """Lazily opened connections by role; a lost connection is dropped and reopened next use."""

    def __init__(self, *, dsn: str, single_connection: bool = False, connect_timeout: int = 5):
        self.dsn = dsn
        self.single_connection = single_connection
        self.connect_timeout = connect_timeout
        self._conns: dict[str, Any] = {}
        self._locks = {"w": threading.Lock(), "r": threading.Lock(), "m": threading.Lock()}

    @contextmanager
    def use(self, role: str) -> Iterator[Any]:
        """A live connection for `role` ('w', 'r' or 'm'), held exclusively inside the block.

        psycopg2 errors leave as StoreError (the connection dropped when it was lost, the
        transaction rolled back otherwise), constraint and data errors as UnstorableError;
        other exceptions roll back and pass through.
        """
        import psycopg2

        role = "w" if self.single_connection else role
        with self._locks[role]:
            conn = self._conns.get(role)
            if conn is None or conn.closed:
                try:
                    conn = psycopg2.connect(
                        self.dsn,
                        connect_timeout=self.connect_timeout,
                        application_name="opencontrol-hub",
                    )
                except psycopg2.Error as exc:
                    raise StoreError(f"PostgreSQL unreachable: {_msg(exc)}") from exc
                self._conns[role] = conn
            try:
                yield conn
            except (psycopg2.OperationalError, psycopg2.InterfaceError) as exc:
                self._drop(role)
                raise ConnectionLost(f"PostgreSQL connection lost: {_msg(exc)}") from exc
            except (psycopg2.IntegrityError, psycopg2.DataError) as exc:
                _rollback(conn)  # this data can never be stored: retrying is useless
                raise UnstorableError(f"PostgreSQL refused it: {_msg(exc)}") from exc
            except psycopg2.Error as exc:
                _rollback(conn)
                raise StoreError(f"PostgreSQL error: {_msg(exc)}") from exc
            except BaseException:
                _rollback(conn)
                raise

    def close(self) -> None:
        """Close every connection."""
        for role in list(self._conns):
            with self._locks[role]:
                self._drop(role)

    def _drop(self, role: str) -> None:
        conn = self._conns.pop(role, None)
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass


def _msg(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _rollback(conn: Any) -> None:
    try:
        if not conn.closed:
            conn.rollback()
    except Exception:
        pass
