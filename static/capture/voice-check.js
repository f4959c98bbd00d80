// The optional voice check of an in-person session (the #voice-check block of
// templates/capture/record_body.html). The person reads one sentence aloud
// before Start; the page records it through the capture page's own audio path
// (capture-audio.js and pcm-worklet.js: the same microphone processing and the
// same 16 kHz PCM16 frames as the recording itself), posts the raw PCM to
// capture:voice_check and says how it went. The server keeps only a
// description of the voice (capture/voices.py), never the audio.
//
// The pure parts (joinFrames, outcomeOf, transition, viewOf, recordVoiceCheck
// with an injected opener) run in node: tests/js/test_voice_check.mjs.
import { openAudio } from "./capture-audio.js";
import { OUT_RATE, FRAME_SAMPLES } from "./resample.js";

export const BYTES_PER_SECOND = OUT_RATE * 2;
export const FRAME_SECONDS = FRAME_SAMPLES / OUT_RATE; // 0.2 s per worklet frame
// The server needs 1.5 s of speech (capture/speakers.py MIN_VOICE_CHECK_S);
// less audio than that cannot hold it, so it is not sent at all.
export const MIN_SEND_BYTES = Math.round(1.5 * BYTES_PER_SECOND);
export const MAX_SEND_BYTES = 20 * BYTES_PER_SECOND; // the server refuses more (413)

export const WORDS = {
  opening: "Allow the microphone if your browser asks.",
  recording: "Recording. Read the sentence aloud now, then press Done.",
  sending: "Checking your voice…",
  done: "Voice check done. Your recap will know which voice is yours.",
  too_short: "We didn't catch enough of that. Try again, a little closer to the microphone.",
  rate_limited: "That's a lot of tries in a row. Wait a minute and try again, or start recording without it: the voice check is optional.",
  unavailable: "We couldn't save your voice check just now. Try again in a moment, or start recording anyway: the voice check is optional.",
  error: "The voice check didn't work this time. It's optional: you can start recording anyway.",
  unsupported: "This browser can't do the voice check. It's optional: you can start recording anyway.",
  earlier_counts: "Your earlier voice check still counts.",
};

/** The worklet's PCM16 frames (ArrayBuffers) as one body of at most maxBytes, whole samples only. */
export function joinFrames(frames, maxBytes = MAX_SEND_BYTES) {
  const total = frames.reduce((n, f) => n + f.byteLength, 0);
  const size = Math.min(total, maxBytes) & ~1;
  const out = new Uint8Array(size);
  let at = 0;
  for (const frame of frames) {
    if (at >= size) break;
    const bytes = new Uint8Array(frame, 0, Math.min(frame.byteLength, size - at));
    out.set(bytes, at);
    at += bytes.length;
  }
  return out;
}

/** What the server's answer (an HTTP status, or 0 for no answer at all) means for the page. */
export function outcomeOf(status) {
  if (status === 200) return "done";
  if (status === 422) return "too_short";
  if (status === 429) return "rate_limited";
  if (status === 503) return "unavailable";
  return "error";
}

// ---- the block's states ----
//
// idle -> opening (asking for the microphone) -> recording -> sending -> done | retry | failed,
// and from any resting state (idle, done, retry, failed) back to opening. `stored` is whether a
// check is kept for this session: a failed retry does not undo an earlier one.

export const RESTING = new Set(["idle", "done", "retry", "failed"]);

export function initialState({ stored = false, seconds = 8 } = {}) {
  return { name: stored ? "done" : "idle", stored, seconds, left: seconds, message: "" };
}

