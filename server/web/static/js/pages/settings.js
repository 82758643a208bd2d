// Settings: profile, avatar, preferences, password, API keys (shown once), sessions.

import { h, field, clear, formatTime, messageOf, busy } from "../ui.js";

const TONES = ["neutral", "warm", "formal", "casual", "playful"];
const VERBOSITY = ["brief", "normal", "detailed"];
const UNITS = ["metric", "imperial"];

function select(name, options, value) {
  return h("select", { name }, options.map((option) => h("option", { value: option, selected: option === value }, option)));
}

function section(title, id, ...children) {
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

export async function mount(root, app) {
  const { api, toast } = app;
  const status = (message) => h("p", { class: "error-summary", role: "alert" }, message);

  // Profile ----------------------------------------------------------------------
  const profile = await api.get("/profile");
  const displayName = h("input", { name: "display_name", value: profile.display_name || "", maxlength: "100", autocomplete: "nickname" });
  const locale = h("input", { name: "locale", value: profile.locale || "", placeholder: "en-GB", autocomplete: "off" });
  const timeZone = h("input", { name: "time_zone", value: profile.time_zone || "", placeholder: Intl.DateTimeFormat().resolvedOptions().timeZone, autocomplete: "off" });
  const profileError = h("div", {});
  const profileForm = h("form", { id: "profile-form" },
    field("Display name", displayName),
    field("Locale", locale, "A language tag such as en-GB or fr."),
    field("Time zone", timeZone, "An IANA name such as Europe/Paris."),
    profileError,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save profile")));
  profileForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(profileError);
    const body = {
      display_name: displayName.value.trim() || null,
      locale: locale.value.trim() || null,
      time_zone: timeZone.value.trim() || null,
    };
    try {
      await busy(profileForm, () => api.patch("/profile", body));
      await app.refreshUser();
      toast("Profile saved", "success");
      app.navigate("settings");
    } catch (error) {
      profileError.append(status(messageOf(error)));
    }
  });

  // Avatar -----------------------------------------------------------------------
  const avatarBox = h("div", { class: "row" });
  const drawAvatar = (url) => {
    clear(avatarBox);
    avatarBox.append(url
      ? h("img", { class: "avatar", id: "avatar-image", src: `${url}?v=${Date.now()}`, alt: "Your avatar" })
      : h("p", { class: "muted" }, "No avatar yet."));
  };
  drawAvatar(profile.avatar_url);
  const file = h("input", { type: "file", name: "avatar", accept: "image/png,image/jpeg,image/gif,image/webp" });
  const avatarForm = h("form", { id: "avatar-form" },
    field("Image (PNG, JPEG, GIF or WebP, at most 2 MB)", file),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "primary" }, "Upload avatar"),
      h("button", { type: "button", id: "avatar-remove", onclick: removeAvatar }, "Remove avatar")));
  avatarForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = file.files && file.files[0];
    if (!chosen) {
      toast("Choose an image first", "error");
      file.focus();
      return;
    }
    try {
      const updated = await busy(avatarForm, () => api.upload("/profile/avatar", chosen, { method: "PUT" }));
      drawAvatar(updated.avatar_url);
      file.value = "";
      toast("Avatar uploaded", "success");
    } catch (error) {
      toast(messageOf(error), "error");
    }
  });
  async function removeAvatar() {
    try {
      await api.delete("/profile/avatar");
      drawAvatar(null);
      toast("Avatar removed", "success");
    } catch (error) {
      toast(messageOf(error), "error");
    }
  }

  // Preferences ------------------------------------------------------------------
  const { preferences } = await api.get("/profile/preferences");
  const assistantName = h("input", { name: "assistant_name", value: preferences.assistant_name, maxlength: "40", required: true });
  const tone = select("tone", TONES, preferences.tone);
  const verbosity = select("verbosity", VERBOSITY, preferences.verbosity);
  const units = select("units", UNITS, preferences.units);
  const rate = h("input", { name: "speaking_rate", type: "number", min: "0.5", max: "2", step: "0.1", value: String(preferences.speaking_rate) });
  const languages = h("input", { name: "preferred_languages", value: preferences.preferred_languages.join(", "), autocomplete: "off" });
  const prefsError = h("div", {});
  const prefsForm = h("form", { id: "preferences-form" },
    field("Assistant's name", assistantName),
    field("Languages you speak", languages, "Most preferred first, comma separated: en, fr."),
    field("Tone", tone),
    field("Reply length", verbosity),
    field("Units", units),
    field("Speaking rate", rate, "1 is normal, from 0.5 to 2."),
    prefsError,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save preferences")));
  prefsForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(prefsError);
    const body = {
      assistant_name: assistantName.value.trim(),
      preferred_languages: languages.value.split(",").map((l) => l.trim()).filter(Boolean),
      tone: tone.value,
      verbosity: verbosity.value,
      units: units.value,
      speaking_rate: Number(rate.value),
    };
    try {
      await busy(prefsForm, () => api.patch("/profile/preferences", body));
      toast("Preferences saved", "success");
    } catch (error) {
      prefsError.append(status(messageOf(error)));
    }
  });

  // Password ---------------------------------------------------------------------
  const current = h("input", { name: "current_password", type: "password", autocomplete: "current-password", required: true });
  const next = h("input", { name: "new_password", type: "password", autocomplete: "new-password", required: true });
  const passwordError = h("div", {});
  const passwordForm = h("form", { id: "password-form" },
    field("Current password", current),
    field("New password", next, "Every other session and every API key stop working."),
    passwordError,
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Change password")));
  passwordForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(passwordError);
    try {
      await busy(passwordForm, async () => {
        await api.post("/auth/password", { current_password: current.value, new_password: next.value });
        // The change ended every session, this one too: sign in again with the new password.
        await api.post("/auth/session", { username: app.user.username, password: next.value });
      });
      toast("Password changed", "success");
      app.navigate("settings");
    } catch (error) {
      passwordError.append(status(messageOf(error)));
    }
  });

  // API keys ---------------------------------------------------------------------
  const keyList = h("ul", { class: "list", id: "api-keys", "aria-live": "polite" });
  const revealed = h("div", { id: "new-key" });
  const keyName = h("input", { name: "name", required: true, maxlength: "100", placeholder: "kitchen tablet", autocomplete: "off" });
  const expires = h("input", { name: "expires_in_days", type: "number", min: "1", max: "3650", placeholder: "never" });
  const keyForm = h("form", { id: "api-key-form" },
    field("Name of the app or device", keyName),
    field("Expires after (days)", expires, "Leave empty for a key that does not expire."),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Create API key")));
  async function drawKeys() {
    const keys = await api.get("/auth/api-keys");
    clear(keyList);
    if (!keys.length) keyList.append(h("li", { class: "muted" }, "No API keys."));
    for (const key of keys) {
      keyList.append(h("li", {},
        h("span", {}, h("strong", {}, key.name), " ", h("span", { class: "muted" }, `${key.prefix}…`)),
        h("span", { class: "muted" }, `created ${formatTime(key.created_at)}`, key.last_used_at ? `, last used ${formatTime(key.last_used_at)}` : ", never used"),
        h("span", { class: "spacer" }),
        h("button", { type: "button", class: "danger", onclick: () => revoke(key) }, "Revoke", h("span", { class: "visually-hidden" }, ` ${key.name}`))));
    }
  }
  async function revoke(key) {
    if (!confirm(`Revoke the key "${key.name}"? Apps using it stop working at once.`)) return;
    try {
      await api.delete(`/auth/api-keys/${encodeURIComponent(key.id)}`);
      toast("Key revoked", "success");
      await drawKeys();
    } catch (error) {
      toast(messageOf(error), "error");
    }
  }
  keyForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { name: keyName.value.trim() };
    if (expires.value) body.expires_in_days = Number(expires.value);
    try {
      const created = await busy(keyForm, () => api.post("/auth/api-keys", body));
      clear(revealed);
      const secret = h("p", { class: "secret", id: "new-key-secret" }, created.key);
      revealed.append(h("div", { class: "card", role: "status" },
        h("p", {}, h("strong", {}, "Copy this key now: it is shown only once.")),
        secret,
        h("div", { class: "actions" },
          h("button", { type: "button", onclick: () => navigator.clipboard.writeText(created.key).then(() => toast("Copied"), () => toast("Select the key and copy it", "error")) }, "Copy"),
          h("button", { type: "button", onclick: () => clear(revealed) }, "Done"))));
      keyName.value = "";
      expires.value = "";
      await drawKeys();
    } catch (error) {
      toast(messageOf(error), "error");
    }
  });

  // Sessions ---------------------------------------------------------------------
  const sessionList = h("ul", { class: "list", id: "sessions" });
  async function drawSessions() {
    const sessions = await api.get("/auth/sessions");
    clear(sessionList);
    for (const session of sessions) {
      const who = session.user_agent || "Unknown client";
      sessionList.append(h("li", { "data-current": session.current ? "true" : "false" },
        h("span", {}, h("strong", {}, who.length > 80 ? `${who.slice(0, 80)}…` : who), session.current ? h("span", { class: "ok" }, " (this browser)") : null),
        h("span", { class: "muted" }, `${session.client_address || "unknown address"}, signed in ${formatTime(session.created_at)}, last used ${formatTime(session.last_used_at)}`),
        h("span", { class: "spacer" }),
        session.current
          ? h("button", { type: "button", onclick: () => app.signOut() }, "Sign out")
          : h("button", { type: "button", class: "danger", onclick: () => end(session) }, "Sign out", h("span", { class: "visually-hidden" }, ` ${who}`))));
    }
  }
  async function end(session) {
    try {
      await api.delete(`/auth/sessions/${encodeURIComponent(session.id)}`);
      toast("Session signed out", "success");
      await drawSessions();
    } catch (error) {
      toast(messageOf(error), "error");
    }
  }

  root.append(h("div", { class: "page" },
    h("h1", {}, "Settings"),
    section("Profile", "profile-heading", profileForm),
    section("Avatar", "avatar-heading", avatarBox, avatarForm),
    section("Preferences", "preferences-heading", prefsForm),
    section("Password", "password-heading", passwordForm),
    section("API keys for other apps", "keys-heading", h("p", { class: "muted" }, "An app or device signs in with a key instead of your password. Revoke a key to lock it out."), revealed, keyForm, h("h3", {}, "Your keys"), keyList),
    section("Sessions", "sessions-heading", h("p", { class: "muted" }, "Where your account is signed in."), sessionList)));
  await Promise.all([drawKeys(), drawSessions()]);
}
