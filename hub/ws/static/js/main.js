// The dashboard: connection and login, shared live state, hash routing to the views.

import { NotAuthorized, PasswordMode, RtocClient } from "./client.js";
import { allowed, h } from "./util.js";
import { setLanguage } from "./i18n.js";
import * as signalsView from "./views/signals.js";
import * as plotView from "./views/plot.js";
import * as eventsView from "./views/events.js";
import * as devicesView from "./views/devices.js";
import * as automationView from "./views/automation.js";
import * as dataView from "./views/data.js";
import * as settingsView from "./views/settings.js";

const VIEWS = {
  signals: signalsView,
  plot: plotView,
  events: eventsView,
  devices: devicesView,
  automation: automationView,
  data: dataView,
  settings: settingsView,
};
const LATEST_POLL_MS = 1000;
const PASSWORD_MODE = "This hub speaks RTOC's password mode (encrypted frames) to this " +
  "browser. The dashboard needs hub users instead: unset [websocket] password.";
const SAFETY_POLL_MS = 15000;

/** Shared state the views read; `bus` tells them when something changed. */
export const app = {
  client: null,
  user: null,
  permission: null,
  latest: new Map(),
  events: [],
  eventKeys: new Set(),
  plugins: {},
  bus: new EventTarget(),
  timers: [],
  view: null,
  credentials: null,
  pushLag: [],
  addEvent: (ev) => addEvent(ev),
  refreshLatest: () => refreshLatest(),
  normEvent: (e) => normEvent(e),
};
window.__oc = app; // for the browser tests and for poking around in the console

const $ = (id) => document.getElementById(id);

function setConn(text, cls) {
  const el = $("conn");
  el.textContent = text;
  el.className = `conn ${cls}`;
}

/** Normalise an event from a push or a getEventList row. */
export function normEvent(e) {
  if (Array.isArray(e)) {
    const [dname, sname, eventId, text, x, value, priority, id] = e;
    return { dname, sname, eventId, text, x: Number(x), value, priority: Number(priority), id };
  }
  return { ...e, x: Number(e.x), priority: Number(e.priority || 0) };
}

function addEvent(ev) {
  const key = `${ev.eventId}|${ev.x}|${ev.id}|${ev.text}`;
  if (app.eventKeys.has(key)) return false;
  app.eventKeys.add(key);
  app.events.push(ev);
  app.events.sort((a, b) => a.x - b.x);
  return true;
}

async function refreshLatest() {
  const r = await app.client.request({ getLatest: true });
  const now = Date.now() / 1000;
  for (const [key, v] of Object.entries(r.latest || {})) {
    const dot = key.indexOf(".");
    const [x, y, unit, id, xFirst] = v;
    const prev = app.latest.get(key);
    app.latest.set(key, {
      key, dname: key.slice(0, dot), sname: key.slice(dot + 1), x, y, unit, id, xFirst,
      seenAt: prev && prev.x === x ? prev.seenAt : now,
    });
  }
  app.bus.dispatchEvent(new CustomEvent("latest"));
}

async function refreshEvents(latestN = 1000) {
  const r = await app.client.request({ getEventList: latestN });
  const rows = Object.values(r.events || {});
  let added = 0;
  for (const row of rows) if (addEvent(normEvent(row))) added++;
  if (added) app.bus.dispatchEvent(new CustomEvent("events"));
}

async function refreshPlugins() {
  const r = await app.client.request({ getPluginList: true });
  app.plugins = r.pluginList || {};
  app.bus.dispatchEvent(new CustomEvent("plugins"));
}

function poll(fn, ms) {
  const run = () => fn().catch((e) => {
    if (e instanceof NotAuthorized) showLogin("Your session is not authorized any more.");
  });
  app.timers.push(setInterval(run, ms));
}

function wirePushes(client) {
  client.addEventListener("garbage", () => {
    showLogin(PASSWORD_MODE);
    setConn("encrypted frames: see docs/dashboard.md", "bad");
  });
  client.addEventListener("event", (e) => {
    const ev = normEvent(e.detail);
    if (addEvent(ev)) app.bus.dispatchEvent(new CustomEvent("event", { detail: ev }));
  });
  client.addEventListener("signal", (e) => {
    const d = e.detail || {};
    const xs = Array.isArray(d.x) ? d.x : [d.x];
    if (xs.length) {
      // how far behind the newest sample is when it reaches the page (clock skew included)
      app.pushLag.push(Date.now() / 1000 - Number(xs[xs.length - 1]));
      if (app.pushLag.length > 200) app.pushLag.shift();
    }
    app.bus.dispatchEvent(new CustomEvent("signal", { detail: d }));
  });
  client.addEventListener("dropped", (e) => {
    // the hub dropped pushes because this page read too slowly: say so, keep going
    const d = e.detail || {};
    setConn(`connected – ${d.total || d.frames || "some"} live updates dropped`, "wait");
  });
  client.addEventListener("pluginList", (e) => {
    app.plugins = e.detail || {};
    app.bus.dispatchEvent(new CustomEvent("plugins"));
  });
  client.addEventListener("close", () => {
    setConn("disconnected – retrying", "bad");
    stopFeeds();
    setTimeout(() => start().catch(() => {}), 2000);
  });
}

