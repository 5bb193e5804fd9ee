"""Real hub and agent processes for end-to-end and fault tests."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

AGENT_TOML = """\
[agent]
id = "{agent}"
spool_path = "{spool}"
batch_max_samples = {batch}
batch_max_age = 0.1
ack_timeout = 2.0
status_interval = 1.0

[mqtt]
host = "127.0.0.1"
port = {port}
prefix = "{prefix}"
username = "{username}"
password = "{password}"
reconnect_min = 0.1
reconnect_max = 1.0

[devices.{device}]
driver = "generator"
samplerate = {rate}
enabled = {enabled}
[devices.{device}.params]
waveform = "all"
"""

HUB_TOML = """\
[hub]
id = "hub-{prefix}"
data_dir = "{data}"
log_level = "info"

[mqtt]
host = "127.0.0.1"
port = {port}
prefix = "{prefix}"
username = "{username}"
password = "{password}"

[store]
kind = "{kind}"
path = "{path}"
dsn = "{dsn}"

[websocket]
enabled = false
"""


def write_agent_config(
    path: Path,
    *,
    port: int,
    prefix: str,
    agent: str = "agent1",
    device: str = "Gen",
    rate: float = 50,
    enabled: bool = True,
    batch: int = 60,
    users: dict[str, str] | None = None,
) -> Path:
    """An agent config with one generator device producing all six waveforms."""
    path.write_text(
        AGENT_TOML.format(
            agent=agent,
            spool=path.parent / f"{agent}-spool.sqlite",
            port=port,
            prefix=prefix,
            device=device,
            rate=rate,
            enabled="true" if enabled else "false",
            batch=batch,
            username=agent if users else "",
            password=(users or {}).get(agent, ""),
        )
    )
    return path


def write_hub_config(
    path: Path,
    *,
    port: int,
    prefix: str,
    kind: str = "sqlite",
    dsn: str = "",
    users: dict[str, str] | None = None,
) -> Path:
    """A hub config on an external broker, websocket off, store in path's folder; with
    `users` (a broker with passwords) the hub logs in as `hub`."""
    data = path.parent / "hub-data"
    path.write_text(
        HUB_TOML.format(
            prefix=prefix,
            data=data,
            port=port,
            kind=kind,
            path=data / "store.sqlite" if kind == "sqlite" else "",
            dsn=dsn,
            username="hub" if users else "",
            password=(users or {}).get("hub", ""),
        )
    )
    return path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start(module: str, config: Path, log: Path) -> subprocess.Popen[bytes]:
    """Start `python -m <module> -c config`, logging to `log`."""
    out = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", module, "-c", str(config)],
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=_env(),
        cwd=REPO,
    )


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 20) -> int:
    """Send `sig` and wait for the exit code."""
    if proc.poll() is None:
        proc.send_signal(sig)
    return proc.wait(timeout)


def spool_state(spool: Path) -> tuple[int, int]:
    """(batches still pending, next sequence number) read from an agent's spool file."""
    pending, next_seq = spool_contents(spool)
    return len(pending), next_seq


def spool_contents(spool: Path) -> tuple[list[int], int]:
    """(pending sequence numbers, next sequence number) of an agent's spool file."""
    con = sqlite3.connect(spool, timeout=10)
    try:
        pending = [r[0] for r in con.execute("SELECT seq FROM batches ORDER BY seq")]
        row = con.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
        return pending, (row[0] if row else 1)
    finally:
        con.close()


def ledger_check(store: Path, agent: str) -> dict[str, int]:
    """Exactly-once figures from a hub's SQLite store."""
    con = sqlite3.connect(store, timeout=10)
    try:
        seqs = [
            r[0]
            for r in con.execute(
                "SELECT seq FROM ingest_batches WHERE agent = ? ORDER BY seq", (agent,)
            )
        ]
        ledger_samples = con.execute(
            "SELECT coalesce(sum(samples), 0) FROM ingest_batches WHERE agent = ?", (agent,)
        ).fetchone()[0]
        stored = con.execute("SELECT count(*) FROM samples").fetchone()[0]
        distinct = con.execute(
            "SELECT count(*) FROM (SELECT DISTINCT signal_id, time FROM samples)"
        ).fetchone()[0]
        return {
            "batches": len(seqs),
            "first_seq": seqs[0] if seqs else 0,
            "last_seq": seqs[-1] if seqs else 0,
            "ledger_samples": ledger_samples,
            "stored": stored,
            "distinct": distinct,
        }
    finally:
        con.close()


