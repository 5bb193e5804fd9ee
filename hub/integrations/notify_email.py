"""E-mail alert road: one mail per event over SMTP with STARTTLS ([notify.email.NAME]).

The password comes from the environment variable named by `password_env`, never from the
config file. With `starttls = true` (the default) a server that does not offer STARTTLS is
refused rather than sent the mail in clear.
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from hub.db.base import EventRecord

from .alerts import AlertTarget, event_dict


class EmailError(RuntimeError):
    """The SMTP server cannot be used as configured."""


def make_message(event: EventRecord, spec: dict[str, Any], hub_id: str) -> EmailMessage:
    """The mail of one event: subject with level and Device.Signal, plain-text body."""
    e = event_dict(event, hub_id)
    msg = EmailMessage()
    msg["From"] = spec["sender"]
    msg["To"] = ", ".join(spec["to"])
    first_line = e["text"].splitlines()[0][:80] if e["text"] else ""
    msg["Subject"] = f"[{hub_id}] {e['priority_name']}: {e['device']}.{e['signal']} {first_line}"
    msg.set_content(
        f"{e['text']}\n\n"
        f"level:  {e['priority_name']} ({e['priority']})\n"
        f"signal: {e['device']}.{e['signal']}\n"
        f"value:  {e['value']}\n"
        f"time:   {e['time_iso']}\n"
        f"event:  {e['id']}\n"
        f"hub:    {hub_id}\n"
    )
    return msg


def send_mail(msg: EmailMessage, spec: dict[str, Any]) -> None:
    """One SMTP conversation: EHLO, STARTTLS (verified), login when configured, send."""
    with smtplib.SMTP(spec["host"], spec["port"], timeout=spec["timeout"]) as smtp:
        smtp.ehlo()
        if spec["starttls"]:
            if not smtp.has_extn("starttls"):
                raise EmailError(f"{spec['host']}:{spec['port']} does not offer STARTTLS")
            context = ssl.create_default_context(cafile=spec["ca_file"] or None)
            smtp.starttls(context=context)
            smtp.ehlo()
        if spec["username"]:
            password = os.environ.get(spec["password_env"], "") if spec["password_env"] else ""
            smtp.login(spec["username"], password)
        smtp.send_message(msg)


def email_sender(spec: dict[str, Any], hub_id: str) -> Callable[[EventRecord], None]:
    """A blocking send(event) for one mail target."""

    def send(event: EventRecord) -> None:
        send_mail(make_message(event, spec, hub_id), spec)

    return send


def email_target(name: str, spec: dict[str, Any], hub_id: str) -> AlertTarget:
    """The AlertTarget of `[notify.email.NAME]`."""
    return AlertTarget(
        name=f"email {name}",
        send=email_sender(spec, hub_id),
        min_priority=spec["min_priority"],
        limit=spec["per_hour"],
        period=3600.0,
        queue=spec["queue"],
        retries=spec["retries"],
    )
