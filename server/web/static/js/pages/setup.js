// First run: create the admin account (only while the device has no account at all).

import { h, field, messageOf, busy } from "../ui.js";

export async function mount(root, app) {
  const error = h("p", { class: "error-summary", role: "alert", id: "setup-error" });
  const username = h("input", { name: "username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false", minlength: "2", maxlength: "32" });
  const password = h("input", { name: "password", type: "password", autocomplete: "new-password", required: true, minlength: "8" });
  const confirm = h("input", { name: "confirm", type: "password", autocomplete: "new-password", required: true });
  const form = h("form", { "aria-describedby": "setup-error", novalidate: true },
    field("Admin username", username, "2 to 32 letters, digits, '.', '_' or '-'."),
    field("Password", password, "At least 8 characters."),
    field("Repeat the password", confirm),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create the admin account")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (password.value !== confirm.value) {
      error.textContent = "The two passwords differ.";
      confirm.focus();
      return;
    }
    try {
      await busy(form, () => app.api.post("/auth/setup", { username: username.value.trim(), password: password.value }));
    } catch (failure) {
      error.textContent = messageOf(failure);
      if (failure.status === 409) {
        app.navigate("login");
        return;
      }
      (failure.field === "password" ? password : username).focus();
      return;
    }
    await app.refreshUser();
    app.toast("Welcome! Your admin account is ready.", "success");
    app.navigate("settings");
  });
  root.append(h("section", { class: "page-narrow card" },
    h("h1", {}, "Set up your assistant"),
    h("p", {}, "No account exists on this device yet. The account you create now is its admin: it manages users, registration and models."),
    error, form));
  username.focus();
}
