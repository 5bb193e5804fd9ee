// Automation: global events (conditions), actions (scripts run on events) and scripts run
// at a rate or on new data. Everyone who reads sees them; the "write" right creates, edits,
// tests, switches on/off and deletes (the hub checks it again). Sandbox messages naming a
// line are shown beside that line in the editor.

import { allowed, fill, h, PRIORITIES } from "../util.js";
import { errorText } from "../files.js";
import { scriptEditor } from "../editor.js";

const TRIGGERS = ["rising", "falling", "both", "true", "false"];

function onOff(v) {
  return h("span", { class: `badge ${v === false ? "stale" : "ok"}` }, v === false ? "off" : "on");
}

function none(cols, text) {
  return h("tr", {}, h("td", { colspan: cols, class: "muted" }, text));
}

function field(label, input) {
  return [h("label", { for: input.id }, label), input];
}

function select(id, options, value) {
  return h("select", { id }, options.map(([v, label]) =>
    h("option", { value: v, selected: String(v) === String(value) }, label)));
}

export function mount(app, root) {
  const canWrite = allowed(app.permission, "write");
  const status = h("p", { id: "automation-status", class: "muted" }, "loading…");
  const result = h("pre", { id: "automation-result", class: "output", hidden: true });
  const events = h("tbody", { id: "automation-events" });
  const actions = h("tbody", { id: "automation-actions" });
  const scripts = h("tbody", { id: "automation-scripts" });
  const eventForm = h("form", { id: "event-form", class: "edit", hidden: true });
  const actionForm = h("form", { id: "action-form", class: "edit", hidden: true });
  const scriptForm = h("form", { id: "script-form", class: "edit", hidden: true });
  const actionEditor = scriptEditor("action-script");
  const scriptEditorBox = scriptEditor("script-source");
  let state = { events: {}, actions: {}, scripts: {}, active: {} };
  const rendered = { events: null, actions: null, scripts: null }; // JSON of what is shown

  /** Show a test's or a run's output (and errors in red) under the toolbar. */
  function show(text, ok) {
    result.hidden = false;
    fill(result, h("span", { class: ok ? "" : "err" }, text || (ok ? "(no output)" : "failed")));
  }

  /** Send one automation request; returns the answer (tables refreshed) or null. */
  async function send(request) {
    try {
      const r = await app.client.request({ automation: request });
      const a = r.automation || {};
      render(a);
      return a;
    } catch (e) {
      show(`refused: ${errorText(e)}`, false);
      return null;
    }
  }

  function buttons(...items) {
    return h("td", { class: "buttons" }, canWrite ? items : "");
  }

  function btn(cls, label, onclick) {
    return h("button", { type: "button", class: cls, onclick }, label);
  }

  function render(a) {
    if (a.error) {
      status.textContent = String(a.error);
      return;
    }
    state = { events: a.events || {}, actions: a.actions || {}, scripts: a.scripts || {},
      active: a.active || {} };
    status.textContent = `events ${state.active.events === false ? "off" : "on"} · ` +
      `actions ${state.active.actions === false ? "off" : "on"}`;
    // A table is rebuilt only when its content changed: the poll every 2 s must not swap a
    // button under the user's pointer (a click whose press and release land on two
    // different elements is lost).
    const changed = (key) => {
      const json = JSON.stringify(state[key]);
      if (rendered[key] === json) return false;
      rendered[key] = json;
      return true;
    };
    if (changed("events")) fill(events, Object.entries(state.events).map(([name, e]) =>
      h("tr", { dataset: { name } }, h("td", {}, name), h("td", {}, h("code", {}, e.cond || "")),
        h("td", {}, e.trigger || ""), h("td", {}, e.text || ""),
        h("td", {}, PRIORITIES[e.priority] || e.priority), h("td", {}, e.id || ""),
        h("td", {}, [e.dname, e.sname].filter(Boolean).join(".")), h("td", {}, onOff(e.active)),
        buttons(btn("edit", "Edit", () => editEvent(name)),
          btn("test", "Test", () => test("testEvent", name)),
          btn("toggle", e.active === false ? "Switch on" : "Switch off", () =>
            send({ setEvent: { ...e, name, active: e.active === false } })),
          btn("delete danger", "Delete", () => send({ removeEvent: name }))))));
    if (changed("actions")) fill(actions, Object.entries(state.actions).map(([name, x]) =>
      h("tr", { dataset: { name } }, h("td", {}, name),
        h("td", {}, [].concat(x.listenID || []).join(", ")),
        h("td", {}, h("pre", {}, x.script || "")), h("td", {}, onOff(x.active)),
        buttons(btn("edit", "Edit", () => editAction(name)),
          btn("test", "Test", () => test("testAction", name)),
          btn("toggle", x.active === false ? "Switch on" : "Switch off", () =>
            send({ setAction: { ...x, name, active: x.active === false } })),
          btn("delete danger", "Delete", () => send({ removeAction: name }))))));
    if (changed("scripts")) fill(scripts, Object.entries(state.scripts).map(([name, s]) =>
      h("tr", { dataset: { name } }, h("td", {}, name),
        h("td", {}, s.mode === "signal" ? `on ${(s.signals || []).join(", ")}` :
          `${s.rate} per second`),
        h("td", {}, onOff(s.running)), h("td", { class: "num" }, `${s.runs} / ${s.failures}`),
        h("td", {}, h("pre", { class: s.error ? "error" : "" }, s.error || s.output || "")),
        buttons(s.file ? "" : btn("edit", "Edit", () => editScript(name)),
          btn("run", "Run once", () => runScript(name)),
          s.running ? btn("stop", "Stop", () => send({ stopScript: name })) :
            btn("start", "Start", () => send({ startScript: name })),
          btn("delete danger", "Delete", () => send({ removeScript: name }))))));
    if (!events.children.length) events.append(none(9, "No events defined."));
    if (!actions.children.length) actions.append(none(5, "No actions defined."));
    if (!scripts.children.length) scripts.append(none(6, "No scripts."));
  }

  async function test(key, name) {
    const a = await send({ [key]: name });
    if (a && a[key]) show(`${name}: ${String(a[key].value ?? "")}`, a[key].ok);
  }

  function failed(a, key) {
    const err = a && (a.errors || {})[key];
    if (err) show(`${key}: ${err}`, false);
    return a === null || Boolean(err);
  }

  // ---- event form ----
  function editEvent(name = "") {
    const e = state.events[name] || { trigger: "rising", priority: 0, active: true };
    const f = {
      name: h("input", { id: "ev-name", value: name, required: true }),
      cond: h("input", { id: "ev-cond", value: e.cond || "", placeholder: "Gen.Square.latest > 1",
        required: true }),
      trigger: select("ev-trigger", TRIGGERS.map((t) => [t, t]), e.trigger || "rising"),
      text: h("input", { id: "ev-text", value: e.text || "" }),
      priority: select("ev-priority", PRIORITIES.map((p, i) => [i, p]), e.priority || 0),
      id: h("input", { id: "ev-id", value: e.id || "" }),
      dname: h("input", { id: "ev-dname", value: e.dname || "", placeholder: "(the signal's)" }),
      sname: h("input", { id: "ev-sname", value: e.sname || "", placeholder: "(the signal's)" }),
      active: h("input", { id: "ev-active", type: "checkbox", checked: e.active !== false }),
    };
    const err = h("p", { id: "event-error", class: "error", role: "alert" });
    fill(eventForm, h("h3", {}, name ? `Event ${name}` : "New event"), h("span"),
      field("Name", f.name), field("Condition", f.cond), field("Trigger", f.trigger),
      field("Text", f.text), field("Priority", f.priority), field("Event id", f.id),
      field("Device", f.dname), field("Signal", f.sname), field("Active", f.active),
      h("span"), h("div", {}, h("button", { id: "event-save", type: "submit" }, "Save"), " ",
        h("button", { type: "button", onclick: () => { eventForm.hidden = true; } }, "Close")),
      h("span"), err);
    eventForm.onsubmit = async (ev) => {
      ev.preventDefault();
      const { name: n, cond, trigger, text, priority, id, dname, sname, active } = f;
      const old = state.events[name] || {};
      const a = await send({ setEvent: { ...old, name: n.value.trim(), cond: cond.value,
        trigger: trigger.value, text: text.value, priority: Number(priority.value),
        id: id.value, dname: dname.value, sname: sname.value, active: active.checked } });
      err.textContent = (a && (a.errors || {}).setEvent) || "";
      if (a && !err.textContent) {
        if (name && name !== n.value.trim()) await send({ removeEvent: name });
        eventForm.hidden = true;
      }
    };
    eventForm.hidden = false;
    f.name.focus();
  }

  // ---- action form ----
  function editAction(name = "") {
    const x = state.actions[name] || { active: true, listenID: [] };
    const nameIn = h("input", { id: "ac-name", value: name, required: true });
    const listen = h("input", { id: "ac-listen", value: [].concat(x.listenID || []).join(", "),
      placeholder: "event ids, comma separated" });
    const active = h("input", { id: "ac-active", type: "checkbox", checked: x.active !== false });
    actionEditor.value = x.script || "";
    fill(actionForm, h("h3", {}, name ? `Action ${name}` : "New action"), h("span"),
      field("Name", nameIn), field("Listens to", listen),
      h("label", { for: "action-script" }, "Script"), actionEditor.el, field("Active", active),
      h("span"), h("div", {}, h("button", { id: "action-save", type: "submit" }, "Save"), " ",
        h("button", { id: "action-test", type: "button", onclick: async () => {
          if (await saveAction()) await testEditor("testAction", nameIn.value.trim(), actionEditor);
        } }, "Save and test"), " ",
        h("button", { type: "button", onclick: () => { actionForm.hidden = true; } }, "Close")));
    async function saveAction() {
      const a = await send({ setAction: { ...(state.actions[name] || {}),
        name: nameIn.value.trim(), script: actionEditor.value, active: active.checked,
        listenID: listen.value.split(",").map((s) => s.trim()).filter(Boolean) } });
      actionEditor.showMessages(a ? [(a.errors || {}).setAction] : []);
      if (failed(a, "setAction")) return false;
      if (name && name !== nameIn.value.trim()) await send({ removeAction: name });
      name = nameIn.value.trim();
      return true;
    }
    actionForm.onsubmit = async (ev) => {
      ev.preventDefault();
      if (await saveAction()) show(`action ${name} saved`, true);
    };
    actionForm.hidden = false;
    nameIn.focus();
  }

  async function testEditor(key, name, editor) {
    const a = await send({ [key]: name });
    if (!a || !a[key]) return;
    const out = a[key];
    show(`${name}: ${String(out.value ?? "")}`, out.ok);
    editor.showMessages(out.ok ? [] : String(out.value || "").split("\n"));
  }

  // ---- script form ----
  function editScript(name = "") {
    const s = state.scripts[name] || { mode: "rate", rate: 1, signals: [] };
    const nameIn = h("input", { id: "sc-name", value: name, required: true });
    const mode = select("sc-mode", [["rate", "at a rate"], ["signal", "on new data of signals"]],
      s.mode);
    const rate = h("input", { id: "sc-rate", type: "number", step: "any", min: 0.001,
      value: s.rate ?? 1 });
    const signals = h("input", { id: "sc-signals", value: (s.signals || []).join(", "),
      placeholder: "Dev.Sig, Dev.Other" });
    scriptEditorBox.value = s.script || "";
    fill(scriptForm, h("h3", {}, name ? `Script ${name}` : "New script"), h("span"),
      field("Name", nameIn), field("Runs", mode), field("Runs per second", rate),
      field("Signals", signals), h("label", { for: "script-source" }, "Script"),
      scriptEditorBox.el, h("span"),
      h("div", {},
        h("button", { id: "script-save", type: "submit" }, "Save"), " ",
        h("button", { id: "script-run", type: "button", onclick: async () => {
          if (await save(false)) await runScript(name);
        } }, "Save and run once"), " ",
        h("button", { id: "script-start", type: "button", onclick: () => save(true) },
          "Save and start"), " ",
        h("button", { id: "script-stop", type: "button", onclick: () =>
          send({ stopScript: name }) }, "Stop"), " ",
        h("button", { type: "button", onclick: () => { scriptForm.hidden = true; } }, "Close")));
    async function save(start) {
      const n = nameIn.value.trim();
      const a = await send({ setScript: { name: n, script: scriptEditorBox.value,
        mode: mode.value, rate: Number(rate.value), start,
        signals: signals.value.split(",").map((x) => x.trim()).filter(Boolean) } });
      scriptEditorBox.showMessages(a ? [(a.errors || {}).setScript] : []);
      if (failed(a, "setScript")) return false;
      if (name && name !== n) await send({ removeScript: name });
      name = n;
      show(`script ${n} saved${start ? " and started" : ""}`, true);
      return true;
    }
    scriptForm.onsubmit = async (ev) => {
      ev.preventDefault();
      await save(false);
    };
    scriptForm.hidden = false;
    nameIn.focus();
  }

  async function runScript(name) {
    const a = await send({ runScript: name });
    if (!a || !a.runScript) return;
    show(`${name}: ${String(a.runScript.value ?? "")}`, a.runScript.ok);
    if (!scriptForm.hidden) {
      scriptEditorBox.showMessages(a.runScript.ok ? [] : String(a.runScript.value).split("\n"));
    }
  }

  const adders = canWrite ? [
    h("button", { id: "event-new", type: "button", onclick: () => editEvent() }, "New event"),
    h("button", { id: "action-new", type: "button", onclick: () => editAction() }, "New action"),
    h("button", { id: "script-new", type: "button", onclick: () => editScript() }, "New script"),
  ] : [];
  const head = (...cols) => h("thead", {}, h("tr", {}, cols.map((c) => h("th", {}, c))));
  fill(root,
    h("div", { class: "toolbar" }, h("h2", {}, "Automation"), ...adders, status),
    result,
    h("h3", {}, "Events (conditions)"), eventForm,
    h("table", { class: "grid" }, head("Name", "Condition", "Trigger", "Text", "Priority", "Id",
      "Signal", "Active", ""), events),
    h("h3", {}, "Actions (scripts run on events)"), actionForm,
    h("table", { class: "grid" }, head("Name", "Listens to", "Script", "Active", ""), actions),
    h("h3", {}, "Scripts (at a rate or on new data)"), scriptForm,
    h("table", { class: "grid" }, head("Name", "Runs", "Running", "Runs / failures",
      "Last output or error", ""), scripts));

  async function load() {
    try {
      const r = await app.client.request({ automation: {} });
      render(r.automation || {});
    } catch (e) {
      status.textContent = `cannot load the automation: ${errorText(e)}`;
    }
  }
  load();
  const timer = setInterval(load, 2000); // running scripts' counters and last output
  return { unmount() { clearInterval(timer); } };
}
