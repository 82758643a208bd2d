// Sign in with a password, or with an OpenID provider when the device has one.

import { h, field, messageOf, busy } from "../ui.js";

export async function mount(root, app) {
  const error = h("p", { class: "error-summary", role: "alert", id: "login-error" });
  const username = h("input", { name: "username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" });
  const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h("form", { "aria-describedby": "login-error", novalidate: true },
    field("Username", username),
    field("Password", password),
    h("div", { class: "actions" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!username.value || !password.value) {
      error.textContent = "Enter your username and password.";
      (username.value ? password : username).focus();
      return;
    }
    try {
      await busy(form, () => app.api.post("/auth/session", { username: username.value.trim(), password: password.value }));
    } catch (failure) {
      error.textContent = messageOf(failure);
      password.value = "";
      password.focus();
      return;
    }
    await app.refreshUser();
    app.navigate("chat");
  });
  const providers = h("div", { class: "providers" });
  root.append(h("section", { class: "page-narrow card" }, h("h1", {}, "Sign in"), error, form, providers));
  username.focus();
  try {
    const list = await app.api.get("/auth/oidc/providers");
    if (list.length) {
      providers.append(h("h2", {}, "Or sign in with"));
      const actions = h("div", { class: "actions" });
      for (const provider of list) {
        const href = `/api/v1/auth/oidc/${encodeURIComponent(provider.name)}/login?return_to=${encodeURIComponent("/")}`;
        actions.append(h("a", { class: "button", href }, provider.display_name || provider.name));
      }
      providers.append(actions);
    }
  } catch {
    // No providers list: password sign-in still works.
  }
}
