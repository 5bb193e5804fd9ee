// Events: the list with filters on priority, device and text; new events appear at the top.

import { allowed, fill, fmtTime, h, PRIORITIES } from "../util.js";
import { errorText } from "../files.js";

export function mount(app, root) {
  const prio = h("select", { id: "event-priority" },
    h("option", { value: "0" }, "all priorities"),
    h("option", { value: "1" }, "warning and error"),
    h("option", { value: "2" }, "error only"));
  const device = h("select", { id: "event-device" }, h("option", { value: "" }, "all devices"));
  const text = h("input", { id: "event-text", type: "search", placeholder: "text contains…" });
  const body = h("tbody", { id: "events-body" });
  const count = h("span", { id: "events-count", class: "muted" });
  const result = h("span", { id: "events-result", class: "result", role: "status" });
  const isAdmin = allowed(app.permission, "admin");

  /** Admins: delete one event, in the live view and the store (logger.delete; the hub checks). */
  async function remove(e) {
    try {
      await app.client.request({ logger: { delete: { events: [e.eventId] } } });
      const i = app.events.indexOf(e);
      if (i >= 0) app.events.splice(i, 1);
      app.eventKeys.delete(`${e.eventId}|${e.x}|${e.id}|${e.text}`);
      result.textContent = "";
      render();
    } catch (err) {
      result.textContent = `delete failed: ${errorText(err)}`;
      result.className = "result error";
    }
  }
  fill(root,
    h("div", { class: "toolbar" }, h("h2", {}, "Events"), prio, device, text, count, result),
    h("table", { id: "events-table", class: "grid" },
      h("thead", {}, h("tr", {}, h("th", {}, "Time"), h("th", {}, "Priority"),
        h("th", {}, "Device"), h("th", {}, "Signal"), h("th", {}, "Text"),
        h("th", {}, "Value"), h("th", {}, "Id"), isAdmin ? h("th", {}, "") : null)),
      body));

  const renderDevices = () => {
    const names = [...new Set(app.events.map((e) => e.dname))].sort();
    const have = [...device.options].slice(1).map((o) => o.value);
    if (have.join("\n") === names.join("\n")) return;
    const keep = device.value;
    fill(device, h("option", { value: "" }, "all devices"),
      names.map((n) => h("option", { value: n }, n)));
    device.value = names.includes(keep) ? keep : "";
  };

  const render = () => {
    renderDevices();
    const minP = Number(prio.value);
    const dev = device.value;
    const q = text.value.trim().toLowerCase();
    const rows = app.events.filter((e) => e.priority >= minP && (!dev || e.dname === dev) &&
      (!q || String(e.text).toLowerCase().includes(q))).slice().reverse();
    count.textContent = `${rows.length} of ${app.events.length}`;
    fill(body, rows.slice(0, 500).map((e) =>
      h("tr", { class: `ev p${e.priority}` },
        h("td", {}, fmtTime(e.x)),
        h("td", {}, h("span", { class: `badge p${e.priority}` },
          PRIORITIES[e.priority] || e.priority)),
        h("td", {}, e.dname), h("td", {}, e.sname), h("td", { class: "text" }, e.text),
        h("td", {}, e.value === undefined || e.value === null ? "" : JSON.stringify(e.value)),
        h("td", { class: "muted" }, e.id ?? ""),
        isAdmin && e.eventId > 0 ? h("td", {}, h("button", { type: "button",
          class: "ev-delete danger", title: "Delete this event", onclick: () => remove(e) },
        "✕")) : null)));
  };
  for (const el of [prio, device]) el.addEventListener("change", render);
  text.addEventListener("input", render);
  app.bus.addEventListener("event", render);
  app.bus.addEventListener("events", render);
  render();
  return {
    unmount() {
      app.bus.removeEventListener("event", render);
      app.bus.removeEventListener("events", render);
    },
  };
}
