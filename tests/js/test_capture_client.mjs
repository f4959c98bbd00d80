// Protocol checks for static/capture/capture-client.js against a fake socket.
// Real timers on purpose: pacing reads Date.now(), which node's mock timers
// (node 20) do not move.
// Run: node --test tests/js/   (or bash scripts/run-js-tests.sh)
import { test } from "node:test";
import assert from "node:assert/strict";
import { memoryStorage } from "../../static/capture/backlog-store.js";
import { CaptureClient, packFrame } from "../../static/capture/capture-client.js";

// Browsers always have CustomEvent; node 18 (Debian 12's nodejs package)
// keeps it behind a flag, and the client emits its events with it.
globalThis.CustomEvent ??= class CustomEvent extends Event {
  constructor(type, options = {}) {
    super(type, options);
    this.detail = options.detail ?? null;
  }
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function fakeSocketClass(sockets) {
  return class FakeSocket {
    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.bufferedAmount = 0;
      this.sent = [];
      sockets.push(this);
      setTimeout(() => { this.readyState = 1; this.onopen?.(); }, 0);
    }
    send(data) { this.sent.push(data); }
    close(code = 1000) { if (this.readyState === 3) return; this.readyState = 3; setTimeout(() => this.onclose?.({ code }), 0); }
    // test helpers
    serverSays(msg) { this.onmessage?.({ data: JSON.stringify(msg) }); }
    serverCloses(code) { this.readyState = 3; this.onclose?.({ code }); }
    json() { return this.sent.filter((d) => typeof d === "string").map((d) => JSON.parse(d)); }
    // The binary messages, each split into its frames (a message carries 1 or 2).
    frames() {
      return this.sent.filter((d) => typeof d !== "string").flatMap((d) => {
        const v = new DataView(d);
        const count = (d.byteLength - 8) / 6400;
        return Array.from({ length: count }, (_, k) => ({
          version: v.getUint8(0), ch: v.getUint8(1), flags: v.getUint16(2, true), seq: v.getUint32(4, true) + k,
          bytes: 8 + 6400, first: v.getInt16(8 + 6400 * k, true), message: d,
        }));
      });
    }
    // Frames per binary message, in order.
    messageSizes() { return this.sent.filter((d) => typeof d !== "string").map((d) => (d.byteLength - 8) / 6400); }
    // Everything sent, in order: "hello", "stop", ... for text, "f<ch>:<seq>" for each frame.
    log() {
      return this.sent.flatMap((d) => {
        if (typeof d === "string") return [JSON.parse(d).type];
        const v = new DataView(d);
        return Array.from({ length: (d.byteLength - 8) / 6400 }, (_, k) => `f${v.getUint8(1)}:${v.getUint32(4, true) + k}`);
      });
    }
  };
}

function frame(marker) {
  const buf = new ArrayBuffer(6400);
  new DataView(buf).setInt16(0, marker, true);
  return buf;
}

// A client on fake sockets; shut down after the test so no timer outlives it.
function newClient(t, channels = [0, 1]) {
  const sockets = [];
  const c = new CaptureClient({ wsUrl: "ws://test/ws/capture/x/", WebSocketImpl: fakeSocketClass(sockets) });
  c.channels = channels;
  const events = [];
  for (const type of ["state", "backlog", "progress", "done", "fatal", "commit", "speech"]) {
    c.addEventListener(type, (e) => events.push({ type, ...e.detail }));
  }
  t.after(() => c.shutdown());
  return { c, events, sockets };
}

test("frame header is <BBHI: version 1, channel, flags 0, seq little-endian", () => {
  const h = new Uint8Array(packFrame(1, 0x01020304, new ArrayBuffer(6400)));
  assert.equal(h.length, 6408);
  assert.deepEqual([...h.slice(0, 8)], [1, 1, 0, 0, 4, 3, 2, 1]);
});

