// Registers the service worker (static/app/sw.js, served at /sw.js so that its scope is the whole
// site). It keeps only the offline page and static files, never a page with content, so it is safe on
// every page. Where service workers are unavailable (an insecure origin, an old browser), nothing
// changes: the site works the same without it.

const script = document.getElementById("register-sw");
const url = script?.dataset.swUrl;

if (url && "serviceWorker" in navigator && window.isSecureContext) {
  // updateViaCache "none": the browser checks /sw.js itself on every navigation, never an HTTP cache copy.
  navigator.serviceWorker.register(url, { scope: "/", updateViaCache: "none" }).catch((error) => {
    console.warn("service worker: not registered", error.name);
  });
}