function stopFeeds() {
  for (const t of app.timers.splice(0)) clearInterval(t);
}

async function startFeeds() {
  stopFeeds();
  await Promise.all([refreshLatest(), refreshEvents(), refreshPlugins()]);
  poll(refreshLatest, LATEST_POLL_MS);
  // events and the plugin list arrive as pushes; these polls are only a safety net
  poll(refreshPlugins, SAFETY_POLL_MS);
  poll(() => refreshEvents(100), SAFETY_POLL_MS);
}

function showLogin(message = "") {
  stopFeeds();
  if (app.view) app.view.unmount();
  app.view = null;
  $("view").replaceChildren();
  $("nav").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  $("login-user").focus();
}

function renderWho() {
  const who = $("who");
  const out = app.user
    ? h("button", { id: "logout", type: "button", class: "link", onclick: logout }, "Log out")
    : h("button", { id: "login-link", type: "button", class: "link",
      onclick: () => showLogin() }, "Log in");
  who.replaceChildren(
    app.user ? `${app.user} (${app.permission})` : `anonymous (${app.permission})`, " ", out);
}

function logout() {
  app.credentials = null;
  app.user = null;
  app.client.close();
  window.location.hash = "";
  window.location.reload();
}

/** The logged-in user's stored language (none kept for anonymous readers). */
async function loadLanguage() {
  if (!app.user) return;
  try {
    const r = await app.client.request({ logger: { language: null } });
    $("lang").value = setLanguage(r.logger.language);
  } catch (_e) {
    // an older hub without logger.language: stay as chosen
  }
}

$("lang").addEventListener("change", async () => {
  const lang = setLanguage($("lang").value);
  if (app.user && app.client) {
    try {
      await app.client.request({ logger: { language: lang } });
    } catch (_e) {
      // kept for this page only
    }
  }
});

async function enter() {
  $("login").hidden = true;
  $("nav").hidden = false;
  renderWho();
  await loadLanguage();
  await startFeeds();
  route();
}

function route() {
  if (!$("login").hidden || !app.client || !app.client.authorized) return;
  const name = (window.location.hash.replace(/^#\/?/, "") || "signals").split("?")[0];
  const mod = VIEWS[name] || signalsView;
  if (app.view) app.view.unmount();
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.dataset.view === name);
  }
  const root = $("view");
  root.replaceChildren();
  root.dataset.view = name;
  app.view = mod.mount(app, root);
}

async function tryLogin(user, password) {
  const reply = await app.client.login(user, password);
  if (reply.authorized !== true) return reply;
  app.user = app.client.user;
  app.permission = app.client.permission;
  app.credentials = { user, password };
  return reply;
}

/** Connect, log in again if we had credentials, else probe for anonymous read. */
async function start() {
  setConn("connecting…", "wait");
  const client = new RtocClient();
  app.client = client;
  try {
    await client.connect();
  } catch (e) {
    setConn("cannot connect – retrying", "bad");
    setTimeout(() => start().catch(() => {}), 2000);
    return;
  }
  wirePushes(client);
  setConn("connected", "ok");
  if (app.credentials) {
    const r = await tryLogin(app.credentials.user, app.credentials.password);
    if (r.authorized === true) return enter();
  }
  let open;
  try {
    open = await client.probe();
  } catch (e) {
    if (!(e instanceof PasswordMode)) showLogin(String(e.message || e));
    return;
  }
  if (open) {
    app.permission = client.permission || "read";
    return enter();
  }
  showLogin();
}

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("login-error").textContent = "";
  const user = $("login-user").value.trim();
  const password = $("login-password").value;
  try {
    const r = await tryLogin(user, password);
    if (r.authorized === true && !allowed(app.permission, "read")) {
      $("login-error").textContent = `${user} may not read data here ` +
        `(permission ${app.permission}); ask an admin for the read right.`;
    } else if (r.authorized === true) {
      $("login-password").value = "";
      await enter();
    } else {
      $("login-error").textContent = r.message || "Wrong user name or password.";
    }
  } catch (err) {
    $("login-error").textContent = String(err.message || err);
  }
});
window.addEventListener("hashchange", route);
setLanguage("en");
start();
