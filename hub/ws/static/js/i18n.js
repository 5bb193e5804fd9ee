// The dashboard in English or German. The views write English; this module turns every
// text node and placeholder the catalogue knows into the chosen language as it appears
// (a MutationObserver), and back again. Names, values and the hub's messages stay as they
// are. The choice is kept with the hub user (logger.language) — RTOC had global.language.

export const LANGUAGES = { en: "English", de: "Deutsch" };

// English → German; "{}" in a key stands for any text, "{0}", "{1}" place it in German.
const GERMAN = {
  // top bar, login, navigation
  "Signals": "Signale", "Plot": "Plot", "Events": "Ereignisse", "Devices": "Geräte",
  "Automation": "Automatisierung", "Import/Export": "Import/Export", "Settings": "Einstellungen",
  "Log in": "Anmelden", "Log out": "Abmelden", "User": "Benutzer", "Password": "Passwort",
  "Wrong user name or password.": "Falscher Benutzername oder falsches Passwort.",
  "Your session is not authorized any more.": "Deine Sitzung ist nicht mehr angemeldet.",
  "connected": "verbunden", "connecting…": "verbinde…",
  "disconnected – retrying": "getrennt – neuer Versuch",
  "cannot connect – retrying": "keine Verbindung – neuer Versuch",
  "anonymous ({})": "anonym ({0})",
  // tables
  "Name": "Name", "Value": "Wert", "Unit": "Einheit", "Time": "Zeit", "Age": "Alter",
  "State": "Zustand", "Signal": "Signal", "Device": "Gerät", "Text": "Text",
  "Priority": "Priorität", "Id": "Id", "Latest": "Aktuell", "Last sample": "Letzter Messwert",
  "Parameter": "Parameter", "Function": "Funktion", "Arguments": "Argumente",
  "Set": "Setzen", "Call": "Aufrufen", "Start": "Starten", "Stop": "Stoppen",
  "ok": "ok", "stale": "veraltet", "stopped": "gestoppt", "offline": "offline",
  "running": "läuft", "info": "Info", "warning": "Warnung", "error": "Fehler",
  "on": "an", "off": "aus",
  "filter…": "Filter…", "text contains…": "Text enthält…",
  "No signals yet.": "Noch keine Signale.",
  "No agents or drivers known yet.": "Noch keine Agenten oder Treiber bekannt.",
  "{} of {}": "{0} von {1}",
  "all priorities": "alle Prioritäten", "warning and error": "Warnung und Fehler",
  "error only": "nur Fehler", "all devices": "alle Geräte",
  // automation
  "Events (conditions)": "Ereignisse (Bedingungen)",
  "Actions (scripts run on events)": "Aktionen (Skripte bei Ereignissen)",
  "Scripts (at a rate or on new data)": "Skripte (mit einer Rate oder bei neuen Daten)",
  "Condition": "Bedingung", "Trigger": "Auslöser", "Active": "Aktiv",
  "Listens to": "Hört auf", "Script": "Skript", "Runs": "Läuft", "Running": "Läuft gerade",
  "Runs / failures": "Läufe / Fehler", "Last output or error": "Letzte Ausgabe oder Fehler",
  "New event": "Neues Ereignis", "New action": "Neue Aktion", "New script": "Neues Skript",
  "Edit": "Bearbeiten", "Test": "Testen", "Switch on": "Einschalten",
  "Switch off": "Ausschalten", "Delete": "Löschen", "Run once": "Einmal ausführen",
  "Save": "Speichern", "Save and test": "Speichern und testen",
  "Save and run once": "Speichern und einmal ausführen", "Save and start": "Speichern und starten",
  "Close": "Schließen", "Cancel": "Abbrechen", "Event id": "Ereignis-Id",
  "Runs per second": "Läufe pro Sekunde", "at a rate": "mit einer Rate",
  "on new data of signals": "bei neuen Daten von Signalen",
  "No events defined.": "Keine Ereignisse definiert.",
  "No actions defined.": "Keine Aktionen definiert.", "No scripts.": "Keine Skripte.",
  "New event": "Neues Ereignis", "Event {}": "Ereignis {0}", "Action {}": "Aktion {0}",
  "Script {}": "Skript {0}", "{} per second": "{0} pro Sekunde", "on {}": "bei {0}",
  "events {} · actions {}": "Ereignisse {0} · Aktionen {1}",
  "(the signal's)": "(die des Signals)", "event ids, comma separated": "Ereignis-Ids, mit Komma",
  // import/export, delete
  "Import / export": "Import / Export", "Export a time range": "Zeitraum exportieren",
  "From ": "Von ", "to ": "bis ", "Export": "Exportieren", "Import": "Importieren",
  "Import into new signals": "In neue Signale importieren", "Excel (xlsx)": "Excel (xlsx)",
  "Delete chosen signals": "Gewählte Signale löschen", "Delete all events": "Alle Ereignisse löschen",
  "Choose at least one signal.": "Wähle mindestens ein Signal.",
  "Choose a .csv or .xlsx file.": "Wähle eine .csv- oder .xlsx-Datei.",
  "Choose signals to delete.": "Wähle die zu löschenden Signale.",
  "Yes, delete {}": "Ja, {0} löschen", "all events": "alle Ereignisse",
  "{}: {} samples": "{0}: {1} Messwerte",
  "{} samples imported into {}": "{0} Messwerte importiert in {1}",
  "deleted {} signals, {} events": "{0} Signale und {1} Ereignisse gelöscht",
  "export failed: {}": "Export fehlgeschlagen: {0}", "import failed: {}": "Import fehlgeschlagen: {0}",
  "delete failed: {}": "Löschen fehlgeschlagen: {0}",
  // plot
  "Live {}": "Live {0}", "1 min": "1 Min.", "10 min": "10 Min.", "1 h": "1 Std.",
  "1 day": "1 Tag", "30 days": "30 Tage", "1 year": "1 Jahr",
  "Drag across the plot to zoom into a range (loaded from the store);":
    "Ziehe über den Plot, um in einen Bereich zu zoomen (aus dem Speicher geladen);",
  "the mouse wheel zooms, a double click goes back to live.":
    "das Mausrad zoomt, ein Doppelklick geht zurück zu live.",
  "live · last {} s": "live · letzte {0} s",
  "history {} → {} · {} points from the store": "Verlauf {0} → {1} · {2} Punkte aus dem Speicher",
  "loading history {} → {} · {} points from the store":
    "lade Verlauf {0} → {1} · {2} Punkte aus dem Speicher",
  "{} · not loaded: {}": "{0} · nicht geladen: {1}", "{} pts": "{0} Pkt.",
  // devices
  "agent {}": "Agent {0}", "driver {}": "Treiber {0}", "{} · {}": "{0} · {1}",
  "Agent {}": "Agent {0}", "online": "online", "error: {}": "Fehler: {0}",
  "Read-only: changing parameters and calling functions needs the write right.":
    "Nur lesen: Parameter ändern und Funktionen aufrufen braucht das Schreibrecht.",
  "{} on agent {}": "{0} auf Agent {1}", "{} on agent {} (offline)": "{0} auf Agent {1} (offline)",
  "samples per second (Hz)": "Messwerte pro Sekunde (Hz)",
  "start {}": "{0} starten", "stop {}": "{0} stoppen", "{}…": "{0}…",
  "{} failed: {}": "{0} fehlgeschlagen: {1}",
  // settings
  "Record length (samples kept live per signal)": "Aufzeichnungslänge (live behaltene Messwerte je Signal)",
  "Global sample rate (every device)": "Globale Abtastrate (alle Geräte)",
  "Automation events evaluated": "Ereignisse der Automatisierung werden ausgewertet",
  "Automation actions run": "Aktionen der Automatisierung laufen",
  "Apply": "Übernehmen", "Sample rate per device": "Abtastrate je Gerät",
  "Samples per second": "Messwerte pro Sekunde", "No devices.": "Keine Geräte.",
  "Changing settings needs the write right.": "Einstellungen ändern braucht das Schreibrecht.",
  "record length: done": "Aufzeichnungslänge: erledigt",
  "sample rate: done": "Abtastrate: erledigt", "automation: done": "Automatisierung: erledigt",
  "Language": "Sprache",
};
const CATALOGUES = { de: GERMAN };

