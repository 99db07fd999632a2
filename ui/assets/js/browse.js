// Browsing a store: pages forwards and backwards (the API's cursors), key
// range and prefix search, search by an index store's key fields, and a
// selection to delete in bulk.

import { api, canWrite, keyText, query, v1 } from "./api.js";
import { banner, busy, confirm, errorBox, field, h, preview, replace } from "./dom.js";
import { itemPanel, keyView } from "./item.js";
import { specText } from "./stores.js";

/**
 * parseKeyField reads one key field typed by the user: JSON (42, true,
 * null, "42") when it parses as a number, boolean, null or string, else
 * the text itself.
 */
export function parseKeyField(name, text) {
  try {
    const v = JSON.parse(text);
    if (v === null || ["number", "boolean", "string"].includes(typeof v)) return v;
  } catch {
    return text;
  }
  throw new Error(`key field ${name}: an indexed value is a number, string, true, false or null, not ${text}`);
}

/** parseBound reads an index store's start or end: a JSON array, "" for none. */
function parseBound(name, text) {
  if (!text.trim()) return "";
  let v;
  try {
    v = JSON.parse(text);
  } catch {
    v = null;
  }
  if (!Array.isArray(v)) throw new Error(`${name} is a JSON array of leading field values, e.g. ["Smith", 40]`);
  return JSON.stringify(v);
}

/** items says how many items a store holds. */
function items(n) {
  return n === undefined || n === null ? "? items" : `${n} item${n === 1 ? "" : "s"}`;
}

/** browseView browses store in domain. */
export async function browseView(main, ctx, domain, store) {
  const list = await api("GET", v1("domains", domain, "stores"), undefined, ctx);
  const info = list.stores.find((s) => s.name === store);
  if (!info) throw new Error(`there is no store ${JSON.stringify(store)} in domain ${domain} (it may have been dropped)`);
  new Browser(main, ctx, domain, info).start();
}

/** Browser is the state of one store's browse screen. */
class Browser {
  constructor(main, ctx, domain, info) {
    Object.assign(this, { main, ctx, domain, info, spec: info.index && info.index.length ? info.index : null });
    this.store = info.name;
    this.params = { limit: 50 };
    this.cursors = [""]; // cursors[i] is the cursor of page i ("" for the first)
    this.starts = [0]; // starts[i] is the position of page i's first item
    this.page = 0;
    this.next = null;
    this.items = [];
    this.selected = new Map(); // keyText -> {key, version}
  }

  start() {
    const write = canWrite();
    this.table = h("table", { id: "items", class: "grid items" });
    this.pageInfo = h("span", { id: "page-info", class: "muted" });
    this.prev = h("button", { type: "button", id: "prev", onclick: () => this.go(-1) }, "← Previous");
    this.nextBtn = h("button", { type: "button", id: "next", onclick: () => this.go(1) }, "Next →");
    this.status = h("div", { class: "list-status" });
    this.panel = h("section", { id: "item-panel", class: "card panel", hidden: true });
    this.items$ = itemPanel(this.panel, {
      domain: this.domain, store: this.store, spec: this.spec, onChange: () => this.reload(),
    });
    this.count = h("span", { id: "store-count", class: "muted" }, items(this.info.count));
    this.delSel = write ? h("button", {
      type: "button", id: "delete-selected", class: "danger needs-write", disabled: true, onclick: () => this.bulkDelete(),
    }, "Delete selected") : null;
    replace(this.main,
      h("h1", {}, h("a", { href: `#/d/${encodeURIComponent(this.domain)}/stores`, class: "muted" }, this.domain + " /"), " ", this.store),
      h("p", { class: "muted" }, `Index: ${specText(this.info.index)} · `, this.count),
      this.searchForm(),
      h("div", { class: "browse" },
        h("div", { class: "list" },
          h("div", { class: "toolbar" },
            write ? h("button", { type: "button", id: "add-item", class: "primary needs-write", onclick: () => this.items$.add() }, "Add item") : null,
            this.delSel),
          this.status, this.table,
          h("div", { class: "pager" }, this.prev, this.pageInfo, this.nextBtn)),
        this.panel));
    this.load();
  }

