// Runs static/capture/pcm-worklet.js in node with a stand-in for the
// AudioWorklet globals, feeding 128-sample render blocks as a browser would.
// Run: node tests/js/test_pcm_worklet.mjs   (exits non-zero on failure)
let failures = 0;
function check(ok, message) {
  console.log(`${ok ? "ok  " : "FAIL"}  ${message}`);
  if (!ok) failures++;
}

let Processor;
globalThis.AudioWorkletProcessor = class {
  constructor() {
    this.port = { messages: [], postMessage(msg, transfer) { this.messages.push({ msg, transfer }); } };
  }
};
globalThis.registerProcessor = (name, cls) => { if (name === "pcm-capture") Processor = cls; };

async function load(rate) {
  globalThis.sampleRate = rate;
  await import("../../static/capture/pcm-worklet.js");
  return Processor;
}

function tone(rate, hz, block, n, amp) {
  const out = new Float32Array(n);
  for (let k = 0; k < n; k++) out[k] = amp * Math.sin((2 * Math.PI * hz * (block * n + k)) / rate);
  return out;
}

function run(Proc, rate, seconds, { channels = [0], inputsFor }) {
  const p = new Proc({ processorOptions: { channels } });
  const blocks = Math.round((rate * seconds) / 128);
  for (let b = 0; b < blocks; b++) p.process(inputsFor(b));
  return p;
}

const frames = (p, ch) => p.port.messages.filter(({ msg }) => msg.type === "frame" && msg.ch === ch);
const levels = (p, ch) => p.port.messages.filter(({ msg }) => msg.type === "level" && msg.ch === ch);

for (const rate of [48000, 44100]) {
  const Proc = await load(rate);
  // 10 s of a stereo mic (same 1 kHz tone on both sides) and a silent second input.
  const p = run(Proc, rate, 10, {
    channels: [0, 1],
    inputsFor: (b) => { const t = tone(rate, 1000, b, 128, 0.5); return [[t, t], []]; },
  });
  const f0 = frames(p, 0), f1 = frames(p, 1);
  check(f0.length === 49 || f0.length === 50, `${rate} Hz: 10 s -> ${f0.length} frames on ch0 (about 50, the rest still pending)`);
  check(f1.length === f0.length, `${rate} Hz: ch1 (no source) keeps time with silence: ${f1.length} frames`);
  check(f0.every(({ msg, transfer }) => msg.buf.byteLength === 6400 && transfer && transfer[0] === msg.buf), `${rate} Hz: every frame is 6400 bytes and transferred`);
  const lv = levels(p, 0);
  check(lv.length >= 99 && lv.length <= 100, `${rate} Hz: ${lv.length} level messages in 10 s (10 per second)`);
  const rms = lv.at(-1).msg.rms;
  check(Math.abs(rms - 0.5 / Math.SQRT2) < 0.02, `${rate} Hz: stereo averaged to mono keeps the level (rms ${rms.toFixed(3)})`);
  const pcm = new DataView(f0[20].msg.buf);
  let peak = 0;
  for (let i = 0; i < 3200; i++) peak = Math.max(peak, Math.abs(pcm.getInt16(i * 2, true)));
  check(Math.abs(peak / 32767 - 0.5) < 0.03, `${rate} Hz: PCM16 peak ${peak} (~0.5 full scale)`);
  check(levels(p, 1).at(-1).msg.rms === 0, `${rate} Hz: silent input has level 0`);

  // Pause drops input; flush pads and posts the last frame, then "flushed".
  const before = frames(p, 0).length;
  p.port.onmessage({ data: { type: "pause" } });
  for (let b = 0; b < 1000; b++) p.process([[tone(rate, 1000, b, 128, 0.5)], []]);
  check(frames(p, 0).length === before, "paused: no frames made");
  p.port.onmessage({ data: { type: "resume" } });
  p.port.onmessage({ data: { type: "flush" } });
  const after = frames(p, 0).length;
  // Draining the filter may spill a few samples into one more frame.
  check(after >= before + 1 && after <= before + 2 && frames(p, 1).length === after && frames(p, 0).every(({ msg }) => msg.buf.byteLength === 6400),
    `flush: the partial frame is zero-padded to 3200 samples (${after - before} more per channel)`);
  check(p.port.messages.at(-1).msg.type === "flushed", "flush: then 'flushed'");
  check(p.process([[new Float32Array(128)], []]) === false, "after flush the processor ends");
}

if (failures) {
  console.log(`\n${failures} check(s) failed`);
  process.exit(1);
}
console.log("\nall worklet checks passed");