function compile(cat) {
  const exact = new Map();
  const patterns = [];
  for (const [en, de] of Object.entries(cat)) {
    if (!en.includes("{}")) {
      exact.set(en, de);
      continue;
    }
    const parts = en.split("{}").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    patterns.push([new RegExp(`^${parts.join("(.*?)")}$`, "s"), de, en.replaceAll("{}", "").length]);
  }
  // templates with more fixed text (more specific) first: "Live {}" before "{} · {}"
  patterns.sort((a, b) => b[2] - a[2]);
  return { exact, patterns };
}
const COMPILED = Object.fromEntries(Object.entries(CATALOGUES).map(([k, c]) => [k, compile(c)]));

const NUMERIC = /^[-+\d\s.,:eE–→·%]*$/;
let current = "en";
const originals = new WeakMap(); // node → its English text (to switch back)
const written = new WeakMap(); // node → the text this module put there

/** `text` in `lang` (itself when unknown); parts of a template are translated too. */
export function translate(text, lang = current, depth = 0) {
  const cat = COMPILED[lang];
  if (!cat || !text || depth > 3) return text;
  const lead = text.match(/^\s*/)[0];
  const trail = text.match(/\s*$/)[0];
  const core = text.trim();
  if (!core || NUMERIC.test(core)) return text; // values and times: nothing to translate
  if (cat.exact.has(core)) return lead + cat.exact.get(core) + trail;
  for (const [re, target] of cat.patterns) {
    const m = re.exec(core);
    if (m) {
      const parts = m.slice(1).map((g) => translate(g, lang, depth + 1));
      return lead + target.replace(/\{(\d)\}/g, (_, i) => parts[Number(i)]) + trail;
    }
  }
  return text;
}