export function transition(state, event) {
  const rest = () => ({ ...state, name: state.stored ? "done" : "idle", message: "" });
  switch (event.type) {
    case "start":
      return RESTING.has(state.name) ? { ...state, name: "opening", left: state.seconds, message: "" } : state;
    case "opened":
      return state.name === "opening" ? { ...state, name: "recording" } : state;
    case "tick":
      return state.name === "recording" ? { ...state, left: Math.max(0, event.left) } : state;
    case "stop":
      return state.name === "recording" || state.name === "opening" ? { ...state, name: "sending" } : state;
    case "cancel":
      return state.name === "opening" || state.name === "recording" ? rest() : state;
    case "answer":
      if (state.name !== "sending") return state;
      if (event.outcome === "done") return { ...state, name: "done", stored: true, message: "" };
      if (event.outcome === "too_short") return { ...state, name: "retry", message: WORDS.too_short };
      return { ...state, name: "failed", message: WORDS[event.outcome] || WORDS.error };
    case "fail":
      return RESTING.has(state.name) ? state : { ...state, name: "failed", message: event.message || WORDS.error };
    default:
      return state;
  }
}

/** What the block shows in a state. */
export function viewOf(state) {
  const busy = !RESTING.has(state.name);
  let status = state.message;
  if (state.name === "opening" || state.name === "recording" || state.name === "sending") status = WORDS[state.name];
  if (state.name === "done") status = WORDS.done;
  if ((state.name === "retry" || state.name === "failed") && state.stored) status = `${status} ${WORDS.earlier_counts}`;
  return {
    status,
    tone: state.name === "done" ? "ok" : state.name === "retry" || state.name === "failed" ? "warn" : "",
    startLabel: state.name === "done" ? "Do it again" : state.name === "idle" ? "Read it now" : "Try again",
    startHidden: busy,
    stopHidden: state.name !== "recording",
    liveHidden: state.name !== "opening" && state.name !== "recording",
    countdown: String(Math.ceil(state.left)),
    done: state.name === "done",
  };
}

// ---- recording ----

/**
 * Records up to `seconds` of the microphone as 16 kHz PCM16 through the
 * capture page's audio path. Call it straight from a click (the AudioContext
 * needs the gesture). The countdown follows the audio that actually arrived;
 * a wall-clock guard stops it too if the audio never comes.
 *
 * Returns { result, stop, cancel }: result resolves to a Uint8Array after
 * stop() (or the time running out), to null after cancel(), and rejects with
 * the opener's error (its message is written for the person). The microphone
 * is released in every case.
 */
export function recordVoiceCheck({ seconds = 8, onOpen = () => {}, onTick = () => {}, onLevel = () => {}, open = openAudio, timers = globalThis } = {}) {
  const frames = [];
  const wanted = Math.round(seconds / FRAME_SECONDS);
  let audio = null;
  let phase = "opening"; // -> open -> stopping (the worklet's last frame) -> ended
  let stopAsked = false;
  let guard = null;
  let resolveResult;
  let rejectResult;
  const result = new Promise((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });

  const release = () => {
    if (guard !== null) timers.clearTimeout(guard);
    guard = null;
    if (audio) audio.close();
    audio = null;
  };

  async function stop() {
    if (phase === "opening") {
      stopAsked = true; // stop as soon as it is open
      return;
    }
    if (phase !== "open") return;
    phase = "stopping";
    try {
      await audio.flush(); // the last partial frame, zero-padded, arrives before this resolves
    } finally {
      if (phase === "stopping") {
        phase = "ended";
        release();
        resolveResult(joinFrames(frames));
      }
    }
  }

  function cancel() {
    if (phase === "ended") return;
    phase = "ended";
    release();
    resolveResult(null);
  }

  const callbacks = {
    onFrame(ch, buf) {
      if (ch !== 0 || (phase !== "open" && phase !== "stopping")) return;
      frames.push(buf);
      if (phase !== "open") return;
      onTick(Math.max(0, seconds - frames.length * FRAME_SECONDS));
      if (frames.length >= wanted) stop();
    },
    onLevel: ({ ch, rms }) => ch === 0 && phase === "open" && onLevel(rms),
    onNotice() {},
  };

  open(false, callbacks).then(
    (opened) => {
      if (phase === "ended") {
        opened.close(); // cancelled while the browser was still asking
        return;
      }
      audio = opened;
      phase = "open";
      onOpen();
      guard = timers.setTimeout(stop, (seconds + 3) * 1000);
      if (stopAsked) stop();
    },
    (err) => {
      if (phase === "ended") return;
      phase = "ended";
      rejectResult(err);
    },
  );

  return { result, stop, cancel };
}

