"""Adapters that fit the hub into a home server: health signals, Prometheus, Home Assistant,
webhook and e-mail alerts. `attach_integrations` (called by hub/bootstrap.py) starts the
ones the config turns on."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.process import HubProcess

    from .alerts import AlertTarget


async def attach_integrations(
    hub: HubProcess, config: dict[str, Any], stack: contextlib.AsyncExitStack
) -> None:
    """Start each integration the config enables; `stack` stops them in reverse order."""
    if config["selfsignals"]["enabled"] or config["metrics"]["enabled"]:
        from .health import probe_of

        stack.callback(probe_of(hub).stop)  # count commits from now on
    if config["selfsignals"]["enabled"]:
        from .selfsignals import SelfSignals

        selfsig = SelfSignals(hub=hub, interval=config["selfsignals"]["interval"])
        await selfsig.start()
        stack.push_async_callback(selfsig.stop)
        hub.selfsignals = selfsig
    if config["homeassistant"]["enabled"]:
        from ..bootstrap import broker_address
        from .homeassistant import HomeAssistantBridge

        host, port, _ = broker_address(config)
        bridge = HomeAssistantBridge(hub=hub, host=host, port=port, config=config["homeassistant"])
        await bridge.start()
        stack.push_async_callback(bridge.stop)
        hub.homeassistant = bridge
    targets = _alert_targets(config)
    if targets:
        for target in targets:
            target.start()
            stack.push_async_callback(target.stop)
        hub.on_event.extend(t.submit for t in targets)
    hub.alert_targets = targets


def _alert_targets(config: dict[str, Any]) -> list[AlertTarget]:
    """The webhook and e-mail roads `[notify.*.NAME]` declares."""
    from .notify_email import email_target
    from .notify_webhook import webhook_target

    hub_id = config["hub"]["id"]
    notify = config["notify"]
    return [webhook_target(n, s, hub_id) for n, s in notify["webhook"].items()] + [
        email_target(n, s, hub_id) for n, s in notify["email"].items()
    ]
