// Settings the hub may change at run time: record length (live samples kept per signal),
// the global sample rate (sent to every device), whether automation events and actions run.
// Changing needs "write"; the hub checks it again.

import { allowed, fill, h } from "../util.js";
import { errorText } from "../files.js";

export function mount(app, root) {
  const result = h("p", { id: "settings-result", class: "result", role: "status" });
  const form = h("form", { id: "settings-form", class: "settings" });
  const rates = h("tbody", { id: "settings-rates" });
  const canWrite = allowed(app.permission, "write");
  fill(root, h("div", { class: "toolbar" }, h("h2", {}, "Settings"), result), form,
    h("h3", {}, "Sample rate per device"),
    h("table", { class: "grid" }, h("thead", {}, h("tr", {}, h("th", {}, "Device"),
      h("th", { class: "num" }, "Samples per second"))), rates));

  function say(text, ok) {
    result.textContent = text;
    result.className = `result ${ok ? "ok" : "error"}`;
  }

  async function change(label, request, check) {
    say(`${label}…`, true);
    let text, ok;
    try {
      const problem = check(await app.client.request(request));
      [text, ok] = problem ? [`${label}: ${problem}`, false] : [`${label}: done`, true];
    } catch (e) {
      [text, ok] = [`${label} failed: ${errorText(e)}`, false];
    }
    await load(); // the form shows what the hub has now
    say(text, ok);
  }

  function row(id, label, input, onApply, note) {
    return [h("label", { for: id }, label), input,
      canWrite ? h("button", { id: `${id}-apply`, type: "button", onclick: onApply }, "Apply") :
        h("span", { class: "muted" }, note || "")];
  }

  async function load() {
    let s;
    try {
      s = (await app.client.request({ logger: { settings: true } })).logger.settings;
    } catch (e) {
      say(`cannot load the settings: ${errorText(e)}`, false);
      return;
    }
    const length = h("input", { id: "set-record-length", type: "number", min: 1, step: 1,
      value: s.recordLength, disabled: !canWrite });
    const rate = h("input", { id: "set-samplerate", type: "number", min: 0.001, step: "any",
      placeholder: "e.g. 10", disabled: !canWrite });
    const events = h("input", { id: "set-events", type: "checkbox", checked: s.events === true,
      disabled: !canWrite || s.events === null });
    const actions = h("input", { id: "set-actions", type: "checkbox", checked: s.actions === true,
      disabled: !canWrite || s.actions === null });
    fill(form,
      row("set-record-length", "Record length (samples kept live per signal)", length, () =>
        change("record length", { logger: { resize: Number(length.value) } }, () => null)),
      row("set-samplerate", "Global sample rate (every device)", rate, () =>
        change("sample rate", { logger: { global: { samplerate: Number(rate.value) } } }, (r) => {
          const bad = Object.entries(r.logger.global.samplerate)
            .filter(([, v]) => v !== true).map(([d, v]) => `${d}: ${v}`);
          return bad.length ? bad.join("; ") : null;
        })),
      row("set-events", "Automation events evaluated", events, () =>
        change("automation", { automation: { active: { events: events.checked,
          actions: actions.checked } } }, (r) => (r.automation.errors || {}).active)),
      row("set-actions", "Automation actions run", actions, () =>
        change("automation", { automation: { active: { events: events.checked,
          actions: actions.checked } } }, (r) => (r.automation.errors || {}).active)));
    fill(rates, Object.entries(s.samplerates).map(([d, v]) => h("tr", { dataset: { device: d } },
      h("td", {}, d), h("td", { class: "num" }, v === null || v === undefined ? "–" : v))));
    if (!rates.children.length) {
      rates.append(h("tr", {}, h("td", { colspan: 2, class: "muted" }, "No devices.")));
    }
    if (!canWrite) say("Changing settings needs the write right.", true);
  }
  load();
  return { unmount() {} };
}
