// The app: signs in (or sets up), draws the layout and the nav, and mounts one page per
// hash route. Pages are ES modules in ./pages/<name>.js loaded when first visited.

import { api, ApiError } from "./api.js";
import { clear, h, messageOf, toast } from "./ui.js";
import { startUnreadBadge } from "./notify-feed.js";

const ROUTES = [
  { name: "chat", label: "Chat" },
  { name: "voice", label: "Voice" },
  { name: "translate", label: "Translate" },
  { name: "vision", label: "Vision" },
  { name: "notifications", label: "Notifications" },
  { name: "settings", label: "Settings" },
  { name: "admin", label: "Admin", admin: true },
];
const PUBLIC = new Set(["setup", "login"]);
const TITLES = { setup: "Set up", login: "Sign in" };
const HOME = "chat";
const THEMES = ["system", "light", "dark"];

const state = { user: null, needsSetup: false, cleanup: null, route: null, unread: 0, navOpen: false, mounting: 0 };
const root = document.getElementById("app");

// Theme: the OS setting unless the person chose one here (kept in this browser only).
function currentTheme() {
  const saved = localStorage.getItem("theme");
  return THEMES.includes(saved) ? saved : "system";
}

function applyTheme(theme) {
  if (theme === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}

applyTheme(currentTheme());

function parseRoute() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [name, ...params] = hash.split("/").filter(Boolean);
  return { name: name || "", params: params.map(decodeURIComponent) };
}

export function navigate(route) {
  const target = route.startsWith("#") ? route : `#/${route.replace(/^\//, "")}`;
  if (location.hash === target) render();
  else location.hash = target;
}

function setUnread(count) {
  state.unread = Math.max(0, Number(count) || 0);
  const badge = document.getElementById("unread-badge");
  if (!badge) return;
  badge.hidden = state.unread === 0;
  badge.textContent = String(state.unread);
  const label = document.getElementById("unread-label");
  if (label) label.textContent = state.unread ? `, ${state.unread} unread` : "";
}

// Who is signed in: GET /auth/session answers null rather than 401 when nobody is, so a
// signed-out start logs no failed request.
async function loadUser() {
  const { user: me } = await api.get("/auth/session");
  if (!me) {
    state.user = null;
    return null;
  }
  let profile = {};
  try {
    profile = await api.get("/profile");
  } catch {
    profile = {};
  }
  state.user = {
    ...me,
    is_admin: me.role === "admin",
    display_name: profile.display_name || me.username,
    avatar_url: profile.avatar_url || null,
    profile,
  };
  return state.user;
}

async function signOut() {
  try {
    await api.delete("/auth/session");
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) toast(messageOf(error), "error");
  }
  state.user = null;
  navigate("login");
}

function themeButton() {
  const labelOf = (theme) => `Theme: ${theme}`;
  const button = h("button", {
    type: "button",
    class: "icon",
    id: "theme-toggle",
    "aria-label": labelOf(currentTheme()),
    title: "Switch between system, light and dark",
    onclick: () => {
      const next = THEMES[(THEMES.indexOf(currentTheme()) + 1) % THEMES.length];
      localStorage.setItem("theme", next);
      applyTheme(next);
      button.setAttribute("aria-label", labelOf(next));
      button.textContent = symbolOf(next);
      toast(`Theme: ${next}`);
    },
  }, symbolOf(currentTheme()));
  return button;
}

function symbolOf(theme) {
  return { system: "◐", light: "☀", dark: "☾" }[theme];
}

function focusMain() {
  const main = document.getElementById("main");
  // A page that put the focus somewhere itself (the sign-in form's first field) keeps it.
  if (main && main.contains(document.activeElement) && document.activeElement !== main) return;
  const heading = main && main.querySelector("h1");
  const target = heading || main;
  if (!target) return;
  if (!target.hasAttribute("tabindex")) target.setAttribute("tabindex", "-1");
  target.focus({ preventScroll: false });
}

