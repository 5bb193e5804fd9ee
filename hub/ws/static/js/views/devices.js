// Devices: each agent's drivers with status, parameters and functions; changing or calling
// them needs the "write" right (the server checks it too).

import { allowed, fill, h } from "../util.js";

/** [label, css class] for a plugin's status (true, false, or an error text). */
export function statusText(info) {
  if (info.status === true) return ["running", "ok"];
  if (info.status === false && /offline/.test(info.info || "")) return ["offline", "offline"];
  if (info.status === false) return ["stopped", "stale"];
  return [`error: ${info.status}`, "offline"];
}

/** Parse a text field into a JSON value when it looks like one, else keep the string. */
export function parseValue(text) {
  const t = text.trim();
  if (t === "") return "";
  try {
    return JSON.parse(t);
  } catch (_e) {
    return t;
  }
}

export function mount(app, root) {
  const list = h("div", { id: "devices-list" });
  const result = h("p", { id: "device-result", class: "result", role: "status" });
  fill(root, h("div", { class: "toolbar" }, h("h2", {}, "Devices"), result), list);
  const canWrite = () => allowed(app.permission, "write");

  async function send(dname, call, value, label) {
    result.textContent = `${label}…`;
    result.className = "result";
    try {
      const r = await app.client.request({ plugin: { [dname]: { [call]: value } } });
      const out = ((r.plugin || {})[dname] || {})[call];
      const failed = Array.isArray(out) && out[0] === false;
      result.textContent = `${label}: ${JSON.stringify(Array.isArray(out) && out.length === 2 ?
        out[1] : out)}`;
      result.className = failed ? "result error" : "result ok";
    } catch (e) {
      const msg = (e.response && (e.response.message || e.response.reason)) || e.message;
      result.textContent = `${label} failed: ${msg}`;
      result.className = "result error";
    }
  }

  function paramRow(dname, p) {
    const [name, value, doc] = p;
    const input = h("input", { value: typeof value === "string" ? value : JSON.stringify(value),
      dataset: { param: name }, disabled: !canWrite() });
    return h("tr", {},
      h("td", {}, name), h("td", {}, input), h("td", { class: "muted" }, doc || ""),
      h("td", {}, canWrite() ? h("button", { type: "button", onclick: () =>
        send(dname, name, parseValue(input.value), `${dname}.${name} = ${input.value}`) },
      "Set") : ""));
  }

  function functionRow(dname, f) {
    const [name, argNames = [], , , defaults, doc, signature] = f;
    const nDefaults = Array.isArray(defaults) ? defaults.length : 0;
    const inputs = argNames.map((a, i) => {
      const d = i >= argNames.length - nDefaults ? defaults[i - (argNames.length - nDefaults)]
        : undefined;
      return h("input", { placeholder: a, size: 8, dataset: { arg: a },
        value: d === undefined ? undefined : JSON.stringify(d), disabled: !canWrite() });
    });
    const call = () => {
      const args = inputs.map((i) => parseValue(i.value)).filter((_v, i) =>
        inputs[i].value.trim() !== "" || i < argNames.length - nDefaults);
      send(dname, `${name}()`, args, `${dname}.${name}(${args.map((a) =>
        JSON.stringify(a)).join(", ")})`);
    };
    return h("tr", {},
      h("td", {}, name, h("small", { class: "muted" }, signature || "")),
      h("td", {}, inputs), h("td", { class: "muted" }, doc || ""),
      h("td", {}, canWrite() ? h("button", { type: "button", dataset: { call: name },
        onclick: call }, "Call") : ""));
  }

  function deviceSection(dname) {
    const info = app.plugins[dname] || {};
    const [st, cls] = statusText(info);
    const extra = [info.agent && `agent ${info.agent}`, info.driver && `driver ${info.driver}`,
      info.samplerate && `${info.samplerate} Hz`].filter(Boolean).join(" · ");
    const toggle = canWrite() ? h("button", { type: "button", onclick: () =>
      send(dname, "start", info.status !== true,
      `${info.status === true ? "stop" : "start"} ${dname}`) },
    info.status === true ? "Stop" : "Start") : "";
    return h("section", { class: "device", dataset: { device: dname } },
      h("h4", {}, dname, " ", h("span", { class: `badge ${cls}` }, st), " ",
        h("small", { class: "muted" }, extra), " ", toggle),
      info.info ? h("p", { class: "muted" }, info.info) : "",
      h("table", { class: "grid params" },
        h("thead", {}, h("tr", {}, h("th", {}, "Parameter"), h("th", {}, "Value"),
          h("th", {}, ""), h("th", {}, ""))),
        h("tbody", {}, (info.parameters || []).map((p) => paramRow(dname, p)))),
      (info.functions || []).length ? h("table", { class: "grid functions" },
        h("thead", {}, h("tr", {}, h("th", {}, "Function"), h("th", {}, "Arguments"),
          h("th", {}, ""), h("th", {}, ""))),
        h("tbody", {}, info.functions.map((f) => functionRow(dname, f)))) : "");
  }

  const render = () => {
    const names = Object.keys(app.plugins).sort();
    if (!names.length) {
      fill(list, h("p", { class: "muted" }, "No agents or drivers known yet."));
      return;
    }
    const byAgent = new Map();
    for (const dname of names) {
      const m = /on agent (\S+)/.exec((app.plugins[dname] || {}).info || "");
      const agent = m ? m[1] : "";
      if (!byAgent.has(agent)) byAgent.set(agent, []);
      byAgent.get(agent).push(dname);
    }
    fill(list, [...byAgent.entries()].map(([agent, devs]) => {
      const offline = devs.every((d) => /offline/.test((app.plugins[d] || {}).info || ""));
      return h("div", { class: "agent", dataset: { agent } },
        h("h3", { class: "agent-title" }, agent ? `Agent ${agent} ` : "Devices ",
          h("span", { class: `badge ${offline ? "offline" : "ok"}` },
            offline ? "offline" : "online")),
        devs.map((dname) => deviceSection(dname)));
    }));
    if (!canWrite()) {
      list.prepend(h("p", { class: "muted", id: "readonly-note" },
        "Read-only: changing parameters and calling functions needs the write right."));
    }
  };
  // re-render on plugin updates unless the user is typing into a field
  const onPlugins = () => {
    if (root.contains(document.activeElement) && document.activeElement.tagName === "INPUT") {
      return;
    }
    render();
  };
  app.bus.addEventListener("plugins", onPlugins);
  render();
  return { unmount() { app.bus.removeEventListener("plugins", onPlugins); } };
}
