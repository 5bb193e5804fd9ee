// Automation: the global events (conditions) and actions (scripts), and whether each runs.

import { fill, h, PRIORITIES } from "../util.js";

function yesNo(v) {
  return h("span", { class: `badge ${v === false ? "stale" : "ok"}` }, v === false ? "off" : "on");
}

function none(cols, text) {
  return h("tr", {}, h("td", { colspan: cols, class: "muted" }, text));
}

export function mount(app, root) {
  const status = h("p", { id: "automation-status", class: "muted" }, "loading…");
  const events = h("tbody", { id: "automation-events" });
  const actions = h("tbody", { id: "automation-actions" });
  fill(root,
    h("div", { class: "toolbar" }, h("h2", {}, "Automation"), status),
    h("h3", {}, "Events (conditions)"),
    h("table", { class: "grid" }, h("thead", {}, h("tr", {}, h("th", {}, "Name"),
      h("th", {}, "Condition"), h("th", {}, "Trigger"), h("th", {}, "Text"),
      h("th", {}, "Priority"), h("th", {}, "Id"), h("th", {}, "Signal"),
      h("th", {}, "Active"))), events),
    h("h3", {}, "Actions (scripts)"),
    h("table", { class: "grid" }, h("thead", {}, h("tr", {}, h("th", {}, "Name"),
      h("th", {}, "Listens to"), h("th", {}, "Script"), h("th", {}, "Active"))), actions));

  async function load() {
    try {
      const r = await app.client.request({ automation: {} });
      const a = r.automation || {};
      if (a.error) {
        status.textContent = String(a.error);
        return;
      }
      const active = a.active || {};
      status.textContent = `events ${active.events === false ? "off" : "on"} · ` +
        `actions ${active.actions === false ? "off" : "on"}`;
      fill(events, Object.entries(a.events || {}).map(([name, e]) =>
        h("tr", {}, h("td", {}, name), h("td", {}, h("code", {}, e.cond || "")),
          h("td", {}, e.trigger || ""), h("td", {}, e.text || ""),
          h("td", {}, PRIORITIES[e.priority] || e.priority), h("td", {}, e.id || ""),
          h("td", {}, [e.dname, e.sname].filter(Boolean).join(".")), h("td", {}, yesNo(e.active)))));
      fill(actions, Object.entries(a.actions || {}).map(([name, x]) =>
        h("tr", {}, h("td", {}, name),
          h("td", {}, [].concat(x.listenID || []).join(", ")),
          h("td", {}, h("pre", {}, x.script || "")), h("td", {}, yesNo(x.active)))));
      if (!events.children.length) events.append(none(8, "No events defined."));
      if (!actions.children.length) actions.append(none(4, "No actions defined."));
    } catch (e) {
      status.textContent = `cannot load the automation: ${e.message}`;
    }
  }
  load();
  return { unmount() {} };
}
