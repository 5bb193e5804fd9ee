// Plot: chosen signals scrolling live; drag or wheel to zoom into history from the store.

import { Plot } from "../plot.js";
import { fill, fmtTime, h } from "../util.js";

const LIVE_SPANS = [["1 min", 60], ["10 min", 600]];
const HISTORY_SPANS = [["1 h", 3600], ["1 day", 86400], ["30 days", 2592000], ["1 year", 31536000]];

function splitKey(key) {
  const dot = key.indexOf(".");
  return { dname: key.slice(0, dot), sname: key.slice(dot + 1) };
}

function swatch(color) {
  const i = h("i");
  i.style.background = color; // CSSOM, allowed by the page's CSP (style attributes are not)
  return i;
}

function wantedFromHash() {
  const q = window.location.hash.split("?")[1] || "";
  return new URLSearchParams(q).getAll("s");
}

export function mount(app, root) {
  const chosen = new Set(app.plotChosen || []);
  for (const k of wantedFromHash()) chosen.add(k);
  if (!chosen.size && app.latest.size) chosen.add([...app.latest.keys()].sort()[0]);

  const picker = h("div", { id: "plot-picker", class: "picker" });
  const status = h("span", { id: "plot-status", class: "muted" });
  const legend = h("div", { id: "plot-legend", class: "legend" });
  const canvas = h("canvas", { id: "plot-canvas", class: "plot" });
  const buttons = h("div", { class: "toolbar buttons" },
    ...LIVE_SPANS.map(([label, span]) =>
      h("button", { type: "button", dataset: { live: span }, onclick: () => goLive(span) },
        `Live ${label}`)),
    ...HISTORY_SPANS.map(([label, span]) =>
      h("button", { type: "button", dataset: { history: span }, onclick: () => {
        const now = Date.now() / 1000;
        plot.setRange(now - span, now);
        loadRange(now - span, now);
      } }, label)));
  fill(root,
    h("div", { class: "toolbar" }, h("h2", {}, "Plot"), status),
    h("div", { class: "plot-layout" }, picker,
      h("div", { class: "plot-main" }, buttons, canvas, legend,
        h("p", { class: "muted hint" },
          "Drag across the plot to zoom into a range (loaded from the store); ",
          "the mouse wheel zooms, a double click goes back to live."))));

  const state = {
    mode: "live", xmin: null, xmax: null, points: {}, loads: 0, loading: false, failed: {},
  };
  app.plotState = state;
  let loadSeq = 0;

  const plot = new Plot(canvas, {
    onRange: (xmin, xmax) => loadRange(xmin, xmax),
    onLive: (span) => goLive(span),
  });
  app.plot = plot;
  plot.setEvents(app.events);

  function renderLegend() {
    fill(legend, [...plot.series.entries()].map(([k, s]) =>
      h("span", { class: "legend-item", dataset: { key: k } },
        swatch(s.color), `${k}${s.unit ? ` [${s.unit}]` : ""}`,
        h("small", { class: "muted" }, ` ${s.x.length} pts`))));
  }

  function renderStatus() {
    if (state.mode === "live") {
      status.textContent = `live · last ${plot.span} s`;
    } else {
      const n = Object.values(state.points).reduce((a, b) => a + b, 0);
      const failed = Object.entries(state.failed);
      status.textContent = `${state.loading ? "loading " : ""}history ${fmtTime(state.xmin)} → ` +
        `${fmtTime(state.xmax)} · ${n} points from the store` +
        (failed.length ? ` · not loaded: ${failed.map(([k, why]) => `${k} (${why})`).join(", ")}` : "");
    }
    status.dataset.mode = state.mode;
    status.dataset.loads = String(state.loads);
  }

  // A long range of a busy store can take a while to downsample: history gets its own,
  // longer answer timeout, and a range that fails is named in the status, never shown empty.
  const HISTORY_TIMEOUT_MS = 120000;

  async function fetchSeries(key, xmin, xmax, timeoutMs = undefined) {
    const maxN = Math.max(200, Math.round(canvas.clientWidth || 1000));
    const { dname, sname } = splitKey(key);
    const r = await app.client.request(
      { getSignal: { dname, sname, xmin, xmax, maxN } }, timeoutMs ? { timeoutMs } : {});
    const sig = (r.signals || {})[key];
    if (!sig) return { x: [], y: [], unit: "" };
    return { x: sig[0], y: sig[1], unit: sig[2] || "" };
  }

  async function loadRange(xmin, xmax) {
    const seq = ++loadSeq;
    Object.assign(state, { mode: "history", xmin, xmax, loading: true });
    renderStatus();
    const keys = [...chosen];
    const failed = {};
    const results = await Promise.all(keys.map((k) => fetchSeries(k, xmin, xmax, HISTORY_TIMEOUT_MS)
      .catch((e) => {
        failed[k] = e.message || String(e);
        return { x: [], y: [], unit: "" };
      })));
    if (seq !== loadSeq || state.mode !== "history") return;
    state.points = {};
    state.failed = failed;
    keys.forEach((k, i) => {
      plot.setSeries(k, results[i]);
      state.points[k] = results[i].x.length;
    });
    state.loads += 1;
    state.loading = false;
    loadEvents(xmin, xmax);
    renderStatus();
    renderLegend();
  }

  // Events of the range: `getEventList` with {xmin, xmax} (an extension; a server that
  // ignores the value answers with its recent events, which are merged all the same).
  async function loadEvents(xmin, xmax) {
    try {
      const r = await app.client.request({ getEventList: { xmin, xmax } });
      let added = 0;
      for (const row of Object.values(r.events || {})) {
        if (app.addEvent(app.normEvent(row))) added++;
      }
      if (added) app.bus.dispatchEvent(new CustomEvent("events"));
    } catch (_e) {
      // the plot stays usable without events
    }
  }

  async function goLive(span = plot.span) {
    const seq = ++loadSeq;
    plot.setLive(span);
    Object.assign(state, { mode: "live", xmin: null, xmax: null, points: {} });
    renderStatus();
    const now = Date.now() / 1000;
    const keys = [...chosen];
    const results = await Promise.all(keys.map((k) => fetchSeries(k, now - span, now + 3600)
      .catch(() => ({ x: [], y: [], unit: "" }))));
    if (seq !== loadSeq) return;
    keys.forEach((k, i) => {
      const old = plot.series.get(k);
      // keep pushes that arrived while the query ran
      const lastX = results[i].x.length ? results[i].x[results[i].x.length - 1] : -Infinity;
      const tailX = old ? old.x.filter((x) => x > lastX) : [];
      const tailY = old ? old.y.slice(old.y.length - tailX.length) : [];
      plot.setSeries(k, { ...results[i], x: [...results[i].x, ...tailX],
        y: [...results[i].y, ...tailY] });
    });
    renderLegend();
  }

  async function choose(key, on) {
    const { dname, sname } = splitKey(key);
    if (on) {
      chosen.add(key);
      plot.setSeries(key, {});
      await app.client.request({ subscribe: ["signal", key] }).catch(() => {});
    } else {
      chosen.delete(key);
      plot.removeSeries(key);
      await app.client.request({ unsubscribe: ["signal", key] }).catch(() => {});
    }
    app.plotChosen = [...chosen];
    if (state.mode === "live") await goLive();
    else await loadRange(state.xmin, state.xmax);
    renderLegend();
    return { dname, sname };
  }

  function renderPicker() {
    const keys = [...new Set([...app.latest.keys(), ...chosen])].sort();
    const current = [...picker.querySelectorAll("input")].map((i) => i.value);
    if (current.join("\n") === keys.join("\n")) return;
    fill(picker, h("strong", {}, "Signals"), keys.map((k) =>
      h("label", {}, h("input", { type: "checkbox", value: k, checked: chosen.has(k),
        onchange: (e) => choose(k, e.target.checked) }), ` ${k}`)));
  }

  const onSignal = (e) => {
    const d = e.detail || {};
    const key = `${d.dname}.${d.sname}`;
    if (!chosen.has(key) || state.mode !== "live") return;
    const xs = Array.isArray(d.x) ? d.x : [d.x];
    const ys = Array.isArray(d.y) ? d.y : [d.y];
    if (!xs.length) return;
    plot.append(key, xs, ys, d.unit);
  };
  const onEvent = (e) => plot.addEvent(e.detail);
  const onEvents = () => plot.setEvents(app.events);
  const onLatest = () => renderPicker();
  app.bus.addEventListener("signal", onSignal);
  app.bus.addEventListener("event", onEvent);
  app.bus.addEventListener("events", onEvents);
  app.bus.addEventListener("latest", onLatest);
  const legendTick = setInterval(renderLegend, 1000);

  renderPicker();
  for (const k of chosen) plot.setSeries(k, {});
  Promise.all([...chosen].map((k) => app.client.request({ subscribe: ["signal", k] })))
    .catch(() => {})
    .then(() => goLive(60));

  return {
    unmount() {
      clearInterval(legendTick);
      app.bus.removeEventListener("signal", onSignal);
      app.bus.removeEventListener("event", onEvent);
      app.bus.removeEventListener("events", onEvents);
      app.bus.removeEventListener("latest", onLatest);
      for (const k of chosen) app.client.request({ unsubscribe: ["signal", k] }).catch(() => {});
      plot.destroy();
      app.plot = null;
    },
  };
}
