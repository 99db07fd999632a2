// Snapshots of a domain: list them, take one (admin).

import { api, canAdmin, v1 } from "./api.js";
import { banner, busy, bytes, errorBox, h, replace } from "./dom.js";

/** snapshotsView lists a domain's snapshots, newest first. */
export async function snapshotsView(main, ctx, domain) {
  const r = await api("GET", v1("domains", domain, "snapshots"), undefined, ctx);
  const take = canAdmin() ? h("button", { type: "button", id: "take-snapshot", class: "primary needs-admin" }, "Take a snapshot now") : null;
  const out = h("div", { class: "form-status" });
  take?.addEventListener("click", () => busy(take, async () => {
    out.replaceChildren();
    try {
      const s = await api("POST", v1("domains", domain, "snapshots"));
      await snapshotsView(main, ctx, domain);
      banner(`Took snapshot ${s.id} at seq ${s.seq} (${bytes(s.bytes)}).`);
    } catch (e) {
      replace(out, errorBox("No snapshot was taken", e));
    }
  }));
  const table = r.snapshots.length
    ? h("table", { id: "snapshots", class: "grid" },
      h("thead", {}, h("tr", {}, h("th", {}, "Id"), h("th", { class: "num" }, "Seq"), h("th", { class: "num" }, "Size"), h("th", {}, "Created"))),
      h("tbody", {}, r.snapshots.map((s) => h("tr", { class: "snapshot" },
        h("td", {}, h("code", {}, s.id)), h("td", { class: "num" }, String(s.seq)),
        h("td", { class: "num" }, s.bytes !== undefined ? bytes(s.bytes) : ""),
        h("td", {}, s.created ? new Date(s.created).toLocaleString() : "")))))
    : h("p", { id: "snapshots", class: "empty" }, "No snapshots yet.");
  replace(main, h("h1", {}, "Snapshots ", h("span", { class: "muted" }, `of ${domain}`)),
    h("p", { class: "muted" }, "A snapshot holds the domain's whole state at a seq; it lets the journal be truncated and new nodes start from it."),
    h("div", { class: "toolbar" }, take), out, table);
}