test("a two-channel session: send, commit, drop and resend, pause, stop, done", async (t) => {
  const { c, events, sockets } = newClient(t);
  c.connect();
  for (let i = 0; i < 3; i++) { c.acceptFrame(0, frame(i)); c.acceptFrame(1, frame(100 + i)); }
  await sleep(5);
  const ws = sockets[0];

  await t.test("hello first, with channels; nothing sent before welcome", () => {
    assert.deepEqual(ws.json()[0], { type: "hello", proto: 1, channels: [0, 1] });
    assert.equal(ws.frames().length, 0);
  });

  ws.serverSays({ type: "welcome", status: "recording", commit: { 0: -1, 1: -1 }, next: { 0: 0, 1: 0 } });

  await t.test("after welcome, one message of two frames per channel, channels in step", () => {
    const f = ws.frames();
    assert.deepEqual(f.map((x) => `${x.ch}:${x.seq}`), ["0:0", "0:1", "1:0", "1:1"]);
    assert.deepEqual(ws.messageSizes(), [2, 2]);
    assert.equal(f[0].message.byteLength, 8 + 2 * 6400);
    for (const x of f) assert.deepEqual([x.version, x.flags], [1, 0]);
  });

  await t.test("a lone frame waits for the next one rather than going alone; state connected", async () => {
    await sleep(250);
    assert.equal(ws.frames().length, 4, "frame 2 of each channel waits for frame 3");
    assert.ok(events.some((e) => e.type === "state" && e.connection === "connected"));
  });

  await t.test("commit frees kept frames and updates stats", () => {
    ws.serverSays({ type: "commit", commit: { 0: 1, 1: 0 } });
    assert.deepEqual([c.frames[0].size, c.frames[1].size], [1, 2]);
    assert.deepEqual([c.stats.committed[0], c.stats.committed[1]], [1, 0]);
  });

  // Drop: the server lost frame 2 of ch0 (Redis restart) and wants it again.
  let ws2;
  await t.test("reconnects within the first backoff (<= 0.5 s) after 1011 and says hello", async () => {
    ws.serverCloses(1011);
    assert.equal(c.connection, "reconnecting");
    c.acceptFrame(0, frame(3)); c.acceptFrame(1, frame(103));
    await sleep(600);
    ws2 = sockets[1];
    assert.ok(ws2, "a second socket was opened");
    assert.equal(ws2.json()[0].type, "hello");
  });

  await t.test("resends from the server's next, lowest seq first", async () => {
    ws2.serverSays({ type: "welcome", status: "recording", commit: { 0: 1, 1: 0 }, next: { 0: 2, 1: 3 } });
    await sleep(250);
    // Channel 1 has only frame 3 to send: it waits for the next one.
    assert.deepEqual(ws2.frames().map((x) => `${x.ch}:${x.seq}:${x.first}`), ["0:2:2", "0:3:3"]);
  });

  await t.test("seq_gap resends from expected", async () => {
    ws2.serverSays({ type: "error", code: "seq_gap", ch: 0, expected: 2, detail: "" });
    await sleep(250);
    assert.deepEqual(ws2.frames().slice(2).map((x) => `${x.ch}:${x.seq}`), ["0:2", "0:3"]);
  });

  await t.test("pause is sent; no frames while paused", async () => {
    c.pause();
    c.acceptFrame(0, frame(4)); // in flight from the worklet when pause was pressed
    await sleep(250);
    assert.equal(ws2.json().at(-1).type, "pause");
    assert.equal(ws2.frames().length, 4);
  });

  await t.test("after resume the frame held back during pause goes out with the next one", async () => {
    c.resume();
    await sleep(5);
    assert.equal(ws2.json().at(-1).type, "resume");
    assert.equal(ws2.frames().length, 4, "a lone frame still waits");
    c.acceptFrame(0, frame(5)); // ch0 seq 5
    await sleep(5);
    assert.deepEqual(ws2.frames().slice(4).map((x) => `${x.ch}:${x.seq}:${x.first}`), ["0:4:4", "0:5:5"]);
  });

  await t.test("stop sends the lone frames left, then stop", async () => {
    c.acceptFrame(1, frame(104)); // ch1 seq 4: with seq 3, a pair
    c.acceptFrame(0, frame(6)); // ch0 seq 6: alone, goes out only because of Stop
    await c.stop();
    await sleep(250);
    const log = ws2.log();
    assert.equal(log.at(-1), "stop");
    assert.ok(log.indexOf("stop") > log.lastIndexOf("f0:6"), log.slice(-4).join(" "));
    assert.equal(ws2.messageSizes().at(-1), 1, "the lone frame, alone");
    assert.ok(log.indexOf("stop") > log.lastIndexOf("f0:5"), log.slice(-4).join(" "));
    assert.ok(log.indexOf("stop") > log.lastIndexOf("f1:4"), log.slice(-4).join(" "));
  });

  let ws3;
  await t.test("after a drop while ending: resend, then stop again", async () => {
    ws2.serverCloses(1006);
    await sleep(1100);
    ws3 = sockets[2];
    assert.ok(ws3, "a third socket was opened");
    ws3.serverSays({ type: "welcome", status: "ending", commit: { 0: 3, 1: 3 }, next: { 0: 5, 1: 4 } });
    await sleep(250);
    assert.deepEqual(ws3.log(), ["hello", "f1:4", "f0:5", "f0:6", "stop"]);
  });

  await t.test("progress and done events; the connection closes and stays closed", async () => {
    ws3.serverSays({ type: "progress", windows_left: 2 });
    ws3.serverSays({ type: "done", recap_url: "/recaps/abc/" });
    assert.ok(events.some((e) => e.type === "progress" && e.windowsLeft === 2), "progress event");
    assert.ok(events.some((e) => e.type === "done" && e.recapUrl === "/recaps/abc/"), "done event");
    assert.equal(c.connection, "closed");
    // The recap exists: closing the tab is safe now, and late audio is ignored.
    assert.equal(c.hasUnsavedAudio, false);
    c.acceptFrame(0, frame(7));
    assert.equal(c.frames[0].has(7), false);
    await sleep(1100);
    assert.equal(sockets.length, 3, "no reconnect after done");
  });
});

