// Small DOM and formatting helpers shared by the views.

/** Create an element: h("td", {class: "x", onclick: fn}, "text", child, ...). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function pad2(n) {
  return String(n).padStart(2, "0");
}

/** Local date and time of epoch seconds, "YYYY-MM-DD HH:MM:SS". */
export function fmtTime(t) {
  if (t === undefined || t === null || !Number.isFinite(Number(t))) return "–";
  const d = new Date(Number(t) * 1000);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** "3 s", "4 min", "2 h", "5 d" for an age in seconds. */
export function fmtAge(sec) {
  if (!Number.isFinite(sec)) return "–";
  const s = Math.max(0, sec);
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86400)} d`;
}

/** A measured value with sensible precision. */
export function fmtValue(v) {
  if (v === undefined || v === null) return "–";
  const n = Number(v);
  if (!Number.isFinite(n)) return String(v);
  if (Number.isInteger(n)) return String(n);
  return Number(n.toPrecision(5)).toString();
}

export const PRIORITIES = ["info", "warning", "error"];
export const LEVELS = ["blocked", "custom", "read", "write", "admin"];

/** True when `have` is at least permission `need`. */
export function allowed(have, need) {
  return LEVELS.indexOf(have || "blocked") >= LEVELS.indexOf(need);
}

/** Replace the contents of `el` with `children`. */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}
