// Capture client: the capture WebSocket protocol (docs/protocol.md). Audio
// comes from capture-audio.js as finished frames; no UI here either:
// capture-page.js listens to the events this emits.
//
// The one promise this file keeps: no audio is lost. Every frame stays in
// memory until the server reports it *committed* (transcribed and stored),
// not merely received: a received frame still lives only in server memory or
// in Redis without persistence, and a restart there would lose it.

import { dropOtherSessions, openBacklog } from "./backlog-store.js";
import { CaptureError, openAudio } from "./capture-audio.js";

const FRAME_SECONDS = 0.2;
const FRAME_BYTES = 6400; // 3200 samples of PCM16
const HEADER_BYTES = 8;
const FRAMES_PER_SECOND = 1 / FRAME_SECONDS;
// Resend at most 2x real time per channel: the server closes with 4429 above
// 2.5x sustained. A burst of 2 frames keeps short windows under 2.5x too.
const SEND_RATE = 2 * FRAMES_PER_SECOND;
const SEND_BURST = 2;
// Two frames (400 ms) per message: the server's cost is per message, whatever
// it carries (docs/protocol.md). A lone frame waits for the next one, 200 ms
// later while recording, and goes alone only on Stop.
const FRAMES_PER_MESSAGE = 2;
// Keep the socket's own queue short, so a stalled network cannot release a
// big burst later, and pacing stays ours.
const MAX_BUFFERED = 4 * (HEADER_BYTES + FRAME_BYTES);
const BACKLOG_WARN_SECONDS = 10 * 60;
const CATCHING_UP_SECONDS = 1;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15000;
// An ack comes back for every message; silence this long while frames are out
// means the connection is dead even if the browser has not noticed yet.
const SILENT_SERVER_MS = 20000;
// Frames we no longer hold (an earlier page's, or already committed) are
// sent as silence if the server asks for them, so the session can still end.
const SILENCE = new ArrayBuffer(FRAME_BYTES);
const ALIGN_MAX_FRAMES = 30 * FRAMES_PER_SECOND;

const FATAL = {
  4401: "You are signed out. Sign in again on this device, then reopen this page.",
  4403: "This device can no longer record this session (it may have been unlinked).",
  4404: "We couldn't find this session.",
  4409: "This session has already finished.",
  4412: "Consent for this session hasn't been confirmed yet. Please go back and confirm it first.",
  4413: "This session reached the 3-hour limit, so recording has stopped.",
};

const STATUS_OF = { connecting: 1, connected: 1, reconnecting: 1, "catching-up": 1, closed: 1, elsewhere: 1, busy: 1 };
// Another socket of this session took over (docs/protocol.md): reconnecting
// by ourselves would take it back, and the two tabs would loop for ever.
const TAKEN_OVER = 4408;
// The web tier is busy (docs/protocol.md "Busy"). Before this page's first
// welcome the session has not started: nothing was sent, so the page stops
// its microphone and offers to try again. After one, the recording goes on
// (the server never closes a recording for load) and we reconnect as usual.
const BUSY = 4503;
export const BUSY_MESSAGE = "Undertone is busy, please try again in a minute.";

/**
 * The 8-byte header `<BBHI` (version 1, channel, flags 0, seq) + the payload:
 * one frame, or an array of consecutive frames starting at `seq`.
 */
export function packFrame(ch, seq, payload) {
  const payloads = Array.isArray(payload) ? payload : [payload];
  const size = payloads.reduce((sum, p) => sum + p.byteLength, 0);
  const bytes = new Uint8Array(HEADER_BYTES + size);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, 1);
  view.setUint8(1, ch);
  view.setUint16(2, 0, true);
  view.setUint32(4, seq, true);
  let at = HEADER_BYTES;
  for (const p of payloads) {
    bytes.set(new Uint8Array(p), at);
    at += p.byteLength;
  }
  return bytes.buffer;
}

