// The per-channel watchdog (static/capture/capture-watchdog.js): pure logic on meter levels.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ChannelWatchdog, ONE_SIDED_S, SILENT_S } from "../../static/capture/capture-watchdog.js";

// Feeds `seconds` of 100 ms level reports; levels[ch] = [rms, peak]. Returns every change seen.
function feed(w, t0, seconds, levels) {
  const changes = [];
  let t = t0;
  for (let i = 0; i < seconds * 10; i++) {
    t += 0.1;
    for (const [ch, [rms, peak]] of Object.entries(levels)) {
      for (const c of w.level(Number(ch), rms, peak, t)) changes.push({ t, ch: c, alert: w.alerts[c] });
    }
  }
  return { t, changes };
}

const TALK = [0.05, 0.3];
const ROOM = [0.0005, 0.002]; // a quiet room: not silent, not sound
const ZERO = [0, 0];

test("a channel at digital silence for 10 s raises 'silent', and sound clears it", () => {
  const w = new ChannelWatchdog([0, 1]);
  let { t, changes } = feed(w, 0, SILENT_S - 1, { 0: TALK, 1: ZERO });
  assert.equal(w.alerts[1], null, "not before 10 s");
  ({ t, changes } = feed(w, t, 1.5, { 0: TALK, 1: ZERO }));
  assert.equal(w.alerts[1], "silent");
  assert.equal(changes.length, 1);
  assert.ok(changes[0].t >= SILENT_S && changes[0].t <= SILENT_S + 0.3, `raised at ${changes[0].t}`);
  ({ t } = feed(w, t, 0.2, { 0: TALK, 1: TALK }));
  assert.equal(w.alerts[1], null);
  assert.equal(w.alerts[0], null, "the talking channel never alerts");
});

test("a live but unhearing channel is 'one-sided' after 20 s of sound on the other", () => {
  const w = new ChannelWatchdog([0, 1]);
  feed(w, 0, ONE_SIDED_S - 1, { 0: ROOM, 1: TALK });
  assert.equal(w.alerts[0], null);
  feed(w, ONE_SIDED_S - 1, 1.5, { 0: ROOM, 1: TALK });
  assert.equal(w.alerts[0], "one-sided");
});

test("both quiet (a pause in the conversation) alerts nobody; one channel alone has no 'one-sided'", () => {
  const w = new ChannelWatchdog([0, 1]);
  feed(w, 0, 60, { 0: ROOM, 1: ROOM });
  assert.deepEqual(w.alerts, { 0: null, 1: null });
  const mic = new ChannelWatchdog([0]);
  feed(mic, 0, 60, { 0: ROOM });
  assert.equal(mic.alerts[0], null);
  feed(mic, 60, SILENT_S + 1, { 0: ZERO });
  assert.equal(mic.alerts[0], "silent", "a dead microphone is still noticed");
});

test("gaps in the reports (a background tab, a pause) do not count, and reset() starts afresh", () => {
  const w = new ChannelWatchdog([0, 1]);
  feed(w, 0, 5, { 0: TALK, 1: ZERO });
  feed(w, 100, 4.5, { 0: TALK, 1: ZERO }); // 95 s with no reports in between
  assert.equal(w.alerts[1], null, "5 + 4.5 s of silence, not 100");
  feed(w, 104.5, 5, { 0: TALK, 1: ZERO });
  assert.equal(w.alerts[1], "silent");
  w.reset();
  assert.equal(w.alerts[1], null);
});
