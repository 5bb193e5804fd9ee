"""Publisher against a real Mosquitto and a stand-in hub: end-to-end acks.

A batch leaves the spool only when the hub acks it; un-acked batches are sent again
after the timeout, after a reconnect and when the hub comes back online; nothing is
sent while the hub says offline; at most `max_inflight` batches are outstanding.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.publisher import Publisher
from edge_agent.spool import Spool
from edge_agent.wire import Series, Topics, encode_json
from tests.edge_agent.standin_hub import StandInHub
from tests.fixtures.mosquitto import Mosquitto
from tests.fixtures.net import wait_for

AGENT = "pi-pub"


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[Spool]:
    sp = Spool(path=tmp_path / "spool.sqlite", agent=AGENT).open()
    yield sp
    sp.close()


def publisher(spool: Spool, port: int, prefix: str, **kw: object) -> Publisher:
    opts: dict[str, object] = {"ack_timeout": 0.3, "max_inflight": 5, "reconnect_max": 1.0}
    opts.update(kw)
    return Publisher(
        agent=AGENT,
        topics=Topics(prefix),
        spool=spool,
        port=port,
        birth=lambda: encode_json({"state": "online", "agent": AGENT}),
        will=encode_json({"state": "offline", "agent": AGENT}),
        **opts,  # type: ignore[arg-type]
    )


def fill(spool: Spool, n: int) -> list[int]:
    return [spool.append([Series("G", "S", "", [float(i)], [float(i)])]) for i in range(n)]


def test_unacked_batches_are_resent_and_acked_ones_leave_the_spool(
    mosquitto: Mosquitto, prefix: str, spool: Spool
) -> None:
    seen: Counter[int] = Counter()

    def ack_second_delivery(batch: object) -> bool:
        seen[batch.seq] += 1  # type: ignore[attr-defined]
        return seen[batch.seq] >= 2  # type: ignore[attr-defined]

    hub = StandInHub(port=mosquitto.port, prefix=prefix, ack=ack_second_delivery).start()
    seqs = fill(spool, 3)
    pub = publisher(spool, mosquitto.port, prefix)
    pub.start()
    try:
        wait_for(lambda: spool.stats().batches == 0, 10, "spool emptied by acks")
        assert all(seen[s] >= 2 for s in seqs), seen
        assert pub.stats.resent >= 3 and pub.stats.acked == 3
        assert pub.inflight() == []
        # new batches after that go out and leave too
        more = fill(spool, 2)
        wait_for(lambda: spool.stats().batches == 0, 10, "new batches acked")
        assert all(seen[s] >= 2 for s in more)
    finally:
        pub.stop(offline=encode_json({"state": "offline", "agent": AGENT}))
        hub.stop()


def test_store_down_sends_new_batches_live_without_resends_then_resends_when_back(
    mosquitto: Mosquitto, prefix: str, spool: Spool
) -> None:
    hub = StandInHub(port=mosquitto.port, prefix=prefix, ack=lambda b: False).start()
    hub.set_state(json.dumps({"state": "online", "store": "down", "queue": 0}))
    pub = publisher(spool, mosquitto.port, prefix, ack_timeout=0.1, max_inflight=5)
    pub.start()
    try:
        wait_for(lambda: pub.store_down, 10, "agent sees the store down")
        seqs = fill(spool, 12)  # more than the window: live data must not wait for acks
        pub.wake()
        wait_for(lambda: len(hub.seqs()) >= 12, 10, "every new batch sent once")
        time.sleep(0.5)  # five ack timeouts: no resend may happen meanwhile
        assert hub.seqs() == seqs and pub.stats.resent == 0
        assert spool.stats().batches == 12, "nothing leaves the spool without an ack"
        hub.ack_policy = lambda b: True
        hub.set_state(json.dumps({"state": "online", "store": "up", "queue": 0}))
        wait_for(lambda: spool.stats().batches == 0, 10, "resent at once and acked")
        assert sorted(set(hub.seqs())) == seqs
        assert not pub.store_down and pub.stats.acked == 12
    finally:
        pub.stop()
        hub.clear_retained(AGENT)
        hub.stop()


def test_window_bounds_unacked_batches(mosquitto: Mosquitto, prefix: str, spool: Spool) -> None:
    hub = StandInHub(port=mosquitto.port, prefix=prefix, ack=lambda b: False).start()
    seqs = fill(spool, 12)
    pub = publisher(spool, mosquitto.port, prefix, ack_timeout=60.0, max_inflight=5)
    pub.start()
    try:
        wait_for(lambda: len(hub.seqs()) >= 5, 10, "first window")
        time.sleep(0.3)  # give a flood the chance to happen: it must not
        assert sorted(hub.seqs()) == seqs[:5]
        assert spool.stats().batches == 12, "nothing leaves the spool without an ack"
        hub.ack(AGENT, seqs[:5])
        wait_for(lambda: len(hub.seqs()) >= 10, 10, "second window")
        assert sorted(hub.seqs()) == seqs[:10]
        assert [b.seq for b in spool.pending()] == seqs[5:]
    finally:
        pub.stop()
        hub.stop()


def test_new_batches_do_not_wait_behind_a_backlog(
    mosquitto: Mosquitto, prefix: str, spool: Spool
) -> None:
    hub = StandInHub(port=mosquitto.port, prefix=prefix, ack=lambda b: False).start()
    backlog = fill(spool, 12)  # made while the hub was away: goes out in the window
    pub = publisher(spool, mosquitto.port, prefix, ack_timeout=60.0, max_inflight=5)
    pub.start()
    try:
        wait_for(lambda: len(hub.seqs()) >= 5, 10, "first window of the backlog")
        fresh = fill(spool, 2)  # live data: out at once, though the window is full
        pub.wake()
        wait_for(lambda: set(fresh) <= set(hub.seqs()), 10, "new batches sent at once")
        assert sorted(hub.seqs()) == backlog[:5] + fresh
        hub.ack(AGENT, backlog[:5] + fresh)
        wait_for(lambda: len(hub.seqs()) >= 12, 10, "the backlog goes on")
        hub.ack(AGENT, backlog[5:10])
        wait_for(lambda: len(hub.seqs()) >= 14, 10, "and ends")
        assert sorted(hub.seqs()) == sorted(backlog + fresh), "each sent once"
    finally:
        pub.stop()
        hub.stop()


def test_hub_offline_holds_sending_and_online_resends(
    mosquitto: Mosquitto, prefix: str, spool: Spool
) -> None:
    hub = StandInHub(port=mosquitto.port, prefix=prefix).start()
    hub.set_state("offline")
    pub = publisher(spool, mosquitto.port, prefix, ack_timeout=0.1)
    pub.start()
    try:
        wait_for(lambda: pub.hub_state == "offline", 10, "agent sees hub offline")
        seqs = fill(spool, 4)
        pub.wake()
        time.sleep(0.5)  # five ack timeouts: still nothing may be sent
        assert hub.seqs() == []
        assert spool.stats().batches == 4
        hub.set_state("online")
        wait_for(lambda: spool.stats().batches == 0, 10, "sent and acked after hub online")
        assert sorted(set(hub.seqs())) == seqs
    finally:
        pub.stop()
        hub.clear_retained(AGENT)
        hub.stop()


def test_reconnect_after_broker_restart_resends_unacked(
    own_mosquitto: Mosquitto, prefix: str, spool: Spool
) -> None:
    acking = {"on": False}
    hub = StandInHub(port=own_mosquitto.port, prefix=prefix, ack=lambda b: acking["on"]).start()
    seqs = fill(spool, 3)
    pub = publisher(spool, own_mosquitto.port, prefix, ack_timeout=60.0)
    pub.start()
    try:
        wait_for(lambda: sorted(hub.seqs()) == seqs, 10, "first delivery")
        acking["on"] = True  # from now on the hub acks what it receives: only resends
        own_mosquitto.restart()
        wait_for(lambda: pub.stats.connects >= 2, 15, "agent reconnected")
        wait_for(lambda: spool.stats().batches == 0, 15, "resent after reconnect and acked")
        assert all(hub.seqs().count(s) >= 2 for s in seqs)
        assert pub.stats.resent == 0, "resent because of the reconnect, not the timeout"
    finally:
        pub.stop()
        hub.stop()


def test_malformed_acks_are_ignored_and_counted(
    mosquitto: Mosquitto, prefix: str, spool: Spool
) -> None:
    hub = StandInHub(port=mosquitto.port, prefix=prefix, ack=lambda b: False).start()
    seqs = fill(spool, 2)
    pub = publisher(spool, mosquitto.port, prefix, ack_timeout=60.0)
    pub.start()
    try:
        wait_for(lambda: len(hub.seqs()) >= 2, 10, "delivery")
        topic = hub.topics.ack(AGENT)
        for bad in (b"not json", b'{"seq": ["1"]}', b'{"seq": true}', b"[1.5]"):
            hub.client.publish(topic, bad, qos=1)
        wait_for(lambda: pub.stats.bad_acks == 4, 10, "bad acks counted")
        assert spool.stats().batches == 2, "a bad ack deletes nothing"
        hub.client.publish(topic, json.dumps({"seq": seqs}), qos=1)
        wait_for(lambda: spool.stats().batches == 0, 10, "good ack still works")
    finally:
        pub.stop()
        hub.stop()
