// Undertone's service worker, served at /sw.js (undertone_web/views.py) so that its scope is the site.
//
// The rule: it stores the app shell only (the offline page and the static files that page needs),
// written once, at install, from the fixed list below. It never stores a response it sees at run time,
// so no recap, transcript, account page, capture page or JSON ever lands in this browser's Cache
// Storage. Page loads (navigations) always go to the network; only when the network fails does the
// stored offline page answer. Requests that are not navigations and not in the list below are left to
// the browser untouched. tests/test_polish.py parses PRECACHE and tests/e2e/test_app_install_e2e.py
// inspects the cache after a recap was shown.
//
// Change anything in the shell (the offline page, site.css, the icons)? Bump CACHE_VERSION: the new
// worker installs a fresh copy and deletes every older cache when it activates.

const CACHE_VERSION = 1;
const CACHE_NAME = `undertone-shell-v${CACHE_VERSION}`;
const OFFLINE_URL = "/offline/";

// The app shell. No page with content, ever: only the offline page (the same for everyone, fetched
// without cookies) and static files.
const PRECACHE = [
  "/offline/",
  "/manifest.webmanifest",
  "/static/css/site.css",
  "/static/app/register-sw.js",
  "/static/app/favicon.ico",
  "/static/app/favicon.svg",
  "/static/app/icon-192.png",
];
const SHELL = new Set(PRECACHE.filter((url) => url !== OFFLINE_URL));

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE_NAME);
      // credentials "omit": the offline page is fetched signed out, so it cannot hold anything of anyone's.
      // cache "reload": straight from the server, not from the HTTP cache.
      await cache.addAll(PRECACHE.map((url) => new Request(url, { credentials: "omit", cache: "reload" })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) {
        if (key !== CACHE_NAME) await caches.delete(key);
      }
      // The page's request starts while the worker boots, so a navigation is not slower for it.
      if (self.registration.navigationPreload) await self.registration.navigationPreload.enable();
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return; // form posts and the like: the browser's own, untouched
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    event.respondWith(networkThenOffline(event));
  } else if (SHELL.has(url.pathname) && !url.search) {
    event.respondWith(networkThenShell(request, url.pathname));
  }
  // Anything else (recaps, capture, accounts, JSON, other static files) is not answered here at all.
});

// A page: always from the network, never stored. The offline page only when the network fails.
async function networkThenOffline(event) {
  try {
    const preloaded = await event.preloadResponse;
    if (preloaded) return preloaded;
    return await fetch(event.request);
  } catch (error) {
    const offline = await caches.match(OFFLINE_URL, { cacheName: CACHE_NAME });
    if (offline) return offline;
    throw error;
  }
}

// A shell file: from the network when it answers (so it is never stale online), else the stored copy.
async function networkThenShell(request, path) {
  try {
    return await fetch(request);
  } catch (error) {
    const stored = await caches.match(path, { cacheName: CACHE_NAME });
    if (stored) return stored;
    throw error;
  }
}
