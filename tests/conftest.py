"""Shared fixtures: real services started on free ports (see tests/fixtures/)."""

import uuid

import pytest

pytest_plugins = [
    "tests.fixtures.mosquitto",
    "tests.fixtures.postgres",
    "tests.fixtures.timescale",
    "tests.fixtures.sim",
    "tests.fixtures.browser",
    "tests.fixtures.telegram_standin",
]


@pytest.fixture
def prefix() -> str:
    """A topic prefix of the test's own, so tests can share one broker."""
    return f"t{uuid.uuid4().hex[:10]}"
