// DOM helpers. Everything the UI shows from the node goes in as text
// (textContent, never innerHTML): item values are user data.

/**
 * h builds an element: h("button", {class: "x", onclick: fn}, "text", child).
 * Attributes whose value is null, undefined or false are left out; "on..."
 * attributes add listeners; value, checked and disabled set properties.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "value" || k === "checked" || k === "disabled") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

/** append adds children (nodes, text, arrays of them; null is skipped). */
export function append(el, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** replace empties el, then appends children. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** describe is an error in words: the API's message and code. */
export function describe(err) {
  if (!err) return "unknown error";
  if (err.code && err.status !== undefined) {
    const where = err.status ? `HTTP ${err.status} ${err.code}` : err.code;
    return `${err.message} (${where})`;
  }
  return err.message || String(err);
}

/** errorBox is an error shown in words where the failed thing would be. */
export function errorBox(what, err, retry) {
  return h("div", { class: "error", role: "alert" },
    h("strong", {}, what + ": "), h("span", { class: "error-text" }, describe(err)),
    retry ? h("button", { type: "button", class: "link retry", onclick: retry }, "Retry") : null);
}

/** banner shows a short message at the top, replacing the last one. */
export function banner(text, kind = "info") {
  const b = document.getElementById("banner");
  if (!b) return;
  replace(b, h("div", { class: "banner " + kind, role: kind === "error" ? "alert" : "status" },
    h("span", { class: "banner-text" }, text),
    h("button", { type: "button", class: "link", "aria-label": "dismiss", onclick: () => b.replaceChildren() }, "×")));
}

/** clearBanner removes the banner's message. */
export function clearBanner() {
  document.getElementById("banner")?.replaceChildren();
}

/** field is a labelled form control. */
export function field(label, control, hint) {
  return h("label", { class: "field" }, h("span", { class: "label" }, label), control,
    hint ? h("span", { class: "hint" }, hint) : null);
}

/** json is a value as indented JSON text. */
export function json(v) {
  return JSON.stringify(v, null, 2);
}

/** preview is a value as one line of JSON, cut to n characters. */
export function preview(v, n = 120) {
  const s = v === undefined ? "" : JSON.stringify(v);
  return s.length > n ? s.slice(0, n - 1) + "…" : s;
}

/** bytes formats a size. */
export function bytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let u = -1;
  do { n /= 1024; u++; } while (n >= 1024 && u < units.length - 1);
  return `${n.toFixed(1)} ${units[u]}`;
}

/**
 * confirm asks a yes/no question in a modal dialog and resolves true when
 * the user confirms. With requireText the confirm button stays disabled
 * until that text is typed (for destructive acts such as dropping a store).
 */
export function confirm({ title, message, ok = "OK", danger = false, requireText = null }) {
  return new Promise((resolve) => {
    const input = requireText !== null
      ? h("input", { id: "confirm-text", autocomplete: "off", spellcheck: "false" }) : null;
    const okBtn = h("button", { type: "submit", id: "confirm-ok", class: danger ? "danger" : "primary", disabled: input !== null }, ok);
    const cancel = h("button", { type: "button", id: "confirm-cancel" }, "Cancel");
    const form = h("form", { method: "dialog" },
      h("h2", {}, title), h("p", { class: "confirm-message" }, message),
      input ? field(`Type ${JSON.stringify(requireText)} to confirm`, input) : null,
      h("div", { class: "actions" }, cancel, okBtn));
    const dlg = h("dialog", { id: "confirm-dialog", class: "modal" }, form);
    let answer = false;
    input?.addEventListener("input", () => { okBtn.disabled = input.value !== requireText; });
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      if (input && input.value !== requireText) return;
      answer = true;
      dlg.close();
    });
    cancel.addEventListener("click", () => dlg.close());
    dlg.addEventListener("close", () => { dlg.remove(); resolve(answer); });
    document.body.append(dlg);
    dlg.showModal();
    (input || okBtn).focus();
  });
}

/** busy disables a button while fn runs and returns fn's result. */
export async function busy(button, fn) {
  const was = button.disabled;
  button.disabled = true;
  try {
    return await fn();
  } finally {
    button.disabled = was;
  }
}
