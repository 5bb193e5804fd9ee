"""`opencontrol hub --check`: refuse what start would refuse, each with one clear line.

Validation (config.py) checks each key's type and range; this goes further and touches
what start touches: the TLS files, the store, the external MQTT broker.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path
from typing import Any

SQLITE_MAGIC = b"SQLite format 3\x00"


def check_tls(ws: dict[str, Any]) -> str | None:
    """The websocket's certificate and key load (as start loads them)."""
    cert, key = ws.get("tls_cert"), ws.get("tls_key")
    if not cert:
        return None
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        return f"[websocket]: cannot load tls_cert {cert!r} / tls_key {key!r}: {exc}"
    return None


def check_sqlite(path: str) -> str | None:
    """An existing store file is a SQLite database; a new one can be created."""
    p = Path(path)
    if p.is_dir():
        return f"[store]: path {path!r} is a directory, not a SQLite file"
    if p.exists():
        try:
            with p.open("rb") as f:
                head = f.read(len(SQLITE_MAGIC))
        except OSError as exc:
            return f"[store]: cannot read {path!r}: {exc}"
        if head and head != SQLITE_MAGIC:
            return f"[store]: {path!r} is not a SQLite database"
        return None
    parent = next((d for d in p.parents if d.exists()), None)
    if parent is not None and not parent.is_dir():
        return f"[store]: cannot create {path!r}: {parent} is not a directory"
    return None


def check_postgres(dsn: str) -> str | None:
    """The PostgreSQL server answers (within a few seconds)."""
    from .db.base import StoreError
    from .db.pgconn import PgConnections

    conns = PgConnections(dsn=dsn, connect_timeout=5)
    try:
        with conns.use("m"):
            pass
    except StoreError as exc:
        return f"[store]: {exc}"
    finally:
        conns.close()
    return None


def check_broker(host: str, port: int, timeout: float = 5.0) -> str | None:
    """An external MQTT broker accepts TCP connections."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        return f"[mqtt]: cannot reach the MQTT broker at {host}:{port}: {exc}"
    return None


def check_startable(config: dict[str, Any]) -> list[str]:
    """Every problem start would meet, one line each (empty when none)."""
    problems: list[str | None] = [check_tls(config["websocket"])]
    store = config["store"]
    if store["kind"] == "sqlite":
        problems.append(check_sqlite(store["path"]))
    else:
        problems.append(check_postgres(store["dsn"]))
    return [p for p in problems if p]


def check_warnings(config: dict[str, Any]) -> list[str]:
    """What start would meet but ride out, one line each: an external broker that does not
    answer now (the hub starts anyway and keeps trying, as when the broker starts after it,
    e.g. while a machine is being provisioned)."""
    mqtt = config["mqtt"]
    if not mqtt["host"]:
        return []
    problem = check_broker(mqtt["host"], mqtt["port"])
    return [f"{problem} (the hub starts anyway and keeps trying)"] if problem else []
