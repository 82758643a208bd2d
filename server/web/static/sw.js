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
