"""Fixtures of the edge agent tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.edge_agent.standin_hub import StandInHub
from tests.fixtures.mosquitto import Mosquitto


@pytest.fixture
def hub(mosquitto: Mosquitto, prefix: str) -> Iterator[StandInHub]:
    """A stand-in hub on the shared broker under the test's prefix, acking everything."""
    h = StandInHub(port=mosquitto.port, prefix=prefix).start()
    yield h
    h.stop()
