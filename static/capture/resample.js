// Pure DSP for capture: band-limit, resample to 16 kHz, cut into PCM16 frames.
// No browser globals here, so the AudioWorklet (pcm-worklet.js) and the node
// test (tests/js/test_resample.mjs) run the very same code.

export const OUT_RATE = 16000;
// protocol.md: every frame is exactly 200 ms of 16 kHz mono PCM16.
export const FRAME_SAMPLES = 3200;

// Kaiser beta 8 gives about 80 dB of stopband: anything above 8 kHz that
// would fold back into speech is far below the microphone's own noise.
const KAISER_BETA = 8;
// Above this many fractional phases we round to the nearest of MAX_PHASES
// (timing error < 1/1024 sample, about -60 dB at 7 kHz) instead of
// storing a table row per exact phase.
const MAX_PHASES = 512;

function besselI0(x) {
  let sum = 1;
  let term = 1;
  const q = (x * x) / 4;
  for (let k = 1; k < 64 && term > sum * 1e-12; k++) {
    term *= q / (k * k);
    sum += term;
  }
  return sum;
}

function gcd(a, b) {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * Stateful band-limited resampler (Kaiser-windowed sinc, polyphase table).
 *
 * Why this design: the browser's native rate is 44.1 or 48 kHz (or anything
 * else), and the ratio to 16 kHz is often fractional (44100/16000 = 441/160).
 * One windowed-sinc kernel does both jobs at once: it is the anti-aliasing
 * low-pass (cutoff ~7 kHz, stopband from ~8 kHz = the new Nyquist) and the
 * fractional-delay interpolator. The step is kept as an exact integer
 * fraction, so there is no drift over a 3 h session, and the input history
 * is carried between calls, so 128-sample render blocks join without clicks.
 *
 * push(input) returns a Float32Array view that is only valid until the next
 * call (no allocation per audio block on the real-time thread).
 */
export function createResampler(inRate, { outRate = OUT_RATE, cutoffHz = 7000, halfWidthMs = 1.5 } = {}) {
  inRate = Math.round(inRate);
  if (!(inRate > 0)) throw new RangeError(`bad input rate ${inRate}`);
  const g = gcd(inRate, outRate);
  const step = inRate / g; // input advances step/den samples per output sample
  const den = outRate / g;
  // Cutoff in cycles per input sample; never above 45% of the lower Nyquist.
  const fc = Math.min(cutoffHz, 0.45 * Math.min(inRate, outRate)) / inRate;
  // Kernel length is set in time, so the transition band (~1.7 kHz wide
  // around the cutoff) is the same whatever the native rate is.
  const half = Math.max(8, Math.ceil((inRate * halfWidthMs) / 1000));
  const taps = 2 * half;
  const phases = Math.min(den, MAX_PHASES);
  const exact = phases === den;

  // Row p holds the kernel for an output instant p/phases of a sample after
  // the tap centre; each row is normalised to unity DC gain so that the
  // phase-to-phase gain never wobbles (which would add modulation noise).
  const table = new Float32Array((phases + 1) * taps);
  const i0Beta = besselI0(KAISER_BETA);
  for (let p = 0; p <= phases; p++) {
    const f = p / phases;
    let sum = 0;
    for (let j = 0; j < taps; j++) {
      const x = f + half - 1 - j; // distance (in input samples) from the output instant
      const r = x / half;
      const w = Math.abs(r) <= 1 ? besselI0(KAISER_BETA * Math.sqrt(1 - r * r)) / i0Beta : 0;
      const s = x === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * x) / (Math.PI * x);
      table[p * taps + j] = s * w;
      sum += s * w;
    }
    for (let j = 0; j < taps; j++) table[p * taps + j] /= sum;
  }

  // half-1 zeros of history so the first output is centred on input sample 0.
  let buf = new Float32Array(taps + 4096);
  let len = half - 1;
  let pos = 0; // buffer index of the first tap of the next output
  let frac = 0; // fractional position of the next output, in 1/den samples
  let out = new Float32Array(256);

  function push(input) {
    if (len + input.length > buf.length) {
      buf.copyWithin(0, pos, len); // drop history no future output needs
      len -= pos;
      pos = 0;
      if (len + input.length > buf.length) {
        const bigger = new Float32Array(2 * (len + input.length));
        bigger.set(buf.subarray(0, len));
        buf = bigger;
      }
    }
    buf.set(input, len);
    len += input.length;

    const maxOut = Math.ceil(((len - pos) * den) / step) + 2;
    if (out.length < maxOut) out = new Float32Array(2 * maxOut);
    let n = 0;
    while (pos + taps <= len) {
      const row = (exact ? frac : Math.round((frac * phases) / den)) * taps;
      let acc = 0;
      for (let j = 0; j < taps; j++) acc += buf[pos + j] * table[row + j];
      out[n++] = acc;
      frac += step;
      if (frac >= den) {
        const whole = Math.floor(frac / den);
        pos += whole;
        frac -= whole * den;
      }
    }
    return out.subarray(0, n);
  }

  return {
    push,
    // Pushes zeros through the kernel so the last real input comes out.
    flush: () => push(new Float32Array(half + 1)),
    inRate,
    outRate,
    taps,
    latencySamples: half,
  };
}

/**
 * Collects float samples into exactly FRAME_SAMPLES-long PCM16 little-endian
 * frames. onFrame receives a fresh ArrayBuffer each time, so the caller can
 * transfer it to another thread without copying.
 */
export function createFramer(onFrame, frameSamples = FRAME_SAMPLES) {
  let view = new DataView(new ArrayBuffer(frameSamples * 2));
  let fill = 0;

  function emit() {
    const buffer = view.buffer;
    view = new DataView(new ArrayBuffer(frameSamples * 2));
    fill = 0;
    onFrame(buffer);
  }

  return {
    push(samples) {
      for (let i = 0; i < samples.length; i++) {
        const s = samples[i] > 1 ? 1 : samples[i] < -1 ? -1 : samples[i];
        // DataView with littleEndian=true: the protocol is LE whatever the CPU is.
        view.setInt16(fill * 2, s < 0 ? Math.round(s * 32768) : Math.round(s * 32767), true);
        if (++fill === frameSamples) emit();
      }
    },
    // The last frame before stop is zero-padded to a full frame (protocol.md).
    // A new buffer is already zero-filled, so padding is just emitting it.
    flush() {
      if (fill === 0) return false;
      emit();
      return true;
    },
    get pending() {
      return fill;
    },
  };
}

/** RMS and peak over every `every` samples (1600 at 16 kHz = 10 per second). */
export function createLevelMeter(onLevel, every = OUT_RATE / 10) {
  let sumSq = 0;
  let peak = 0;
  let count = 0;
  return {
    push(samples) {
      for (let i = 0; i < samples.length; i++) {
        const s = samples[i];
        sumSq += s * s;
        const a = s < 0 ? -s : s;
        if (a > peak) peak = a;
        if (++count === every) {
          onLevel(Math.sqrt(sumSq / count), peak);
          sumSq = 0;
          peak = 0;
          count = 0;
        }
      }
    },
  };
}