function layout() {
  const navList = h("ul", {});
  for (const route of ROUTES) {
    if (route.admin && !(state.user && state.user.is_admin)) continue;
    const extra = route.name === "notifications"
      ? [h("span", { id: "unread-label", class: "visually-hidden" }), h("span", { id: "unread-badge", class: "badge", hidden: true, "aria-hidden": "true" }, "0")]
      : [];
    navList.appendChild(h("li", {}, h("a", { href: `#/${route.name}`, "data-route": route.name, onclick: () => toggleNav(false) }, h("span", {}, route.label, extra[0] || null), extra[1] || null)));
  }
  const nav = h("nav", { class: "nav", id: "nav", "aria-label": "Main", "data-open": "false" }, navList);
  const toggle = h("button", {
    type: "button", class: "icon nav-toggle", id: "nav-toggle", "aria-controls": "nav", "aria-expanded": "false", "aria-label": "Menu",
    onclick: () => toggleNav(),
  }, "☰");
  const skip = h("a", { class: "skip-link", href: "#main", onclick: (event) => { event.preventDefault(); focusMain(); } }, "Skip to content");
  const userName = state.user ? state.user.display_name : "";
  const header = h("header", { class: "topbar" },
    toggle,
    h("a", { class: "brand", href: `#/${HOME}` }, h("img", { src: iconUrl(), alt: "" }), "Assistant"),
    themeButton(),
    state.user ? h("button", { type: "button", id: "sign-out", onclick: signOut }, "Sign out", h("span", { class: "visually-hidden" }, ` (${userName})`)) : null,
  );
  const main = h("main", { id: "main", tabindex: "-1" });
  clear(root);
  root.dataset.state = "ready";
  root.append(skip, header, h("div", { class: "layout" }, nav, main));
  setUnread(state.unread);
  followUnread();
  return main;
}

// The unread badge follows the notification stream while someone is signed in.
let stopUnread = null;

function followUnread() {
  if (stopUnread) stopUnread();
  stopUnread = state.user ? startUnreadBadge({ api, setUnread }) : null;
}

function publicLayout() {
  followUnread();
  const main = h("main", { id: "main", tabindex: "-1" });
  clear(root);
  root.dataset.state = "ready";
  root.append(h("header", { class: "topbar" }, h("span", { class: "brand" }, h("img", { src: iconUrl(), alt: "" }), "Assistant"), themeButton()), h("div", { class: "layout" }, main));
  return main;
}

function iconUrl() {
  const link = document.querySelector('link[rel="icon"]');
  return link ? link.getAttribute("href") : "";
}

function toggleNav(open) {
  const nav = document.getElementById("nav");
  const button = document.getElementById("nav-toggle");
  if (!nav || !button) return;
  state.navOpen = open === undefined ? !state.navOpen : open;
  nav.dataset.open = String(state.navOpen);
  button.setAttribute("aria-expanded", String(state.navOpen));
}

