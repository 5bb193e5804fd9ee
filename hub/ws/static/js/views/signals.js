// Signals: latest value, unit, time of the last sample and its age; silent ones flagged.

import { fill, fmtAge, fmtTime, fmtValue, h } from "../util.js";

/** Seconds after which a signal counts as stale, from its device's sample rate. */
export function staleAfter(plugins, dname) {
  const info = plugins[dname];
  let rate = null;
  if (info && Array.isArray(info.parameters)) {
    const p = info.parameters.find((row) => row[0] === "samplerate");
    if (p && Number(p[1]) > 0) rate = Number(p[1]);
  }
  return rate ? Math.max(5, 5 / rate) : 10;
}

/** "stale", "offline" or "ok" for one signal, given the plugin list and the clock. */
export function freshness(sig, plugins, now) {
  const info = plugins[sig.dname];
  if (info && info.status === false) {
    return /offline/.test(info.info || "") ? "offline" : "stopped";
  }
  if (info && typeof info.status === "string") return "error";
  return now - sig.x > staleAfter(plugins, sig.dname) ? "stale" : "ok";
}

export function mount(app, root) {
  const filter = h("input", { id: "signal-filter", type: "search", placeholder: "filter…" });
  const body = h("tbody", { id: "signals-body" });
  const table = h("table", { id: "signals-table", class: "grid" },
    h("thead", {}, h("tr", {},
      h("th", {}, "Device"), h("th", {}, "Signal"), h("th", { class: "num" }, "Latest"),
      h("th", {}, "Unit"), h("th", {}, "Last sample"), h("th", {}, "Age"),
      h("th", {}, "State"), h("th", {}, ""))),
    body);
  const empty = h("p", { id: "signals-empty", class: "muted" }, "No signals yet.");
  fill(root, h("div", { class: "toolbar" }, h("h2", {}, "Signals"), filter), table, empty);

  const render = () => {
    const now = Date.now() / 1000;
    const q = filter.value.trim().toLowerCase();
    const rows = [...app.latest.values()]
      .filter((s) => !q || s.key.toLowerCase().includes(q))
      .sort((a, b) => a.key.localeCompare(b.key));
    empty.hidden = app.latest.size > 0;
    fill(body, rows.map((s) => {
      const state = freshness(s, app.plugins, now);
      return h("tr", { class: `sig ${state}`, dataset: { key: s.key } },
        h("td", {}, s.dname), h("td", {}, s.sname),
        h("td", { class: "num value" }, fmtValue(s.y)), h("td", { class: "unit" }, s.unit || ""),
        h("td", {}, fmtTime(s.x)), h("td", { class: "age" }, fmtAge(now - s.x)),
        h("td", {}, h("span", { class: `badge ${state}` }, state)),
        h("td", {}, h("a", { href: `#/plot?s=${encodeURIComponent(s.key)}` }, "plot")));
    }));
  };
  const onLatest = () => render();
  app.bus.addEventListener("latest", onLatest);
  app.bus.addEventListener("plugins", onLatest);
  filter.addEventListener("input", render);
  const tick = setInterval(render, 1000);
  render();
  return {
    unmount() {
      clearInterval(tick);
      app.bus.removeEventListener("latest", onLatest);
      app.bus.removeEventListener("plugins", onLatest);
    },
  };
}
