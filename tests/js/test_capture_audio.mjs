// Checks static/capture/capture-audio.js with stand-ins for the browser's
// media and Web Audio objects: which sources feed which worklet input, and
// that worklet messages reach the right callbacks (and, through them,
// CaptureClient). The real audio path is covered by the e2e tests.
// Run: node --test tests/js/   (or bash scripts/run-js-tests.sh)
import { test } from "node:test";
import assert from "node:assert/strict";
import { CaptureError, openAudio, tabAudioSupport } from "../../static/capture/capture-audio.js";
import { CaptureClient } from "../../static/capture/capture-client.js";

// Browsers always have CustomEvent; node 18 (Debian 12's nodejs package)
// keeps it behind a flag, and the client emits its events with it.
globalThis.CustomEvent ??= class CustomEvent extends Event {
  constructor(type, options = {}) {
    super(type, options);
    this.detail = options.detail ?? null;
  }
};

class FakeTrack extends EventTarget {
  constructor(kind) { super(); this.kind = kind; this.stopped = false; }
  stop() { this.stopped = true; }
}
class FakeStream {
  constructor(tracks) { this.tracks = tracks; }
  getTracks() { return this.tracks; }
  getAudioTracks() { return this.tracks.filter((t) => t.kind === "audio"); }
  getVideoTracks() { return this.tracks.filter((t) => t.kind === "video"); }
}
class FakePort {
  constructor(answerFlush) { this.posted = []; this.listeners = []; this.onmessage = null; this.answerFlush = answerFlush; }
  postMessage(msg) {
    this.posted.push(msg);
    if (msg.type === "flush" && this.answerFlush) queueMicrotask(() => this.fromWorklet({ type: "flushed" }));
  }
  addEventListener(type, fn) { if (type === "message") this.listeners.push(fn); }
  fromWorklet(data) {
    const e = { data };
    this.onmessage?.(e);
    for (const fn of this.listeners) fn(e);
  }
}

/**
 * Installs the browser globals openAudio uses. display: a FakeStream, or an
 * Error for a cancelled picker; mic: a FakeStream, or an Error to throw.
 */
function fakeBrowser(t, { display = null, mic = new FakeStream([new FakeTrack("audio")]), answerFlush = true } = {}) {
  const seen = { contexts: [], nodes: [], connections: [], modules: [], displayAsked: 0 };
  const saved = Object.fromEntries(["AudioContext", "AudioWorkletNode", "MediaStream", "navigator"].map((k) => [k, Object.getOwnPropertyDescriptor(globalThis, k)]));
  const define = (k, value) => Object.defineProperty(globalThis, k, { value, configurable: true, writable: true });
  define("MediaStream", FakeStream);
  define("AudioWorkletNode", class {
    constructor(ctx, name, options) { this.name = name; this.options = options; this.port = new FakePort(answerFlush); seen.nodes.push(this); }
  });
  define("AudioContext", class {
    constructor(options) { this.options = options; this.closed = false; seen.contexts.push(this); }
    resume() { return Promise.resolve(); }
    get audioWorklet() { return { addModule: async (url) => { seen.modules.push(String(url)); } }; }
    createMediaStreamSource(stream) { return { connect: (node, output, input) => seen.connections.push({ stream, node, input }) }; }
    close() { this.closed = true; return Promise.resolve(); }
  });
  define("navigator", {
    mediaDevices: {
      getDisplayMedia: () => { seen.displayAsked++; return display instanceof Error ? Promise.reject(display) : Promise.resolve(display); },
      getUserMedia: () => (mic instanceof Error ? Promise.reject(mic) : Promise.resolve(mic)),
    },
  });
  t.after(() => {
    for (const [k, d] of Object.entries(saved)) {
      if (d) Object.defineProperty(globalThis, k, d);
      else delete globalThis[k];
    }
  });
  return seen;
}

