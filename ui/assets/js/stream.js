// The live change stream of a domain (GET .../watch, Server-Sent Events),
// from now or from a seq, filtered by store and key prefix.

import { api, follow, query, v1 } from "./api.js";
import { describe, field, h, preview, replace } from "./dom.js";

const keep = 500; // events kept on screen

/** eventRow is one change as a table row. */
export function eventRow(ev) {
  const key = ev.key !== undefined ? (typeof ev.key === "string" ? ev.key : JSON.stringify(ev.key)) : ev.key_base64 ? `base64:${ev.key_base64}` : "";
  const value = ev.value !== undefined ? preview(ev.value) : ev.value_base64 ? `base64:${preview(ev.value_base64)}` : "";
  return h("tr", { class: `event op-${ev.op}`, dataset: { seq: ev.seq, key } },
    h("td", { class: "num seq" }, String(ev.seq)),
    h("td", { class: "op" }, ev.op),
    h("td", { class: "store" }, ev.store),
    h("td", { class: "key" }, key),
    h("td", { class: "value" }, value));
}

/** streamView shows a domain's changes as they commit. */
export async function streamView(main, ctx, domain) {
  const stores = (await api("GET", v1("domains", domain, "stores"), undefined, ctx)).stores;
  const fromNow = h("input", { type: "radio", name: "from", id: "from-now", value: "now", checked: true });
  const fromSeq = h("input", { type: "radio", name: "from", id: "from-seq", value: "seq" });
  const seq = h("input", { id: "from-value", type: "number", min: 1, placeholder: "seq", class: "narrow" });
  seq.addEventListener("focus", () => { fromSeq.checked = true; });
  const store = h("select", { id: "watch-store" }, h("option", { value: "" }, "all stores"),
    stores.map((s) => h("option", { value: s.name }, s.name)));
  const prefix = h("input", { id: "watch-prefix", class: "wide", placeholder: 'keys starting with… (index store: ["Smith"])', spellcheck: "false" });
  const startBtn = h("button", { type: "submit", id: "watch-start", class: "primary" }, "Start");
  const stopBtn = h("button", { type: "button", id: "watch-stop", disabled: true }, "Stop");
  const status = h("div", { id: "watch-status", class: "muted", dataset: { state: "stopped" } }, "Stopped.");
  const count = h("span", { id: "event-count", class: "muted" }, "0 events");
  const body = h("tbody", {});
  const table = h("table", { id: "events", class: "grid" },
    h("thead", {}, h("tr", {}, h("th", { class: "num seq" }, "Seq"), h("th", { class: "op" }, "Op"), h("th", {}, "Store"), h("th", {}, "Key"), h("th", {}, "Value"))),
    body);
  let running = null;
  let n = 0;
  let last = 0;

  const setStatus = (state, text, kind) => {
    status.dataset.state = state;
    status.className = kind || "muted";
    replace(status, text);
  };
  const stop = () => {
    running?.abort();
    running = null;
    startBtn.disabled = false;
    stopBtn.disabled = true;
  };
  ctx.onLeave(stop);

  async function run(from) {
    stop();
    const ac = new AbortController();
    running = ac;
    startBtn.disabled = true;
    stopBtn.disabled = false;
    const where = from ? `from seq ${from}` : "from now";
    setStatus("connecting", `Connecting (${where})…`);
    const url = v1("domains", domain, "watch") + query({ from, store: store.value, prefix: prefix.value });
    try {
      await follow(url, {
        signal: ac.signal,
        onOpen: () => setStatus("listening", `Listening ${where}: changes appear as they commit.`),
        onEvent: (name, data) => {
          const ev = JSON.parse(data);
          if (name === "error") {
            const resume = ev.resume_from;
            setStatus("ended", [`The stream ended: ${ev.message} `, resume ? h("button", {
              type: "button", id: "watch-resume", class: "link", onclick: () => run(resume),
            }, `Resume from seq ${resume}`) : null], "error");
            return;
          }
          last = ev.seq;
          body.prepend(eventRow(ev));
          while (body.childElementCount > keep) body.lastElementChild.remove();
          count.textContent = `${++n} event${n === 1 ? "" : "s"}`;
        },
      });
      if (running === ac && status.dataset.state !== "ended") {
        setStatus("ended", ["The node closed the stream. ", h("button", {
          type: "button", class: "link", onclick: () => run(last ? last + 1 : from),
        }, "Reconnect")], "error");
      }
    } catch (e) {
      if (e.name === "AbortError") {
        if (running === null) setStatus("stopped", "Stopped.");
        return;
      }
      if (running === ac) setStatus("failed", `The stream could not be opened: ${describe(e)}`, "error");
    } finally {
      if (running === ac) stop();
    }
  }

  const form = h("form", { id: "watch-form", class: "card search" },
    h("div", { class: "row" },
      h("fieldset", { class: "inline" }, h("legend", {}, "Start"),
        h("label", { class: "check" }, fromNow, " now"),
        h("label", { class: "check" }, fromSeq, " from seq "), seq),
      field("Store", store),
      field("Key prefix", prefix)),
    h("div", { class: "actions" }, startBtn, stopBtn,
      h("button", { type: "button", id: "watch-clear", onclick: () => { body.replaceChildren(); n = 0; count.textContent = "0 events"; } }, "Clear")));
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const from = fromSeq.checked ? Number(seq.value) : 0;
    if (fromSeq.checked && !(from >= 1)) {
      setStatus("failed", "Give the seq to start from (1 or more), or choose now.", "error");
      return;
    }
    run(from || undefined);
  });
  stopBtn.addEventListener("click", stop);
  replace(main, h("h1", {}, "Change stream ", h("span", { class: "muted" }, `of ${domain}`)), form, status,
    h("div", { class: "toolbar" }, count), table);
}