/**
 * Events (detail in braces):
 *   state {connection}   connecting | connected | reconnecting | catching-up | closed | elsewhere
 *   elsewhere {}   another tab (or device) took this recording over; reclaim() takes it back
 *   level {ch, rms, peak}   ~10 per second per channel
 *   speech {ch, active}   the server's voice activity per channel
 *   recorded {seconds}   recorded time (pauses excluded)
 *   commit {seconds, committed}   audio safely transcribed and stored
 *   backlog {seconds, over}   over = uncommitted audio above 10 minutes
 *   progress {windowsLeft}   after stop
 *   done {recapUrl, polishing}   polishing: a "polished" event follows
 *   polishing {step, steps}   the language model is on model call step of steps
 *   polished {}   the language model's final recap replaced the first one (or could not)
 *   fatal {code, message}
 *   busy {message}   refused at the door (4503 before any welcome); start() again from a click retries
 *   status {status}   the server's session status ("ending" = stopped elsewhere)
 *   notice {message}   something changed that the person should know
 */
export class CaptureClient extends EventTarget {
  constructor({ wsPath, wsUrl, WebSocketImpl = globalThis.WebSocket } = {}) {
    super();
    this.wsUrl = wsUrl || `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${wsPath}`;
    this.WebSocketImpl = WebSocketImpl;
    this.channels = [0];
    this.frames = [new Map(), new Map()]; // seq -> ArrayBuffer, in seq order
    this.prelude = [[], []]; // frames made before the first welcome numbered them
    this.numbered = false;
    this.nextSeq = [0, 0]; // seq of the next frame we generate
    this.base = [0, 0]; // first seq this page generated
    this.cursor = [0, 0]; // next seq to send on this connection
    this.committed = [-1, -1];
    this.tokens = [SEND_BURST, SEND_BURST];
    this.tokensAt = 0;
    this.lastGap = [null, null];
    this.paused = false;
    this.stopping = false; // Stop pressed: finish sending, then send stop
    this.flushed = false; // the worklet's last frame is in
    this.stopSent = false; // on this connection
    this.finished = false; // done or fatal: no more reconnects
    this.elsewhere = false; // taken over by another tab: no reconnects until reclaim()
    this.source = "mic";
    this.ws = null;
    this.welcomed = false;
    this.everWelcomed = false;
    this.attempt = 0;
    this.retryTimer = null;
    this.pumpTimer = null;
    this.heartbeat = null;
    this.lastHeard = 0;
    this.sentSinceHeard = 0;
    this.connection = null;
    this.backlogOver = false;
    this.audio = null;
    this.audioChannels = []; // the channels the open audio sources feed
    // The encrypted copy of not-yet-committed frames in this browser (backlog-store.js), so a reload
    // loses nothing; restoredMax[ch] is the last seq a reloaded page found there (-1: none).
    this.backlog = null;
    this.restoredMax = [-1, -1];
    this.stats = { sentFrames: 0, acked: { 0: -1, 1: -1 }, committed: { 0: -1, 1: -1 }, backlogSeconds: 0 };
    if (typeof window !== "undefined") {
      window.__capture = this; // for end-to-end tests
      // Back online: retry now rather than at the end of a long backoff.
      window.addEventListener("online", () => this.retryTimer && this.connect());
    }
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  get recordedSeconds() {
    return (this.nextSeq[0] + this.prelude[0].length) * FRAME_SECONDS;
  }

  /** Opens the sources and the socket. Call directly from a click handler. */
  async start({ source = "mic" } = {}) {
    if (this.audio || this.ws || this.finished) throw new CaptureError("Recording has already started.");
    this.source = source;
    this.audio = await openAudio(source === "tab", {
      onFrame: (ch, buf) => this.acceptFrame(ch, buf),
      onLevel: (detail) => this.emit("level", detail),
      onNotice: (message) => this.emit("notice", { message }),
    });
    this.audioChannels = this.audio.channels;
    this.channels = this.withRestoredChannels(this.audio.channels);
    this.connect();
    return { source: this.channels.length === 2 ? "tab" : "mic", notice: this.audio.notice };
  }

  /**
   * Takes the recording back from the tab that took it over. Call directly
   * from a click handler (the tab picker needs the gesture). What this page
   * recorded before it let go is already queued on the server (the server
   * queues what a socket acked when another one takes over), so numbering
   * starts again from the server's `next` and the timer continues from there.
   */
  async reclaim() {
    if (!this.elsewhere || this.finished) return;
    this.elsewhere = false;
    this.frames = [new Map(), new Map()];
    this.restoredMax = [-1, -1];
    this.prelude = [[], []];
    this.numbered = false;
    this.nextSeq = [0, 0];
    this.paused = false;
    this.attempt = 0;
    try {
      await this.start({ source: this.source });
    } catch (err) {
      this.elsewhere = true;
      throw err;
    }
  }

  /** The call's tab again, on the same channel (from a click: the picker needs it). */
  async shareTabAgain() {
    if (!this.audio) throw new CaptureError("Recording isn't running in this tab.");
    await this.audio.shareTabAgain();
  }

  /** Another microphone on channel 0, without ending the session. */
  async useMicrophone(deviceId) {
    if (!this.audio) throw new CaptureError("Recording isn't running in this tab.");
    await this.audio.useMicrophone(deviceId);
  }

  /**
   * Opens this session's encrypted backlog in the browser and takes back what
   * an earlier page of the session left there (a reload, a closed tab, a
   * crash). Resolves to the seconds found (per the longest channel). Call
   * before start() or watch(); never rejects: without storage, nothing is kept.
   * `storage`: IndexedDB unless given (tests pass backlog-store's memoryStorage()).
   */
  async restore({ sessionId, keyBase64, storage }) {
    const keyBytes = keyBase64 ? base64UrlBytes(keyBase64) : null;
    this.backlog = await openBacklog({ sessionId, keyBytes, storage });
    keyBytes?.fill(0);
    if (!this.backlog.available) return 0;
    await dropOtherSessions(sessionId, storage);
    const found = await this.backlog.load();
    for (const { ch, seq, buf } of found) {
      if (ch !== 0 && ch !== 1) continue;
      this.frames[ch].set(seq, buf); // load() sorts by seq: Maps keep that order
      this.restoredMax[ch] = Math.max(this.restoredMax[ch], seq);
    }
    this.channels = this.withRestoredChannels(this.channels);
    return this.restoredSeconds;
  }

  withRestoredChannels(channels) {
    return [0, 1].filter((ch) => channels.includes(ch) || this.restoredMax[ch] >= 0);
  }

  get restoredSeconds() {
    return Math.max(0, ...[0, 1].map((ch) => (this.restoredMax[ch] >= 0 ? this.frames[ch].size : 0))) * FRAME_SECONDS;
  }

  /**
   * Page opened after Stop (session "ending"), or finishing from what a
   * reloaded page found in the backlog: no new audio; send what is kept,
   * stop, and wait for the recap.
   */
  watch() {
    this.stopping = true;
    this.flushed = true;
    this.connect();
  }

  pause() {
    if (this.paused || this.stopping || this.finished) return;
    this.paused = true;
    // The worklet stops generating, so seq does not advance while paused.
    if (this.audio) this.audio.post({ type: "pause" });
    if (this.welcomed) this.sendJson({ type: "pause" });
  }

  resume() {
    if (!this.paused || this.stopping || this.finished) return;
    this.paused = false;
    if (this.audio) this.audio.post({ type: "resume" });
    if (this.welcomed) this.sendJson({ type: "resume" });
    this.pump();
  }

  async stop() {
    if (this.stopping || this.finished) return;
    this.stopping = true;
    // The server drops frames while paused, and the last frames must land
    // before "stop", so leave the paused state first.
    if (this.paused && this.welcomed) this.sendJson({ type: "resume" });
    if (this.audio) {
      await this.audio.flush();
      this.audio.close();
      this.audio = null;
    }
    this.backlog?.flush(); // the last frames too: kept until the server commits them
    this.flushed = true;
    this.pump(); // sends what is left, then "stop"
  }

  // ---- frames from capture-audio.js ----

  acceptFrame(ch, buf) {
    if (this.finished) return;
    if (this.numbered) this.keep(ch, this.nextSeq[ch]++, buf);
    else this.prelude[ch].push(buf);
    this.emit("recorded", { seconds: this.recordedSeconds });
    this.updateBacklog();
    this.pump();
  }

  // A page reloaded mid-session joins audio the server already holds, so
  // numbering must continue from the server's `next`: restarting at 0 would
  // make the server drop our new audio as duplicates. Both channels start at
  // the same seq so seq * 0.2 s is the same moment on each; a channel that
  // lags a little is filled with silence (see frameAt). A long gap (the
  // earlier page recorded the microphone only) is not filled: sending that
  // much silence at 2x real time would hold up the real audio.
  // Frames a reloaded page found in the backlog keep their seqs, so new ones
  // start after them too; a channel with no live source now only resends.
  numberFrames(next) {
    const first = (ch) => Math.max(next[ch], this.restoredMax[ch] + 1);
    const live = this.channels.filter((ch) => this.audioChannels.includes(ch));
    const top = Math.max(0, ...live.map(first));
    for (const ch of this.channels) {
      const start = live.includes(ch) && top - first(ch) <= ALIGN_MAX_FRAMES ? top : first(ch);
      this.base[ch] = start;
      this.nextSeq[ch] = start;
      for (const buf of this.prelude[ch]) this.keep(ch, this.nextSeq[ch]++, buf);
      this.prelude[ch] = [];
    }
    this.numbered = true;
  }

  keep(ch, seq, buf) {
    this.frames[ch].set(seq, buf);
    this.backlog?.put(ch, seq, buf);
  }

  frameAt(ch, seq) {
    const buf = this.frames[ch].get(seq);
    if (buf) return buf;
    return seq < this.base[ch] || seq <= this.committed[ch] ? SILENCE : undefined;
  }

  // ---- socket ----

  connect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    if (this.finished || this.elsewhere) return;
    this.setConnection(this.everWelcomed ? "reconnecting" : "connecting");
    if (!this.heartbeat) this.heartbeat = setInterval(() => this.checkAlive(), 5000);
    let ws;
    try {
      ws = new this.WebSocketImpl(this.wsUrl);
    } catch {
      this.scheduleReconnect();
      return;
    }
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.welcomed = false;
    this.stopSent = false;
    ws.onopen = () => ws === this.ws && ws.send(JSON.stringify({ type: "hello", proto: 1, channels: this.channels }));
    ws.onmessage = (e) => ws === this.ws && typeof e.data === "string" && this.onText(e.data);
    ws.onclose = (e) => this.onClose(ws, e.code);
    // An error is always followed by a close event; that is where we act.
    ws.onerror = () => {};
  }