test("a reloaded page continues the server's numbering instead of restarting at 0", async (t) => {
  const { c, sockets } = newClient(t, [0]);
  c.acceptFrame(0, frame(7));
  c.acceptFrame(0, frame(8));
  c.connect();
  await sleep(5);
  sockets[0].serverSays({ type: "welcome", status: "recording", commit: { 0: 40 }, next: { 0: 50 } });
  assert.deepEqual(sockets[0].frames().map((f) => [f.seq, f.first]), [[50, 7], [51, 8]]);
  // The timer continues from the server's figures too: 50 frames it holds plus the two new ones.
  assert.equal(c.recordedSeconds.toFixed(1), "10.4");
});

test("backlog warning after 10 minutes unconfirmed, every frame still kept", (t) => {
  const { c, events } = newClient(t, [0]);
  for (let i = 0; i < 3000; i++) c.acceptFrame(0, frame(i));
  assert.ok(!events.some((e) => e.type === "backlog"), "no warning at exactly 10 minutes");
  c.acceptFrame(0, frame(3000));
  assert.ok(events.some((e) => e.type === "backlog" && e.over), "warning past 10 minutes");
  assert.equal(c.prelude[0].length, 3001);
});

test("4401 is fatal: a sign-in message and no reconnect", async (t) => {
  const { c, events, sockets } = newClient(t, [0]);
  c.connect();
  await sleep(5);
  sockets[0].serverCloses(4401);
  await sleep(700);
  const fatal = events.find((e) => e.type === "fatal");
  assert.equal(fatal?.code, 4401);
  assert.match(fatal.message, /sign in/i);
  assert.equal(c.connection, "closed");
  assert.equal(sockets.length, 1);
});

test("a 10 s backlog goes out at about 2x real time, not in one burst", async (t) => {
  const { c, sockets } = newClient(t, [0]);
  for (let i = 0; i < 50; i++) c.acceptFrame(0, frame(i));
  c.connect();
  await sleep(5);
  sockets[0].serverSays({ type: "welcome", status: "recording", commit: { 0: -1 }, next: { 0: 0 } });
  assert.equal(c.connection, "catching-up");
  await sleep(1000);
  const n = sockets[0].frames().length;
  assert.ok(n >= 10 && n <= 13, `1 s after welcome: ${n} frames sent (2x real time = 10/s + burst 2)`);
});

