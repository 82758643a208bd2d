// Admin: accounts, registration, models (installed, loaded with memory, pull with live
// progress, remove) and a link to the analytics dashboard.

import { h, field, clear, checkbox, formatTime, formatSize, messageOf, busy } from "../ui.js";

function section(title, id, ...children) {
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

export async function mount(root, app) {
  const { api, toast } = app;
  const controller = new AbortController();

  // Users ------------------------------------------------------------------------
  const usersBody = h("tbody", {});
  const usersTable = h("div", { class: "table-wrap" }, h("table", { id: "users" },
    h("caption", { class: "visually-hidden" }, "Accounts"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Username"), h("th", { scope: "col" }, "Role"), h("th", { scope: "col" }, "Status"), h("th", { scope: "col" }, "Created"), h("th", { scope: "col" }, "Actions"))),
    usersBody));
  async function drawUsers() {
    const users = await api.get("/auth/users");
    clear(usersBody);
    for (const user of users) {
      const self = user.id === app.user.id;
      const change = async (body, done) => {
        try {
          await api.patch(`/auth/users/${encodeURIComponent(user.id)}`, body);
          toast(done, "success");
          await drawUsers();
        } catch (error) {
          toast(messageOf(error), "error");
        }
      };
      const remove = async () => {
        if (!confirm(`Delete ${user.username} and everything the account owns?`)) return;
        try {
          await api.delete(`/auth/users/${encodeURIComponent(user.id)}`);
          toast(`${user.username} deleted`, "success");
          await drawUsers();
        } catch (error) {
          toast(messageOf(error), "error");
        }
      };
      const hidden = (text) => h("span", { class: "visually-hidden" }, ` ${text}`);
      usersBody.append(h("tr", { "data-user": user.username },
        h("th", { scope: "row" }, user.username, self ? h("span", { class: "muted" }, " (you)") : null),
        h("td", {}, user.role),
        h("td", {}, user.disabled ? "disabled" : "active"),
        h("td", {}, formatTime(user.created_at)),
        h("td", {}, h("div", { class: "actions" },
          h("button", { type: "button", disabled: self, onclick: () => change({ role: user.role === "admin" ? "user" : "admin" }, `${user.username} is now ${user.role === "admin" ? "a user" : "an admin"}`) },
            user.role === "admin" ? "Make user" : "Make admin", hidden(user.username)),
          h("button", { type: "button", disabled: self, onclick: () => change({ disabled: !user.disabled }, `${user.username} ${user.disabled ? "enabled" : "disabled"}`) },
            user.disabled ? "Enable" : "Disable", hidden(user.username)),
          h("button", { type: "button", class: "danger", disabled: self, onclick: remove }, "Delete", hidden(user.username))))));
    }
  }
  const newName = h("input", { name: "username", required: true, autocomplete: "off", autocapitalize: "none" });
  const newPassword = h("input", { name: "password", type: "password", required: true, autocomplete: "new-password" });
  const newRole = h("select", { name: "role" }, h("option", { value: "user" }, "user"), h("option", { value: "admin" }, "admin"));
  const userForm = h("form", { id: "user-form" },
    h("h3", {}, "Add an account"),
    field("Username", newName),
    field("Password", newPassword, "Hand it to the person; they can change it in their settings."),
    field("Role", newRole),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Add account")));
  userForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await busy(userForm, () => api.post("/auth/users", { username: newName.value.trim(), password: newPassword.value, role: newRole.value }));
      toast(`${newName.value} added`, "success");
      newName.value = "";
      newPassword.value = "";
      await drawUsers();
    } catch (error) {
      toast(messageOf(error), "error");
    }
  });

  // Registration -----------------------------------------------------------------
  const registration = await api.get("/auth/registration");
  const openBox = checkbox("Anyone who can reach this device may create an account", { id: "registration-open", checked: registration.open });
  const openInput = openBox.querySelector("input");
  openInput.addEventListener("change", async () => {
    try {
      const result = await api.put("/auth/registration", { open: openInput.checked });
      openInput.checked = result.open;
      toast(result.open ? "Registration is open" : "Registration is closed", "success");
    } catch (error) {
      openInput.checked = !openInput.checked;
      toast(messageOf(error), "error");
    }
  });

  // Models -----------------------------------------------------------------------
  const memory = h("p", { id: "memory" });
  const loadedList = h("ul", { class: "list", id: "loaded-models" });
  const installedList = h("ul", { class: "list", id: "installed-models" });
  async function drawModels() {
    const models = await api.get("/models");
    memory.textContent = `Loaded models use ${models.used_mb} MB of the ${models.budget_mb} MB budget.`;
    clear(loadedList);
    if (!models.loaded.length) loadedList.append(h("li", { class: "muted" }, "No model is loaded."));
    for (const model of models.loaded) {
      loadedList.append(h("li", { "data-model": model.id },
        h("strong", {}, model.id),
        h("span", { class: "muted" }, `${model.capability}, ${Math.round(model.memory_mb)} MB${model.in_use ? ", in use" : ""}${model.pinned ? ", pinned" : ""}`),
        h("span", { class: "spacer" }),
        h("button", { type: "button", onclick: () => unload(model.id) }, "Unload", h("span", { class: "visually-hidden" }, ` ${model.id}`))));
    }
    clear(installedList);
    if (!models.installed.length) installedList.append(h("li", { class: "muted" }, "No model is installed."));
    const loaded = new Set(models.loaded.map((m) => m.id));
    for (const model of models.installed) {
      installedList.append(h("li", { "data-model": model.id },
        h("strong", {}, model.id),
        h("span", { class: "muted" }, `${model.capability}, ${formatSize(model.size_bytes)} on disk, about ${model.memory_mb} MB loaded`),
        h("span", { class: "spacer" }),
        loaded.has(model.id) ? null : h("button", { type: "button", onclick: () => load(model.id) }, "Load", h("span", { class: "visually-hidden" }, ` ${model.id}`)),
        h("button", { type: "button", class: "danger", onclick: () => removeModel(model.id) }, "Remove", h("span", { class: "visually-hidden" }, ` ${model.id}`))));
    }
  }
  async function load(id) {
    try {
      toast(`Loading ${id}…`);
      await api.post(`/models/${encodeURIComponent(id)}/load`, {});
      toast(`${id} loaded`, "success");
    } catch (error) {
      toast(messageOf(error), "error");
    }
    await drawModels();
  }
  async function unload(id) {
    try {
      await api.post(`/models/${encodeURIComponent(id)}/unload`);
      toast(`${id} unloaded`, "success");
    } catch (error) {
      toast(messageOf(error), "error");
    }
    await drawModels();
  }
  async function removeModel(id) {
    if (!confirm(`Remove ${id} from this device?`)) return;
    try {
      await api.delete(`/models/${encodeURIComponent(id)}`);
      toast(`${id} removed`, "success");
    } catch (error) {
      toast(messageOf(error), "error");
    }
    await drawModels();
    await drawCatalogue();
  }

  const catalogue = h("select", { name: "model", id: "pull-model" });
  async function drawCatalogue() {
    const entries = await api.get("/models/catalogue");
    clear(catalogue);
    for (const entry of entries) {
      const size = entry.size_bytes === null ? "" : `, ${formatSize(entry.size_bytes)}`;
      catalogue.append(h("option", { value: entry.id }, `${entry.id} (${entry.capability}${size})${entry.installed ? " installed" : ""}`));
    }
  }
  const progress = h("progress", { id: "pull-progress", max: "1", value: "0", "aria-label": "Download progress", hidden: true });
  const progressText = h("p", { id: "pull-status", role: "status", "aria-live": "polite" });
  const force = checkbox("Download again even if installed", { name: "force" });
  const pullForm = h("form", { id: "pull-form" },
    field("Model", catalogue),
    force,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Pull")),
    progress, progressText);
  pullForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const model = catalogue.value;
    progress.hidden = false;
    progress.removeAttribute("value");
    progressText.textContent = `Pulling ${model}…`;
    let failed = null;
    try {
      await busy(pullForm, () => api.stream("/models/pull", { model, force: force.querySelector("input").checked }, ({ event: name, data }) => {
        if (name === "progress") {
          if (data.total_bytes) {
            progress.max = data.total_bytes;
            progress.value = data.done_bytes;
            progressText.textContent = `${data.description}: ${formatSize(data.done_bytes)} of ${formatSize(data.total_bytes)}`;
          } else {
            progress.removeAttribute("value");
            progressText.textContent = `${data.description}: ${formatSize(data.done_bytes)}`;
          }
        } else if (name === "done") {
          progress.max = 1;
          progress.value = 1;
          progressText.textContent = `${data.id} is installed.`;
        } else if (name === "error") {
          failed = data;
        }
      }, { signal: controller.signal }));
    } catch (error) {
      if (error.name === "AbortError") return;
      failed = error;
    }
    if (failed) {
      progress.hidden = true;
      progressText.textContent = `The pull failed: ${messageOf(failed)}`;
      toast(`The pull failed: ${messageOf(failed)}`, "error");
    } else {
      toast(`${model} installed`, "success");
    }
    await drawModels();
    await drawCatalogue();
  });

  root.append(h("div", { class: "page" },
    h("h1", {}, "Admin"),
    section("Accounts", "users-heading", usersTable, userForm),
    section("Registration", "registration-heading", openBox, h("p", { class: "muted" }, "Closed by default: admins add accounts above.")),
    section("Models", "models-heading", memory, h("h3", {}, "Loaded"), loadedList, h("h3", {}, "Installed"), installedList, h("h3", {}, "Install a model"), pullForm),
    section("Analytics", "analytics-heading", h("p", {}, "Usage, latency, errors and model memory over time."), h("p", {}, h("a", { href: "/dashboard", id: "dashboard-link" }, "Open the analytics dashboard")))));
  await Promise.all([drawUsers(), drawModels(), drawCatalogue()]);
  return () => controller.abort();
}
