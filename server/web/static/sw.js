// The service worker: keeps the app shell (this version's static files and the page)
// so the app starts without the network. It never stores an API answer: anything under
// /api, /v1 or elsewhere is left to the browser, untouched, because those hold user data.
const SHELL = "{{shell}}";
const CACHE = "shell-{{assets}}";
const SHELL_URLS = new Set(SHELL);

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((name) => name !== CACHE).map((name) => caches.delete(name))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate" && url.pathname === "/") {
    // The page: the network first (a new version), the kept copy when offline.
    event.respondWith(
      fetch(request).then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put("/", copy));
        }
        return response;
      }).catch(() => caches.match("/").then((kept) => kept || Response.error())),
    );
    return;
  }
  if (!SHELL_URLS.has(url.pathname)) return;
  // Hashed assets never change: the kept copy first.
  event.respondWith(caches.match(url.pathname).then((kept) => kept || fetch(request)));
});

// Web Push (the notifications page subscribes this browser): show what the device sent,
// replacing the one with the same tag; a withdrawn one is closed. A click opens the app on
// #/notifications/<id>[/<button>], where the page reports it (the session lives there).
self.addEventListener("push", (event) => {
  let message = {};
  try {
    message = event.data ? event.data.json() : {};
  } catch {
    message = { title: event.data ? event.data.text() : "" };
  }
  const tag = message.tag || message.id || "";
  if (message.event === "withdrawn") {
    event.waitUntil(
      self.registration.getNotifications(tag ? { tag } : {}).then((shown) => shown.forEach((n) => n.close())),
    );
    return;
  }
  const actions = (message.actions || []).slice(0, 2).map((action) => ({ action: action.id, title: action.label }));
  event.waitUntil(
    self.registration.showNotification(message.title || "Notification", {
      body: message.body || "",
      tag,
      renotify: Boolean(tag) && message.event !== "updated",
      icon: "{{assets}}/icons/icon-192.png",
      badge: "{{assets}}/icons/icon-192.png",
      actions,
      data: { id: message.id || "", actions: message.actions || [] },
    }),
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const { id = "", actions = [] } = event.notification.data || {};
  const chosen = actions.find((action) => action.id === event.action);
  let url = "/#/notifications";
  if (id) url += `/${encodeURIComponent(id)}${event.action ? `/${encodeURIComponent(event.action)}` : ""}`;
  event.waitUntil((async () => {
    if (chosen && chosen.kind === "url" && /^https?:/.test(chosen.url)) await self.clients.openWindow(chosen.url);
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    for (const client of windows) {
      if (new URL(client.url).origin === self.location.origin) {
        await client.focus();
        return client.navigate(url);
      }
    }
    return self.clients.openWindow(url);
  })());
});