function translateNode(node) {
  if (node.nodeType === Node.TEXT_NODE) {
    const parent = node.parentElement;
    if (!parent || parent.closest("textarea, pre, code, [data-no-i18n]")) return;
    const english = originals.has(node) ? originals.get(node) : node.data;
    const out = current === "en" ? english : translate(english);
    if (out !== node.data) {
      if (!originals.has(node)) originals.set(node, node.data);
      node.data = out;
      written.set(node, out);
    }
    return;
  }
  if (node.nodeType !== Node.ELEMENT_NODE) return;
  if (node.hasAttribute && node.hasAttribute("placeholder")) {
    const english = node.dataset.i18nPlaceholder || node.getAttribute("placeholder");
    node.dataset.i18nPlaceholder = english;
    node.setAttribute("placeholder", current === "en" ? english : translate(english));
  }
  for (const child of node.childNodes) translateNode(child);
}

let observer = null;
let busy = false;

/** Translate the document now and whatever is added to it from now on. */
export function setLanguage(lang) {
  current = LANGUAGES[lang] ? lang : "en";
  document.documentElement.lang = current;
  busy = true;
  translateNode(document.body);
  busy = false;
  if (observer) observer.takeRecords(); // our own changes
  if (!observer) {
    observer = new MutationObserver((records) => {
      if (busy) return;
      busy = true;
      for (const r of records) {
        if (r.type === "characterData" && r.target.data !== written.get(r.target)) {
          originals.delete(r.target); // new English text from a view
          translateNode(r.target);
        }
        for (const n of r.addedNodes) translateNode(n);
      }
      busy = false;
    });
    observer.observe(document.body, { childList: true, characterData: true, subtree: true });
  }
  return current;
}

export function language() {
  return current;
}
