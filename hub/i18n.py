"""The bot's words in English and German: a small message catalogue, applied per user.

The bot builds its replies in English; `localize_text(lang, text)` turns each line (and
each button label) into the user's language. An entry is an exact text or a template
whose `{}` parts stand for names, values and other entries (those parts are translated
too when they are entries themselves, e.g. the period in "Period: Last hour"). The
engine's and the service's answers a Telegram user sees (script errors, refusals) are
entries too (tests/hub/test_i18n_catalogue.py holds every such text to one). Lines the
catalogue does not know — signal names, values, tables, what scripts print — stay as
they are. RTOC had `global.language` en/de for the whole hub; here each user chooses.
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
    "{}: ok: {}": "{0}: ok: {1}",
    "{}: failed: {}": "{0}: fehlgeschlagen: {1}",
    "{}: not found": "{0}: nicht gefunden",
    "automation is not available on this hub": "Automatisierung gibt es auf diesem Hub nicht",
    "unknown automation button {}": "unbekannte Schaltfläche der Automatisierung {0}",
    "'cond' is missing": "'cond' fehlt",
    "'script' is missing": "'script' fehlt",
    "priority is 0, 1 or 2": "die Priorität ist 0, 1 oder 2",
    "a name is required": "ein Name ist nötig",
    "line {}: expected one of {} followed by ':'": (
        "Zeile {0}: erwartet wird eines von {1}, gefolgt von ':'"
    ),
    # the engine's and the service's answers (scripts, actions, user actions)
    "{}: {}": "{0}: {1}",  # "name: message": the message in German (tried last)
    "permission denied": "Zugriff verweigert",
    "permission denied: {} needs {}": "Zugriff verweigert: {0} braucht {1}",
    "the automation engine is not running on this hub": (
        "die Automatisierung läuft auf diesem Hub nicht"
    ),
    "no user action named {}": "keine Benutzeraktion namens {0}",
    "no event named {}": "kein Ereignis namens {0}",
    "no action named {}": "keine Aktion namens {0}",
    "no script named {}": "kein Skript namens {0}",
    "{} is an operator's file script": "{0} ist ein Skript des Betreibers (Datei)",
    "{}: unknown answer kind {} (text, picture or document)": (
        "{0}: unbekannte Art der Antwort {1} (text, picture oder document)"
    ),
    "{}: this bot sends no files": "{0}: dieser Bot sendet keine Dateien",
    "{}: {} is not a file name in the hub's {} folder (letters, digits, _ . -; no paths)": (
        "{0}: {1} ist kein Dateiname im Ordner {2} des Hubs (Buchstaben, Ziffern, _ . -; "
        "keine Pfade)"
    ),
    "{}: give a picture's file name or {label: [xs, ys]}": (
        "{0}: gib den Dateinamen eines Bildes an oder {{label: [xs, ys]}}"
    ),
    "{}: at most 10 curves in one plot": "{0}: höchstens 10 Kurven in einem Plot",
    "{}: {} must map to [xs, ys]": "{0}: {1} muss auf [xs, ys] verweisen",
    "{}: {}: xs and ys differ in length": "{0}: {1}: xs und ys sind verschieden lang",
    "no picture {} in {}": "kein Bild {0} in {1}",
    "no document {} in {}": "kein Dokument {0} in {1}",
    "picture {} is larger than 10 MB": "das Bild {0} ist größer als 10 MB",
    "document {} is larger than 50 MB": "das Dokument {0} ist größer als 50 MB",
    "{} is bigger than Telegram takes ({} bytes).": (
        "{0} ist größer, als Telegram annimmt ({1} Bytes)."
    ),
    "{} cannot be read: {}": "{0} kann nicht gelesen werden: {1}",
    "the user who pressed the action no longer has {}": (
        "wer die Aktion gedrückt hat, hat {0} nicht mehr"
    ),
    "priority must be 0, 1 or 2": "die Priorität muss 0, 1 oder 2 sein",
    "the picture is larger than 10 MB": "das Bild ist größer als 10 MB",
    "error: line {}: {}": "Fehler: Zeile {0}: {1}",
    "refused: line {}: {}": "abgelehnt: Zeile {0}: {1}",
    "error: {}": "Fehler: {0}",
    "refused: {}": "abgelehnt: {0}",
    "{} script runs are already waiting": "{0} Skriptläufe warten schon",
    "no result in time (queued too long)": "kein Ergebnis in der Zeit (zu lange gewartet)",
    "nested too deeply": "zu tief verschachtelt",
    "break/continue outside a loop": "break/continue außerhalb einer Schleife",
    "{} is not allowed (line {})": "{0} ist nicht erlaubt (Zeile {1})",
    "unknown function {} (line {})": "unbekannte Funktion {0} (Zeile {1})",
    "{} is not available (line {})": "{0} ist nicht verfügbar (Zeile {1})",
    "unknown signal {}": "unbekanntes Signal {0}",
    "signal {} has no data yet": "Signal {0} hat noch keine Daten",
    "unknown name {}: no such signal or parameter": (
        "unbekannter Name {0}: kein solches Signal und kein solcher Parameter"
    ),
    "name {} is used before it is assigned": "der Name {0} wird benutzt, bevor er einen Wert hat",
    "syntax error in script: line {}: {}": "Syntaxfehler im Skript: Zeile {0}: {1}",
    "syntax error in condition: {} (column {})": "Syntaxfehler in der Bedingung: {0} (Spalte {1})",
    "operation budget exhausted ({} operations)": (
        "Budget an Operationen erschöpft ({0} Operationen)"
    ),
    "time budget exhausted ({} s)": "Zeitbudget erschöpft ({0} s)",
    "memory budget exhausted ({} elements)": "Speicherbudget erschöpft ({0} Elemente)",
    "telegram: {}": "telegram: {0}",
    "the hub runs no Telegram bot ([telegram] enabled)": (
        "der Hub betreibt keinen Telegram-Bot ([telegram] enabled)"
    ),
    "the bot did not answer in time": "der Bot hat nicht rechtzeitig geantwortet",
    "this run has no Telegram user to answer (only a user action pressed in Telegram has one)": (
        "dieser Lauf hat keinen Telegram-Benutzer, dem er antworten kann (nur eine in Telegram "
        "gedrückte Benutzeraktion hat einen)"
    ),
    "{}: no answer from the agent": "{0}: keine Antwort vom Agenten",
    "stream()/plot() are not available: no data sink": (
        "stream()/plot() sind nicht verfügbar: kein Ziel für Daten"
    ),
    "device {} belongs to agent {}: stream to a device name of its own": (
        "das Gerät {0} gehört Agent {1}: streame an einen eigenen Gerätenamen"
    ),
    "event(): value must be a number, text or bool": (
        "event(): value muss eine Zahl, ein Text oder ein Wahrheitswert sein"
    ),
    "{}(): priority must be 0, 1 or 2": "{0}(): die Priorität muss 0, 1 oder 2 sein",
    "{}(): permission must be one of {}": "{0}(): die Berechtigung muss eine von {1} sein",
    "{}(): the text is empty": "{0}(): der Text ist leer",
    "{}(): to must be 'all' or 'caller'": "{0}(): to muss 'all' oder 'caller' sein",
    "{}(): values must be numbers ({})": "{0}(): die Werte müssen Zahlen sein ({1})",
    "{}(): values must be finite numbers, not NaN or infinity": (
        "{0}(): die Werte müssen endliche Zahlen sein, nicht NaN oder unendlich"
    ),
    "stream(): fewer x than y values": "stream(): weniger x- als y-Werte",
    "plot(): x and y differ in length": "plot(): x und y sind verschieden lang",
    "cannot unpack into {} names": "kann nicht in {0} Namen entpackt werden",
    "cannot assign an item of a {}": "kann einem Element von {0} nichts zuweisen",
    "item assignment: {}": "Zuweisung an ein Element: {0}",
    "condition: {}": "Bedingung: {0}",
    "trig condition: {}": "trig-Bedingung: {0}",
    "cannot loop over a {}": "kann nicht über {0} iterieren",
    "a script must be text": "ein Skript muss Text sein",
    "script longer than {} characters": "Skript länger als {0} Zeichen",
    "script nested too deeply": "Skript zu tief verschachtelt",
    "script too complex ({} nodes)": "Skript zu komplex ({0} Knoten)",
    "out of memory (the worker's memory limit)": (
        "kein Speicher mehr (die Speichergrenze des Arbeitsprozesses)"
    ),
    # input the bot refuses
    "{} has no parameter {}.": "{0} hat keinen Parameter {1}.",
    "{} has no function {}.": "{0} hat keine Funktion {1}.",
    "device {} is not known (any more)": "das Gerät {0} ist (nicht mehr) bekannt",
    "the sample rate is a number in Hz, got {}": "die Abtastrate ist eine Zahl in Hz, nicht {0}",
    "the sample rate must be greater than 0, got {}": (
        "die Abtastrate muss größer als 0 sein, nicht {0}"
    ),
    "the sample rate must be at most {} Hz, got {}": (
        "die Abtastrate darf höchstens {0} Hz sein, nicht {1}"
    ),
    "{} is read-only": "{0} ist nur lesbar",
    "{} takes {}; got nothing": "{0} braucht {1}; nichts bekommen",
    "{}: not valid JSON: {}": "{0}: kein gültiges JSON: {1}",
    "{} takes {} arguments, got {}": "{0} nimmt {1} Argumente, bekam {2}",
    "{}: unknown arguments {} (takes {})": "{0}: unbekannte Argumente {1} (nimmt {2})",
    "{}: missing argument {} ({})": "{0}: fehlendes Argument {1} ({2})",
    "cannot read {} as a date; use e.g. 16.05.25 14:33, 2025-05-16 or 16.05 14:33": (
        "{0} ist kein lesbares Datum; nutze z. B. 16.05.25 14:33, 2025-05-16 oder 16.05 14:33"
    ),
    "empty button data": "leere Daten der Schaltfläche",
    "this menu has expired": "dieses Menü ist abgelaufen",
    "event level must be 0..3, got {}": "die Ereignisstufe muss 0..3 sein, nicht {0}",
    "telegram_clients.json must hold an object keyed by chat id": (
        "telegram_clients.json muss ein Objekt mit Chat-Ids als Schlüsseln enthalten"
    ),
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
    ranked = []
    for en, de in entries.items():
        if "{}" in en:
            parts = [re.escape(p) for p in en.split("{}")]
            pattern = re.compile("^" + "(.*?)".join(parts) + "$", re.S)
            ranked.append((len(en) - 2 * en.count("{}"), pattern, de))
    # templates with more fixed text (more specific) first: "Menu: {}" before "{}: {}"
    ranked.sort(key=lambda p: -p[0])
    return exact, [(pattern, de) for _, pattern, de in ranked]


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
