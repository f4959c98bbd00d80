// AudioWorklet: turns each connected source into 200 ms PCM16 frames at 16 kHz.
//
// One node with one input per source (input 0 = microphone, input 1 = call
// audio). Both channels are cut in the same render call, so frame `seq` means
// the same moment on both channels, and pause/flush hit both at once.
// `sampleRate` is the AudioContext's native rate (a global in this scope).
import { createResampler, createFramer, createLevelMeter } from "./resample.js";

class PcmCapture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { channels = [0] } = options.processorOptions || {};
    this.paused = false;
    this.done = false;
    this.mono = new Float32Array(128);
    this.lanes = channels.map((ch) => ({
      ch,
      resampler: createResampler(sampleRate),
      // Transfer, not copy: the buffer is 6.4 kB and we make 5 per second per channel.
      framer: createFramer((buf) => this.port.postMessage({ type: "frame", ch, buf }, [buf])),
      meter: createLevelMeter((rms, peak) => this.port.postMessage({ type: "level", ch, rms, peak })),
    }));
    this.port.onmessage = (e) => this.command(e.data);
  }

  command({ type }) {
    if (type === "pause") this.paused = true;
    else if (type === "resume") this.paused = false;
    else if (type === "flush") {
      // Stop: drain the filter, pad the partial frame with zeros, send it.
      for (const lane of this.lanes) {
        this.feed(lane, lane.resampler.flush());
        lane.framer.flush();
      }
      this.done = true;
      this.port.postMessage({ type: "flushed" });
    }
  }

  feed(lane, samples) {
    lane.framer.push(samples);
    lane.meter.push(samples);
  }

  process(inputs) {
    if (this.done) return false;
    // While paused, input is dropped, not buffered: paused time is not recorded
    // time (protocol.md: seq * 0.2 s counts recorded time only).
    if (this.paused) return true;
    for (let i = 0; i < this.lanes.length; i++) {
      const input = inputs[i] || [];
      // An input with no channels means its source is gone (for example the
      // person stopped sharing the tab). Feed silence so this channel keeps
      // time with the other one.
      const n = input.length ? input[0].length : 128;
      if (this.mono.length < n) this.mono = new Float32Array(n);
      const mono = this.mono.subarray(0, n);
      mono.fill(0);
      for (const data of input) for (let k = 0; k < n; k++) mono[k] += data[k];
      if (input.length > 1) for (let k = 0; k < n; k++) mono[k] /= input.length;
      const lane = this.lanes[i];
      this.feed(lane, lane.resampler.push(mono));
    }
    // true keeps the processor alive even when a source goes quiet.
    return true;
  }
}

registerProcessor("pcm-capture", PcmCapture);
