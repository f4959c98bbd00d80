// Runs static/capture/pcm-worklet.js in node with a stand-in for the
// AudioWorklet globals, feeding 128-sample render blocks as a browser would.
// Run: node --test tests/js/   (or bash scripts/run-js-tests.sh)
import { test } from "node:test";
import assert from "node:assert/strict";

let Processor;
globalThis.AudioWorkletProcessor = class {
  constructor() {
    this.port = { messages: [], postMessage(msg, transfer) { this.messages.push({ msg, transfer }); } };
  }
};
globalThis.registerProcessor = (name, cls) => { if (name === "pcm-capture") Processor = cls; };
// Imported once: the processor reads the `sampleRate` global when it is
// constructed, as in a browser, so one module serves every rate below.
await import("../../static/capture/pcm-worklet.js");

function tone(rate, hz, block, n, amp) {
  const out = new Float32Array(n);
  for (let k = 0; k < n; k++) out[k] = amp * Math.sin((2 * Math.PI * hz * (block * n + k)) / rate);
  return out;
}

function run(rate, seconds, { channels = [0], inputsFor }) {
  globalThis.sampleRate = rate;
  const p = new Processor({ processorOptions: { channels } });
  const blocks = Math.round((rate * seconds) / 128);
  for (let b = 0; b < blocks; b++) p.process(inputsFor(b));
  return p;
}

const frames = (p, ch) => p.port.messages.filter(({ msg }) => msg.type === "frame" && msg.ch === ch);
const levels = (p, ch) => p.port.messages.filter(({ msg }) => msg.type === "level" && msg.ch === ch);

test("the worklet registers as pcm-capture", () => {
  assert.equal(typeof Processor, "function");
});

for (const rate of [48000, 44100]) {
  test(`${rate} Hz: stereo microphone + a silent second input`, async (t) => {
    // 10 s of a stereo mic (same 1 kHz tone on both sides) and a silent second input.
    const p = run(rate, 10, {
      channels: [0, 1],
      inputsFor: (b) => { const s = tone(rate, 1000, b, 128, 0.5); return [[s, s], []]; },
    });

    await t.test("10 s gives about 50 frames on ch0 (the rest still pending)", () => {
      assert.ok([49, 50].includes(frames(p, 0).length), `${frames(p, 0).length} frames`);
    });
    await t.test("ch1 (no source) keeps time with silence", () => {
      assert.equal(frames(p, 1).length, frames(p, 0).length);
    });
    await t.test("every frame is 6400 bytes and transferred, not copied", () => {
      for (const { msg, transfer } of frames(p, 0)) {
        assert.equal(msg.buf.byteLength, 6400);
        assert.ok(transfer && transfer[0] === msg.buf, "buffer listed in the transfer list");
      }
    });
    await t.test("10 level messages per second", () => {
      const n = levels(p, 0).length;
      assert.ok(n >= 99 && n <= 100, `${n} level messages in 10 s`);
    });
    await t.test("stereo is averaged to mono at the same level", () => {
      const rms = levels(p, 0).at(-1).msg.rms;
      assert.ok(Math.abs(rms - 0.5 / Math.SQRT2) < 0.02, `rms ${rms.toFixed(3)}`);
    });
    await t.test("PCM16 peak is about half full scale", () => {
      const pcm = new DataView(frames(p, 0)[20].msg.buf);
      let peak = 0;
      for (let i = 0; i < 3200; i++) peak = Math.max(peak, Math.abs(pcm.getInt16(i * 2, true)));
      assert.ok(Math.abs(peak / 32767 - 0.5) < 0.03, `peak ${peak}`);
    });
    await t.test("the silent input has level 0", () => {
      assert.equal(levels(p, 1).at(-1).msg.rms, 0);
    });

    // Pause drops input; flush pads and posts the last frame, then "flushed".
    const before = frames(p, 0).length;
    await t.test("paused: no frames made", () => {
      p.port.onmessage({ data: { type: "pause" } });
      for (let b = 0; b < 1000; b++) p.process([[tone(rate, 1000, b, 128, 0.5)], []]);
      assert.equal(frames(p, 0).length, before);
    });
    await t.test("flush: the partial frame is zero-padded to 3200 samples on both channels", () => {
      p.port.onmessage({ data: { type: "resume" } });
      p.port.onmessage({ data: { type: "flush" } });
      const after = frames(p, 0).length;
      // Draining the filter may spill a few samples into one more frame.
      assert.ok(after >= before + 1 && after <= before + 2, `${after - before} more frames on ch0`);
      assert.equal(frames(p, 1).length, after);
      for (const { msg } of frames(p, 0)) assert.equal(msg.buf.byteLength, 6400);
    });
    await t.test("flush: then 'flushed'", () => {
      assert.equal(p.port.messages.at(-1).msg.type, "flushed");
    });
    await t.test("after flush the processor ends", () => {
      assert.equal(p.process([[new Float32Array(128)], []]), false);
    });
  });
}