/** Posts the PCM; resolves to the HTTP status (0 when the request never got an answer). */
export async function sendVoiceCheck(url, pcm, csrfToken, fetcher = globalThis.fetch) {
  try {
    const response = await fetcher(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/octet-stream", "X-CSRFToken": csrfToken, Accept: "application/json" },
      body: pcm,
    });
    return response.status;
  } catch {
    return 0;
  }
}

// ---- the page ----

/**
 * Wires the #voice-check block, when the page has one (in-person sessions).
 * open and fetcher are openAudio and fetch, replaced in the node tests.
 * Returns { cancel() } for the Start button, which must always win: a check
 * still recording is dropped and its microphone released. Null without a block.
 */
export function initVoiceCheck({ doc = globalThis.document, supported = true, open = openAudio, fetcher = globalThis.fetch } = {}) {
  const box = doc.getElementById("voice-check");
  if (!box) return null;
  const $ = (id) => doc.getElementById(id);
  const start = $("voice-check-start");
  const stopButton = $("voice-check-stop");
  const status = $("voice-check-status");
  const csrfToken = box.querySelector("input[name=csrfmiddlewaretoken]")?.value || "";
  let state = initialState({ stored: box.dataset.done === "true", seconds: Number(box.dataset.seconds) || 8 });
  let recording = null;

  function render() {
    const view = viewOf(state);
    box.dataset.state = state.name;
    if (status.textContent !== view.status) status.textContent = view.status;
    status.dataset.tone = view.tone;
    start.textContent = view.startLabel;
    start.hidden = view.startHidden;
    stopButton.hidden = view.stopHidden;
    $("voice-check-live").hidden = view.liveHidden;
    $("voice-check-count").textContent = view.countdown;
  }

  function dispatch(event) {
    state = transition(state, event);
    render();
  }

  function level(rms) {
    // The capture page's meter scale: speech sits around -40..-10 dBFS.
    const db = 20 * Math.log10(Math.max(rms, 1e-6));
    const fill = Math.min(1, Math.max(0, (db + 60) / 60));
    $("voice-check-meter").style.transform = `scaleX(${fill.toFixed(3)})`;
  }

  async function run() {
    dispatch({ type: "start" });
    level(0);
    // No await before recordVoiceCheck: the AudioContext needs this click.
    recording = recordVoiceCheck({
      seconds: state.seconds,
      onOpen: () => {
        dispatch({ type: "opened" });
        stopButton.focus();
      },
      onTick: (left) => dispatch({ type: "tick", left }),
      onLevel: level,
      open,
    });
    let pcm;
    try {
      pcm = await recording.result;
    } catch (err) {
      recording = null;
      dispatch({ type: "fail", message: err && err.message ? err.message : WORDS.error });
      start.focus();
      return;
    }
    recording = null;
    if (pcm === null) return; // cancelled by Start
    dispatch({ type: "stop" });
    const answer = pcm.length < MIN_SEND_BYTES ? 422 : await sendVoiceCheck(box.dataset.url, pcm, csrfToken, fetcher);
    dispatch({ type: "answer", outcome: outcomeOf(answer) });
    // Only if the person is still here: Start may have taken the page on meanwhile.
    if (!box.closest("[hidden]")) start.focus();
  }

  if (!supported) {
    // Nothing to offer here; a check made earlier in another browser still counts.
    render();
    start.hidden = true;
    if (!state.stored) status.textContent = WORDS.unsupported;
    return null;
  }
  start.addEventListener("click", () => {
    if (RESTING.has(state.name)) run();
  });
  stopButton.addEventListener("click", () => {
    if (!recording) return;
    dispatch({ type: "stop" });
    status.focus();
    recording.stop();
  });
  render();

  return {
    cancel() {
      if (!recording || state.name === "sending") return;
      recording.cancel();
      recording = null;
      dispatch({ type: "cancel" });
    },
  };
}