test("after a reconnect the client's own pause state wins, and a stop from another device is followed", async (t) => {
  const { c, sockets } = newClient(t, [0]);
  c.connect();
  await sleep(5);
  c.pause(); // pressed before the server said welcome: nothing to tell it yet
  assert.deepEqual(sockets[0].json().map((m) => m.type), ["hello"]);
  sockets[0].serverSays({ type: "welcome", status: "recording", commit: {}, next: { 0: 0 } });
  assert.equal(sockets[0].json().at(-1).type, "pause");

  sockets[0].serverCloses(1006);
  c.resume(); // pressed while disconnected
  await sleep(600);
  assert.equal(sockets.length, 2, "reconnected");
  sockets[1].serverSays({ type: "welcome", status: "paused", commit: {}, next: { 0: 0 } });
  assert.equal(sockets[1].json().at(-1).type, "resume");

  sockets[1].serverSays({ type: "state", status: "ending" });
  await sleep(5);
  assert.equal(c.stopping, true);
  assert.equal(sockets[1].json().at(-1).type, "stop");
});

test("4408 (another tab took over): no reconnect, no loop; reclaim() numbers from the server's next", async (t) => {
  const { c, events, sockets } = newClient(t, [0]);
  c.addEventListener("elsewhere", () => events.push({ type: "elsewhere" }));
  c.connect();
  await sleep(5);
  sockets[0].serverSays({ type: "welcome", status: "recording", commit: { 0: -1 }, next: { 0: 0 } });
  for (let i = 0; i < 5; i++) c.acceptFrame(0, frame(i));
  sockets[0].serverCloses(4408);
  await sleep(1200); // past the first two backoffs
  assert.equal(sockets.length, 1, "the older tab waits to be asked");
  assert.equal(c.connection, "elsewhere");
  assert.ok(events.some((e) => e.type === "elsewhere"));
  assert.equal(c.hasUnsavedAudio, false, "no leave-page warning: the server queued what it acked");
  // reclaim() reopens the audio (a click in the page); here the audio is the test's frames.
  c.start = async () => c.connect();
  await c.reclaim();
  await sleep(5);
  assert.equal(sockets.length, 2);
  c.acceptFrame(0, frame(7));
  c.acceptFrame(0, frame(8));
  sockets[1].serverSays({ type: "welcome", status: "recording", commit: { 0: 9 }, next: { 0: 40 } });
  await sleep(5);
  assert.deepEqual(sockets[1].frames().map((f) => f.seq), [40, 41], "new audio continues after the other tab's");
  assert.equal(c.recordedSeconds, 42 * 0.2);
});

test("a reloaded page takes back the encrypted backlog: resends what the server lacks, numbers new audio after it", async (t) => {
  const storage = memoryStorage();
  const keyBase64 = Buffer.from(new Uint8Array(32).fill(7)).toString("base64url");
  // The first page: 6 frames, the server commits 0..1, then the page goes away before sending the rest.
  const first = newClient(t, [0]);
  await first.c.restore({ sessionId: "s1", keyBase64, storage });
  first.c.connect();
  await sleep(5);
  first.sockets[0].serverSays({ type: "welcome", status: "recording", commit: { 0: -1 }, next: { 0: 0 } });
  for (let i = 0; i < 6; i++) first.c.acceptFrame(0, frame(i));
  first.sockets[0].serverSays({ type: "commit", commit: { 0: 1 } });
  await first.c.backlog.flush();
  const stored = await storage.getAll("s1");
  assert.deepEqual(stored.map((r) => r.seq).sort(), [2, 3, 4, 5], "committed frames are deleted");
  for (const r of stored) {
    assert.equal(r.data.byteLength, 6400 + 16, "AES-GCM: the frame and its tag");
    assert.ok(!Buffer.from(r.data).subarray(0, 6400).equals(Buffer.from(frame(r.seq))), "kept encrypted");
  }

  // The reloaded page: the server holds up to 3 (queued at close); 4 and 5 exist only in the browser.
  const second = newClient(t, [0]);
  assert.equal(await second.c.restore({ sessionId: "s1", keyBase64, storage }), 4 * 0.2);
  second.c.connect();
  await sleep(5);
  second.c.acceptFrame(0, frame(100)); // new audio, made before the welcome numbers it
  second.c.acceptFrame(0, frame(101));
  second.sockets[0].serverSays({ type: "welcome", status: "recording", commit: { 0: 1 }, next: { 0: 4 } });
  await sleep(300);
  const sent = second.sockets[0].frames();
  assert.deepEqual(sent.map((f) => f.seq), [4, 5, 6, 7]);
  assert.deepEqual(sent.map((f) => f.first), [4, 5, 100, 101], "the kept audio itself, then the new frames after it");

  // Done: the backlog is cleared; a wrong key finds nothing (and removes what it cannot read).
  second.sockets[0].serverSays({ type: "done", recap_url: "/recaps/x/" });
  await second.c.backlog.flush();
  assert.equal((await storage.getAll("s1")).length, 0);
});

