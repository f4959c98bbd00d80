// Wires CaptureClient (capture-client.js) to the capture page
// (templates/capture/record_body.html). No transcript text ever reaches this
// page: the server only sends levels, speech on/off, counts and the recap link.
import { durationWords } from "./duration.js";
import { captureSupported, tabAudioSupport } from "./capture-audio.js";
import { CaptureClient } from "./capture-client.js";
import { ChannelWatchdog } from "./capture-watchdog.js";
import { initVoiceCheck } from "./voice-check.js";

const root = document.getElementById("capture");
const $ = (id) => document.getElementById(id);

const CONNECTION_WORDS = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  "catching-up": "Catching up…",
  closed: "Finished",
  elsewhere: "Recording in another tab",
};

const client = new CaptureClient({ wsPath: root.dataset.wsPath });
let watchdog = new ChannelWatchdog([0]);
let phase = "setup";
let wakeLock = null;

// "Recap in your own voice": microphone only, guided prompts, a countdown to a
// short cap and a stop by itself at the cap. The server enforces the same cap.
const selfMode = root.dataset.mode === "self";
let maxSeconds = 300; // read from the page at Start (data-max-seconds)
const CAP_WARNINGS = [
  [60, "One minute left."],
  [15, "15 seconds left. We'll stop by ourselves and make your recap."],
];
let capWarned = 0;
// Why recording ended when the page stopped itself at the cap; still said once the recap is ready,
// which can be before anyone has read it.
let capStopped = "";

function show(id, visible) {
  $(id).hidden = !visible;
}

function setPhase(next) {
  phase = next;
  root.dataset.phase = next;
  show("capture-setup", next === "setup");
  show("capture-live", next === "live");
  show("capture-finish", next === "finish");
}

function showError(message) {
  $("error").textContent = message;
  show("error", Boolean(message));
}

function showNotice(message) {
  $("notice").textContent = message;
  show("notice", Boolean(message));
}

function formatTime(totalSeconds) {
  const s = Math.floor(totalSeconds);
  const mm = String(Math.floor(s / 60)).padStart(2, "0");
  return `${mm}:${String(s % 60).padStart(2, "0")}`;
}

function resetSpeech() {
  for (const ch of [0, 1]) {
    if (!$(`speech-${ch}`)) continue; // self mode has no call-audio channel
    $(`speech-${ch}`).dataset.active = "false";
    $(`speech-${ch}`).textContent = "Listening";
    $(`meter-${ch}`).style.transform = "scaleX(0)";
  }
}