  sendJson(msg) {
    if (this.ws && this.ws.readyState === 1) this.ws.send(JSON.stringify(msg));
  }

  onText(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    this.lastHeard = Date.now();
    this.sentSinceHeard = 0;
    switch (msg.type) {
      case "welcome": return this.onWelcome(msg);
      case "ack": this.stats.acked[msg.ch] = Math.max(this.stats.acked[msg.ch] ?? -1, Number(msg.seq)); return;
      case "commit": return this.onCommit(msg.commit);
      case "speech": return this.emit("speech", { ch: msg.ch, active: Boolean(msg.active) });
      case "state": return this.onServerStatus(msg.status);
      case "progress": return this.emit("progress", { windowsLeft: msg.windows_left });
      case "done": return this.finish(msg.recap_url, Boolean(msg.polishing));
      case "polishing": return this.emit("polishing", { step: Number(msg.step), steps: Number(msg.steps) });
      case "polished": return this.polishedNow();
      case "error": return this.onServerError(msg);
      default:
    }
  }

  onWelcome({ status, commit = {}, next = {} }) {
    const n = [Number(next["0"] ?? 0), Number(next["1"] ?? 0)];
    this.onCommit(commit);
    if (!this.numbered) this.numberFrames(n);
    // The server holds everything before `next` (in memory or Redis); we
    // still keep it until commit, because a restart there can lose it, and
    // then a later welcome asks for it again.
    for (const ch of this.channels) this.cursor[ch] = n[ch];
    this.welcomed = true;
    this.everWelcomed = true;
    this.attempt = 0;
    this.tokens = [SEND_BURST, SEND_BURST];
    this.tokensAt = Date.now();
    // Our state is the truth: repeat what the server missed while we were apart.
    if (status === "paused" && (!this.paused || this.stopping)) this.sendJson({ type: "resume" });
    else if (status === "recording" && this.paused && !this.stopping) this.sendJson({ type: "pause" });
    else if (status === "ending" && !this.stopping) this.stop(); // stopped from another device
    this.pump(); // resends from `next`, then "stop" again if we are ending
  }

