// A script editor: a textarea with line numbers, and the sandbox's messages shown beside
// the line they are about ("line 3: ..." in an error marks line 3 and says why there).

import { h } from "./util.js";

/** The line a sandbox message is about, or null ("error: line 3: unknown name 'x'"). */
export function lineOf(message) {
  const m = /\bline (\d+)\b/.exec(String(message || ""));
  return m ? Number(m[1]) : null;
}

/** Build an editor; returns {el, textarea, get value, set value, showMessages(list)}. */
export function scriptEditor(id, value = "") {
  const gutter = h("div", { class: "gutter", "aria-hidden": "true" });
  const notes = h("div", { class: "notes", id: `${id}-notes` });
  const textarea = h("textarea", { id, class: "code", spellcheck: "false", rows: 10,
    wrap: "off" });
  textarea.value = value;
  let messages = [];

  function render() {
    const n = Math.max(1, textarea.value.split("\n").length);
    const marked = new Map();
    for (const msg of messages) {
      const line = lineOf(msg);
      if (line !== null) marked.set(line, [...(marked.get(line) || []), msg]);
    }
    gutter.replaceChildren(...Array.from({ length: n }, (_, i) =>
      h("div", { class: marked.has(i + 1) ? "ln err" : "ln" }, String(i + 1))));
    notes.replaceChildren(...Array.from({ length: Math.max(n, ...marked.keys()) }, (_, i) => {
      const here = marked.get(i + 1);
      return here ? h("div", { class: "note err", dataset: { line: i + 1 }, title: here.join("\n") },
        `← ${here.join("; ")}`) : h("div", { class: "note" }, "\u00a0");
    }));
    gutter.scrollTop = notes.scrollTop = textarea.scrollTop;
  }
  textarea.addEventListener("input", render);
  textarea.addEventListener("scroll", () => {
    gutter.scrollTop = notes.scrollTop = textarea.scrollTop;
  });
  render();
  return {
    el: h("div", { class: "editor" }, gutter, textarea, notes),
    textarea,
    get value() { return textarea.value; },
    set value(v) { textarea.value = v; messages = []; render(); },
    /** Show messages; those naming a line are put beside it. */
    showMessages(list) { messages = (list || []).filter(Boolean).map(String); render(); },
  };
}
