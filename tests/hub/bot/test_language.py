"""German or English per user: the switch in Settings, menus and typed labels, notifications,
and the choice kept with the user across a restart of the bot."""

from __future__ import annotations

import time

from hub.app import Hub
from hub.bot.users import UserDirectory
from hub.db.base import EventRecord
from hub.i18n import GERMAN, localize_text, translate_line
from tests.fixtures.net import async_wait_for

from .conftest import settle


async def test_a_user_switches_to_german_and_others_stay_english(
    hub: Hub, make_bot, chat_factory
) -> None:
    bot = await make_bot(default_permission="read")
    ann, rita = chat_factory(1, "Ann"), chat_factory(2, "Rita")
    await ann.say("/start")
    await rita.say("/start")
    await settle(bot)
    (settings,) = await ann.say("Settings")
    assert "Language: English" in settings.buttons()
    (switched,) = await ann.say("Language: English")
    assert switched.text == "Sprache: Deutsch."
    assert "Sprache: Deutsch" in switched.buttons() and "Allgemein" in switched.buttons()
    # typed German labels (reply keyboard) lead where the English ones do
    (menu,) = await ann.say("← Zurück")
    assert menu.text == "Hauptmenü"
    assert menu.buttons()[:2] == ["Aktuelle Werte", "Signale"]
    (sig,) = await ann.say("Signale")
    assert "Zeitraum: Letzte 24 Stunden" in sig.buttons()
    assert "Wähle Signale, dann fordere einen Graphen oder eine CSV an." in sig.text
    await ann.say("Hauptmenü")
    await ann.say("Einstellungen")
    await ann.say("Allgemein")
    await ann.say(f"Aufzeichnungslänge ({hub.signals.record_length})")
    (bad,) = await ann.say("viele")
    assert bad.text.startswith("viele ist keine ganze Zahl. Versuch es noch einmal")
    # the other user is untouched
    (menu,) = await rita.say("/start")
    assert menu.text == "Main menu" and "Latest values" in menu.buttons()

    # notifications in each user's language
    hub.add_event(EventRecord(time=time.time(), device="Room", signal="T", text="hot", priority=1))
    await async_wait_for(
        lambda: any("Warnung</b> von Room.T:" in c.text for c in ann.received()), what="de"
    )
    await async_wait_for(
        lambda: any("Warning</b> from Room.T:" in c.text for c in rita.received()), what="en"
    )

    # a burst grouped into one message: its head in German too
    for i in range(5):
        hub.add_event(
            EventRecord(time=time.time(), device="Room", signal="T", text=f"b{i}", priority=2)
        )
    await async_wait_for(
        lambda: any("Ereignisse</b>" in c.text and "b4" in c.text for c in ann.received()),
        what="a grouped German notification",
    )

    # kept with the user: a new directory from the stored document knows it
    again = UserDirectory()
    again.load_doc(bot.users.to_doc())
    assert again.get(1).language == "de" and again.get(2).language == "en"
    (back,) = await ann.press_data("lng:en")
    assert back.text == "Language set to English."
    (bad,) = await ann.press_data("lng:fr")
    assert "language must be one of" in bad.text


def test_the_catalogue_translates_lines_and_nested_entries() -> None:
    assert translate_line("de", "Period: Last hour") == "Zeitraum: Letzte Stunde"
    assert translate_line("de", "Gen.Square") == "Gen.Square"  # data stays
    assert translate_line("en", "Main menu") == "Main menu"
    text = "Select at least one signal first.\nSelected: none\nPeriod: Last week"
    assert localize_text("de", text).splitlines() == [
        "Wähle zuerst mindestens ein Signal.",
        "Ausgewählt: keine",
        "Zeitraum: Letzte Woche",
    ]
    for en, de in GERMAN.items():  # every template keeps its placeholders
        assert en.count("{}") == len({p for p in range(5) if f"{{{p}}}" in de}), en


async def test_a_german_user_sees_the_engines_refusals_in_german(
    hub: Hub, make_bot, chat_factory
) -> None:
    engine = hub.engine
    assert engine is not None
    engine.set_user_action("broken", "print('start')\nreturn ('text', str(Nope.T.latest))")
    engine.set_user_action("escape", "return ('picture', '/etc/passwd')")
    engine.set_user_action("nodoc", "return ('document', 'missing.pdf')")
    bot = await make_bot(default_permission="write")
    de, en = chat_factory(1, "Dora"), chat_factory(2, "Ed")
    await de.say("/start")
    await en.say("/start")
    await settle(bot)
    await de.press_data("lng:de")

    (reply,) = await de.say("broken")
    assert reply.text.splitlines() == ["start", "Fehler: Zeile 2: unbekanntes Signal Nope.T"], (
        reply.text
    )
    (reply,) = await en.say("broken")
    assert reply.text.splitlines() == ["start", "error: line 2: unknown signal Nope.T"]
    (reply,) = await de.say("escape")
    assert "ist kein Dateiname im Ordner pictures des Hubs" in reply.text, reply.text
    (reply,) = await de.say("nodoc")
    assert reply.text.startswith("nodoc: kein Dokument &#x27;missing.pdf&#x27; in "), reply.text