test("done with polishing keeps the socket open for 'polished', then closes it", async (t) => {
  const { c, events, sockets } = newClient(t, [0]);
  c.addEventListener("polished", () => events.push({ type: "polished" }));
  c.addEventListener("polishing", ({ detail }) => events.push({ type: "polishing", ...detail }));
  c.connect();
  await sleep(5);
  const ws = sockets[0];
  ws.serverSays({ type: "welcome", status: "ending", commit: { 0: -1 }, next: { 0: 0 } });
  ws.serverSays({ type: "done", recap_url: "/recaps/r/", polishing: true });
  assert.deepEqual(events.find((e) => e.type === "done"), { type: "done", recapUrl: "/recaps/r/", polishing: true });
  assert.notEqual(ws.readyState, 3, "still open for the final recap");
  ws.serverSays({ type: "polishing", step: 2, steps: 3 });
  assert.deepEqual(events.find((e) => e.type === "polishing"), { type: "polishing", step: 2, steps: 3 });
  assert.notEqual(ws.readyState, 3, "progress keeps it open");
  ws.serverSays({ type: "polished" });
  assert.ok(events.some((e) => e.type === "polished"));
  assert.equal(ws.readyState, 3);
  await sleep(700);
  assert.equal(sockets.length, 1, "no reconnect after either");
});

test("4503 before any welcome (busy at the door): no reconnect, the microphone let go, start() again retries", async (t) => {
  const { c, events, sockets } = newClient(t, [0]);
  c.addEventListener("busy", (e) => events.push({ type: "busy", ...e.detail }));
  let closed = 0;
  c.audio = { close: () => closed++, post: () => {} };
  c.connect();
  await sleep(5);
  c.acceptFrame(0, frame(1)); // made while the socket opened: not numbered, never sent
  sockets[0].serverCloses(4503);
  await sleep(1200); // past the first two backoffs
  assert.equal(sockets.length, 1, "a new session is not pushed at a busy server");
  assert.equal(c.connection, "busy");
  assert.equal(closed, 1, "the microphone is released");
  assert.equal(c.audio, null);
  assert.ok(events.some((e) => e.type === "busy" && e.message === "Undertone is busy, please try again in a minute."));
  assert.equal(c.finished, false);
  // "Try again" calls start() from the click; here the audio is the test's frames.
  c.start = async function () {
    if (this.audio || this.ws || this.finished) throw new Error("not startable");
    this.connect();
  };
  await c.start();
  await sleep(5);
  assert.equal(sockets.length, 2);
  c.acceptFrame(0, frame(2));
  c.acceptFrame(0, frame(3));
  sockets[1].serverSays({ type: "welcome", status: "recording", commit: { 0: -1 }, next: { 0: 0 } });
  await sleep(5);
  assert.deepEqual(sockets[1].frames().map((f) => [f.seq, f.first]), [[0, 2], [1, 3]], "only the retried recording's audio, from seq 0");
});

test("4503 after a welcome: the recording goes on and the client reconnects, keeping every frame", async (t) => {
  const { c, events, sockets } = newClient(t, [0]);
  c.addEventListener("busy", (e) => events.push({ type: "busy", ...e.detail }));
  c.connect();
  await sleep(5);
  sockets[0].serverSays({ type: "welcome", status: "recording", commit: { 0: -1 }, next: { 0: 0 } });
  for (let i = 0; i < 3; i++) c.acceptFrame(0, frame(i));
  await sleep(5);
  sockets[0].serverCloses(4503);
  c.acceptFrame(0, frame(3));
  await sleep(700);
  assert.equal(sockets.length, 2, "reconnected");
  assert.ok(!events.some((e) => e.type === "busy"));
  sockets[1].serverSays({ type: "welcome", status: "recording", commit: { 0: -1 }, next: { 0: 1 } });
  c.acceptFrame(0, frame(4));
  await sleep(300);
  assert.deepEqual(sockets[1].frames().map((f) => f.seq), [1, 2, 3, 4], "resent from the server's next");
  assert.equal(c.frames[0].size, 5, "kept until committed");
});
