// Checks the capture resampler and PCM framing (static/capture/resample.js).
// Run: node tests/js/test_resample.mjs   (exits non-zero on failure)
import { createResampler, createFramer, FRAME_SAMPLES } from "../../static/capture/resample.js";

let failures = 0;
function check(ok, message) {
  console.log(`${ok ? "ok  " : "FAIL"}  ${message}`);
  if (!ok) failures++;
}

function sine(rate, hz, seconds, amp = 0.5) {
  const x = new Float32Array(Math.round(rate * seconds));
  for (let i = 0; i < x.length; i++) x[i] = amp * Math.sin((2 * Math.PI * hz * i) / rate);
  return x;
}

// Feeds in 128-sample blocks, like an AudioWorklet render quantum.
function resampleInBlocks(rate, input, block = 128) {
  const r = createResampler(rate);
  const parts = [];
  for (let i = 0; i < input.length; i += block) parts.push(Float32Array.from(r.push(input.subarray(i, i + block))));
  parts.push(Float32Array.from(r.flush()));
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

// RMS over the middle of the signal (skips the filter's start/end transients).
function rmsMiddle(x) {
  const a = Math.floor(x.length * 0.2), b = Math.floor(x.length * 0.8);
  let s = 0;
  for (let i = a; i < b; i++) s += x[i] * x[i];
  return Math.sqrt(s / (b - a));
}

const db = (ratio) => 20 * Math.log10(ratio);

for (const rate of [48000, 44100, 96000, 22050, 16000]) {
  const input = sine(rate, 1000, 2);
  const out = resampleInBlocks(rate, input);
  const gain = rmsMiddle(out) / rmsMiddle(input);
  check(Math.abs(gain - 1) < 0.05, `${rate} Hz: 1 kHz sine keeps its amplitude (gain ${gain.toFixed(4)})`);
  const expected = Math.round((input.length * 16000) / rate);
  check(Math.abs(out.length - expected) < 200, `${rate} Hz: ${input.length} samples -> ${out.length} at 16 kHz (expected ~${expected})`);
}

// Passband/transition, for information: speech up to ~6 kHz is kept.
console.log("info  48 kHz response: " + [4000, 6000, 7000, 7500, 8000].map((hz) => {
  const input = sine(48000, hz, 1);
  return `${hz / 1000} kHz ${db(rmsMiddle(resampleInBlocks(48000, input)) / rmsMiddle(input)).toFixed(1)} dB`;
}).join(", "));

for (const [rate, hz] of [[48000, 12000], [44100, 12000], [48000, 9000], [44100, 15000], [96000, 20000]]) {
  const input = sine(rate, hz, 2);
  const out = resampleInBlocks(rate, input);
  const att = db(rmsMiddle(out) / rmsMiddle(input));
  check(att <= -30, `${rate} Hz: ${hz / 1000} kHz tone (above the 8 kHz Nyquist) attenuated ${att.toFixed(1)} dB`);
}

{
  // Block boundaries must not matter: same output for 128-sample blocks,
  // odd-sized blocks and one big block (state is carried across calls).
  const noisy = sine(44100, 440, 1);
  for (let i = 0; i < noisy.length; i++) noisy[i] += 0.1 * Math.sin(i * 0.37);
  const a0 = resampleInBlocks(44100, noisy, 128);
  const b0 = resampleInBlocks(44100, noisy, 77);
  const c0 = resampleInBlocks(44100, noisy, noisy.length);
  let maxDiff = 0;
  for (let i = 0; i < a0.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a0[i] - b0[i]), Math.abs(a0[i] - c0[i]));
  check(a0.length === b0.length && a0.length === c0.length && maxDiff < 1e-6, `44.1 kHz: output independent of block size (max diff ${maxDiff.toExponential(1)})`);

  const input = sine(44100, 440, 1);
  const a = resampleInBlocks(44100, input, 128);
  // No clicks: the first difference of a 440 Hz tone at 16 kHz is bounded by
  // 2*pi*440/16000*amp; a discontinuity at a block edge would exceed it.
  let maxStep = 0;
  for (let i = 200; i < a.length - 200; i++) maxStep = Math.max(maxStep, Math.abs(a[i] - a[i - 1] - (a[i - 1] - a[i - 2])));
  check(maxStep < 0.02, `44.1 kHz: smooth across blocks (max 2nd difference ${maxStep.toFixed(4)})`);
}

{
  const frames = [];
  const framer = createFramer((buf) => frames.push(buf));
  const r = createResampler(48000);
  const input = sine(48000, 1000, 1.07, 0.9); // 1.07 s -> 5 full frames + a partial
  for (let i = 0; i < input.length; i += 128) framer.push(r.push(input.subarray(i, i + 128)));
  framer.push(r.flush());
  const partial = framer.pending;
  framer.flush();
  check(frames.length === 6 && frames.every((f) => f.byteLength === FRAME_SAMPLES * 2),
    `framing: ${frames.length} frames, byte lengths ${[...new Set(frames.map((f) => f.byteLength))]} (3200 samples each)`);
  const last = new DataView(frames[5]);
  let tailZero = true;
  for (let i = partial; i < FRAME_SAMPLES; i++) if (last.getInt16(i * 2, true) !== 0) tailZero = false;
  check(partial > 0 && tailZero, `framing: last frame zero-padded after ${partial} samples`);

  const f = [];
  const fr = createFramer((buf) => f.push(buf), 4);
  fr.push(Float32Array.of(1, -1, 0.5, 2));
  const bytes = [...new Uint8Array(f[0])];
  check(JSON.stringify(bytes) === JSON.stringify([0xff, 0x7f, 0x00, 0x80, 0x00, 0x40, 0xff, 0x7f]),
    `PCM16 little-endian with clipping: ${bytes.map((b) => b.toString(16).padStart(2, "0")).join(" ")}`);
}

{
  // Cost check: 60 s of 48 kHz through the worklet path.
  const input = sine(48000, 1000, 60);
  const t0 = performance.now();
  resampleInBlocks(48000, input);
  const ms = performance.now() - t0;
  check(ms < 3000, `speed: 60 s of 48 kHz audio in ${ms.toFixed(0)} ms`);
}

if (failures) {
  console.log(`\n${failures} check(s) failed`);
  process.exit(1);
}
console.log("\nall resampler checks passed");
