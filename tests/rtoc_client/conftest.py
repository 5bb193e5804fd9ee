"""Fixtures of the RTOC client test: the hub, websocket and agent fixtures of tests/hub."""

from tests.hub.conftest import hub, service  # noqa: F401
from tests.hub.ws.conftest import agent, ws_factory  # noqa: F401
