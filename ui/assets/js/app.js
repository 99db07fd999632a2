// The app: header, sign-in, and routing between screens by the URL's hash.

import { api, APIError, currentRole, onUnauthorized, setToken, token, whoami } from "./api.js";
import { banner, clearBanner, errorBox, h, replace } from "./dom.js";
import { domainsView, storesView } from "./stores.js";
import { browseView } from "./browse.js";
import { streamView } from "./stream.js";
import { journalView } from "./journal.js";
import { snapshotsView } from "./snapshots.js";
import { statusView } from "./status.js";

window.sopStarted = true;

const main = document.getElementById("main");
let domains = [];
let leave = [];
let navigation = null;
let started = false;

/** routes: hash pattern, screen, the nav entry it belongs to. */
const routes = [
  [/^#\/domains$/, domainsView, "domains"],
  [/^#\/d\/([^/]+)\/stores$/, storesView, "stores"],
  [/^#\/d\/([^/]+)\/s\/([^/]+)$/, browseView, "stores"],
  [/^#\/d\/([^/]+)\/watch$/, streamView, "watch"],
  [/^#\/d\/([^/]+)\/journal$/, journalView, "journal"],
  [/^#\/d\/([^/]+)\/snapshots$/, snapshotsView, "snapshots"],
  [/^#\/status$/, statusView, "status"],
];

/** currentDomain is the domain in the hash, else the last one shown. */
let currentDomain = "default";

/** domainHash is the hash of a domain's screen. */
function domainHash(domain, screen) {
  return `#/d/${encodeURIComponent(domain)}/${screen}`;
}

/** refreshDomains reloads the domain list of the header's selector. */
async function refreshDomains() {
  const r = await api("GET", "/v1/domains");
  domains = r.domains.map((d) => d.name);
  renderHeader();
  return domains;
}

function renderHeader(active) {
  const select = document.getElementById("domain-select");
  replace(select, domains.map((d) => h("option", { value: d, selected: d === currentDomain }, d)));
  if (!domains.includes(currentDomain)) select.append(h("option", { value: currentDomain, selected: true }, currentDomain));
  for (const a of document.querySelectorAll("#nav a[data-screen]")) {
    const s = a.dataset.screen;
    a.href = s === "status" || s === "domains" ? `#/${s}` : domainHash(currentDomain, s);
    if (active !== undefined) a.classList.toggle("active", s === active);
  }
  const r = currentRole();
  const roleEl = document.getElementById("role");
  roleEl.textContent = r ? `role: ${r}` : "";
  roleEl.title = r === "read" ? "read-only: edit controls are hidden" : "";
  document.getElementById("sign-out").hidden = !token();
  document.body.classList.toggle("read-only", r === "read");
  document.body.dataset.role = r || "";
}

/** decode is a hash segment's text (itself when it is not valid percent-encoding). */
function decode(seg) {
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}

/** route shows the screen the hash names. */
async function route() {
  for (const fn of leave) fn();
  leave = [];
  navigation?.abort();
  navigation = new AbortController();
  clearBanner();
  const hash = location.hash || "";
  for (const [re, view, nav] of routes) {
    const m = re.exec(hash);
    if (!m) continue;
    const params = m.slice(1).map(decode);
    if (params.length && nav !== "domains" && nav !== "status") currentDomain = params[0];
    renderHeader(nav);
    const ctx = {
      signal: navigation.signal,
      onLeave: (fn) => leave.push(fn),
      refreshDomains,
    };
    main.dataset.view = nav;
    main.replaceChildren(h("p", { class: "loading" }, "Loading…"));
    try {
      await view(main, ctx, ...params);
    } catch (e) {
      if (e.name === "AbortError") return;
      replace(main, errorBox("This screen could not be shown", e, route));
    }
    return;
  }
  location.replace(domainHash(currentDomain, "stores"));
}

/** askToken shows the sign-in dialog; resolves true once a token is given. */
function askToken(message) {
  const dlg = document.getElementById("login-dialog");
  const input = document.getElementById("login-token");
  document.getElementById("login-reason").textContent = token()
    ? `The node refused the token: ${message}`
    : "This node requires a token.";
  input.value = "";
  return new Promise((resolve) => {
    const form = document.getElementById("login-form");
    const done = (ok) => {
      form.onsubmit = null;
      dlg.onclose = null;
      if (dlg.open) dlg.close();
      resolve(ok);
      if (ok && started) {
        // Another token may have another role: show what it may do.
        const before = currentRole();
        whoami().then((r) => { renderHeader(); if (r !== before) route(); }).catch((e) => banner(e.message, "error"));
      }
    };
    form.onsubmit = (e) => {
      e.preventDefault();
      const t = input.value.trim();
      if (!t) return;
      setToken(t);
      done(true);
    };
    dlg.onclose = () => done(false);
    document.getElementById("login-cancel").onclick = () => dlg.close();
    dlg.showModal();
    input.focus();
  });
}

function signOut() {
  setToken("");
  location.reload();
}

/** problem shows why the app cannot start, with a way to retry. */
function problem(e) {
  const retry = () => { main.replaceChildren(); start(); };
  const signIn = e instanceof APIError && e.status === 401
    ? h("button", { type: "button", class: "primary", onclick: retry }, "Sign in") : null;
  replace(main, errorBox("The node cannot be used", e, retry), signIn);
}

async function start() {
  try {
    await whoami();
    await refreshDomains();
  } catch (e) {
    problem(e);
    return;
  }
  if (!started) window.addEventListener("hashchange", route);
  started = true;
  await route();
}

window.addEventListener("unhandledrejection", (e) => {
  if (e.reason?.name === "AbortError") return;
  banner(`Unexpected error: ${e.reason?.message || e.reason}`, "error");
});
window.addEventListener("error", (e) => banner(`Unexpected error: ${e.message}`, "error"));

onUnauthorized(askToken);
document.getElementById("sign-out").addEventListener("click", signOut);
document.getElementById("domain-select").addEventListener("change", (e) => {
  currentDomain = e.target.value;
  const active = document.querySelector("#nav a.active")?.dataset.screen || "stores";
  location.hash = active === "status" || active === "domains" ? domainHash(currentDomain, "stores") : domainHash(currentDomain, active);
});
start();
