// Node and cluster status: /v1/status (role per domain, applied seq, lag,
// health, members, failovers when the node reports them), /healthz and
// /readyz; refreshed every few seconds.

import { api } from "./api.js";
import { describe, errorBox, h, replace } from "./dom.js";

const every = 3000; // ms between refreshes

/** health reads /healthz or /readyz as a word. */
async function health(path, signal) {
  try {
    const r = await api("GET", path, undefined, { signal });
    return { ok: true, text: r.status };
  } catch (e) {
    if (e.name === "AbortError") throw e;
    return { ok: false, text: describe(e) };
  }
}

function age(t) {
  const s = Math.round((Date.now() - new Date(t).getTime()) / 1000);
  return Number.isFinite(s) ? `${Math.max(s, 0)} s ago` : "";
}

function badge(ok, text) {
  return h("span", { class: ok ? "badge ok" : "badge bad" }, text);
}

/** failovers is the node's storage failover count, or null when it reports none. */
function failovers(st) {
  return typeof st.failovers === "number" ? st.failovers : null;
}

function domainRow(d) {
  const lag = d.journal_last_seq - d.applied_seq;
  const replay = d.replay ? ` (replaying: ${d.replay.applied_seq}/${d.replay.target_seq}, eta ${d.replay.eta_seconds} s)` : "";
  return h("tr", { class: "domain-status", dataset: { domain: d.name } },
    h("td", {}, d.name),
    h("td", { class: "role" }, badge(true, d.role)),
    h("td", { class: "num applied" }, String(d.applied_seq)),
    h("td", { class: "num" }, `${d.journal_first_seq}–${d.journal_last_seq}`),
    h("td", { class: "num lag" }, String(lag)),
    h("td", { class: "num" }, d.snapshot_seq ? String(d.snapshot_seq) : "none"),
    h("td", {}, d.error ? badge(false, d.error) : badge(true, "healthy" + replay)));
}

function render(st, live, ready) {
  const f = failovers(st);
  const members = st.members || [];
  return [
    h("dl", { class: "props wide", id: "node" },
      h("dt", {}, "Node"), h("dd", { id: "node-id" }, st.node),
      h("dt", {}, "Version"), h("dd", {}, st.version || "unknown"),
      h("dt", {}, "Alive (/healthz)"), h("dd", { id: "healthz" }, badge(live.ok, live.text)),
      h("dt", {}, "Ready (/readyz)"), h("dd", { id: "readyz" }, badge(ready.ok, ready.text)),
      st.data_dir ? [h("dt", {}, "Data dir"), h("dd", { id: "data-dir" }, st.data_dir)] : null,
      f !== null ? [h("dt", {}, "Storage failovers"), h("dd", { id: "failovers" }, String(f))] : null,
      st.storage_error ? [h("dt", {}, "Storage"), h("dd", { id: "storage-error" }, badge(false, st.storage_error))] : null,
      h("dt", {}, "Updated"), h("dd", { class: "muted" }, new Date().toLocaleTimeString())),
    h("h2", {}, "Domains"),
    h("table", { id: "domains-status", class: "grid" },
      h("thead", {}, h("tr", {}, h("th", {}, "Domain"), h("th", {}, "Role"), h("th", { class: "num" }, "Applied seq"),
        h("th", { class: "num" }, "Journal"), h("th", { class: "num" }, "Lag"), h("th", { class: "num" }, "Snapshot"),
        h("th", {}, "Health"))),
      h("tbody", {}, st.domains.map(domainRow))),
    h("h2", {}, "Cluster members"),
    members.length ? h("table", { id: "members", class: "grid" },
      h("thead", {}, h("tr", {}, h("th", {}, "Node"), h("th", {}, "Address"), h("th", {}, "Roles"), h("th", {}, "Last seen"))),
      h("tbody", {}, members.map((m) => h("tr", { class: m.node === st.node ? "member self" : "member", dataset: { node: m.node } },
        h("td", {}, m.node + (m.node === st.node ? " (this node)" : "")),
        h("td", { class: "address" }, m.advertise || ""),
        h("td", { class: "roles" }, Object.entries(m.roles || {}).map(([d, r]) => `${d}: ${r}`).join(", ")),
        h("td", {}, m.last_seen ? age(m.last_seen) : "")))))
      : h("p", { id: "members", class: "empty" }, "This node reports no members (standalone)."),
  ];
}

/** statusView shows the node's and the cluster's state. */
export async function statusView(main, ctx) {
  const auto = h("input", { type: "checkbox", id: "auto-refresh", checked: true });
  const body = h("div", { id: "status-body" });
  let timer = null;
  ctx.onLeave(() => clearTimeout(timer));
  async function refresh() {
    clearTimeout(timer);
    try {
      const [st, live, ready] = await Promise.all([
        api("GET", "/v1/status", undefined, ctx), health("/healthz", ctx.signal), health("/readyz", ctx.signal)]);
      replace(body, render(st, live, ready));
    } catch (e) {
      if (e.name === "AbortError") return;
      replace(body, errorBox("The status could not be read", e, refresh));
    }
    if (auto.checked && !ctx.signal.aborted) timer = setTimeout(refresh, every);
  }
  auto.addEventListener("change", () => (auto.checked ? refresh() : clearTimeout(timer)));
  replace(main, h("h1", {}, "Node and cluster status"),
    h("div", { class: "toolbar" }, h("label", { class: "check" }, auto, " refresh every 3 s"),
      h("button", { type: "button", id: "status-refresh", onclick: refresh }, "Refresh now")),
    body);
  await refresh();
}
