// Checks static/capture/voice-check.js: joining the worklet's PCM16 frames,
// what each server answer means, the block's states and what they show, the
// recorder (with a stand-in for openAudio: countdown, stop by time, Done,
// cancel by Start, the microphone always released), the request it makes, and
// the block wired to a minimal stand-in DOM.
// Run: node --test tests/js/   (or bash scripts/run-js-tests.sh)
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  BYTES_PER_SECOND,
  MIN_SEND_BYTES,
  WORDS,
  initVoiceCheck,
  initialState,
  joinFrames,
  outcomeOf,
  recordVoiceCheck,
  sendVoiceCheck,
  transition,
  viewOf,
} from "../../static/capture/voice-check.js";

const FRAME_BYTES = 6400; // 200 ms of 16 kHz PCM16, what pcm-worklet.js posts

function frame(fill) {
  return new Uint8Array(FRAME_BYTES).fill(fill).buffer;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A stand-in for capture-audio.js openAudio: records what was asked and lets the test play the worklet. */
function fakeOpen({ fail = null } = {}) {
  const seen = { opened: 0, closed: 0, flushed: 0, wantTab: null, callbacks: null };
  let release;
  const gate = new Promise((resolve) => (release = resolve));
  const open = (wantTab, callbacks) => {
    seen.opened++;
    seen.wantTab = wantTab;
    seen.callbacks = callbacks;
    if (fail) return Promise.reject(fail);
    return gate.then(() => ({
      flush: async () => {
        seen.flushed++;
        callbacks.onFrame(0, frame(0)); // the zero-padded last frame
      },
      close: () => seen.closed++,
    }));
  };
  return { open, seen, grant: () => release() };
}

function fakeTimers() {
  const timers = { pending: new Map(), next: 1 };
  timers.setTimeout = (fn, ms) => {
    const id = timers.next++;
    timers.pending.set(id, { fn, ms });
    return id;
  };
  timers.clearTimeout = (id) => timers.pending.delete(id);
  timers.fire = () => {
    for (const [id, { fn }] of timers.pending) {
      timers.pending.delete(id);
      fn();
    }
  };
  return timers;
}

// ---- pure parts ----

test("joinFrames: frames in order, whole samples, at most maxBytes", () => {
  const joined = joinFrames([frame(1), frame(2), frame(3)]);
  assert.equal(joined.length, 3 * FRAME_BYTES);
  assert.equal(joined[0], 1);
  assert.equal(joined[FRAME_BYTES], 2);
  assert.equal(joined[3 * FRAME_BYTES - 1], 3);

  const capped = joinFrames([frame(1), frame(2)], FRAME_BYTES + 101);
  assert.equal(capped.length, FRAME_BYTES + 100, "cut to an even length: never half a sample");
  assert.equal(capped[FRAME_BYTES + 99], 2);
  assert.equal(joinFrames([]).length, 0);
});

test("the limits match the server's: 16 kHz PCM16, 1.5 s of speech at least", () => {
  assert.equal(BYTES_PER_SECOND, 32000);
  assert.equal(MIN_SEND_BYTES, 48000);
});

test("outcomeOf: what each answer means", () => {
  assert.equal(outcomeOf(200), "done");
  assert.equal(outcomeOf(422), "too_short");
  assert.equal(outcomeOf(429), "rate_limited");
  assert.equal(outcomeOf(503), "unavailable");
  for (const status of [0, 400, 403, 404, 409, 413, 500]) assert.equal(outcomeOf(status), "error");
});

test("states: a check from start to done, then again", () => {
  let s = initialState({ seconds: 8 });
  assert.equal(s.name, "idle");
  let v = viewOf(s);
  assert.deepEqual([v.startLabel, v.startHidden, v.stopHidden, v.liveHidden, v.status], ["Read it now", false, true, true, ""]);

  s = transition(s, { type: "start" });
  assert.equal(s.name, "opening");
  v = viewOf(s);
  assert.equal(v.status, WORDS.opening);
  assert.ok(v.startHidden && v.stopHidden && !v.liveHidden);

  s = transition(s, { type: "opened" });
  s = transition(s, { type: "tick", left: 5.4 });
  v = viewOf(s);
  assert.equal(s.name, "recording");
  assert.equal(v.status, WORDS.recording);
  assert.equal(v.countdown, "6");
  assert.ok(!v.stopHidden && v.startHidden && !v.liveHidden);

  s = transition(s, { type: "stop" });
  assert.equal(s.name, "sending");
  assert.equal(viewOf(s).status, WORDS.sending);
  assert.ok(viewOf(s).startHidden && viewOf(s).liveHidden);

  s = transition(s, { type: "answer", outcome: "done" });
  v = viewOf(s);
  assert.equal(s.name, "done");
  assert.ok(s.stored && v.done);
  assert.equal(v.status, "Voice check done. Your recap will know which voice is yours.");
  assert.equal(v.tone, "ok");
  assert.equal(v.startLabel, "Do it again");

  s = transition(s, { type: "start" });
  assert.equal(s.name, "opening");
  assert.equal(viewOf(s).countdown, "8", "the countdown starts over");
});

test("states: too short, errors, and an earlier check that still counts", () => {
  const sending = (stored) => transition(transition(transition(initialState({ stored }), { type: "start" }), { type: "opened" }), { type: "stop" });

  let s = transition(sending(false), { type: "answer", outcome: "too_short" });
  assert.equal(s.name, "retry");
  assert.equal(viewOf(s).status, "We didn't catch enough of that. Try again, a little closer to the microphone.");
  assert.equal(viewOf(s).tone, "warn");
  assert.equal(viewOf(s).startLabel, "Try again");

  s = transition(sending(true), { type: "answer", outcome: "too_short" });
  assert.ok(s.stored, "a failed retry does not undo the check already kept");
  assert.match(viewOf(s).status, /earlier voice check still counts/);

  for (const outcome of ["rate_limited", "unavailable", "error"]) {
    s = transition(sending(false), { type: "answer", outcome });
    assert.equal(s.name, "failed");
    assert.match(viewOf(s).status, /optional/, `${outcome} says the check is optional`);
  }

  s = transition(transition(initialState(), { type: "start" }), { type: "fail", message: "Microphone access was turned down." });
  assert.equal(s.name, "failed");
  assert.equal(viewOf(s).status, "Microphone access was turned down.");
  assert.equal(transition(s, { type: "start" }).name, "opening", "and it can be tried again");
});

test("states: cancel goes back to where it was; stray events change nothing", () => {
  const recording = (stored) => transition(transition(initialState({ stored }), { type: "start" }), { type: "opened" });
  assert.equal(transition(recording(false), { type: "cancel" }).name, "idle");
  assert.equal(transition(recording(true), { type: "cancel" }).name, "done");

  const idle = initialState();
  for (const type of ["opened", "tick", "stop", "cancel", "answer", "fail", "nonsense"]) {
    assert.equal(transition(idle, { type, outcome: "done", left: 1 }), idle, type);
  }
  const sending = transition(recording(false), { type: "stop" });
  assert.equal(transition(sending, { type: "start" }), sending, "one check at a time");
  assert.equal(transition(sending, { type: "cancel" }), sending, "a check being sent is not taken back");
});

// ---- the recorder ----

test("recordVoiceCheck: microphone only, a countdown from the audio, stops by itself", async () => {
  const { open, seen, grant } = fakeOpen();
  const timers = fakeTimers();
  const ticks = [];
  const levels = [];
  let opened = 0;
  const rec = recordVoiceCheck({ seconds: 1, open, timers, onOpen: () => opened++, onTick: (left) => ticks.push(left), onLevel: (rms) => levels.push(rms) });
  assert.equal(seen.wantTab, false, "never asks for a tab");
  grant();
  await tick();
  assert.equal(opened, 1);
  assert.equal(timers.pending.size, 1, "a wall-clock guard while recording");

  seen.callbacks.onLevel({ ch: 0, rms: 0.1, peak: 0.2 });
  for (let i = 1; i <= 5; i++) seen.callbacks.onFrame(0, frame(i));
  const pcm = await rec.result;
  assert.deepEqual(levels, [0.1]);
  assert.deepEqual(ticks.map((t) => Math.round(t * 10) / 10), [0.8, 0.6, 0.4, 0.2, 0]);
  assert.equal(seen.flushed, 1);
  assert.equal(seen.closed, 1, "the microphone is released");
  assert.equal(timers.pending.size, 0);
  assert.equal(pcm.length, 6 * FRAME_BYTES, "five frames and the padded last one");
  assert.equal(pcm[0], 1);
  assert.equal(pcm[5 * FRAME_BYTES], 0);

  seen.callbacks.onFrame(0, frame(9)); // late frames are ignored
  await rec.stop();
  assert.equal(seen.flushed, 1);
});

test("recordVoiceCheck: Done stops early; the guard stops it when no audio comes", async () => {
  const a = fakeOpen();
  const rec = recordVoiceCheck({ seconds: 8, open: a.open, timers: fakeTimers() });
  a.grant();
  await tick();
  a.seen.callbacks.onFrame(0, frame(7));
  await rec.stop();
  assert.equal((await rec.result).length, 2 * FRAME_BYTES);
  assert.equal(a.seen.closed, 1);

  const b = fakeOpen();
  const timers = fakeTimers();
  const silent = recordVoiceCheck({ seconds: 8, open: b.open, timers });
  b.grant();
  await tick();
  assert.equal([...timers.pending.values()][0].ms, 11000);
  timers.fire();
  assert.equal((await silent.result).length, FRAME_BYTES);
  assert.equal(b.seen.closed, 1);

  const c = fakeOpen();
  const early = recordVoiceCheck({ seconds: 8, open: c.open, timers: fakeTimers() });
  early.stop(); // Done before the microphone was even open
  c.grant();
  await tick();
  assert.ok((await early.result) instanceof Uint8Array);
  assert.equal(c.seen.closed, 1);
});

test("recordVoiceCheck: cancel releases the microphone, even one still being asked for", async () => {
  const a = fakeOpen();
  const rec = recordVoiceCheck({ open: a.open, timers: fakeTimers() });
  a.grant();
  await tick();
  a.seen.callbacks.onFrame(0, frame(1));
  rec.cancel();
  assert.equal(await rec.result, null);
  assert.equal(a.seen.closed, 1);
  assert.equal(a.seen.flushed, 0);

  const b = fakeOpen();
  const asking = recordVoiceCheck({ open: b.open, timers: fakeTimers() });
  asking.cancel();
  assert.equal(await asking.result, null);
  b.grant();
  await tick();
  assert.equal(b.seen.closed, 1, "closed as soon as the browser hands it over");
});

test("recordVoiceCheck: the opener's error reaches the page with its words", async () => {
  const { open } = fakeOpen({ fail: new Error("Microphone access was turned down.") });
  const rec = recordVoiceCheck({ open, timers: fakeTimers() });
  await assert.rejects(rec.result, /turned down/);
});

// ---- the request ----

test("sendVoiceCheck: raw PCM with the CSRF header; no answer is status 0", async () => {
  const calls = [];
  const pcm = new Uint8Array([1, 2, 3, 4]);
  const status = await sendVoiceCheck("/capture/s/x/voice-check/", pcm, "tok", async (url, init) => {
    calls.push({ url, init });
    return { status: 422 };
  });
  assert.equal(status, 422);
  assert.equal(calls[0].url, "/capture/s/x/voice-check/");
  assert.equal(calls[0].init.method, "POST");
  assert.equal(calls[0].init.credentials, "same-origin");
  assert.equal(calls[0].init.headers["Content-Type"], "application/octet-stream");
  assert.equal(calls[0].init.headers["X-CSRFToken"], "tok");
  assert.equal(calls[0].init.body, pcm);

  assert.equal(await sendVoiceCheck("/x", pcm, "tok", async () => { throw new TypeError("offline"); }), 0);
});

// ---- the block on the page ----

class FakeElement extends EventTarget {
  constructor(id) {
    super();
    this.id = id;
    this.hidden = false;
    this.disabled = false;
    this.textContent = "";
    this.dataset = {};
    this.style = {};
    this.value = "";
  }
  focus() { FakeElement.focused = this.id; }
  click() { this.dispatchEvent(new Event("click")); }
  closest() { return null; }
  querySelector(selector) { return selector.includes("csrfmiddlewaretoken") ? { value: "csrf-tok" } : null; }
}

function fakePage({ done = false } = {}) {
  const ids = ["voice-check", "voice-check-start", "voice-check-stop", "voice-check-status", "voice-check-live", "voice-check-count", "voice-check-meter"];
  const els = Object.fromEntries(ids.map((id) => [id, new FakeElement(id)]));
  Object.assign(els["voice-check"].dataset, { url: "/capture/s/abc/voice-check/", seconds: "3", done: String(done) });
  return { doc: { getElementById: (id) => els[id] || null }, els };
}

test("the block: read, Done, sent, confirmed; then a retry that is too short", async () => {
  const { doc, els } = fakePage();
  const audio = fakeOpen();
  const posted = [];
  let answer = 200;
  const fetcher = async (url, init) => {
    posted.push({ url, init });
    return { status: answer };
  };
  const block = initVoiceCheck({ doc, open: audio.open, fetcher });
  assert.ok(block);
  assert.equal(els["voice-check-start"].textContent, "Read it now");
  assert.equal(els["voice-check-stop"].hidden, true);
  assert.equal(els["voice-check-live"].hidden, true);

  els["voice-check-start"].click();
  assert.equal(els["voice-check-status"].textContent, WORDS.opening);
  assert.equal(els["voice-check-start"].hidden, true);
  audio.grant();
  await tick();
  assert.equal(els["voice-check"].dataset.state, "recording");
  assert.equal(FakeElement.focused, "voice-check-stop", "focus moves to Done");
  for (let i = 0; i < 8; i++) audio.seen.callbacks.onFrame(0, frame(5));
  assert.equal(els["voice-check-count"].textContent, "2"); // 1.4 s left, rounded up
  audio.seen.callbacks.onLevel({ ch: 0, rms: 0.1 });
  assert.match(els["voice-check-meter"].style.transform, /^scaleX\(0\.6/);

  els["voice-check-stop"].click();
  await tick();
  await tick();
  assert.equal(posted.length, 1);
  assert.equal(posted[0].url, "/capture/s/abc/voice-check/");
  assert.equal(posted[0].init.headers["X-CSRFToken"], "csrf-tok");
  assert.equal(posted[0].init.body.length, 9 * FRAME_BYTES); // eight frames and the padded last one
  assert.equal(audio.seen.closed, 1);
  assert.equal(els["voice-check-status"].textContent, "Voice check done. Your recap will know which voice is yours.");
  assert.equal(els["voice-check-status"].dataset.tone, "ok");
  assert.equal(els["voice-check-start"].textContent, "Do it again");
  assert.equal(els["voice-check-start"].hidden, false);
  assert.equal(FakeElement.focused, "voice-check-start");

  // Again, answered 422.
  answer = 422;
  const again = fakeOpen();
  const page2 = fakePage({ done: true });
  initVoiceCheck({ doc: page2.doc, open: again.open, fetcher });
  assert.equal(page2.els["voice-check-start"].textContent, "Do it again");
  page2.els["voice-check-start"].click();
  again.grant();
  await tick();
  for (let i = 0; i < 15; i++) again.seen.callbacks.onFrame(0, frame(5)); // 3 s: it stops by itself
  await tick();
  await tick();
  assert.match(page2.els["voice-check-status"].textContent, /^We didn't catch enough of that\. Try again, a little closer to the microphone\. Your earlier voice check still counts\.$/);
  assert.equal(page2.els["voice-check-start"].textContent, "Try again");
});

test("the block: too little audio is not sent; Start cancels a check in progress", async () => {
  const { doc, els } = fakePage();
  const audio = fakeOpen();
  let posts = 0;
  const block = initVoiceCheck({ doc, open: audio.open, fetcher: async () => ({ status: 200 }, posts++) });
  els["voice-check-start"].click();
  audio.grant();
  await tick();
  els["voice-check-stop"].click(); // at once: one padded frame, 0.2 s
  await tick();
  await tick();
  assert.equal(posts, 0);
  assert.equal(els["voice-check"].dataset.state, "retry");

  const second = fakeOpen();
  const page = fakePage();
  const other = initVoiceCheck({ doc: page.doc, open: second.open, fetcher: async () => ({ status: 200 }) });
  page.els["voice-check-start"].click();
  second.grant();
  await tick();
  other.cancel(); // the Start button
  await tick();
  assert.equal(second.seen.closed, 1, "the microphone is let go before the recording opens it");
  assert.equal(page.els["voice-check"].dataset.state, "idle");
  assert.equal(page.els["voice-check-start"].hidden, false);
  block.cancel(); // nothing in progress: harmless
});

test("the block: absent on other pages; an unsupported browser is told", () => {
  assert.equal(initVoiceCheck({ doc: { getElementById: () => null } }), null);
  const { doc, els } = fakePage();
  assert.equal(initVoiceCheck({ doc, supported: false }), null);
  assert.equal(els["voice-check-start"].hidden, true);
  assert.equal(els["voice-check-status"].textContent, WORDS.unsupported);
});
