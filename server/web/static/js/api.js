// The client of /api/v1: same-origin fetch with the session cookie, the CSRF header on
// unsafe methods, problem+json errors as ApiError, SSE streams and WebSockets.

const BASE = "/api/v1";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const NO_REDIRECT = ["/auth/session", "/auth/setup", "/auth/me"];

/** A failed API call, with the fields of its problem document (RFC 9457). */
export class ApiError extends Error {
  constructor({ status = 0, code = "network-error", title = "", detail = "", field = null, body = null } = {}) {
    super(detail || title || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.title = title;
    this.detail = detail;
    this.field = field;
    this.body = body;
  }
}

/** The value of a cookie the page may read (the CSRF cookie; the session one is HttpOnly). */
export function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

function headersFor(method, extra = {}) {
  const headers = { Accept: "application/json", ...extra };
  if (UNSAFE.has(method)) headers["X-CSRF-Token"] = cookie("assistant_csrf");
  return headers;
}

async function problemOf(response, path) {
  let body = null;
  try {
    const text = await response.text();
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const problem = body && typeof body === "object" ? body : {};
  const error = new ApiError({
    status: response.status,
    code: problem.code || `http-${response.status}`,
    title: problem.title || response.statusText,
    detail: problem.detail || "",
    field: problem.field || (problem.errors && problem.errors[0] && problem.errors[0].field) || null,
    body,
  });
  if (response.status === 401 && !NO_REDIRECT.some((p) => path.startsWith(p))) {
    // The session ended (signed out elsewhere, expired): the shell forgets the user first.
    window.dispatchEvent(new CustomEvent("assistant:signed-out"));
    const here = location.hash;
    if (!here.startsWith("#/login") && !here.startsWith("#/setup")) location.hash = "#/login";
  }
  return error;
}

async function send(method, path, { body, signal, accept, raw } = {}) {
  const init = { method, credentials: "same-origin", signal, headers: headersFor(method) };
  if (accept) init.headers.Accept = accept;
  if (body instanceof FormData || body instanceof Blob) {
    init.body = body;
  } else if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(BASE + path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError({ status: 0, code: "network-error", title: "No connection", detail: "The assistant could not be reached" });
  }
  if (!response.ok) throw await problemOf(response, path);
  if (raw) return response;
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) return response.json();
  return response.text();
}

/** Parse a text/event-stream body, calling onEvent({event, data, id}) per event. */
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "message";
  let data = [];
  let id = null;
  const dispatch = () => {
    if (data.length === 0) {
      event = "message";
      return;
    }
    const text = data.join("\n");
    let parsed = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
    onEvent({ event, data: parsed, id });
    event = "message";
    data = [];
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let newline;
    while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer[newline] === "\r" && buffer[newline + 1] === "\n" ? 2 : 1));
      if (line === "") {
        dispatch();
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const name = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? "" : line.slice(colon + 1);
        if (val.startsWith(" ")) val = val.slice(1);
        if (name === "event") event = val;
        else if (name === "data") data.push(val);
        else if (name === "id") id = val;
      }
    }
  }
  dispatch();
}

export const api = {
  get: (path, options) => send("GET", path, options),
  post: (path, body, options) => send("POST", path, { ...options, body }),
  patch: (path, body, options) => send("PATCH", path, { ...options, body }),
  put: (path, body, options) => send("PUT", path, { ...options, body }),
  delete: (path, options) => send("DELETE", path, options),
  /** Send a FormData (multipart) or a Blob (raw body); POST unless options.method says. */
  upload: (path, formData, options = {}) => send(options.method || "POST", path, { ...options, body: formData }),
  /** POST `body` and read the answer as server-sent events. Resolves when the stream ends. */
  async stream(path, body, onEvent, { signal } = {}) {
    const response = await send("POST", path, { body, signal, accept: "text/event-stream", raw: true });
    await readEvents(response, onEvent);
  },
  /** GET server-sent events. Resolves when the stream ends; abort with `signal`. */
  async events(path, onEvent, { signal } = {}) {
    const response = await send("GET", path, { signal, accept: "text/event-stream", raw: true });
    await readEvents(response, onEvent);
  },
  /** A WebSocket to /api/v1+path, signed in by the session cookie (the server checks Origin). */
  websocket(path) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    return new WebSocket(`${scheme}://${location.host}${BASE}${path}`);
  },
};
