"""`automation` and `userAction` over the websocket go to the hub's engine with the client's
permission: read clients see, write clients change, and a new event reaches subscribers."""

from __future__ import annotations

from hub.app import Hub
from hub.service import AutomationService, HubService
from hub.users import Users, save_users
from hub.ws.server import serve

EVENT = {
    "name": "hot",
    "cond": "Room.T.latest >= 30",
    "text": "too hot",
    "priority": 1,
    "retur": None,
    "id": "hotID",
    "trigger": "rising",
    "sname": "T",
    "dname": "Room",
    "active": True,
}


async def test_write_client_sets_an_event_that_fires(ws_factory, hub: Hub, raw) -> None:
    assert hub.engine is not None, "the hub fixture wires the engine"
    server = await ws_factory(push_interval=0.0)
    r = await raw(server.url, authorize=True)
    _, resp = await r.request({"automation": {"setEvent": EVENT}})
    auto = resp["automation"]
    assert auto["setEvent"] is True and "errors" not in auto
    assert auto["events"]["hot"]["cond"] == "Room.T.latest >= 30"
    assert set(auto) >= {"events", "actions", "active"}
    pushes, resp = await r.request({"y": [31.0], "sname": ["T"], "dname": "Room", "x": [1000.0]})
    assert resp["sent"] is True
    # evaluated on the sample's arrival: the event push comes before the response (RTOC)
    events = [p["event"] for p in pushes if "event" in p]
    assert len(events) == 1
    ev = events[0]
    assert (ev["text"], ev["dname"], ev["sname"], ev["priority"], ev["id"]) == (
        "too hot",
        "Room",
        "T",
        1,
        "hotID",
    )
    _, resp = await r.request({"getEventList": True})
    assert [row[3] for row in resp["events"].values()] == ["too hot"]


async def test_read_user_cannot_change_automation(ws_factory, hub: Hub, raw) -> None:
    users = Users()
    users.add("admin", "admin-pass-1")
    users.add("reader", "reader-pass-1", "read")
    await save_users(hub, users)
    server = await ws_factory(require_login=True)
    r = await raw(server.url, authorize={"user": "reader", "password": "reader-pass-1"})
    _, resp = await r.request(
        {"automation": {"setAction": {"name": "a", "script": "x = 1", "listenID": ["hotID"]}}}
    )
    auto = resp["automation"]
    assert auto["setAction"] is False
    assert auto["errors"]["setAction"].startswith("permission denied")
    assert "a" not in auto["actions"]
    _, resp = await r.request({"userAction": "anything"})
    assert resp["userAction"]["success"] is False
    assert resp["userAction"]["data"] == "permission denied"


async def test_without_engine_the_reason_is_given(hub: Hub, raw) -> None:
    without = HubService(hub=hub, automation=AutomationService(None))
    server = await serve(without, {"host": "127.0.0.1", "port": 0, "require_login": False})
    try:
        r = await raw(server.url, authorize=True)
        _, resp = await r.request({"automation": {"reset": True}, "userAction": "x"})
        assert resp["automation"] == {"error": "the automation engine is not running on this hub"}
        assert resp["userAction"]["success"] is False
    finally:
        await server.close()
