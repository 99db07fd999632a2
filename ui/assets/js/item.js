// One item: view its JSON value and version, edit it (compare-and-set on
// the version through the txn endpoint, so a concurrent change is shown as
// a conflict and never overwritten), delete it, or add a new item.

import { api, APIError, canWrite, itemPath, keyText, query, v1 } from "./api.js";
import { busy, confirm, errorBox, field, h, json, replace } from "./dom.js";

/** parseJSON parses text as one JSON value or throws an error in words. */
export function parseJSON(text, what) {
  if (!text.trim()) throw new Error(`${what} is empty: write a JSON value (e.g. {"name":"Ann"}, 42, "text" or null)`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} is not JSON: ${e.message}`);
  }
}

/** keyView shows a key: its text, or its index array as JSON. */
export function keyView(item) {
  if (item.key === undefined) return `base64:${item.key_base64}`;
  return keyText(item.key);
}

/** valueText is an item's value as indented JSON (or base64 bytes). */
function valueText(item) {
  return item.value !== undefined ? json(item.value) : `base64:${item.value_base64}`;
}

/**
 * itemPanel runs the item panel el of a store. onChange() runs after a
 * write so the list can reload.
 */
export function itemPanel(el, { domain, store, spec, onChange }) {
  const txnPath = v1("domains", domain, "txn");
  let cur = null;

  const close = () => {
    cur = null;
    el.replaceChildren();
    el.hidden = true;
  };
  const closeBtn = () => h("button", { type: "button", id: "close-item", class: "link", onclick: close }, "Close");
  const show = (...children) => {
    el.hidden = false;
    replace(el, ...children);
  };

  async function open(key, minSeq) {
    show(h("p", { class: "loading" }, "Loading item…"));
    try {
      cur = await api("GET", itemPath(domain, store, key) + query({ min_seq: minSeq }));
    } catch (e) {
      cur = null;
      const what = e instanceof APIError && e.code === "key_not_found" ? "This item is gone" : "The item could not be read";
      show(h("div", { class: "panel-head" }, h("h2", {}, "Item"), closeBtn()), errorBox(what, e));
      return;
    }
    view();
  }

  function head() {
    return [h("div", { class: "panel-head" }, h("h2", {}, "Item"), closeBtn()),
      h("dl", { class: "props" },
        h("dt", {}, "Key"), h("dd", {}, h("code", { id: "item-key" }, keyView(cur))),
        h("dt", {}, "Version"), h("dd", {}, h("span", { id: "item-version" }, String(cur.version))))];
  }

  function view(notice) {
    const editable = canWrite() && cur.key !== undefined;
    const binary = cur.value === undefined;
    show(head(),
      h("pre", { id: "item-value", class: "json" }, valueText(cur)),
      editable ? h("div", { class: "actions" },
        binary ? h("span", { class: "hint" }, "A value written as bytes through the Go API: the UI edits JSON values only.")
          : h("button", { type: "button", id: "edit-item", class: "primary needs-write", onclick: () => edit(cur, json(cur.value)) }, "Edit"),
        h("button", { type: "button", id: "delete-item", class: "danger needs-write", onclick: remove }, "Delete")) : null,
      notice || null);
  }

  /** edit opens the editor on text, to be saved over base's version. */
  function edit(base, text) {
    const area = h("textarea", { id: "edit-value", class: "json", rows: 14, spellcheck: "false", value: text });
    const out = h("div", { id: "edit-status", class: "form-status" });
    const save = h("button", { type: "button", id: "save-item", class: "primary" }, "Save");
    save.addEventListener("click", () => busy(save, () => saveEdit(base, area, out)));
    show(head(), field(`Value (JSON), editing version ${base.version}`, area,
      spec ? `The indexed fields (${spec.map((f) => f.field).join(", ")}) must still give this item's key.` : null),
    h("div", { class: "actions" }, save,
      h("button", { type: "button", id: "cancel-edit", onclick: () => view() }, "Cancel")), out);
    area.focus();
  }

  async function saveEdit(base, area, out) {
    out.replaceChildren();
    let value;
    try {
      value = parseJSON(area.value, "The value");
    } catch (e) {
      replace(out, errorBox("Not saved", e));
      return;
    }
    let r;
    try {
      r = await api("POST", txnPath, {
        compare: [{ store, key: base.key, version: base.version }],
        success: [{ op: "put", store, key: base.key, value }],
        failure: [],
      });
    } catch (e) {
      replace(out, errorBox("Not saved", e));
      return;
    }
    if (!r.succeeded) {
      await conflict(base, area.value, out);
      return;
    }
    await open(base.key, r.seq);
    onChange();
    el.append(h("p", { class: "ok", id: "saved" }, `Saved as version ${r.seq}.`));
  }

  /** conflict shows that base changed underneath: nothing was written. */
  async function conflict(base, text, out) {
    let now = null;
    try {
      now = await api("GET", itemPath(domain, store, base.key));
    } catch (e) {
      if (!(e instanceof APIError && e.code === "key_not_found")) {
        replace(out, errorBox("Not saved, and the item could not be read again", e));
        return;
      }
    }
    const what = now
      ? `This item was changed by someone else since you opened it: you edited version ${base.version}, it is now version ${now.version}. Your change was not saved.`
      : `This item was deleted by someone else since you opened it (version ${base.version}). Your change was not saved.`;
    replace(out, h("div", { id: "conflict", class: "conflict", role: "alert" },
      h("strong", {}, "Conflict. "), what,
      now ? h("div", {}, h("span", { class: "label" }, `Current value (version ${now.version}):`),
        h("pre", { id: "conflict-value", class: "json" }, valueText(now))) : null,
      h("div", { class: "actions" },
        now ? h("button", {
          type: "button", id: "conflict-reload",
          onclick: () => { cur = now; view(); },
        }, "Discard my change, show the current version") : null,
        now ? h("button", {
          type: "button", id: "conflict-rebase",
          onclick: () => { cur = now; edit(now, text); },
        }, `Keep editing my change on top of version ${now.version}`) : null)));
    onChange();
  }

  async function remove() {
    const base = cur;
    const ok = await confirm({
      title: "Delete this item?", message: `Key ${keyView(base)}, version ${base.version}.`, ok: "Delete", danger: true,
    });
    if (!ok) return;
    let r;
    try {
      r = await api("POST", txnPath, {
        compare: [{ store, key: base.key, version: base.version }],
        success: [{ op: "delete", store, key: base.key }], failure: [],
      });
    } catch (e) {
      view(errorBox("Not deleted", e));
      return;
    }
    if (!r.succeeded) {
      view(h("div", { id: "conflict", class: "conflict", role: "alert" },
        h("strong", {}, "Conflict. "), "The item changed since you opened it, so it was not deleted: look at it again first.",
        h("button", { type: "button", class: "link", onclick: () => open(base.key) }, "Reload")));
      onChange();
      return;
    }
    show(h("div", { class: "panel-head" }, h("h2", {}, "Item"), closeBtn()),
      h("p", { class: "ok", id: "deleted" }, `Deleted ${keyView(base)} (seq ${r.seq}).`));
    cur = null;
    onChange();
  }

  /** add shows the form of a new item. */
  function add() {
    const key = spec ? null : h("input", { id: "new-key", placeholder: "key, e.g. alice or users/alice", spellcheck: "false" });
    const example = spec ? "{" + spec.map((f) => JSON.stringify(f.field) + ": …").join(", ") + "}" : '{"name": "Ann"}';
    const area = h("textarea", { id: "new-value", class: "json", rows: 10, spellcheck: "false", placeholder: example });
    const out = h("div", { class: "form-status" });
    const save = h("button", { type: "button", id: "save-new", class: "primary" }, "Add");
    save.addEventListener("click", () => busy(save, () => saveNew(key, area, out)));
    show(h("div", { class: "panel-head" }, h("h2", {}, "New item"), closeBtn()),
      key ? field("Key", key) : h("p", { class: "hint" }, `The key is taken from the document's fields: ${spec.map((f) => f.field).join(", ")}.`),
      field(spec ? "Document (JSON object)" : "Value (JSON)", area),
      h("div", { class: "actions" }, save, h("button", { type: "button", id: "cancel-new", onclick: close }, "Cancel")), out);
    (key || area).focus();
  }

  async function saveNew(keyInput, area, out) {
    out.replaceChildren();
    try {
      const value = parseJSON(area.value, spec ? "The document" : "The value");
      let key, seq;
      if (spec) {
        const r = await api("POST", v1("domains", domain, "stores", store, "items") + query({ if_absent: "true" }), value);
        key = r.key;
        seq = r.seq;
      } else {
        key = keyInput.value;
        if (!key) throw new Error("the key is empty: give the item a key");
        seq = (await api("PUT", itemPath(domain, store, key) + query({ if_absent: "true" }), value)).seq;
      }
      onChange();
      await open(key, seq);
      el.append(h("p", { class: "ok", id: "added" }, `Added as version ${seq}.`));
    } catch (e) {
      replace(out, errorBox("Not added", e));
    }
  }

  return { open, add, close };
}
