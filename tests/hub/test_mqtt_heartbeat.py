"""The heartbeat's verdicts, on its own clock (the end-to-end case is test_mqtt_trust.py 5)."""

from __future__ import annotations

from hub.mqtt_heartbeat import MISSED, Heartbeat


def test_a_loss_is_reported_once_after_missed_heartbeats_and_never_while_held_up() -> None:
    now = [0.0]
    sent: list[bytes] = []
    lost: list[float] = []
    hb = Heartbeat(interval=1.0, publish=sent.append, lost=lost.append, clock=lambda: now[0])
    hb.connected()
    for _ in range(MISSED):
        now[0] += 1.0
        hb.check(True)
        hb.seen(hb.nonce)  # each comes back: fine
    assert hb.ok and not lost and len(sent) == MISSED
    hb.seen(b"someone else's")  # another payload on the topic proves nothing
    for _ in range(10):  # held up (a full writer queue): no verdict however long
        now[0] += 1.0
        hb.check(False)
    assert not lost and not hb.ok
    for _ in range(MISSED + 1):
        now[0] += 1.0
        hb.check(True)
    assert lost == [MISSED + 1.0]  # reported once
    now[0] += 1.0
    hb.check(True)
    assert len(lost) == 1
    hb.connected()  # the reconnect starts a new wait
    hb.seen(hb.nonce)
    assert hb.ok
