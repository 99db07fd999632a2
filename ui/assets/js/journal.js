// The journal of a domain: its bounds from /v1/status and its most recent
// transactions, read back through the change stream (watch from a seq).

import { api, APIError, follow, query, v1 } from "./api.js";
import { errorBox, h, preview, replace } from "./dom.js";

const idle = 5000; // ms without an event after which the recent list is taken as complete (a last seq may have no event)

/** recent reads the changes of seqs from..last, grouped by seq. */
async function recent(domain, from, last, signal) {
  const txns = new Map();
  const ac = new AbortController();
  signal.addEventListener("abort", () => ac.abort());
  let timer = null;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => ac.abort(), idle);
  };
  try {
    await follow(v1("domains", domain, "watch") + query({ from }), {
      signal: ac.signal,
      onOpen: arm,
      onEvent: (name, data) => {
        if (name !== "message") return;
        const ev = JSON.parse(data);
        if (!txns.has(ev.seq)) txns.set(ev.seq, []);
        txns.get(ev.seq).push(ev);
        if (ev.seq >= last) ac.abort(); // the rest of seq last came in the same flush
        else arm();
      },
    });
  } catch (e) {
    if (e.name !== "AbortError" || signal.aborted) throw e;
  } finally {
    clearTimeout(timer);
  }
  return txns;
}

function opText(ev) {
  const key = ev.key !== undefined ? (typeof ev.key === "string" ? ev.key : JSON.stringify(ev.key)) : ev.key_base64 ? `base64:${ev.key_base64}` : "";
  const value = ev.value !== undefined ? " = " + preview(ev.value, 80) : "";
  return `${ev.op} ${ev.store}${key ? " " + key : ""}${value}`;
}

/** journalView shows a domain's journal bounds and recent transactions. */
export async function journalView(main, ctx, domain) {
  const st = await api("GET", "/v1/status", undefined, ctx);
  const d = st.domains.find((x) => x.name === domain);
  if (!d) throw new Error(`this node has no domain ${JSON.stringify(domain)}`);
  const count = h("select", { id: "journal-count" }, [20, 50, 100, 500].map((n) => h("option", { value: n }, n)));
  const list = h("div", { id: "journal-recent" }, h("p", { class: "loading" }, "Reading recent transactions…"));
  count.addEventListener("change", () => run());
  replace(main, h("h1", {}, "Journal ", h("span", { class: "muted" }, `of ${domain}`)),
    h("dl", { class: "props wide", id: "journal-bounds" },
      h("dt", {}, "First seq held"), h("dd", { id: "journal-first" }, String(d.journal_first_seq)),
      h("dt", {}, "Last seq"), h("dd", { id: "journal-last" }, String(d.journal_last_seq)),
      h("dt", {}, "Applied by this node"), h("dd", {}, String(d.applied_seq)),
      h("dt", {}, "Newest snapshot"), h("dd", {}, d.snapshot_seq ? `seq ${d.snapshot_seq}` : "none")),
    h("div", { class: "toolbar" }, h("label", { class: "check" }, "Show the last ", count, " transactions"),
      h("button", { type: "button", id: "journal-refresh", onclick: () => journalView(main, ctx, domain) }, "Refresh")),
    list);

  async function load() {
    const n = Number(count.value);
    const last = d.journal_last_seq;
    if (!last) {
      replace(list, h("p", { class: "empty" }, "The journal is empty."));
      return;
    }
    let from = Math.max(d.journal_first_seq, last - n + 1, 1);
    let txns;
    try {
      txns = await recent(domain, from, last, ctx.signal);
    } catch (e) {
      if (!(e instanceof APIError && e.code === "compacted" && e.body?.first_seq > from)) throw e;
      from = e.body.first_seq; // truncated meanwhile
      txns = await recent(domain, from, last, ctx.signal);
    }
    const rows = [...txns.entries()].sort((a, b) => b[0] - a[0]).map(([seq, evs]) => h("tr", { class: "txn", dataset: { seq } },
      h("td", { class: "num seq" }, String(seq)),
      h("td", {}, h("ul", { class: "ops" }, evs.map((ev) => h("li", {}, opText(ev)))))));
    replace(list, h("p", { class: "muted" }, `Seqs ${from} to ${last}: ${txns.size} with changes.`),
      h("table", { id: "journal", class: "grid" }, h("thead", {}, h("tr", {}, h("th", { class: "num seq" }, "Seq"), h("th", {}, "Changes"))),
        h("tbody", {}, rows)));
  }
  function run() {
    replace(list, h("p", { class: "loading" }, "Reading recent transactions…"));
    load().catch((e) => {
      if (e.name !== "AbortError") replace(list, errorBox("Recent transactions could not be read", e, run));
    });
  }
  run();
}