function recorder() {
  const calls = { frames: [], levels: [], notices: [] };
  return {
    calls,
    callbacks: {
      onFrame: (ch, buf) => calls.frames.push({ ch, buf }),
      onLevel: (detail) => calls.levels.push(detail),
      onNotice: (message) => calls.notices.push(message),
    },
  };
}

const named = (name) => Object.assign(new Error(name), { name });

test("tabAudioSupport: only desktop Chromium can share a tab's sound", () => {
  const chromium = { getDisplayMedia() {}, getSupportedConstraints: () => ({ suppressLocalAudioPlayback: true }) };
  const firefox = { getDisplayMedia() {}, getSupportedConstraints: () => ({}) };
  assert.deepEqual(tabAudioSupport({ userAgentData: { mobile: false }, mediaDevices: chromium }), { ok: true });
  assert.deepEqual(tabAudioSupport({ userAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/126", mediaDevices: chromium }), { ok: true });

  const phone = tabAudioSupport({ userAgentData: { mobile: true }, mediaDevices: chromium });
  assert.equal(phone.ok, false);
  assert.match(phone.reason, /Phones and tablets/);
  assert.equal(tabAudioSupport({ userAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)", mediaDevices: chromium }).ok, false);

  for (const mediaDevices of [firefox, undefined, { getSupportedConstraints: chromium.getSupportedConstraints }]) {
    const r = tabAudioSupport({ userAgent: "Mozilla/5.0 (X11; Linux x86_64)", mediaDevices });
    assert.equal(r.ok, false);
    assert.match(r.reason, /Chrome or Edge/);
  }
});

test("microphone only: one worklet input, frames and levels routed, flush and close", async (t) => {
  const seen = fakeBrowser(t);
  const { calls, callbacks } = recorder();
  const audio = await openAudio(false, callbacks);

  assert.deepEqual(audio.channels, [0]);
  assert.equal(audio.notice, "");
  assert.equal(seen.displayAsked, 0, "no tab picker for the microphone alone");
  assert.match(seen.modules[0], /\/pcm-worklet\.js$/);
  const node = seen.nodes[0];
  assert.equal(node.name, "pcm-capture");
  assert.deepEqual(node.options, { numberOfInputs: 1, numberOfOutputs: 0, processorOptions: { channels: [0] } });
  assert.deepEqual(seen.connections.map((c) => c.input), [0]);

  const buf = new ArrayBuffer(6400);
  node.port.fromWorklet({ type: "frame", ch: 0, buf });
  node.port.fromWorklet({ type: "level", ch: 0, rms: 0.25, peak: 0.5 });
  node.port.fromWorklet({ type: "flushed" });
  assert.equal(calls.frames.length, 1);
  assert.equal(calls.frames[0].ch, 0);
  assert.equal(calls.frames[0].buf, buf);
  assert.deepEqual(calls.levels, [{ ch: 0, rms: 0.25, peak: 0.5 }]);

  audio.post({ type: "pause" });
  await audio.flush();
  await Promise.all([audio.flush(), audio.flush()]);
  assert.deepEqual(node.port.posted.map((m) => m.type), ["pause", "flush"], "flush asks the worklet once");

  audio.close();
  assert.ok(seen.contexts[0].closed);
  assert.ok(seen.connections[0].stream.tracks.every((tr) => tr.stopped), "microphone released");
  assert.equal(node.port.onmessage, null);
});

test("flush resolves even when the worklet never answers (suspended context)", async (t) => {
  fakeBrowser(t, { answerFlush: false });
  const audio = await openAudio(false, recorder().callbacks);
  const t0 = Date.now();
  await audio.flush();
  const waited = Date.now() - t0;
  assert.ok(waited >= 1900 && waited < 4000, `resolved after ${waited} ms`);
  audio.close();
});

test("shared tab with sound: call audio on input 1, video stopped, notice when sharing ends", async (t) => {
  const video = new FakeTrack("video");
  const sound = new FakeTrack("audio");
  const seen = fakeBrowser(t, { display: new FakeStream([video, sound]) });
  const { calls, callbacks } = recorder();
  const audio = await openAudio(true, callbacks);

  assert.deepEqual(audio.channels, [0, 1]);
  assert.equal(audio.notice, "");
  assert.ok(video.stopped, "the tab's picture is not kept");
  assert.deepEqual(seen.nodes[0].options.processorOptions, { channels: [0, 1] });
  assert.equal(seen.nodes[0].options.numberOfInputs, 2);
  const byInput = Object.fromEntries(seen.connections.map((c) => [c.input, c.stream]));
  assert.deepEqual(byInput[1].tracks, [sound]);
  assert.ok(!byInput[0].tracks.includes(sound), "input 0 is the microphone");

  seen.nodes[0].port.fromWorklet({ type: "frame", ch: 1, buf: new ArrayBuffer(6400) });
  assert.equal(calls.frames[0].ch, 1);

  sound.dispatchEvent(new Event("ended"));
  assert.equal(calls.notices.length, 1);
  assert.match(calls.notices[0], /no longer shared/);
  audio.close();
  assert.ok(sound.stopped);
});

test("tab picker cancelled, or a tab without sound: microphone only, with a notice", async (t) => {
  await t.test("cancelled", async (t) => {
    fakeBrowser(t, { display: named("NotAllowedError") });
    const audio = await openAudio(true, recorder().callbacks);
    assert.deepEqual(audio.channels, [0]);
    assert.match(audio.notice, /No tab was shared/);
    audio.close();
  });
  await t.test("no sound", async (t) => {
    fakeBrowser(t, { display: new FakeStream([new FakeTrack("video")]) });
    const audio = await openAudio(true, recorder().callbacks);
    assert.deepEqual(audio.channels, [0]);
    assert.match(audio.notice, /Share tab audio/);
    audio.close();
  });
});

test("microphone refused: a CaptureError in words, and everything opened is released", async (t) => {
  const sound = new FakeTrack("audio");
  const seen = fakeBrowser(t, { display: new FakeStream([sound]), mic: named("NotAllowedError") });
  await assert.rejects(openAudio(true, recorder().callbacks), (err) => {
    assert.ok(err instanceof CaptureError);
    assert.match(err.message, /Microphone access was turned down/);
    return true;
  });
  assert.ok(sound.stopped, "the shared tab is released");
  assert.ok(seen.contexts[0].closed);
  assert.equal(seen.nodes.length, 0);
});

test("CaptureClient.start(): worklet frames become protocol frames, levels become events", async (t) => {
  const seen = fakeBrowser(t);
  const client = new CaptureClient({ wsUrl: "ws://test/", WebSocketImpl: class { send() {} close() {} } });
  t.after(() => client.shutdown());
  const levels = [];
  client.addEventListener("level", (e) => levels.push(e.detail));

  assert.deepEqual(await client.start(), { source: "mic", notice: "" });
  await assert.rejects(client.start(), CaptureError, "a second start is refused");

  const port = seen.nodes[0].port;
  port.fromWorklet({ type: "frame", ch: 0, buf: new ArrayBuffer(6400) });
  port.fromWorklet({ type: "frame", ch: 0, buf: new ArrayBuffer(6400) });
  port.fromWorklet({ type: "level", ch: 0, rms: 0.1, peak: 0.2 });
  assert.equal(client.prelude[0].length, 2, "frames kept until the server numbers them");
  assert.ok(Math.abs(client.recordedSeconds - 0.4) < 1e-9);
  assert.deepEqual(levels, [{ ch: 0, rms: 0.1, peak: 0.2 }]);

  client.pause();
  assert.deepEqual(port.posted.at(-1), { type: "pause" });
  await client.stop();
  assert.ok(port.posted.some((m) => m.type === "flush"), "stop flushes the worklet");
  assert.ok(seen.contexts[0].closed, "and closes the audio");
  assert.equal(client.audio, null);
});
