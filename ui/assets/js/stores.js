// Domains and stores: list, create (with an index specification editor),
// drop with confirmation.

import { api, canAdmin, v1 } from "./api.js";
import { banner, busy, confirm, errorBox, field, h, replace } from "./dom.js";

/** specText describes an index specification: "last ↑, age ↓". */
export function specText(index) {
  if (!index || !index.length) return "plain (string keys)";
  return index.map((f) => `${f.field} ${f.order === "desc" ? "↓" : "↑"}`).join(", ");
}

/** storeHash is the hash of a store's browse screen. */
export function storeHash(domain, store) {
  return `#/d/${encodeURIComponent(domain)}/s/${encodeURIComponent(store)}`;
}

/** domainsView lists the node's domains and creates new ones (admin). */
export async function domainsView(main, ctx) {
  const r = await api("GET", "/v1/domains", undefined, ctx);
  const list = h("ul", { id: "domains", class: "plain-list" },
    r.domains.map((d) => h("li", {}, h("a", { href: `#/d/${encodeURIComponent(d.name)}/stores`, class: "domain-link" }, d.name))));
  replace(main, h("h1", {}, "Domains"),
    h("p", { class: "muted" }, "A domain has one journal and holds stores. Pick one to see its stores."),
    list, canAdmin() ? createDomainForm(ctx) : null);
}

function createDomainForm(ctx) {
  const name = h("input", { id: "new-domain", required: true, pattern: "[A-Za-z0-9_-]{1,64}", placeholder: "orders" });
  const out = h("div", { class: "form-status" });
  const btn = h("button", { type: "submit", id: "create-domain", class: "primary needs-admin" }, "Create domain");
  const form = h("form", { class: "card" }, h("h2", {}, "New domain"),
    field("Name", name, "1 to 64 letters, digits, - or _"), h("div", { class: "actions" }, btn), out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    out.replaceChildren();
    await busy(btn, async () => {
      try {
        await api("PUT", v1("domains", name.value.trim()));
        await ctx.refreshDomains();
        location.hash = `#/d/${encodeURIComponent(name.value.trim())}/stores`;
      } catch (err) {
        replace(out, errorBox("Not created", err));
      }
    });
  });
  return form;
}

/** storesView lists a domain's stores, creates (admin) and drops (admin) them. */
export async function storesView(main, ctx, domain) {
  const r = await api("GET", v1("domains", domain, "stores"), undefined, ctx);
  const rows = r.stores.map((s) => h("tr", { class: "store-row", dataset: { store: s.name } },
    h("td", {}, h("a", { href: storeHash(domain, s.name), class: "store-link" }, s.name)),
    h("td", { class: "spec" }, specText(s.index)),
    h("td", { class: "num count" }, s.count ?? ""),
    canAdmin() ? h("td", { class: "actions-cell" },
      h("button", { type: "button", class: "danger small drop-store needs-admin", onclick: () => drop(ctx, domain, s) }, "Drop…")) : null));
  const table = r.stores.length
    ? h("table", { id: "stores", class: "grid" },
      h("thead", {}, h("tr", {}, h("th", {}, "Store"), h("th", {}, "Index"), h("th", { class: "num" }, "Items"),
        canAdmin() ? h("th", {}, "") : null)),
      h("tbody", {}, rows))
    : h("p", { id: "stores", class: "empty" }, "No stores yet." + (canAdmin() ? " Create one below." : ""));
  replace(main, h("h1", {}, "Stores ", h("span", { class: "muted" }, `in ${domain}`)),
    h("p", { class: "muted" }, `As of seq ${r.seq}.`), table,
    canAdmin() ? createStoreForm(ctx, domain) : null);
}

async function drop(ctx, domain, s) {
  const ok = await confirm({
    title: `Drop store ${s.name}?`,
    message: `The store and all its ${s.count ?? ""} items are deleted for good (the journal keeps the history until it is truncated).`,
    ok: "Drop store", danger: true, requireText: s.name,
  });
  if (!ok) return;
  try {
    const r = await api("DELETE", v1("domains", domain, "stores", s.name));
    location.hash = `#/d/${encodeURIComponent(domain)}/stores`;
    await storesView(document.getElementById("main"), ctx, domain);
    banner(`Dropped store ${s.name} (seq ${r.seq}).`);
  } catch (err) {
    banner(`Store ${s.name} was not dropped: ${err.message}`, "error");
  }
}

/** indexEditor edits an ordered list of index fields, each asc or desc. */
function indexEditor() {
  const rows = h("ol", { id: "index-fields", class: "index-fields" });
  const add = (name = "", order = "asc") => {
    const row = h("li", { class: "index-field" });
    const move = (dir) => {
      const sib = dir < 0 ? row.previousElementSibling : row.nextElementSibling;
      if (sib) dir < 0 ? rows.insertBefore(row, sib) : rows.insertBefore(sib, row);
    };
    replace(row,
      h("input", { class: "field-name", placeholder: "field, e.g. last or address.city", value: name, "aria-label": "field name" }),
      h("select", { class: "field-order", "aria-label": "order" },
        h("option", { value: "asc", selected: order === "asc" }, "ascending"),
        h("option", { value: "desc", selected: order === "desc" }, "descending")),
      h("button", { type: "button", class: "small up", title: "move up", onclick: () => move(-1) }, "↑"),
      h("button", { type: "button", class: "small down", title: "move down", onclick: () => move(1) }, "↓"),
      h("button", { type: "button", class: "small remove", title: "remove", onclick: () => row.remove() }, "✕"));
    rows.append(row);
    row.querySelector("input").focus();
  };
  const spec = () => [...rows.querySelectorAll(".index-field")].map((r) => ({
    field: r.querySelector(".field-name").value.trim(),
    order: r.querySelector(".field-order").value,
  }));
  const el = h("fieldset", { class: "index-editor" }, h("legend", {}, "Index specification"),
    h("p", { class: "hint" }, "No fields: a plain store keyed by strings. With fields: documents keyed by those fields' values, in this order."),
    rows, h("button", { type: "button", id: "add-field", class: "small", onclick: () => add() }, "+ Add field"));
  return { el, spec };
}

function createStoreForm(ctx, domain) {
  const name = h("input", { id: "store-name", required: true, placeholder: "people" });
  const editor = indexEditor();
  const out = h("div", { class: "form-status" });
  const btn = h("button", { type: "submit", id: "create-store", class: "primary needs-admin" }, "Create store");
  const form = h("form", { class: "card", id: "create-store-form" }, h("h2", {}, "New store"),
    field("Name", name), editor.el, h("div", { class: "actions" }, btn), out);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    out.replaceChildren();
    const spec = editor.spec();
    const empty = spec.findIndex((f) => !f.field);
    if (empty >= 0) {
      replace(out, errorBox("Not created", new Error(`index field ${empty + 1} has no name: name it or remove it`)));
      return;
    }
    await busy(btn, async () => {
      try {
        const body = spec.length ? { index: spec } : undefined;
        await api("PUT", v1("domains", domain, "stores", name.value), body);
        await storesView(document.getElementById("main"), ctx, domain);
        banner(`Created store ${name.value}.`);
      } catch (err) {
        replace(out, errorBox("Not created", err));
      }
    });
  });
  return form;
}
