"""Store fixtures: one factory per backend, so the contract suite runs against each."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.db.base import Store

StoreFactory = Callable[..., Store]

BACKENDS = ["sqlite", "postgres", "timescaledb"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The name of the backend under test."""
    return request.param


@pytest.fixture
def store_factory(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[StoreFactory]:
    """Build opened stores of the backend; each call gives another handle on the same data."""
    made: list[Store] = []
    if backend == "sqlite":
        from hub.db.sqlite import SQLiteStore

        path = tmp_path / "store.sqlite"

        def build(**kw: Any) -> Store:
            return SQLiteStore(path=path)

    elif backend == "postgres":
        from hub.db.postgres import PostgresStore

        dsn = request.getfixturevalue("pg_dsn")

        def build(**kw: Any) -> Store:
            return PostgresStore(dsn=dsn, **kw)

    else:
        from hub.db.postgres import PostgresStore

        dsn = request.getfixturevalue("timescale_dsn")

        def build(**kw: Any) -> Store:
            # PGlite: one connection at a time, and COPY crashes it (INSERT batches instead).
            kw.setdefault("single_connection", True)
            kw.setdefault("write_method", "insert")
            return PostgresStore(dsn=dsn, **kw)

    def factory(**kw: Any) -> Store:
        # The stand-in takes one connection: close earlier handles before a new one.
        if backend == "timescaledb":
            for s in made:
                s.close()
        store = build(**kw)
        store.open()
        made.append(store)
        return store

    yield factory
    for s in made:
        s.close()


@pytest.fixture
def store(store_factory: StoreFactory) -> Store:
    """An opened, empty store of the backend under test."""
    return store_factory()