  onCommit(commit = {}) {
    let moved = false;
    for (const ch of [0, 1]) {
      const c = Number(commit[String(ch)]);
      if (!Number.isInteger(c) || c <= this.committed[ch]) continue;
      // Maps iterate in insertion order, which is seq order here.
      for (const seq of this.frames[ch].keys()) {
        if (seq > c) break;
        this.frames[ch].delete(seq);
      }
      this.committed[ch] = c;
      this.stats.committed[ch] = c;
      this.backlog?.commit(ch, c);
      moved = true;
    }
    if (!moved) return;
    // Captured = stored on every channel we record.
    const seconds = (Math.min(...this.channels.map((ch) => this.committed[ch])) + 1) * FRAME_SECONDS;
    this.emit("commit", { seconds, committed: { ...this.stats.committed } });
    this.updateBacklog();
  }

  onServerStatus(status) {
    this.emit("status", { status });
    if (status === "ending" && !this.stopping) this.stop();
  }

  onServerError(msg) {
    if (msg.code === "seq_gap" && this.channels.includes(msg.ch) && Number.isInteger(msg.expected)) {
      // Every frame sent past the gap produces the same error; rewind once.
      const last = this.lastGap[msg.ch];
      const now = Date.now();
      if (last && last.expected === msg.expected && now - last.at < 3000) return;
      this.lastGap[msg.ch] = { expected: msg.expected, at: now };
      this.cursor[msg.ch] = msg.expected;
      this.pump();
    } else if (msg.code === "paused") {
      // The server dropped a frame because it thinks we are paused. We cannot
      // tell which frame, so start over: the next welcome says exactly where
      // the server is, and we repeat our pause/resume state.
      if (this.ws) this.abandon(this.ws);
    }
    // Other codes mean a malformed frame (a bug); the server stays connected.
  }

