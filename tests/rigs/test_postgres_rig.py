"""The throwaway PostgreSQL rig survives a busy machine: a port taken between choosing it
and starting the server moves the first start to another free port."""

from __future__ import annotations

import shutil
import socket
import tempfile
from pathlib import Path

from rigs.postgres import PgCluster, start_cluster


def _workdir() -> Path:
    """A temp dir the postgres user can reach (pytest's tmp_path is root's alone)."""
    root = Path(tempfile.mkdtemp(prefix="oc-pg-test-"))
    root.chmod(0o711)
    return root


def test_a_port_taken_before_the_first_start_moves_the_cluster() -> None:
    root = _workdir()
    cluster = PgCluster(root / "pg")
    cluster.owned_root = root
    cluster.init()
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", cluster.port))
    squatter.listen()
    taken = cluster.port
    try:
        cluster.start()
        assert cluster.port != taken
        assert cluster.running()
        # the data dir says the new port: a restart comes back on it
        cluster.stop()
        cluster.start()
        assert cluster.running() and cluster.port != taken
    finally:
        squatter.close()
        cluster.stop("immediate")
        cluster.remove()


def test_a_cluster_that_cannot_start_says_why_with_its_log() -> None:
    cluster = start_cluster()
    root = _workdir()
    try:
        second = PgCluster(root / "pg")
        second.datadir = cluster.datadir  # one data dir, two postmasters: refused
        second.workdir.mkdir(parents=True)
        try:
            second.start()
        except RuntimeError as exc:
            assert "server.log" in str(exc)
        else:
            raise AssertionError("a second postmaster on one data dir started")
    finally:
        cluster.stop("immediate")
        cluster.remove()
        shutil.rmtree(root, ignore_errors=True)
