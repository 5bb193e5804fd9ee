"""Webhook alert road: each event POSTed as one JSON object ([notify.webhook.NAME])."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from typing import Any

from hub.db.base import EventRecord

from .alerts import AlertTarget, event_dict

USER_AGENT = "OpenControl-hub"


def post_json(url: str, body: dict[str, Any], headers: dict[str, str], timeout: float) -> int:
    """POST `body` as JSON; the HTTP status (2xx), or raise (urllib's errors, non-2xx)."""
    data = json.dumps(body, allow_nan=False).encode()
    req = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        status = int(resp.status)
        resp.read(65536)
    if not 200 <= status < 300:
        raise OSError(f"{url} answered HTTP {status}")
    return status


def webhook_sender(spec: dict[str, Any], hub_id: str) -> Callable[[EventRecord], None]:
    """A blocking send(event) for one webhook target."""

    def send(event: EventRecord) -> None:
        post_json(spec["url"], event_dict(event, hub_id), spec["headers"], spec["timeout"])

    return send


def webhook_target(name: str, spec: dict[str, Any], hub_id: str) -> AlertTarget:
    """The AlertTarget of `[notify.webhook.NAME]`."""
    return AlertTarget(
        name=f"webhook {name}",
        send=webhook_sender(spec, hub_id),
        min_priority=spec["min_priority"],
        limit=spec["per_minute"],
        period=60.0,
        queue=spec["queue"],
        retries=spec["retries"],
    )