function clock(totalSeconds) {
  const s = Math.max(0, Math.ceil(totalSeconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

function showNoteOffer(recapUrl) {
  const offer = $("note-offer");
  if (!offer) return; // a capture-only device cannot open notes
  const match = /\/recaps\/([0-9a-f-]{36})\//.exec(recapUrl || "");
  if (match) {
    const url = new URL($("note-link").href, location.href);
    url.searchParams.set("recap", match[1]);
    $("note-link").href = url.pathname + url.search;
  }
  offer.hidden = false;
}

// Phones lock the screen after a minute and may then cut the microphone.
async function keepAwake() {
  if (!("wakeLock" in navigator) || document.visibilityState !== "visible") return;
  try {
    wakeLock = await navigator.wakeLock.request("screen");
  } catch {
    wakeLock = null; // not allowed (battery saver, old browser): recording still works
  }
}

function releaseWake() {
  if (wakeLock) wakeLock.release().catch(() => {});
  wakeLock = null;
}

// ---- before start ----

if (!selfMode) {
  const tab = tabAudioSupport();
  if (!tab.ok) {
    $("source-tab").disabled = true;
    $("source-tab").closest(".capture-source").classList.add("is-disabled");
    $("source-tab-note").textContent = tab.reason;
    show("source-tab-note", true);
  }
}

if (!captureSupported()) {
  $("start").disabled = true;
  showError("This browser can't record here. Please use a current version of Chrome, Edge, Firefox or Safari.");
}

// In-person sessions: the optional voice check before Start (voice-check.js).
const voiceCheck = initVoiceCheck({ supported: captureSupported() });

// What an earlier page of this session kept in this browser (a reload, a closed tab, an outage):
// taken back before Start, which must then run straight from its click.
const backlogReady = root.dataset.backlogKey
  ? client.restore({ sessionId: root.dataset.session, keyBase64: root.dataset.backlogKey }).catch(() => 0)
  : Promise.resolve(0);
if (captureSupported() && root.dataset.backlogKey) {
  $("start").disabled = true;
  backlogReady.then((seconds) => {
    $("start").disabled = false;
    if (seconds > 0 && phase === "setup") {
      $("backlog-kept").textContent = `${durationWords(seconds)} of audio not yet transcribed are kept safely on this device. They are sent as soon as you continue or finish.`;
      show("backlog-kept", true);
    }
  });
}

// Finishing from the banner: audio still kept here goes to the server first, then the recap is made.
$("finish-form")?.addEventListener("submit", (event) => {
  if (client.restoredSeconds <= 0) return; // nothing kept here: the plain form does it
  event.preventDefault();
  setPhase("finish");
  $("progress").textContent = "Sending the last of your audio…";
  client.watch();
});

$("start").addEventListener("click", async () => {
  $("start").disabled = true;
  show("busy", false);
  showError("");
  // Start always wins over a voice check still recording: it lets go of the microphone first.
  voiceCheck?.cancel();
  // No await before start(): the browser only opens the tab picker and
  // starts audio during the click itself.
  // Self mode never asks for the call's audio: only the person's own voice.
  const wanted = !selfMode && $("source-tab").checked ? "tab" : "mic";
  maxSeconds = Number(root.dataset.maxSeconds) || maxSeconds;
  const pending = client.start({ source: wanted });
  try {
    const { source, notice } = await pending;
    if (!selfMode) show("channel-1", source === "tab");
    watchdog = new ChannelWatchdog(source === "tab" ? [0, 1] : [0]);
    showNotice(notice);
    setPhase("live");
    keepAwake();
    $("pause").focus();
  } catch (err) {
    showError(err.message);
    $("start").disabled = false;
  }
});

// ---- while recording ----

$("pause").addEventListener("click", () => {
  client.pause();
  show("pause", false);
  show("resume", true);
  show("paused-label", true);
  root.dataset.paused = "true";
  resetSpeech();
  quietAgain();
  $("resume").focus();
});

$("resume").addEventListener("click", () => {
  client.resume();
  show("resume", false);
  show("pause", true);
  show("paused-label", false);
  delete root.dataset.paused;
  quietAgain();
  $("pause").focus();
});

$("stop").addEventListener("click", () => {
  show("stop-confirm-box", true);
  $("stop").setAttribute("aria-expanded", "true");
  $("stop-confirm").focus();
});

function cancelStop() {
  show("stop-confirm-box", false);
  $("stop").setAttribute("aria-expanded", "false");
  $("stop").focus();
}

$("stop-cancel").addEventListener("click", cancelStop);
// Escape backs out of the question, as it would from a dialog; recording goes on.
$("stop-confirm-box").addEventListener("keydown", (event) => {
  if (event.key === "Escape") cancelStop();
});

function finishRecording() {
  setPhase("finish");
  releaseWake();
  $("progress").focus(); // the Stop button just vanished; keep focus somewhere sensible
  client.stop();
}

$("stop-confirm").addEventListener("click", finishRecording);

client.addEventListener("state", ({ detail }) => {
  $("conn-state").textContent = CONNECTION_WORDS[detail.connection] || "";
  root.querySelector(".capture-conn").dataset.connection = detail.connection;
});

client.addEventListener("level", ({ detail }) => {
  if (root.dataset.paused || root.dataset.elsewhere) return;
  for (const ch of watchdog.level(detail.ch, detail.rms, detail.peak, performance.now() / 1000)) {
    showAlert(ch, watchdog.alerts[ch]);
  }
  // Speech sits around -40..-10 dBFS; map -60..0 dB onto the bar.
  const db = 20 * Math.log10(Math.max(detail.rms, 1e-6));
  const fill = Math.min(1, Math.max(0, (db + 60) / 60));
  $(`meter-${detail.ch}`).style.transform = `scaleX(${fill.toFixed(3)})`;
});

client.addEventListener("speech", ({ detail }) => {
  const el = $(`speech-${detail.ch}`);
  if (!el || root.dataset.paused) return;
  el.dataset.active = String(detail.active);
  el.textContent = detail.active ? "Speech detected" : "Listening";
});

let shownSecond = -1;
client.addEventListener("recorded", ({ detail }) => {
  const second = Math.floor(detail.seconds);
  if (second === shownSecond) return;
  shownSecond = second;
  $("timer").textContent = formatTime(second);
  if (selfMode) updateCountdown(detail.seconds);
});

function updateCountdown(seconds) {
  const left = maxSeconds - seconds;
  $("countdown").textContent = clock(left);
  $("cap-fill").style.transform = `scaleX(${Math.min(1, seconds / maxSeconds).toFixed(3)})`;
  while (capWarned < CAP_WARNINGS.length && left <= CAP_WARNINGS[capWarned][0]) {
    showNotice(CAP_WARNINGS[capWarned++][1]);
  }
  if (left <= 0 && phase === "live") {
    const minutes = Math.round(maxSeconds / 60);
    capStopped = `That's ${minutes} minute${minutes === 1 ? "" : "s"}, so we stopped here.`;
    finishRecording();
    $("finish-hint").textContent = `${capStopped} Please keep this tab open until your recap is ready.`;
  }
}

client.addEventListener("commit", ({ detail }) => {
  // What the server has transcribed and stored: it trails the timer by a window or two (the audio
  // is still on this device until then), so it says so in words rather than a bare 0.
  const minutes = Math.floor(detail.seconds / 60);
  $("minutes").textContent = minutes >= 1 ? `${minutes} min` : detail.seconds > 0 ? "under a minute" : "nothing yet";
});

client.addEventListener("backlog", ({ detail }) => show("backlog-warning", detail.over));

// ---- a channel that hears nothing ----

function showAlert(ch, alert) {
  const box = $(`alert-${ch}`);
  if (!box) return;
  box.hidden = !alert;
  if (alert && ch === 0) listMicrophones();
}

function quietAgain() {
  watchdog.reset();
  for (const ch of [0, 1]) showAlert(ch, null);
}

async function listMicrophones() {
  const picker = $("mic-picker");
  let devices = [];
  try {
    devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "audioinput");
  } catch {
    /* no list: the picker stays empty and the button says why */
  }
  picker.replaceChildren(
    ...devices.map((d, i) => {
      const option = document.createElement("option");
      option.value = d.deviceId;
      option.textContent = d.label || `Microphone ${i + 1}`;
      return option;
    }),
  );
}

async function fixChannel(button, action) {
  button.disabled = true;
  showError("");
  try {
    await action();
    quietAgain();
    showNotice("");
  } catch (err) {
    showError(err.message);
  } finally {
    button.disabled = false;
  }
}

if ($("reshare-tab")) {
  // Straight from the click: the tab picker needs the gesture.
  $("reshare-tab").addEventListener("click", () => fixChannel($("reshare-tab"), () => client.shareTabAgain()));
}
$("use-mic").addEventListener("click", () => fixChannel($("use-mic"), () => client.useMicrophone($("mic-picker").value)));

// ---- the web tier is busy: refused at the door, before recording started ----

client.addEventListener("busy", () => {
  releaseWake();
  setPhase("setup");
  show("busy", true);
  $("start").disabled = false;
  $("busy-retry").focus();
});

// The same start as the Start button, from this click (the tab picker needs the gesture).
$("busy-retry").addEventListener("click", () => $("start").click());

// ---- the same session opened in another tab ----

client.addEventListener("elsewhere", () => {
  root.dataset.elsewhere = "true";
  quietAgain();
  show("stop-confirm-box", false);
  show("elsewhere", true);
  releaseWake();
  $("take-back").focus();
});

$("take-back").addEventListener("click", async () => {
  $("take-back").disabled = true;
  showError("");
  try {
    await client.reclaim(); // straight from the click: the tab picker needs it
    watchdog = new ChannelWatchdog(client.channels);
    delete root.dataset.elsewhere;
    show("elsewhere", false);
    // The recording starts again unpaused here.
    show("resume", false);
    show("pause", true);
    show("paused-label", false);
    delete root.dataset.paused;
    resetSpeech();
    keepAwake();
    $("pause").focus();
  } catch (err) {
    showError(err.message);
  } finally {
    $("take-back").disabled = false;
  }
});

client.addEventListener("notice", ({ detail }) => showNotice(detail.message));

// ---- after stop ----

client.addEventListener("progress", ({ detail }) => {
  const n = detail.windowsLeft;
  $("progress").textContent = n > 0 ? `Making your recap… ${n} ${n === 1 ? "part" : "parts"} left` : "Making your recap… almost done";
});

client.addEventListener("status", ({ detail }) => {
  // Stopped from another device: follow along here.
  if (detail.status === "ending" && phase === "live") setPhase("finish");
});

client.addEventListener("done", ({ detail }) => {
  setPhase("finish");
  releaseWake();
  $("progress").textContent = detail.polishing ? "Your recap is ready. Polishing it…" : "Your recap is ready.";
  const polishing = detail.polishing ? "A language model is writing its final version; you can open this one now." : "";
  $("finish-hint").textContent = [capStopped, polishing].filter(Boolean).join(" ");
  show("finish-hint", Boolean(capStopped || polishing));
  if (detail.recapUrl) $("recap-link").href = detail.recapUrl;
  show("recap-link", true);
  showNoteOffer(detail.recapUrl);
  $("recap-link").focus();
});

client.addEventListener("polishing", ({ detail }) => {
  // One step per model call: notes on any part not noted while recording, then the write-up.
  const where = detail.steps > 1 ? ` (step ${detail.step} of ${detail.steps})` : "";
  $("progress").textContent = `Your recap is ready. Polishing it…${where}`;
});

client.addEventListener("polished", () => {
  $("progress").textContent = "Your recap is ready.";
  $("finish-hint").textContent = capStopped;
  show("finish-hint", Boolean(capStopped));
});

client.addEventListener("fatal", ({ detail }) => {
  releaseWake();
  showError(detail.message);
  show("capture-setup", false);
  show("capture-live", false);
  if (detail.code === 4409) {
    // Already finished: the recap exists, but this page does not know its id.
    setPhase("finish");
    $("progress").textContent = "This session has already finished.";
    show("finish-hint", false);
    $("recap-link").href = root.dataset.recapPrefix || "/recaps/";
    $("recap-link").textContent = "Open your recaps";
    show("recap-link", true);
    showNoteOffer(null);
  } else {
    show("capture-finish", false);
  }
});

// Closing the tab before the server has stored everything would lose audio.
window.addEventListener("beforeunload", (event) => {
  if (client.hasUnsavedAudio) {
    event.preventDefault();
    event.returnValue = "";
  }
});

document.addEventListener("visibilitychange", () => {
  if (phase === "live" && document.visibilityState === "visible") keepAwake();
  if (document.visibilityState === "hidden") client.backlog?.flush();
});
// The last half second of frames too, before the page goes (a reload, a closed tab).
window.addEventListener("pagehide", () => client.backlog?.flush());

// ---- page opened in the middle of things ----

const status = root.dataset.status;
if (status === "ending") {
  // Stop was pressed earlier (this page was reloaded): wait for the recap.
  setPhase("finish");
  $("progress").textContent = "Making your recap…";
  backlogReady.then(() => client.watch());
} else if (status === "done") {
  setPhase("finish");
  $("progress").textContent = "This session has already finished.";
  show("finish-hint", false);
  $("recap-link").textContent = "Open your recaps";
  show("recap-link", true);
  showNoteOffer(null);
} else {
  setPhase("setup");
}
