"""Does an external MQTT broker let anyone in? One anonymous connect tells."""

from __future__ import annotations

import logging
import secrets
import ssl
import threading

import paho.mqtt.client as mqtt

log = logging.getLogger(__name__)


def accepts_anonymous(
    host: str, port: int, *, tls_ca: str = "", timeout: float = 5.0
) -> bool | None:
    """True when the broker accepts a client without user name and password, False when it
    refuses it, None when it cannot tell (no answer in time). Blocking: run in a thread."""
    answer: list[bool] = []
    done = threading.Event()

    def on_connect(_c: object, _u: object, _f: object, rc: mqtt.ReasonCode, _p: object) -> None:
        answer.append(not rc.is_failure)
        done.set()

    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2, client_id=f"opencontrol-probe-{secrets.token_hex(4)}"
    )
    if tls_ca:
        client.tls_set(ca_certs=tls_ca, cert_reqs=ssl.CERT_REQUIRED)
    client.on_connect = on_connect
    client.on_disconnect = lambda *_a: done.set()
    try:
        client.connect(host, port, keepalive=10)
    except (OSError, ssl.SSLError):
        return None
    client.loop_start()
    try:
        done.wait(timeout)
    finally:
        client.disconnect()
        client.loop_stop()
    return answer[0] if answer else None
