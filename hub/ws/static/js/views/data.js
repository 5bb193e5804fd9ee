// Data: export a time range of chosen signals as CSV/xlsx, import a CSV/xlsx file into new
// signals (write), delete signals and events with their stored history (admin). The hub checks
// every right again (logger exportTable/importTable/delete).

import { allowed, fill, h } from "../util.js";
import { errorText, fromBase64, toBase64 } from "../files.js";

/** "YYYY-MM-DDTHH:MM" in local time, for a datetime-local input. */
function localInput(t) {
  const d = new Date(t * 1000);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T` +
    `${p(d.getHours())}:${p(d.getMinutes())}`;
}

function say(el, text, ok) {
  el.textContent = text;
  el.className = `result ${ok ? "ok" : "error"}`;
}

export function mount(app, root) {
  const picker = h("div", { id: "data-signals", class: "checks" });
  const now = Date.now() / 1000;
  const from = h("input", { id: "export-from", type: "datetime-local",
    value: localInput(now - 3600) });
  const to = h("input", { id: "export-to", type: "datetime-local", value: localInput(now + 60) });
  const format = h("select", { id: "export-format" },
    h("option", { value: "csv" }, "CSV"), h("option", { value: "xlsx" }, "Excel (xlsx)"));
  const exportResult = h("p", { id: "export-result", class: "result", role: "status" });
  const file = h("input", { id: "import-file", type: "file", accept: ".csv,.xlsx" });
  const importResult = h("p", { id: "import-result", class: "result", role: "status" });
  const confirmRow = h("div", { class: "toolbar" });
  const deleteResult = h("p", { id: "delete-result", class: "result", role: "status" });
  const canWrite = allowed(app.permission, "write");
  const isAdmin = allowed(app.permission, "admin");

  function chosen() {
    return [...picker.querySelectorAll("input:checked")].map((c) => c.value);
  }

  function renderPicker() {
    const keep = new Set(chosen());
    const keys = [...app.latest.keys()].sort();
    fill(picker, keys.length ? keys.map((k) => h("label", {},
      h("input", { type: "checkbox", value: k, checked: keep.has(k) }), ` ${k}`)) :
      h("span", { class: "muted" }, "No signals yet."));
  }

  async function doExport() {
    const signals = chosen();
    if (!signals.length) return say(exportResult, "Choose at least one signal.", false);
    const xmin = new Date(from.value).getTime() / 1000;
    const xmax = new Date(to.value).getTime() / 1000;
    say(exportResult, "exporting…", true);
    try {
      const r = await app.client.request({ logger: { exportTable: {
        signals, xmin, xmax, format: format.value } } }, { timeoutMs: 120000 });
      const out = r.logger.exportTable;
      const blob = new Blob([fromBase64(out.data)]);
      const a = h("a", { href: URL.createObjectURL(blob), download: out.name });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 60000);
      say(exportResult, `${out.name}: ${out.samples} samples`, true);
    } catch (e) {
      say(exportResult, `export failed: ${errorText(e)}`, false);
    }
  }

  async function doImport() {
    const f = file.files[0];
    if (!f) return say(importResult, "Choose a .csv or .xlsx file.", false);
    say(importResult, `importing ${f.name}…`, true);
    try {
      const data = toBase64(new Uint8Array(await f.arrayBuffer()));
      const r = await app.client.request({ logger: { importTable: { name: f.name, data } } },
        { timeoutMs: 120000 });
      const out = r.logger.importTable;
      await app.refreshLatest();
      say(importResult, `${out.samples} samples imported into ${out.signals.join(", ")}`, true);
    } catch (e) {
      say(importResult, `import failed: ${errorText(e)}`, false);
    }
  }

  function askDelete(events) {
    const signals = events ? [] : chosen();
    if (!events && !signals.length) return say(deleteResult, "Choose signals to delete.", false);
    const what = events ? "all events" : signals.join(", ");
    fill(confirmRow, h("button", { id: "delete-confirm", type: "button", class: "danger",
      onclick: () => { fill(confirmRow); doDelete(events, signals); } }, `Yes, delete ${what}`),
    h("button", { type: "button", onclick: () => fill(confirmRow) }, "Cancel"));
  }

  async function doDelete(events, signals) {
    try {
      const arg = events ? { events: "all" } : { signals };
      const r = await app.client.request({ logger: { delete: arg } });
      const out = r.logger.delete;
      for (const k of signals) app.latest.delete(k);
      if (events) {
        app.events.splice(0);
        app.eventKeys.clear();
        app.bus.dispatchEvent(new CustomEvent("events"));
      }
      app.bus.dispatchEvent(new CustomEvent("latest"));
      say(deleteResult, `deleted ${out.signals} signals, ${out.events} events`, true);
    } catch (e) {
      say(deleteResult, `delete failed: ${errorText(e)}`, false);
    }
  }

  fill(root,
    h("div", { class: "toolbar" }, h("h2", {}, "Import / export")),
    h("h3", {}, "Signals"), picker,
    h("h3", {}, "Export a time range"),
    h("div", { class: "toolbar" }, h("label", {}, "From ", from), h("label", {}, "to ", to),
      format, h("button", { id: "export-go", type: "button", onclick: doExport }, "Export")),
    exportResult,
    canWrite ? [h("h3", {}, "Import into new signals"),
      h("p", { class: "muted hint" }, "Columns time (or utc), signal (Device.Name), unit, " +
        "value — the layout an export writes. Every row is checked first; names that " +
        "exist already are refused."),
      h("div", { class: "toolbar" }, file,
        h("button", { id: "import-go", type: "button", onclick: doImport }, "Import")),
      importResult] : null,
    isAdmin ? [h("h3", {}, "Delete"),
      h("div", { class: "toolbar" },
        h("button", { id: "delete-signals", type: "button", class: "danger",
          onclick: () => askDelete(false) }, "Delete chosen signals"),
        h("button", { id: "delete-events", type: "button", class: "danger",
          onclick: () => askDelete(true) }, "Delete all events")),
      confirmRow,
      h("p", { class: "muted hint" }, "Deleting removes signals and events for good, from " +
        "the live view and the store; a running driver's signal comes back as a new one " +
        "with its next sample."),
      deleteResult] : null);
  renderPicker();
  const onLatest = () => {
    if (app.latest.size !== picker.querySelectorAll("input").length) renderPicker();
  };
  app.bus.addEventListener("latest", onLatest);
  return { unmount() { app.bus.removeEventListener("latest", onLatest); } };
}