  onClose(ws, code) {
    if (ws !== this.ws) return;
    this.ws = null;
    this.welcomed = false;
    clearTimeout(this.pumpTimer);
    if (this.finished) return;
    if (FATAL[code]) return this.fail(code);
    if (code === TAKEN_OVER && !this.stopping) return this.letGo();
    if (code === BUSY && !this.everWelcomed && !this.stopping) return this.turnedAway();
    this.scheduleReconnect();
  }

  // Refused at the door: the server has none of this page's audio, and the
  // frames made while the socket opened were never numbered or sent. Let go
  // of the microphone and wait for the person's "Try again" (start() again).
  turnedAway() {
    this.letGoOfTheMicrophone();
    this.prelude = [[], []];
    this.attempt = 0;
    this.setConnection("busy");
    this.emit("busy", { message: BUSY_MESSAGE });
  }

  // The other tab records from now on; this one stops its microphone (two
  // tabs recording the same voice help nobody) and waits to be asked back.
  letGo() {
    this.elsewhere = true;
    this.letGoOfTheMicrophone();
    this.setConnection("elsewhere");
    this.emit("elsewhere", {});
  }

  // No reconnect pending, no heartbeat, no microphone: what turnedAway() and letGo() share.
  letGoOfTheMicrophone() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    clearInterval(this.heartbeat);
    this.heartbeat = null;
    if (this.audio) this.audio.close();
    this.audio = null;
  }

  // 0.5 s doubling to 15 s, with jitter so that many browsers do not all
  // come back at the same instant after a server restart.
  scheduleReconnect() {
    this.setConnection("reconnecting");
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt++);
    this.retryTimer = setTimeout(() => this.connect(), delay / 2 + (Math.random() * delay) / 2);
  }

  // Drops a socket without waiting for its close handshake (a dead network
  // may never complete it) and reconnects.
  abandon(ws) {
    ws.onclose = ws.onmessage = ws.onopen = null;
    try {
      ws.close(4000, "reconnect");
    } catch {
      /* already closed */
    }
    this.onClose(ws, 1006);
  }

  checkAlive() {
    if (this.ws && this.welcomed && this.sentSinceHeard > 0 && Date.now() - this.lastHeard > SILENT_SERVER_MS) this.abandon(this.ws);
  }

  fail(code) {
    this.finished = true;
    // Signed out: the frames wait for a sign-in and a reload. Anything else ends the session here.
    if (code !== 4401) this.backlog?.clear();
    this.shutdown();
    this.setConnection("closed");
    this.emit("fatal", { code, message: FATAL[code] });
  }

  // polishing: a language model is writing the final recap; the socket stays
  // open for the "polished" message (no reconnect if it drops: the recap page
  // says the same).
  finish(recapUrl, polishing = false) {
    this.finished = true;
    this.backlog?.clear();
    const ws = this.ws;
    if (!polishing) {
      this.ws = null;
      if (ws) ws.close(1000);
    }
    this.shutdown();
    this.setConnection("closed");
    this.emit("done", { recapUrl, polishing });
  }

  polishedNow() {
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000);
    this.emit("polished", {});
  }

  shutdown() {
    clearTimeout(this.retryTimer);
    clearTimeout(this.pumpTimer);
    clearInterval(this.heartbeat);
    if (this.audio) this.audio.close();
    this.audio = null;
  }

  // ---- sending ----

  /**
   * Sends kept frames in seq order from each channel's cursor, paced, then
   * "stop" once everything is out after Stop. Live frames simply join the
   * end of the same queue, so they wait behind any catch-up.
   *
   * Called on every new frame, welcome and commit, not only from timers:
   * this tab usually sits in the background during a call, where browsers
   * slow timers to once a second or less, but worklet messages keep coming.
   */
  pump() {
    clearTimeout(this.pumpTimer);
    this.pumpTimer = null;
    const ws = this.ws;
    if (!ws || ws.readyState !== 1 || !this.welcomed) return;
    if (!this.paused || this.stopping) {
      const now = Date.now();
      for (const ch of [0, 1]) this.tokens[ch] = Math.min(SEND_BURST, this.tokens[ch] + ((now - this.tokensAt) / 1000) * SEND_RATE);
      this.tokensAt = now;
      let waitMs = 0;
      for (;;) {
        if (ws.bufferedAmount > MAX_BUFFERED) {
          waitMs = 50;
          break;
        }
        let pick = -1;
        let count = 0;
        for (const ch of this.channels) {
          const n = this.sendable(ch);
          if (n === 0) continue;
          if (this.tokens[ch] < n) {
            waitMs = Math.ceil(((n - this.tokens[ch]) / SEND_RATE) * 1000);
            continue;
          }
          if (pick < 0 || this.cursor[ch] < this.cursor[pick]) [pick, count] = [ch, n]; // keep channels in step
        }
        if (pick < 0) break;
        const seq = this.cursor[pick];
        const frames = [];
        for (let k = 0; k < count; k++) frames.push(this.frameAt(pick, seq + k));
        ws.send(packFrame(pick, seq, frames));
        this.tokens[pick] -= count;
        this.cursor[pick] += count;
        this.stats.sentFrames += count;
        this.sentSinceHeard++;
      }
      if (waitMs) this.pumpTimer = setTimeout(() => this.pump(), waitMs);
    }
    if (this.stopping && this.flushed && !this.stopSent && this.unsentFrames() === 0) {
      this.sendJson({ type: "stop" });
      this.stopSent = true;
    }
    this.refreshConnection();
  }

  /** Frames of `ch` to send in one message now: two, or on Stop a lone one; 0 to wait. */
  sendable(ch) {
    if (this.frameAt(ch, this.cursor[ch]) === undefined) return 0;
    if (this.frameAt(ch, this.cursor[ch] + 1) !== undefined) return FRAMES_PER_MESSAGE;
    return this.stopping ? 1 : 0;
  }

  unsentFrames() {
    return Math.max(0, ...this.channels.map((ch) => this.nextSeq[ch] - this.cursor[ch] + this.prelude[ch].length));
  }

  refreshConnection() {
    if (!this.welcomed) return;
    this.setConnection(this.unsentFrames() * FRAME_SECONDS > CATCHING_UP_SECONDS ? "catching-up" : "connected");
  }

  setConnection(connection) {
    if (connection === this.connection || !STATUS_OF[connection]) return;
    this.connection = connection;
    this.emit("state", { connection });
  }

  // We never drop audio; past 10 minutes unconfirmed we only say so, because
  // the person may want to stay on a better network before closing the tab.
  updateBacklog() {
    const frames = Math.max(0, ...this.channels.map((ch) => this.nextSeq[ch] + this.prelude[ch].length - 1 - this.committed[ch]));
    const seconds = frames * FRAME_SECONDS;
    this.stats.backlogSeconds = seconds;
    const over = seconds > BACKLOG_WARN_SECONDS;
    if (over !== this.backlogOver) {
      this.backlogOver = over;
      this.emit("backlog", { seconds, over });
    }
  }

  /** True while closing the tab would lose audio the server has not stored. */
  get hasUnsavedAudio() {
    // Taken over: what this page acked is queued on the server, and the other tab records now.
    return !this.finished && !this.elsewhere && (this.audio !== null || this.stats.backlogSeconds > 0);
  }
}

function base64UrlBytes(text) {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}
