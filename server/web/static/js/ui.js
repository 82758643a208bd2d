// DOM helpers: every element is built with createElement, textContent and setAttribute,
// never innerHTML, so text from the API or the user can never become markup.

let nextId = 0;

/** A unique id for a label's `for` or an `aria-describedby`. */
export function uid(prefix = "id") {
  nextId += 1;
  return `${prefix}-${nextId}`;
}

function append(el, child) {
  if (child === null || child === undefined || child === false || child === true) return;
  if (Array.isArray(child)) {
    for (const item of child) append(el, item);
  } else if (child instanceof Node) {
    el.appendChild(child);
  } else {
    el.appendChild(document.createTextNode(String(child)));
  }
}

/**
 * Build an element: `h("button", {class: "primary", onclick: save}, "Save")`.
 * `on<event>` attributes become listeners; `class`, `for`, `aria-*`, `data-*` and others are
 * set as attributes; `value`, `checked`, `disabled`, `selected`, `hidden` as properties;
 * `null`/`undefined`/`false` attributes are left out; strings become text nodes.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (["value", "checked", "disabled", "selected", "hidden", "multiple"].includes(name)) {
      el[name] = value;
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

/** Remove every child of `el`. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/**
 * A labelled form control: `field("Name", h("input", {name: "name"}), "hint")`.
 * The label points at the input (an id is given if it has none); a hint is tied to it with
 * aria-describedby.
 */
export function field(label, input, hint) {
  if (!input.id) input.id = uid("field");
  const children = [h("label", { for: input.id }, label), input];
  if (hint) {
    const hintId = uid("hint");
    const described = input.getAttribute("aria-describedby");
    input.setAttribute("aria-describedby", described ? `${described} ${hintId}` : hintId);
    children.push(h("p", { class: "hint", id: hintId }, hint));
  }
  return h("div", { class: "field" }, ...children);
}

/** A checkbox with its label after it. */
export function checkbox(label, attrs = {}) {
  const input = h("input", { type: "checkbox", ...attrs });
  if (!input.id) input.id = uid("check");
  return h("div", { class: "check" }, input, h("label", { for: input.id }, label));
}

const TOAST_SECONDS = 6;

/** Show a short message at the bottom; `kind` is "info", "success" or "error". */
export function toast(message, kind = "info") {
  const region = document.getElementById("toasts");
  if (!region) return;
  const item = h("div", { class: "toast", "data-kind": kind, role: kind === "error" ? "alert" : null }, message);
  region.appendChild(item);
  setTimeout(() => item.remove(), TOAST_SECONDS * 1000);
}

/** A time from the API (ISO 8601) for people: the time today, the date otherwise. */
export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const now = new Date();
  const sameDay = date.toDateString() === now.toDateString();
  return new Intl.DateTimeFormat(undefined, sameDay ? { timeStyle: "short" } : { dateStyle: "medium", timeStyle: "short" }).format(date);
}

/** Bytes or megabytes for people. */
export function formatSize(bytes) {
  if (bytes === null || bytes === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = Number(bytes);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 && unit > 0 ? 1 : 0)} ${units[unit]}`;
}

/** The message to show for an error thrown by the API client (or anything else). */
export function messageOf(error) {
  if (!error) return "Something went wrong";
  return error.detail || error.title || error.message || String(error);
}

/** Disable a form's controls while `work` runs; errors become a toast and are re-thrown. */
export async function busy(form, work) {
  const controls = [...form.querySelectorAll("button, input, select, textarea")].filter((c) => !c.disabled);
  for (const c of controls) c.disabled = true;
  form.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    for (const c of controls) c.disabled = false;
    form.removeAttribute("aria-busy");
  }
}

/** Link a page's stylesheet once (CSP: style-src 'self', so no inline styles). */
export function useStylesheet(url) {
  const href = new URL(url, document.baseURI).href;
  const links = [...document.querySelectorAll('link[rel="stylesheet"]')];
  if (!links.some((link) => link.href === href)) {
    document.head.append(h("link", { rel: "stylesheet", href }));
  }
}

/** A plain button (never a form's submit). */
export function button(label, attrs = {}) {
  return h("button", { type: "button", ...attrs }, label);
}
