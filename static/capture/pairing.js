// Laptop side of the QR handoff (templates/capture/pairing/laptop.html).
// Learns of the phone's approval by a WebSocket push (/ws/pair/<id>/), polls the status URL when the
// socket cannot be used, renews the code before it expires, and then submits the single-use
// completion form. The binding cookie is HttpOnly: this script never sees it; the browser sends it.

const root = document.getElementById("pairing");
const $ = (id) => document.getElementById(id);

const RENEW_BEFORE_S = 15; // renew this long before the code expires
const POLL_MS = 2000;

const completeForm = $("pair-complete");
const csrfToken = completeForm.querySelector("input[name=csrfmiddlewaretoken]").value;

const WAITING = "Waiting for your phone. The code renews by itself.";

let current = fromDataset(root.dataset);
let socket = null;
let pollTimer = null;
let renewTimer = null;
let scanned = false;
let finished = false;

function fromDataset(d) {
  return describe({
    request_id: d.requestId,
    expires_in: Number(d.expiresIn),
    ws_path: d.wsPath,
    status_url: d.statusUrl,
    complete_url: d.completeUrl,
  });
}

function describe(data) {
  return {
    id: data.request_id,
    expiresAt: Date.now() + Number(data.expires_in) * 1000,
    wsPath: data.ws_path,
    statusUrl: data.status_url,
    completeUrl: data.complete_url,
  };
}

function setState(text, tone = "") {
  const el = $("pair-state");
  el.textContent = text;
  el.dataset.tone = tone;
}

function stopListening() {
  clearInterval(pollTimer);
  pollTimer = null;
  if (socket) {
    const ws = socket;
    socket = null; // mark as ours-closing so onclose does not start polling
    ws.close();
  }
}

function complete() {
  if (finished) return;
  finished = true;
  clearTimeout(renewTimer);
  stopListening();
  setState("Approved on your phone. Signing in…", "ok");
  root.dataset.state = "approved";
  completeForm.action = current.completeUrl;
  completeForm.submit();
}

function handle(request, type) {
  if (request !== current || finished) return;
  if (type === "approved") {
    complete();
  } else if (type === "scanned") {
    scanned = true;
    root.dataset.state = "scanned";
    setState("Your phone opened the code. Pick the number there and approve.", "active");
  } else if (type === "gone") {
    setState("That code was declined or ran out. Here is a new one.");
    renew();
  }
}

function connect() {
  const request = current;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  let ws;
  try {
    ws = new WebSocket(`${scheme}//${location.host}${request.wsPath}`);
  } catch {
    startPolling();
    return;
  }
  socket = ws;
  ws.addEventListener("message", (event) => {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    handle(request, message.type);
  });
  ws.addEventListener("close", () => {
    // Closed under us (network, proxy without WebSockets, 4403): keep going by polling.
    if (socket === ws && !finished) {
      socket = null;
      startPolling();
    }
  });
}

async function poll() {
  const request = current;
  try {
    const response = await fetch(request.statusUrl, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" },
    });
    if (!response.ok) return;
    const data = await response.json();
    handle(request, data.status === "pending" ? "pending" : data.status);
  } catch {
    // offline for a moment: the next tick tries again
  }
}

function startPolling() {
  if (!pollTimer) pollTimer = setInterval(poll, POLL_MS);
}

function scheduleRenew() {
  clearTimeout(renewTimer);
  const untilExpiry = current.expiresAt - Date.now();
  // Once the phone has opened the code, keep it until it really expires rather than pull it away.
  const wait = scanned ? untilExpiry + 500 : Math.max(untilExpiry - RENEW_BEFORE_S * 1000, 3000);
  renewTimer = setTimeout(() => {
    if (scanned && Date.now() < current.expiresAt) scheduleRenew();
    else renew();
  }, wait);
}

async function renew() {
  if (finished) return;
  clearTimeout(renewTimer);
  let data;
  try {
    const response = await fetch(root.dataset.refreshUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken, Accept: "application/json" },
    });
    if (response.status === 429) {
      setState("Too many new codes in a short time. Trying again in a minute.", "warn");
      renewTimer = setTimeout(renew, 60_000);
      return;
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    data = await response.json();
  } catch {
    setState("Can't reach Undertone right now. Trying again…", "warn");
    renewTimer = setTimeout(renew, 10_000);
    return;
  }
  if (data.signed_in) {
    location.reload();
    return;
  }
  stopListening();
  current = describe(data);
  scanned = false;
  root.dataset.state = "waiting";
  root.dataset.requestId = current.id;
  $("pair-qr").innerHTML = data.qr_svg; // server-made SVG (segno), no user input in it
  for (const el of document.querySelectorAll("[data-pair-number]")) el.textContent = String(data.number);
  setState(WAITING);
  connect();
  scheduleRenew();
}

// Background tabs throttle timers: catch up as soon as the tab is visible again.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && !finished && Date.now() >= current.expiresAt) renew();
});

root.dataset.state = "waiting";
connect();
scheduleRenew();