  /** searchForm is the key range, prefix and key field search. */
  searchForm() {
    const inputs = {};
    const text = (id, ph) => (inputs[id] = h("input", { id, placeholder: ph, spellcheck: "false", autocomplete: "off" }));
    const keyFields = this.spec ? this.spec.map((f) => h("input", {
      class: "key-field", dataset: { field: f.field }, spellcheck: "false", autocomplete: "off",
      placeholder: "any", "aria-label": f.field,
    })) : [];
    const reverse = h("input", { type: "checkbox", id: "reverse" });
    const limit = h("select", { id: "limit" }, [10, 25, 50, 100, 250, 1000].map((n) => h("option", { value: n, selected: n === 50 }, n)));
    const err = h("div", { class: "form-status" });
    const form = h("form", { id: "search", class: "card search" },
      this.spec
        ? h("fieldset", { class: "key-fields" }, h("legend", {}, "Search by key fields"),
          h("p", { class: "hint" }, "Fill the leading fields: they form a key prefix. A value that parses as JSON (42, true, null, \"42\") is taken as such; anything else as text."),
          h("div", { class: "row" }, this.spec.map((f, i) => field(`${f.field} ${f.order === "desc" ? "↓" : "↑"}`, keyFields[i]))))
        : field("Prefix", text("prefix", "keys starting with…")),
      h("div", { class: "row" },
        field("From key (inclusive)", text("start", this.spec ? '["Smith", 40]' : "a")),
        field("To key (exclusive)", text("end", this.spec ? '["Taylor"]' : "n")),
        field("Page size", limit),
        h("label", { class: "check" }, reverse, " descending")),
      h("div", { class: "actions" },
        h("button", { type: "submit", id: "search-btn", class: "primary" }, "Search"),
        h("button", { type: "reset", id: "reset-btn" }, "Clear")),
      err);
    const read = () => {
      const p = { limit: Number(limit.value), reverse: reverse.checked ? "true" : "" };
      if (this.spec) {
        const prefix = [];
        let gap = null;
        this.spec.forEach((f, i) => {
          const t = keyFields[i].value;
          if (t === "") { gap ??= f.field; return; }
          if (gap !== null) throw new Error(`fill the key fields in order: ${f.field} is set but ${gap} before it is empty`);
          prefix.push(parseKeyField(f.field, t));
        });
        p.prefix = prefix.length ? JSON.stringify(prefix) : "";
        p.start = parseBound("From key", inputs.start.value);
        p.end = parseBound("To key", inputs.end.value);
      } else {
        p.prefix = inputs.prefix.value;
        p.start = inputs.start.value;
        p.end = inputs.end.value;
      }
      return p;
    };
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      err.replaceChildren();
      try {
        this.params = read();
      } catch (x) {
        replace(err, errorBox("Cannot search", x));
        return;
      }
      this.restart();
    });
    form.addEventListener("reset", () => {
      err.replaceChildren();
      this.params = { limit: 50 };
      setTimeout(() => this.restart()); // after the form cleared its fields
    });
    return form;
  }

  restart() {
    this.cursors = [""];
    this.starts = [0];
    this.page = 0;
    this.load();
  }

  go(dir) {
    const p = this.page + dir;
    if (p < 0 || (dir > 0 && !this.next)) return;
    if (dir > 0) {
      this.cursors[p] = this.next;
      this.starts[p] = this.starts[this.page] + this.items.length;
    }
    this.page = p;
    this.load();
  }

  /** reload shows the current page again (after a write) and the new count. */
  reload() {
    this.load();
    api("GET", v1("domains", this.domain, "stores")).then((r) => {
      const s = r.stores.find((x) => x.name === this.store);
      if (s) this.count.textContent = items(s.count);
    }).catch(() => {});
  }

  async load() {
    const seq = (this.loading = (this.loading || 0) + 1);
    this.table.dataset.state = "loading";
    this.prev.disabled = this.nextBtn.disabled = true;
    const url = v1("domains", this.domain, "stores", this.store, "items") + query({ ...this.params, cursor: this.cursors[this.page] });
    let r;
    try {
      r = await api("GET", url, undefined, this.ctx);
    } catch (e) {
      if (e.name === "AbortError" || seq !== this.loading) return;
      replace(this.status, errorBox("The items could not be listed", e, () => this.load()));
      this.table.dataset.state = "error";
      this.prev.disabled = this.page === 0;
      return;
    }
    if (seq !== this.loading) return;
    this.status.replaceChildren();
    this.items = r.items;
    this.next = r.next;
    this.selected.clear();
    this.renderTable();
  }

  renderTable() {
    const write = canWrite();
    const all = write ? h("input", { type: "checkbox", id: "select-all", "aria-label": "select all on this page" }) : null;
    const boxes = [];
    const rows = this.items.map((it) => {
      const addressable = it.key !== undefined;
      const box = write && addressable ? h("input", { type: "checkbox", class: "select", "aria-label": "select" }) : null;
      if (box) {
        boxes.push(box);
        box.addEventListener("click", (e) => e.stopPropagation());
        box.addEventListener("change", () => {
          if (box.checked) this.selected.set(keyText(it.key), { key: it.key, version: it.version });
          else this.selected.delete(keyText(it.key));
          this.renderSelection();
        });
      }
      const row = h("tr", { class: "item-row", dataset: { key: keyView(it) }, tabindex: "0" },
        write ? h("td", { class: "sel" }, box) : null,
        h("td", { class: "key" }, keyView(it)),
        h("td", { class: "value" }, it.value !== undefined ? preview(it.value) : `base64:${preview(it.value_base64)}`),
        h("td", { class: "num version" }, String(it.version)));
      if (addressable) {
        const open = () => this.items$.open(it.key);
        row.addEventListener("click", open);
        row.addEventListener("keydown", (e) => { if (e.key === "Enter") open(); });
      }
      return row;
    });
    all?.addEventListener("change", () => {
      for (const b of boxes) if (b.checked !== all.checked) { b.checked = all.checked; b.dispatchEvent(new Event("change")); }
    });
    replace(this.table,
      h("thead", {}, h("tr", {}, write ? h("th", { class: "sel" }, all) : null,
        h("th", {}, "Key"), h("th", {}, "Value"), h("th", { class: "num" }, "Version"))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: write ? 4 : 3, class: "empty" }, "No items here."))));
    const first = this.starts[this.page];
    this.pageInfo.textContent = this.items.length
      ? `Page ${this.page + 1} · items ${first + 1}–${first + this.items.length}${this.next ? "" : " (last page)"}`
      : `Page ${this.page + 1} · no items`;
    this.prev.disabled = this.page === 0;
    this.nextBtn.disabled = !this.next;
    this.table.dataset.page = String(this.page + 1);
    this.table.dataset.state = "ready";
    this.renderSelection();
  }

  renderSelection() {
    if (!this.delSel) return;
    const n = this.selected.size;
    this.delSel.disabled = n === 0;
    this.delSel.textContent = n ? `Delete selected (${n})` : "Delete selected";
  }

  /** bulkDelete deletes the selection in one transaction, if none of it changed. */
  async bulkDelete() {
    const sel = [...this.selected.values()];
    if (!sel.length) return;
    const ok = await confirm({
      title: `Delete ${sel.length} item${sel.length > 1 ? "s" : ""}?`,
      message: "They are deleted in one transaction, only if none of them changed since this page was loaded.",
      ok: "Delete", danger: true,
    });
    if (!ok) return;
    await busy(this.delSel, async () => {
      try {
        const r = await api("POST", v1("domains", this.domain, "txn"), {
          compare: sel.map((s) => ({ store: this.store, key: s.key, version: s.version })),
          success: sel.map((s) => ({ op: "delete", store: this.store, key: s.key })),
          failure: [],
        });
        if (r.succeeded) banner(`Deleted ${sel.length} item${sel.length > 1 ? "s" : ""} (seq ${r.seq}).`);
        else banner("Conflict: nothing was deleted, because some selected items changed since the page was loaded. The page is reloaded: select again.", "error");
      } catch (e) {
        banner(`Nothing was deleted: ${e.message}`, "error");
      }
    });
    this.items$.close();
    this.reload();
  }
}
