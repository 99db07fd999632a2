// The node's HTTP API (/v1/..., same origin): requests, errors, the token
// and the caller's role.

const TOKEN_KEY = "sop.token";

/** APIError is a failed call: HTTP status, the API's error code and message. */
export class APIError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.name = "APIError";
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

/** token is the bearer token of this tab ("" when none). */
export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}

/** setToken keeps t for this tab; "" forgets it. */
export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

let askLogin = null;
let pendingLogin = null;

/**
 * onUnauthorized sets what runs when the API answers 401: fn(message)
 * asks the user for a token and resolves true when one was given (the
 * call is then sent again) or false. Concurrent 401s share one question.
 */
export function onUnauthorized(fn) {
  askLogin = fn;
}

function login(message) {
  if (!askLogin) return Promise.resolve(false);
  if (!pendingLogin) {
    pendingLogin = askLogin(message).finally(() => { pendingLogin = null; });
  }
  return pendingLogin;
}

/** seg percent-encodes one path segment; "." and ".." survive path cleaning. */
export function seg(s) {
  const e = encodeURIComponent(s);
  if (e === ".") return "%2E";
  if (e === "..") return "%2E%2E";
  return e;
}

/** keyText is a key as text: a plain key itself, an index key's JSON array. */
export function keyText(key) {
  return typeof key === "string" ? key : JSON.stringify(key);
}

/** v1 builds an API path from segments, each percent-encoded. */
export function v1(...segments) {
  return "/v1/" + segments.map(seg).join("/");
}

/** itemPath is the path of an item (key: string or index array). */
export function itemPath(domain, store, key) {
  return v1("domains", domain, "stores", store, "items", keyText(key));
}

/** query is "?a=b&..." of the params that are set ("" and null are left out). */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "" && v !== false) q.set(k, String(v));
  }
  const s = q.toString();
  return s ? "?" + s : "";
}

async function send(method, url, body, signal) {
  const headers = {};
  const t = token();
  if (t) headers.Authorization = "Bearer " + t;
  let payload;
  if (body !== undefined) {
    payload = typeof body === "string" ? body : JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  try {
    return await fetch(url, { method, headers, body: payload, signal, cache: "no-store", credentials: "omit" });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new APIError(0, "network", `the node did not answer (${e.message}): is it running and reachable?`, null);
  }
}

/** errorOf reads an error answer: the API's {"error","message"}, or its text. */
async function errorOf(res) {
  const text = await res.text().catch(() => "");
  try {
    const b = JSON.parse(text);
    if (b && typeof b.error === "string") return new APIError(res.status, b.error, b.message || b.error, b);
  } catch {
    // not JSON: a proxy's or a server's plain answer
  }
  const msg = text.trim().slice(0, 300) || res.statusText || "no message";
  return new APIError(res.status, "http_" + res.status, msg, null);
}

/**
 * request sends a call and returns the Response when it is a success;
 * otherwise it throws an APIError. A 401 asks for a token and sends the
 * call again.
 */
export async function request(method, url, body, { signal } = {}) {
  for (;;) {
    const res = await send(method, url, body, signal);
    if (res.status === 401) {
      const err = await errorOf(res);
      if (await login(err.message)) continue;
      throw err;
    }
    if (!res.ok) throw await errorOf(res);
    return res;
  }
}

/** api sends a call and returns its decoded JSON answer. */
export async function api(method, url, body, opts) {
  const res = await request(method, url, body, opts);
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new APIError(res.status, "bad_answer", `the node's answer to ${method} ${url} is not JSON`, null);
  }
}

let role = null;

/**
 * whoami asks the node for the caller's role (GET /v1/whoami). A node
 * without that route is taken as letting everything be tried: the API
 * still refuses what the token may not do, in words.
 */
export async function whoami() {
  try {
    role = (await api("GET", "/v1/whoami")).role;
  } catch (e) {
    if (e.status !== 404 || e.code !== "not_found") throw e;
    role = "admin";
  }
  return role;
}

/** currentRole is the role whoami found (null before). */
export function currentRole() {
  return role;
}

/** canWrite: the caller may write items. */
export function canWrite() {
  return role === "write" || role === "admin";
}

/** canAdmin: the caller may create and drop domains and stores and take snapshots. */
export function canAdmin() {
  return role === "admin";
}

/**
 * follow reads a change stream (Server-Sent Events over fetch, so the
 * token goes in a header and errors come back as JSON). onOpen runs once
 * the node accepted the stream; onEvent(name, data, id) for each event.
 * It resolves when the stream ends and rejects with an APIError when the
 * node refuses it, or with an AbortError when signal aborts.
 */
export async function follow(url, { onOpen, onEvent, signal }) {
  const res = await request("GET", url, undefined, { signal });
  onOpen?.();
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  let ev = { name: "message", data: [], id: null };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).replace(/\r$/, "");
      buf = buf.slice(nl + 1);
      if (line === "") {
        if (ev.data.length) onEvent(ev.name, ev.data.join("\n"), ev.id);
        ev = { name: "message", data: [], id: null };
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const name = colon < 0 ? line : line.slice(0, colon);
      const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (name === "data") ev.data.push(val);
      else if (name === "event") ev.name = val;
      else if (name === "id") ev.id = val;
    }
  }
}
