"""`opencontrol hub --check` refuses what start would refuse, one clear line each; a store
that cannot be opened at start is one line too, and the store is created private."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hub.config import max_record_length
from hub.db.sqlite import SQLiteStore
from tests.fixtures.net import free_port
from tests.hub.cli.test_cli import run_hub


def _config(tmp_path: Path, text: str) -> Path:
    cfg = tmp_path / "hub.toml"
    cfg.write_text(f'[hub]\ndata_dir = "{tmp_path / "data"}"\n' + text)
    return cfg


def _one_line(out: object, words: str) -> None:
    assert out.returncode == 2, out.stdout + out.stderr  # type: ignore[attr-defined]
    err = out.stderr  # type: ignore[attr-defined]
    assert words in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err


def test_good_config_checks_ok(tmp_path: Path) -> None:
    out = run_hub("-c", str(_config(tmp_path, "")), "--check")
    assert out.returncode == 0 and out.stdout.endswith(": OK\n"), out.stderr


def test_tls_cert_without_key_is_refused(tmp_path: Path) -> None:
    cfg = _config(tmp_path, '[websocket]\ntls_cert = "/nonexistent/cert.pem"\n')
    _one_line(run_hub("-c", str(cfg), "--check"), "tls_cert and tls_key must be given together")


def test_unreadable_tls_files_are_refused(tmp_path: Path) -> None:
    cfg = _config(tmp_path, '[websocket]\ntls_cert = "/nonexistent/c.pem"\ntls_key = "/x/k.pem"\n')
    _one_line(run_hub("-c", str(cfg), "--check"), "cannot load tls_cert")


def test_absurd_record_length_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "hub.toml"
    cfg.write_text("[hub]\nrecord_length = 100_000_000_000\n")
    _one_line(run_hub("-c", str(cfg), "--check"), "record_length 100000000000 needs")
    # the bound follows the machine: 16 signals must fit in its memory
    assert max_record_length(2**30) == 2**30 // 256
    assert max_record_length(2**30) >= 500_000  # the default fits a 1 GiB machine


def test_store_that_is_not_sqlite_is_refused_by_check_and_at_start(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database\n" * 100)
    cfg = _config(
        tmp_path,
        f'[store]\npath = "{junk}"\n[mqtt]\nport = {free_port()}\n[websocket]\nenabled = false\n',
    )
    _one_line(run_hub("-c", str(cfg), "--check"), "is not a SQLite database")
    out = run_hub("-c", str(cfg))
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    last = out.stderr.splitlines()[-1]  # after the log lines of what had started
    assert last.startswith("opencontrol hub: cannot start: ") and "not a usable SQLite" in last


def test_unreachable_postgres_is_one_line(tmp_path: Path) -> None:
    dsn = f"postgresql://u@127.0.0.1:{free_port()}/db"
    cfg = _config(tmp_path, f'[store]\nkind = "postgres"\ndsn = "{dsn}"\n')
    _one_line(run_hub("-c", str(cfg), "--check"), "PostgreSQL unreachable")


def test_unreachable_external_broker_is_said_not_refused(tmp_path: Path) -> None:
    """Start rides out a broker that is not up yet (it keeps trying), so the check warns in
    one line and passes: provisioning validates the config before the broker runs."""
    port = free_port()
    cfg = _config(tmp_path, f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\n')
    out = run_hub("-c", str(cfg), "--check")
    assert out.returncode == 0 and out.stdout.endswith(": OK\n"), out.stdout + out.stderr
    err = out.stderr.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in out.stderr, out.stderr
    assert f"warning: [mqtt]: cannot reach the MQTT broker at 127.0.0.1:{port}" in err[0]


def test_store_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "store.sqlite"
    store = SQLiteStore(path=path)
    store.open()
    store.put_doc("users", {"alice": "scrypt$hash"})  # what must not be world-readable
    try:
        assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
        for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            assert p.exists() and stat.S_IMODE(os.stat(p).st_mode) == 0o600, p
        assert store.get_doc("users") == {"alice": "scrypt$hash"}
    finally:
        store.close()


async def test_unreachable_external_broker_is_said_at_run_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from hub.bootstrap import running_hub
    from hub.config import hub_config
    from tests.fixtures.net import async_wait_for

    port = free_port()
    cfg = hub_config(
        {
            "hub": {"data_dir": str(tmp_path / "data")},
            "mqtt": {"host": "127.0.0.1", "port": port},
            "websocket": {"enabled": False},
        }
    )
    async with running_hub(cfg, broker_patience=0.2):
        await async_wait_for(lambda: "cannot reach the MQTT broker" in caplog.text, 10)
    assert f"127.0.0.1:{port}" in caplog.text