function markCurrent(name) {
  for (const link of document.querySelectorAll(".nav a")) {
    if (link.dataset.route === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function unavailable(main, name) {
  const label = (ROUTES.find((r) => r.name === name) || { label: name }).label;
  main.append(h("section", { class: "page unavailable" },
    h("h1", {}, `${label} is not available`),
    h("p", {}, "This part of the web app is not installed in this version of the assistant."),
    h("p", {}, h("a", { href: `#/${HOME === name ? "settings" : HOME}` }, "Go back"))));
}

let layoutFor = null;

async function render() {
  const mounting = ++state.mounting;
  if (state.cleanup) {
    try {
      state.cleanup();
    } catch (error) {
      console.warn("page cleanup failed", error);
    }
    state.cleanup = null;
  }
  delete document.body.dataset.mounted;
  let { name, params } = parseRoute();
  if (!state.user && !PUBLIC.has(name)) {
    navigate(state.needsSetup ? "setup" : "login");
    return;
  }
  if (state.user && (PUBLIC.has(name) || !name)) {
    // Signed in already: the sign-in and set-up pages (and no page) mean the home page.
    name = HOME;
    history.replaceState(null, "", `#/${HOME}`);
  }
  if (!name) name = "login";
  const known = PUBLIC.has(name) || ROUTES.some((r) => r.name === name);
  const route = ROUTES.find((r) => r.name === name);
  let main;
  if (PUBLIC.has(name)) {
    main = publicLayout();
    layoutFor = null;
  } else {
    if (layoutFor !== state.user) {
      layoutFor = state.user;
      main = layout();
    } else {
      main = clear(document.getElementById("main"));
    }
    markCurrent(name);
  }
  document.title = `${TITLES[name] || (route ? route.label : "Not found")} · Assistant`;
  state.route = name;
  if (!known || (route && route.admin && !state.user.is_admin)) {
    main.append(h("section", { class: "page unavailable" }, h("h1", {}, "Page not found"), h("p", {}, h("a", { href: `#/${HOME}` }, "Go to chat"))));
    focusMain();
    mounted(name);
    return;
  }
  let page;
  try {
    page = await import(`./pages/${name}.js`);
  } catch (error) {
    console.warn(`the ${name} page could not be loaded`, error);
    if (mounting === state.mounting) {
      unavailable(main, name);
      focusMain();
      mounted(name);
    }
    return;
  }
  if (mounting !== state.mounting) return;
  const section = h("div", { class: "page-root", "data-page": name });
  main.append(section);
  try {
    const cleanup = await page.mount(section, appFor(params));
    if (mounting !== state.mounting) {
      if (typeof cleanup === "function") cleanup();
      return;
    }
    state.cleanup = typeof cleanup === "function" ? cleanup : null;
  } catch (error) {
    console.warn(`the ${name} page failed`, error);
    if (!(error instanceof ApiError && error.status === 401)) {
      section.append(h("p", { role: "alert", class: "error-summary" }, `This page could not be shown: ${messageOf(error)}`));
    }
  }
  focusMain();
  mounted(name);
}

// Tests (and anything else) can wait for `body[data-mounted="<page>"]`.
function mounted(name) {
  document.body.dataset.mounted = name;
}

function appFor(params) {
  return {
    api,
    user: state.user,
    params,
    navigate,
    toast,
    setUnread,
    /** Pages that change the account (login, setup, settings) ask the shell to reload it. */
    async refreshUser() {
      state.needsSetup = false;
      await loadUser();
      layoutFor = null;
      return state.user;
    },
    signOut,
  };
}

async function redeemOidc() {
  const match = location.hash.match(/oidc_code=([^&]+)/);
  if (!match) return;
  const code = decodeURIComponent(match[1]);
  history.replaceState(null, "", "/#/chat");
  try {
    await api.post("/auth/session/oidc", { code });
  } catch (error) {
    toast(`Sign-in failed: ${messageOf(error)}`, "error");
    history.replaceState(null, "", "/#/login");
  }
}

async function start() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((error) => console.warn("no service worker", error));
  }
  try {
    await redeemOidc();
    const { needs_setup: needsSetup } = await api.get("/auth/setup");
    state.needsSetup = needsSetup;
    if (needsSetup) {
      state.user = null;
      if (parseRoute().name !== "setup") history.replaceState(null, "", "#/setup");
    } else {
      await loadUser();
      if (parseRoute().name === "setup") history.replaceState(null, "", state.user ? `#/${HOME}` : "#/login");
    }
  } catch (error) {
    clear(root);
    root.append(h("main", { id: "main", class: "page-narrow" }, h("h1", {}, "The assistant cannot be reached"), h("p", {}, messageOf(error)), h("button", { type: "button", onclick: () => location.reload() }, "Try again")));
    return;
  }
  window.addEventListener("hashchange", render);
  window.addEventListener("assistant:signed-out", () => {
    state.user = null;
    layoutFor = null;
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && state.navOpen) {
      toggleNav(false);
      document.getElementById("nav-toggle").focus();
    }
  });
  await render();
}

start();