def batches_or_zero(check: Callable[[], dict[str, int]]) -> int:
    """Batches in the ledger, or 0 while the hub has not made its schema yet."""
    try:
        return check()["batches"]
    except Exception:
        return 0


def _row(cur: Any) -> tuple[Any, ...]:
    """The one row an aggregate query returns."""
    row = cur.fetchone()
    if row is None:
        raise RuntimeError("an aggregate query returned no row")
    return tuple(row)


def pg_ledger_check(dsn: str, agent: str) -> dict[str, int]:
    """Exactly-once figures from a hub's PostgreSQL store."""
    import psycopg2

    con = psycopg2.connect(dsn)
    try:
        with con.cursor() as cur:
            cur.execute(
                "SELECT count(*), coalesce(min(seq), 0), coalesce(max(seq), 0), "
                "coalesce(sum(samples), 0) FROM ingest_batches WHERE agent = %s",
                (agent,),
            )
            batches, first, last, ledger_samples = _row(cur)
            cur.execute("SELECT count(*) FROM samples")
            stored = _row(cur)[0]
            cur.execute("SELECT count(*) FROM (SELECT DISTINCT signal_id, time FROM samples) d")
            distinct = _row(cur)[0]
    finally:
        con.close()
    return {
        "batches": batches,
        "first_seq": first,
        "last_seq": last,
        "ledger_samples": int(ledger_samples),
        "stored": stored,
        "distinct": distinct,
    }


# An engine event on the generator's Square (offset 1, level 1): fires on each rising edge.
SQUARE_EVENT = {
    "cond": "Gen.Square.latest > 1.5",
    "text": "square high",
    "id": "sq-high",
    "trigger": "rising",
    "sname": "Square",
    "dname": "Gen",
}


def seed_automation(kind: str, path: Path, dsn: str, docs: dict[str, Any]) -> None:
    """Write automation documents into a hub's store before the hub starts."""
    if kind == "sqlite":
        from hub.db.sqlite import SQLiteStore

        store: Any = SQLiteStore(path=path)
    else:
        from hub.db.postgres import PostgresStore

        store = PostgresStore(dsn=dsn, maintain_every_s=None)
    store.open()
    try:
        for key, value in docs.items():
            store.put_doc(key, value)
    finally:
        store.close()


def event_times(kind: str, path: Path, dsn: str, event_id: str) -> Counter[float]:
    """How often each sample time is stored for the event `event_id`."""
    if kind == "sqlite":
        con = sqlite3.connect(path, timeout=10)
        try:
            rows = con.execute("SELECT time FROM events WHERE event_id = ?", (event_id,)).fetchall()
        finally:
            con.close()
    else:
        import psycopg2

        pg = psycopg2.connect(dsn)
        try:
            with pg.cursor() as cur:
                cur.execute(
                    "SELECT extract(epoch FROM time)::float8 FROM events WHERE event_id = %s",
                    (event_id,),
                )
                rows = cur.fetchall()
        finally:
            pg.close()
    return Counter(round(r[0], 6) for r in rows)


def newest_sample(kind: str, path: Path, dsn: str, device: str, name: str) -> float:
    """The newest stored sample time of a signal (0 when none)."""
    if kind == "sqlite":
        con = sqlite3.connect(path, timeout=10)
        try:
            row = con.execute(
                "SELECT max(time) FROM samples JOIN signals ON signals.id = signal_id "
                "WHERE device = ? AND name = ?",
                (device, name),
            ).fetchone()
        finally:
            con.close()
    else:
        import psycopg2

        pg = psycopg2.connect(dsn)
        try:
            with pg.cursor() as cur:
                cur.execute(
                    "SELECT extract(epoch FROM max(time))::float8 FROM samples"
                    " JOIN signals ON signals.id = signal_id WHERE device = %s AND name = %s",
                    (device, name),
                )
                row = cur.fetchone()
        finally:
            pg.close()
    return float(row[0] or 0.0)
