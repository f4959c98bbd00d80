// A watchdog per channel, in the browser: notices a channel that has gone
// quiet (a muted call tab, a call in the desktop app instead of the browser,
// headphones, the wrong microphone) while the person can still fix it. Pure
// logic on the meter levels capture-audio.js reports, so it runs in node too.
//
// Two rules, per channel:
//   silent     digital silence (peak ~ 0) for SILENT_S seconds in a row: the
//              source gives nothing at all (a muted tab gives exact zeros);
//   one-sided  the other channel had ONE_SIDED_S seconds of sound while this
//              one had none: a live source that does not hear the voice.
// An alert clears as soon as the channel carries sound again.

export const SILENT_S = 10;
export const ONE_SIDED_S = 20;
// Below -80 dBFS is digital silence; above -50 dBFS is someone talking (or at
// least a sound worth recording). A quiet room sits between the two.
const SILENT_PEAK = 1e-4;
const SOUND_RMS = 0.003;
// Level reports come about 10 times a second; a gap longer than this (the tab
// in the background, a pause) does not count as time heard or not heard.
const MAX_STEP_S = 1;

export class ChannelWatchdog {
  constructor(channels) {
    this.channels = [...channels];
    this.reset();
  }

  /** Forget everything (after a pause, or a new source): each channel starts afresh. */
  reset() {
    this.silentFor = {};
    this.otherSoundSince = {}; // seconds of sound on the other channel since this one last had sound
    this.lastAt = {};
    this.alerts = {};
    for (const ch of this.channels) {
      this.silentFor[ch] = 0;
      this.otherSoundSince[ch] = 0;
      this.alerts[ch] = null;
    }
  }

  /**
   * A meter report: rms and peak of the last ~100 ms on `ch`, at time `t`
   * (seconds, any monotonic clock). Returns the channels whose alert changed.
   */
  level(ch, rms, peak, t) {
    if (!this.channels.includes(ch)) return [];
    const last = this.lastAt[ch];
    this.lastAt[ch] = t;
    const step = last === undefined ? 0 : t - last;
    if (step <= 0 || step > MAX_STEP_S) return [];
    if (peak < SILENT_PEAK) this.silentFor[ch] += step;
    else this.silentFor[ch] = 0;
    if (rms >= SOUND_RMS) {
      this.otherSoundSince[ch] = 0;
      for (const other of this.channels) if (other !== ch) this.otherSoundSince[other] += step;
    }
    return this.update();
  }

  update() {
    const changed = [];
    for (const ch of this.channels) {
      let alert = null;
      if (this.silentFor[ch] >= SILENT_S) alert = "silent";
      else if (this.channels.length > 1 && this.otherSoundSince[ch] >= ONE_SIDED_S) alert = "one-sided";
      if (alert !== this.alerts[ch]) {
        this.alerts[ch] = alert;
        changed.push(ch);
      }
    }
    return changed;
  }
}
