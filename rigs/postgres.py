"""A throwaway PostgreSQL 15 cluster (initdb in a temp dir, free port), never the machine's own.

The tests' fixtures (tests/fixtures/postgres.py) and the benchmarks start theirs here.
We run as root, so initdb/pg_ctl run as the `postgres` user through runuser.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from simulators.net import free_port, wait_for

PG_BIN = Path(os.environ.get("OPENCONTROL_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"


def _run(args: list[str]) -> None:
    """Run a PostgreSQL tool; on failure raise with its output (initdb says why)."""
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed ({out.returncode}): {out.stderr or out.stdout}"
        )


def _as_pg_user(args: list[str]) -> list[str]:
    """Prefix a command so it runs as the postgres user when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", PG_USER, "--", *args]
    return args


class PgCluster:
    """A real PostgreSQL server the tests own: `stop()`/`start()` keep its data and port."""

    def __init__(self, workdir: Path, *, fsync: bool = False) -> None:
        self.workdir = workdir
        self.datadir = workdir / "data"
        self.sockdir = workdir / "sock"
        self.port = free_port()
        self.fsync = fsync
        self.user = PG_USER
        self.owned_root: Path | None = None  # a temp dir made for it, deleted by remove()
        self.started_once = False

    def dsn(self, dbname: str = "postgres") -> str:
        """A libpq connection string for one database of this cluster (TCP on loopback)."""
        return f"host=127.0.0.1 port={self.port} user={self.user} dbname={dbname}"

    def init(self) -> None:
        """initdb into the temp dir, owned by the postgres user."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.sockdir.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.workdir, PG_USER)
            shutil.chown(self.sockdir, PG_USER)
        _run(
            _as_pg_user(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(self.datadir),
                    "-U",
                    PG_USER,
                    "--auth=trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ]
            )
        )
        conf = self.datadir / "postgresql.conf"
        with conf.open("a") as f:
            f.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.sockdir}'\n"
                f"fsync = {'on' if self.fsync else 'off'}\n"
                "synchronous_commit = on\nmax_connections = 50\nshared_buffers = 128MB\n"
                "log_min_messages = warning\n"
            )

    def start(self) -> None:
        """Start the server and wait until it accepts connections.

        The port was chosen free before initdb ran; on a busy machine another process can
        take it meanwhile. A first start that finds it taken moves to another free port (a
        restart keeps its port: clients were given it, so it waits for the port instead).
        """
        for attempt in range(6):
            try:
                self._pg_ctl_start()
                break
            except RuntimeError as exc:
                if "already in use" not in self.log() or attempt == 5:
                    raise RuntimeError(f"{exc}\nserver.log:\n{self.log()[-2000:]}") from None
                if not self.started_once:
                    self.port = free_port()
                    with (self.datadir / "postgresql.conf").open("a") as f:
                        f.write(f"port = {self.port}\n")  # the last setting wins
                else:
                    time.sleep(1 + attempt)
        self.started_once = True
        wait_for(self._ready, timeout=15, what=f"PostgreSQL on port {self.port}")

    def _pg_ctl_start(self) -> None:
        _run(
            _as_pg_user(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(self.datadir),
                    "-l",
                    str(self.workdir / "server.log"),
                    "-w",
                    "-t",
                    "120",
                    "start",
                ]
            )
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`, or `immediate` for a crash-like stop)."""
        subprocess.run(
            _as_pg_user(
                [str(PG_BIN / "pg_ctl"), "-D", str(self.datadir), "-m", mode, "-w", "stop"]
            ),
            check=False,
            capture_output=True,
        )

    def running(self) -> bool:
        """True while the postmaster answers."""
        return self._ready()

    def _ready(self) -> bool:
        out = subprocess.run(
            [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-t", "1"],
            capture_output=True,
        )
        return out.returncode == 0

    def create_database(self, prefix: str = "t") -> str:
        """CREATE DATABASE with a unique name; return its DSN."""
        import psycopg2

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        conn = psycopg2.connect(self.dsn())
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        return self.dsn(name)

    def remove(self) -> None:
        """Delete the cluster's temp dir (after stop)."""
        if self.owned_root is not None:
            shutil.rmtree(self.owned_root, ignore_errors=True)

    def log(self) -> str:
        """The server log (for assertion messages)."""
        p = self.workdir / "server.log"
        return p.read_text() if p.exists() else ""


def start_cluster(workdir: Path | None = None, *, fsync: bool = False) -> PgCluster:
    """initdb + start a cluster; fail the test clearly if PostgreSQL is missing.

    By default the cluster lives in a temp dir of its own outside pytest's basetemp:
    pytest prunes old basetemps, and with several sessions on one machine it can prune
    one still in use. `remove()` deletes it.
    """
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError(f"no PostgreSQL binaries in {PG_BIN} (apt-get install postgresql-15)")
    root = None
    if workdir is None:
        root = Path(tempfile.mkdtemp(prefix="oc-pg-"))
        root.chmod(0o711)  # the postgres user must reach the data dir inside
        workdir = root / "pg"
    cluster = PgCluster(workdir, fsync=fsync)
    cluster.owned_root = root
    cluster.init()
    cluster.start()
    return cluster
