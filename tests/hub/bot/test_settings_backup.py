"""Settings → General, Settings → Backup and deleting signals/events, through the real bot
and the Bot API stand-in; what a write user and a read user may not do."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from hub.app import Hub
from hub.bot.handlers import NOT_ALLOWED
from hub.db.base import EventRecord
from tests.fixtures.telegram_standin import BotApiStandIn

from .conftest import wait_stored


async def test_general_settings_change_record_length_and_refuse_bad_values(
    hub: Hub, make_bot, chat_factory
) -> None:
    await make_bot(default_permission="read")
    admin, reader = chat_factory(1, "Ann"), chat_factory(2, "Rita")
    await admin.say("/start")
    await admin.say("Settings")
    (general,) = await admin.say("General")
    assert f"Record length ({hub.signals.record_length})" in general.buttons()
    (prompt,) = await admin.say(f"Record length ({hub.signals.record_length})")
    assert "Send the record length" in prompt.text
    (bad,) = await admin.say("lots")
    assert "lots is not a whole number" in bad.text
    (bad,) = await admin.say("0")
    assert "1 to 10000000" in bad.text
    (done,) = await admin.say("1234")
    assert "Record length set to 1234." in done.text and hub.signals.record_length == 1234
    (prompt,) = await admin.say("Global sample rate")
    (bad,) = await admin.say("inf")
    assert "positive number" in bad.text
    (done,) = await admin.say("5")
    assert "Sample rate 5: no devices" in done.text

    (menu,) = await reader.say("/start")
    await reader.say("Settings")
    assert "General" not in reader.last_buttons() and "Settings" in menu.buttons()
    for data in ("gen", "grl", "gsr", "bk", "bkn", "del", "dle", "dley"):
        (reply,) = await reader.press_data(data)
        assert reply.text == NOT_ALLOWED, data
    assert hub.signals.record_length == 1234


async def test_backup_now_list_and_download_as_document(
    hub: Hub, make_bot, chat_factory, telegram_standin: BotApiStandIn, tmp_path: Path
) -> None:
    hub.ingest_local("Room", "Temp", [time.time() - 10], [21.5], "°C")
    await wait_stored(hub, "Room", "Temp", 1)
    await make_bot(default_permission="write")
    admin, writer = chat_factory(1, "Ann"), chat_factory(2, "Wim")
    await admin.say("/start")
    await admin.say("Settings")
    (menu,) = await admin.say("Backup")
    assert "No backups yet." in menu.text
    (made,) = await admin.say("Back up now")
    assert "Backed up: opencontrol-" in made.text
    name = next(b for b in made.buttons() if b.startswith("⬇ ")).removeprefix("⬇ ")
    (doc,) = await admin.say(f"⬇ {name}")
    assert doc.method == "sendDocument"
    filename, data = doc.files["document"]
    assert filename == name
    copy = tmp_path / "restored.sqlite"
    copy.write_bytes(data)
    with sqlite3.connect(copy) as conn:  # a real SQLite file with the sample in it
        assert conn.execute("SELECT count(*) FROM samples").fetchone()[0] >= 1

    await writer.say("/start")
    (settings,) = await writer.say("Settings")
    assert "Backup" not in settings.buttons() and "General" in settings.buttons()
    (reply,) = await writer.press_data(f"bkd:{name}")
    assert reply.text == NOT_ALLOWED
    assert not any(c.method == "sendDocument" for c in writer.received())


async def test_admin_deletes_a_signal_and_all_events_after_confirming(
    hub: Hub, make_bot, chat_factory
) -> None:
    hub.ingest_local("Room", "Temp", [time.time() - 10], [21.5], "°C")
    hub.ingest_local("Room", "Hum", [time.time() - 10], [40.0], "%")
    hub.add_event(EventRecord(time=time.time(), device="Room", signal="Temp", text="hot"))
    await make_bot(default_permission="write")
    admin, writer = chat_factory(1, "Ann"), chat_factory(2, "Wim")
    await admin.say("/start")
    await admin.say("Settings")
    (menu,) = await admin.say("Delete signals/events")
    assert "✕ Room.Temp" in menu.buttons() and "✕ All events" in menu.buttons()
    (confirm,) = await admin.say("✕ Room.Temp")
    assert "Delete Room.Temp?" in confirm.text
    assert hub.signals.find("Room", "Temp") is not None  # not before the confirmation
    (done,) = await admin.say("Yes, delete Room.Temp")
    assert "Room.Temp deleted." in done.text and "✕ Room.Temp" not in done.buttons()
    assert hub.signals.find("Room", "Temp") is None and hub.signals.find("Room", "Hum")
    await admin.say("✕ All events")
    (done,) = await admin.say("Yes, delete all events")
    assert "1 events deleted." in done.text and len(hub.recent_events) == 0
    # Deleted in the store too (the samples and event still pending went first, then the
    # deletion): a restart would not bring them back; Room.Hum is stored and stays.
    assert [r.key for r in hub.store.signals()] == ["Room.Hum"]
    assert hub.store.events() == []

    await writer.say("/start")
    sig_id = str(hub.signals.find("Room", "Hum").id)
    for data in ("del", f"dls:{sig_id}", f"dlsy:{sig_id}", "dley"):
        (reply,) = await writer.press_data(data)
        assert reply.text == NOT_ALLOWED, data
    assert hub.signals.find("Room", "Hum") is not None
