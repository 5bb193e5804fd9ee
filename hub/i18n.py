"""The bot's words in English and German: a small message catalogue, applied per user.

The bot builds its replies in English; `localize_text(lang, text)` turns each line (and
each button label) into the user's language. An entry is an exact text or a template
whose `{}` parts stand for names, values and other entries (those parts are translated
too when they are entries themselves, e.g. the period in "Period: Last hour"). Lines the
catalogue does not know — signal names, values, tables, the engine's own messages — stay
as they are. RTOC had `global.language` en/de for the whole hub; here each user chooses.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

LANGUAGES = {"en": "English", "de": "Deutsch"}
DEFAULT = "en"

# English → German. `{}` in a template: any text; `{0}`, `{1}` in the German: which one.
GERMAN: dict[str, str] = {
    # main menu, navigation
    "← Back": "← Zurück",
    "Latest values": "Aktuelle Werte",
    "Signals": "Signale",
    "Devices": "Geräte",
    "Create Event/Signal": "Ereignis/Signal erstellen",
    "Automation": "Automatisierung",
    "Settings": "Einstellungen",
    "Exit preview": "Vorschau beenden",
    "Main menu": "Hauptmenü",
    "You have no shortcuts yet; ask an admin.": "Du hast noch keine Kurzbefehle; frag einen Admin.",
    "Unknown button; here is the main menu.": "Unbekannte Schaltfläche; hier ist das Hauptmenü.",
    "That button is malformed.": "Diese Schaltfläche ist fehlerhaft.",
    "{}; here is the main menu.": "{0}; hier ist das Hauptmenü.",
    "That did not work: {}": "Das hat nicht geklappt: {0}",
    "{}. Try again, or press {}.": "{0}. Versuch es noch einmal oder drücke {1}.",
    "You don't have permission for this bot.": "Du hast keine Berechtigung für diesen Bot.",
    "You don't have permission for this.": "Dazu hast du keine Berechtigung.",
    "The bot is in maintenance mode; only admins can use it right now.": (
        "Der Bot ist im Wartungsmodus; im Moment können ihn nur Admins benutzen."
    ),
    "done": "erledigt",
    "failed": "fehlgeschlagen",
    "on": "an",
    "off": "aus",
    "none": "keine",
    "Cancel": "Abbrechen",
    # latest values, signals, periods
    "No signals yet.": "Noch keine Signale.",
    "Select signals, then request a graph or a CSV.": (
        "Wähle Signale, dann fordere einen Graphen oder eine CSV an."
    ),
    "Select at least one signal first.": "Wähle zuerst mindestens ein Signal.",
    "Selected: {}": "Ausgewählt: {0}",
    "Period: {}": "Zeitraum: {0}",
    "Events: {}": "Ereignisse: {0}",
    "Request graph": "Graph anfordern",
    "Download CSV": "CSV herunterladen",
    "({} more not shown)": "({0} weitere nicht gezeigt)",
    "That signal is gone.": "Dieses Signal gibt es nicht mehr.",
    "{}: {} samples, {} events": "{0}: {1} Messwerte, {2} Ereignisse",
    "{} samples": "{0} Messwerte",
    "Choose a period, or send one like <code>16.05.25 - 13.06.25 14:33</code>.": (
        "Wähle einen Zeitraum oder sende einen wie <code>16.05.25 - 13.06.25 14:33</code>."
    ),
    "Last minute": "Letzte Minute",
    "Last 10 minutes": "Letzte 10 Minuten",
    "Last hour": "Letzte Stunde",
    "Last 6 hours": "Letzte 6 Stunden",
    "Last 24 hours": "Letzte 24 Stunden",
    "Last week": "Letzte Woche",
    "Last month": "Letzter Monat",
    "All": "Alles",
    "send a period as START - END, e.g. 16.05.25 - 13.06.25 14:33": (
        "sende einen Zeitraum als START - ENDE, z. B. 16.05.25 - 13.06.25 14:33"
    ),
    "the end of the period must come after its start": "das Ende muss nach dem Anfang liegen",
    # settings
    "Notifications: {}": "Benachrichtigungen: {0}",
    "Which events should reach you?": "Welche Ereignisse sollen dich erreichen?",
    "All events": "Alle Ereignisse",
    "Warnings": "Warnungen",
    "Only errors": "Nur Fehler",
    "No notifications": "Keine Benachrichtigungen",
    "General": "Allgemein",
    "Backup": "Sicherung",
    "Delete signals/events": "Signale/Ereignisse löschen",
    "Telegram bot": "Telegram-Bot",
    "Language: {}": "Sprache: {0}",
    "Language set to {}.": "Sprache: {0}.",
    "Signals: {}": "Signale: {0}",
    "Record length: {}": "Aufzeichnungslänge: {0}",
    "Store: {}, retention {}": "Speicher: {0}, Aufbewahrung {1}",
    "{} days": "{0} Tage",
    "Retention and scheduled backups are set in the hub's config file.": (
        "Aufbewahrung und geplante Sicherungen stehen in der Konfigurationsdatei des Hubs."
    ),
    "Record length ({})": "Aufzeichnungslänge ({0})",
    "Global sample rate": "Globale Abtastrate",
    "Send the record length: how many samples each signal keeps live (now {}, 1 to {}).": (
        "Sende die Aufzeichnungslänge: wie viele Messwerte jedes Signal live behält "
        "(jetzt {0}, 1 bis {1})."
    ),
    "Send the sample rate (samples per second) for every device.": (
        "Sende die Abtastrate (Messwerte pro Sekunde) für alle Geräte."
    ),
    "Record length set to {}.": "Aufzeichnungslänge auf {0} gesetzt.",
    "Sample rate {}: {}": "Abtastrate {0}: {1}",
    "no devices": "keine Geräte",
    "{} is not a whole number": "{0} ist keine ganze Zahl",
    "{} is not a number": "{0} ist keine Zahl",
    "the record length is 1 to {}": "die Aufzeichnungslänge ist 1 bis {0}",
    "the sample rate must be a positive number": "die Abtastrate muss eine positive Zahl sein",
    "Back up now": "Jetzt sichern",
    "No backups yet.": "Noch keine Sicherungen.",
    "{} backups in {}": "{0} Sicherungen in {1}",
    "Backed up: {} ({})": "Gesichert: {0} ({1})",
    "The backup failed: {}": "Die Sicherung ist fehlgeschlagen: {0}",
    "{} is gone.": "{0} gibt es nicht mehr.",
    "{}, {} bytes": "{0}, {1} Bytes",
    "This hub's store is PostgreSQL: back it up with `opencontrol backup`.": (
        "Der Speicher dieses Hubs ist PostgreSQL: sichere ihn mit `opencontrol backup`."
    ),
    "Delete a signal or the events, with their stored history.": (
        "Lösche ein Signal oder die Ereignisse, samt gespeichertem Verlauf."
    ),
    "✕ All events": "✕ Alle Ereignisse",
    "Delete {}?": "{0} löschen?",
    "Yes, delete {}": "Ja, {0} löschen",
    "Delete all events, stored ones too?": "Alle Ereignisse löschen, auch die gespeicherten?",
    "{} is gone from the live view; the store will delete it later ({}).": (
        "{0} ist aus der Live-Ansicht entfernt; der Speicher löscht es später ({1})."
    ),
    "Events gone from the live view; the store will delete them later ({}).": (
        "Ereignisse aus der Live-Ansicht entfernt; der Speicher löscht sie später ({0})."
    ),
    "Yes, delete all events": "Ja, alle Ereignisse löschen",
    "{} deleted.": "{0} gelöscht.",
    "{} events deleted.": "{0} Ereignisse gelöscht.",
    # Telegram bot settings (admins)
    "Telegram bot settings": "Einstellungen des Telegram-Bots",
    "Menu: {}": "Menü: {0}",
    "inline": "in der Nachricht",
    "keyboard": "Tastatur",
    "Only admin: {}": "Nur Admins: {0}",
    "Preview custom": "Vorschau custom",
    "Preview read": "Vorschau read",
    "Preview write": "Vorschau write",
    "Preview as {}.": "Vorschau als {0}.",
    "Preview ended.": "Vorschau beendet.",
    "Users": "Benutzer",
    "Users (you: {}, admin). Tap a user to choose its permission.": (
        "Benutzer (du: {0}, admin). Tippe auf einen Benutzer, um seine Berechtigung zu wählen."
    ),
    "{} is {}. Choose a permission.": "{0} ist {1}. Wähle eine Berechtigung.",
    "{} is now {}.": "{0} ist jetzt {1}.",
    "Make {} admin? Admins may change every user's permission and the bot's settings.": (
        "{0} zum Admin machen? Admins dürfen die Berechtigungen aller Benutzer und die "
        "Einstellungen des Bots ändern."
    ),
    "Yes, make {} admin": "Ja, {0} zum Admin machen",
    "{} joined the bot for the first time (permission {}).": (
        "{0} ist dem Bot zum ersten Mal beigetreten (Berechtigung {1})."
    ),
    # devices
    "No agent has announced a device.": "Kein Agent hat ein Gerät gemeldet.",
    "{} (running)": "{0} (läuft)",
    "{} (stopped)": "{0} (gestoppt)",
    "{} (offline)": "{0} (offline)",
    "<b>{}</b> on agent {}": "<b>{0}</b> auf Agent {1}",
    "driver {}, running, {} Hz": "Treiber {0}, läuft, {1} Hz",
    "driver {}, stopped, {} Hz": "Treiber {0}, gestoppt, {1} Hz",
    "Start": "Starten",
    "Stop": "Stoppen",
    "Sample rate ({} Hz)": "Abtastrate ({0} Hz)",
    "Set {}": "{0} setzen",
    "Call {}": "{0} aufrufen",
    "No device {}.": "Kein Gerät {0}.",
    "Send the new sample rate of {} in Hz (at most {}).": (
        "Sende die neue Abtastrate von {0} in Hz (höchstens {1})."
    ),
    "Send the new sample rate of {} in Hz": "Sende die neue Abtastrate von {0} in Hz",
    "Send a new value for {} ({}); now {}.": "Sende einen neuen Wert für {0} ({1}); jetzt {2}.",
    "Send the arguments for {}, e.g. 1.5, 2 or volts=1.5": (
        "Sende die Argumente für {0}, z. B. 1.5, 2 oder volts=1.5"
    ),
    "{}: done": "{0}: erledigt",
    "{}: done ({})": "{0}: erledigt ({1})",
    "{} failed: {}": "{0} fehlgeschlagen: {1}",
    "Shortcut {} added.": "Kurzbefehl {0} hinzugefügt.",
    "Shortcut {} removed.": "Kurzbefehl {0} entfernt.",
    "You already have the shortcut {}.": "Du hast den Kurzbefehl {0} schon.",
    "That shortcut is gone.": "Diesen Kurzbefehl gibt es nicht mehr.",
    # create event/signal
    "Choose a signal, or send its name as <code>Device.Signal</code>.": (
        "Wähle ein Signal oder sende seinen Namen als <code>Gerät.Signal</code>."
    ),
    "Telegram (no signal)": "Telegram (kein Signal)",
    "{}: send &#x27;&lt;number&gt; [unit]&#x27; to add a measurement, any other text to raise "
    "an event (*text* = error, _text_ = warning).": (
        "{0}: sende &#x27;&lt;Zahl&gt; [Einheit]&#x27; für einen Messwert, jeden anderen Text "
        "für ein Ereignis (*Text* = Fehler, _Text_ = Warnung)."
    ),
    "{}: send &#x27;&lt;number&gt; [unit]&#x27; or an event text.": (
        "{0}: sende &#x27;&lt;Zahl&gt; [Einheit]&#x27; oder einen Ereignistext."
    ),
    "send the signal as Device.Signal": "sende das Signal als Gerät.Signal",
    "{} = {} stored.": "{0} = {1} gespeichert.",
    "Event for {} raised.": "Ereignis für {0} ausgelöst.",
    # automation
    "Automation is not available on this hub.": "Automatisierung gibt es auf diesem Hub nicht.",
    "Events ({}):": "Ereignisse ({0}):",
    "Actions ({}):": "Aktionen ({0}):",
    "Actions: {}": "Aktionen: {0}",
    "New event": "Neues Ereignis",
    "New action": "Neue Aktion",
    "Test event {}": "Ereignis {0} testen",
    "Remove event {}": "Ereignis {0} entfernen",
    "Test action {}": "Aktion {0} testen",
    "Remove action {}": "Aktion {0} entfernen",
    "Saved {}.": "{0} gespeichert.",
    "That action is gone.": "Diese Aktion gibt es nicht mehr.",
    "No data for {}.": "Keine Daten für {0}.",
    # notifications
    "{} from {}:": "{0} von {1}:",
    "<i>Information</i>": "<i>Information</i>",
    "<b>Warning</b>": "<b>Warnung</b>",
    "<b><i>Error</i></b>": "<b><i>Fehler</i></b>",
    "<b>{} events</b>": "<b>{0} Ereignisse</b>",
    "<b>{} events</b> (and {} more following)": "<b>{0} Ereignisse</b> (und {1} weitere folgen)",
}

CATALOGUES = {"de": GERMAN}


def _variants(catalogue: dict[str, str]) -> dict[str, str]:
    """Each entry also as the bot sends it through html.escape (apostrophes, < and >)."""
    out = dict(catalogue)
    for en, de in catalogue.items():
        out.setdefault(html.escape(en), html.escape(de))
    return out


@lru_cache(maxsize=8)
def _compiled(lang: str) -> tuple[dict[str, str], list[tuple[re.Pattern[str], str]]]:
    entries = _variants(CATALOGUES.get(lang, {}))
    exact = {en: de for en, de in entries.items() if "{}" not in en}
    patterns = []
    for en, de in entries.items():
        if "{}" in en:
            parts = [re.escape(p) for p in en.split("{}")]
            patterns.append((re.compile("^" + "(.*?)".join(parts) + "$", re.S), de))
    # longer (more specific) templates first
    patterns.sort(key=lambda p: -len(p[0].pattern))
    return exact, patterns


@lru_cache(maxsize=4096)  # menus repeat their labels: most lines are looked up again
def translate_line(lang: str, line: str, depth: int = 0) -> str:
    """One line (or label) in `lang`; itself when the catalogue does not know it."""
    if lang == DEFAULT or not line or depth > 3:
        return line
    exact, patterns = _compiled(lang)
    if line in exact:
        return exact[line]
    for pattern, target in patterns:
        m = pattern.match(line)
        if m:
            parts = [translate_line(lang, g, depth + 1) for g in m.groups()]
            return target.format(*parts)
    return line


def localize_text(lang: str, text: str) -> str:
    """A whole message in `lang`, line by line."""
    if lang == DEFAULT or not text:
        return text
    return "\n".join(translate_line(lang, line) for line in text.split("\n"))


def language_name(lang: str) -> str:
    """'English', 'Deutsch'."""
    return LANGUAGES.get(lang, lang)


def parse_language(value: object) -> str:
    """A known language code; ValueError otherwise."""
    if value not in LANGUAGES:
        raise ValueError(f"language must be one of {sorted(LANGUAGES)}, not {value!r}")
    return str(value)
