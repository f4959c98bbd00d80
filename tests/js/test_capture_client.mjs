// Protocol checks for static/capture/capture-client.js against a fake socket.
// Run: node tests/js/test_capture_client.mjs   (exits non-zero on failure)
import { CaptureClient, packFrame } from "../../static/capture/capture-client.js";

let failures = 0;
function check(ok, message) {
  console.log(`${ok ? "ok  " : "FAIL"}  ${message}`);
  if (!ok) failures++;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const sockets = [];
class FakeSocket {
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
  frames() {
    return this.sent.filter((d) => typeof d !== "string").map((d) => {
      const v = new DataView(d);
      return { version: v.getUint8(0), ch: v.getUint8(1), flags: v.getUint16(2, true), seq: v.getUint32(4, true), bytes: d.byteLength, first: v.getInt16(8, true) };
    });
  }
}

function frame(marker) {
  const buf = new ArrayBuffer(6400);
  new DataView(buf).setInt16(0, marker, true);
  return buf;
}

function newClient(channels = [0, 1]) {
  const c = new CaptureClient({ wsUrl: "ws://test/ws/capture/x/", WebSocketImpl: FakeSocket });
  c.channels = channels;
  const events = [];
  for (const type of ["state", "backlog", "progress", "done", "fatal", "commit", "speech"]) {
    c.addEventListener(type, (e) => events.push({ type, ...e.detail }));
  }
  return { c, events };
}

{
  const h = new Uint8Array(packFrame(1, 0x01020304, new ArrayBuffer(6400)));
  check(h.length === 6408 && [...h.slice(0, 8)].join() === [1, 1, 0, 0, 4, 3, 2, 1].join(), "header is <BBHI: version 1, channel, flags 0, seq little-endian");
}

{
  sockets.length = 0;
  const { c, events } = newClient();
  c.connect();
  for (let i = 0; i < 3; i++) { c.acceptFrame(0, frame(i)); c.acceptFrame(1, frame(100 + i)); }
  await sleep(5);
  const ws = sockets[0];
  check(JSON.stringify(ws.json()[0]) === JSON.stringify({ type: "hello", proto: 1, channels: [0, 1] }), "hello first, with channels");
  check(ws.frames().length === 0, "nothing sent before welcome");
  ws.serverSays({ type: "welcome", status: "recording", commit: { 0: -1, 1: -1 }, next: { 0: 0, 1: 0 } });
  const f = ws.frames();
  check(f.length === 4 && f.every((x) => x.bytes === 6408 && x.version === 1 && x.flags === 0), `burst of 2 per channel after welcome (sent ${f.length})`);
  check(f.map((x) => `${x.ch}:${x.seq}`).join() === "0:0,1:0,0:1,1:1", `channels interleaved in seq order (${f.map((x) => `${x.ch}:${x.seq}`).join()})`);
  await sleep(250);
  check(ws.frames().length === 6, "paced remainder goes out shortly after");
  check(events.some((e) => e.type === "state" && e.connection === "connected"), "state connected after welcome");

  ws.serverSays({ type: "commit", commit: { 0: 1, 1: 0 } });
  check(c.frames[0].size === 1 && c.frames[1].size === 2, `commit frees frames (kept ch0=${c.frames[0].size}, ch1=${c.frames[1].size})`);
  check(c.stats.committed[0] === 1 && c.stats.committed[1] === 0, "stats.committed follows commit");

  // Drop: the server lost frame 2 of ch0 (Redis restart) and wants it again.
  ws.serverCloses(1011);
  check(c.connection === "reconnecting", "reconnecting after 1011");
  c.acceptFrame(0, frame(3)); c.acceptFrame(1, frame(103));
  await sleep(600);
  const ws2 = sockets[1];
  check(Boolean(ws2) && ws2.json()[0].type === "hello", "reconnected within backoff (<= 0.5 s) and said hello");
  ws2.serverSays({ type: "welcome", status: "recording", commit: { 0: 1, 1: 0 }, next: { 0: 2, 1: 3 } });
  await sleep(250);
  const f2 = ws2.frames().map((x) => `${x.ch}:${x.seq}:${x.first}`);
  check(f2.join() === "0:2:2,0:3:3,1:3:103", `resend from next, lowest seq first (${f2.join()})`);

  ws2.serverSays({ type: "error", code: "seq_gap", ch: 0, expected: 2, detail: "" });
  await sleep(250);
  const f3 = ws2.frames().slice(3).map((x) => `${x.ch}:${x.seq}`);
  check(f3.join() === "0:2,0:3", `seq_gap resends from expected (${f3.join()})`);

  c.pause();
  c.acceptFrame(0, frame(4)); // in flight from the worklet when pause was pressed
  await sleep(250);
  check(ws2.json().at(-1).type === "pause" && ws2.frames().length === 5, "pause sent; no frames while paused");
  c.resume();
  await sleep(5);
  check(ws2.json().at(-1).type === "resume" && ws2.frames().at(-1).seq === 4, "resume sends the frame held back during pause");

  // Stop: remaining frames, then stop; a drop while ending resends and stops again.
  c.acceptFrame(0, frame(5)); c.acceptFrame(1, frame(104)); // ch0 seq 5, ch1 seq 4
  await c.stop();
  await sleep(250);
  const msgs = ws2.sent.map((d) => (typeof d === "string" ? JSON.parse(d).type : `f${new DataView(d).getUint8(1)}:${new DataView(d).getUint32(4, true)}`));
  check(msgs.at(-1) === "stop" && msgs.indexOf("stop") > msgs.lastIndexOf("f0:5") && msgs.indexOf("stop") > msgs.lastIndexOf("f1:4"), `stop after the last frames (${msgs.slice(-4).join(" ")})`);
  ws2.serverCloses(1006);
  await sleep(1100);
  const ws3 = sockets[2];
  ws3.serverSays({ type: "welcome", status: "ending", commit: { 0: 3, 1: 3 }, next: { 0: 5, 1: 4 } });
  await sleep(250);
  const m3 = ws3.sent.map((d) => (typeof d === "string" ? JSON.parse(d).type : `f${new DataView(d).getUint8(1)}:${new DataView(d).getUint32(4, true)}`));
  check(m3.join() === "hello,f1:4,f0:5,stop", `after a drop while ending: resend then stop again (${m3.join()})`);
  ws3.serverSays({ type: "progress", windows_left: 2 });
  ws3.serverSays({ type: "done", recap_url: "/recaps/abc/" });
  check(events.some((e) => e.type === "progress" && e.windowsLeft === 2), "progress event");
  check(events.some((e) => e.type === "done" && e.recapUrl === "/recaps/abc/") && c.connection === "closed", "done event, connection closed");
  await sleep(1100);
  check(sockets.length === 3, "no reconnect after done");
}

{
  // A reloaded page continues the server's numbering instead of restarting at 0.
  sockets.length = 0;
  const { c } = newClient([0]);
  c.acceptFrame(0, frame(7));
  c.connect();
  await sleep(5);
  sockets[0].serverSays({ type: "welcome", status: "recording", commit: { 0: 40 }, next: { 0: 50 } });
  check(sockets[0].frames()[0]?.seq === 50, "first frame of a reloaded page gets seq = next");
  c.shutdown();
}

{
  // Backlog warning past 10 minutes, still keeping every frame.
  const { c, events } = newClient([0]);
  for (let i = 0; i < 3001; i++) c.acceptFrame(0, frame(i));
  check(events.some((e) => e.type === "backlog" && e.over) && c.prelude[0].length === 3001, "backlog warning after 10 min unconfirmed, frames kept");
  c.shutdown();
}

{
  sockets.length = 0;
  const { c, events } = newClient([0]);
  c.connect();
  await sleep(5);
  sockets[0].serverCloses(4401);
  await sleep(700);
  const fatal = events.find((e) => e.type === "fatal");
  check(fatal?.code === 4401 && /sign in/i.test(fatal.message) && sockets.length === 1, "4401 is fatal: message, no reconnect");
}

{
  // Pacing: a 10 s backlog goes out at about 2x real time, not in one burst.
  sockets.length = 0;
  const { c } = newClient([0]);
  for (let i = 0; i < 50; i++) c.acceptFrame(0, frame(i));
  c.connect();
  await sleep(5);
  sockets[0].serverSays({ type: "welcome", status: "recording", commit: { 0: -1 }, next: { 0: 0 } });
  check(c.connection === "catching-up", "catching-up while resending a backlog");
  await sleep(1000);
  const n = sockets[0].frames().length;
  check(n >= 10 && n <= 13, `1 s after welcome: ${n} frames sent (2x real time = 10/s + burst 2)`);
  c.shutdown();
}

if (failures) {
  console.log(`\n${failures} check(s) failed`);
  process.exit(1);
}
console.log("\nall capture client checks passed");
process.exit(0);
