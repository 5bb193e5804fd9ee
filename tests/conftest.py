"""Shared fixtures: real services started on free ports (see tests/fixtures/)."""

import uuid

import pytest

pytest_plugins = [
    "tests.fixtures.mosquitto",
    "tests.sim.fixtures",
    "tests.fixtures.browser",
]


@pytest.fixture
def prefix() -> str:
    """A topic prefix of the test's own, so tests can share one broker."""
    return f"t{uuid.uuid4().hex[:10]}"
