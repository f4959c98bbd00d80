// Checks for static/capture/backlog-store.js: the encrypted, reload-proof
// copy of the capture client's uncommitted frames. WebCrypto is node's
// (globalThis.crypto, node >= 18); storage is the module's in-memory adapter
// (node has no IndexedDB, which also exercises the "unavailable" path).
// Run: node --test tests/js/   (or bash scripts/run-js-tests.sh)
import { test } from "node:test";
import assert from "node:assert/strict";
import { dropOtherSessions, memoryStorage, openBacklog } from "../../static/capture/backlog-store.js";

const SID = "3f1c2b9e-0000-4000-8000-000000000001";
const OTHER = "3f1c2b9e-0000-4000-8000-000000000002";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function keyBytes(fill) {
  const k = new Uint8Array(32);
  if (fill === undefined) globalThis.crypto.getRandomValues(k);
  else k.fill(fill);
  return k;
}

// A 200 ms PCM16 frame whose bytes say which frame it is.
function frame(marker) {
  const bytes = new Uint8Array(6400);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (marker * 31 + i) & 0xff;
  return bytes.buffer;
}

const same = (a, b) => Buffer.from(a).equals(Buffer.from(b));
const keysOf = (storage, sessionId = SID) =>
  [...storage.records.values()].filter((r) => r.sessionId === sessionId).map((r) => `${r.ch}:${r.seq}`).sort();

// Counts putMany calls (the number of write transactions).
function countingStorage() {
  const storage = memoryStorage();
  storage.writes = [];
  const putMany = storage.putMany;
  storage.putMany = (records) => {
    storage.writes.push(records.length);
    return putMany(records);
  };
  return storage;
}

async function open(t, { key, storage = memoryStorage(), sessionId = SID, ...rest } = {}) {
  const backlog = await openBacklog({ sessionId, keyBytes: key, storage, ...rest });
  t.after(() => backlog.close());
  return backlog;
}

test("round trip across a reload: frames come back decrypted, sorted by ch then seq", async (t) => {
  const key = keyBytes();
  const storage = memoryStorage();
  const first = await open(t, { key, storage });
  assert.equal(first.available, true);
  first.put(1, 0, frame(100));
  first.put(0, 1, frame(1));
  first.put(0, 0, frame(0));
  first.put(1, 1, frame(101));
  await first.close();

  const second = await open(t, { key: new Uint8Array(key), storage });
  const frames = await second.load();
  assert.deepEqual(frames.map((f) => [f.ch, f.seq]), [[0, 0], [0, 1], [1, 0], [1, 1]]);
  for (const f of frames) {
    assert.ok(f.buf instanceof ArrayBuffer);
    assert.ok(same(f.buf, frame(f.ch * 100 + f.seq)), `frame ${f.ch}:${f.seq}`);
  }
});

test("the key bytes are not kept: zeroing them after open changes nothing", async (t) => {
  const key = keyBytes();
  const storage = memoryStorage();
  const copy = new Uint8Array(key);
  const backlog = await open(t, { key, storage });
  key.fill(0);
  backlog.put(0, 0, frame(7));
  await backlog.flush();
  const again = await open(t, { key: copy, storage });
  assert.equal((await again.load()).length, 1);
});

test("at rest: ciphertext, not the audio, and two puts of the same frame differ", async (t) => {
  const storage = memoryStorage();
  const backlog = await open(t, { key: keyBytes(), storage });
  const buf = frame(5);
  backlog.put(0, 0, buf);
  backlog.put(0, 1, buf);
  await backlog.flush();
  const [a, b] = await storage.getAll(SID);
  for (const r of [a, b]) {
    assert.equal(r.data.byteLength, 6400 + 16); // + the GCM tag
    assert.equal(r.iv.byteLength, 12);
    assert.ok(!same(r.data.slice(0, 6400), buf));
    assert.ok(!Buffer.from(r.data).includes(Buffer.from(buf).subarray(0, 64)), "no plaintext run");
  }
  assert.ok(!same(a.data, b.data));
  assert.ok(!same(a.iv, b.iv));
});

test("a record moved to another seq, channel or session fails to decrypt and load() drops it", async (t) => {
  const key = keyBytes();
  const storage = memoryStorage();
  const backlog = await open(t, { key, storage });
  for (let seq = 0; seq < 4; seq++) backlog.put(0, seq, frame(seq));
  await backlog.flush();
  const records = await storage.getAll(SID);
  const bySeq = (s) => records.find((r) => r.seq === s);
  // seq 1 overwritten with seq 0's record (a swap), seq 3's copied to seq 9 and
  // to channel 1, seq 2's copied into another session with the same key.
  await storage.putMany([
    { ...bySeq(0), seq: 1 },
    { ...bySeq(3), seq: 9 },
    { ...bySeq(3), ch: 1 },
    { ...bySeq(2), sessionId: OTHER },
  ]);

  const frames = await backlog.load();
  assert.deepEqual(frames.map((f) => [f.ch, f.seq]), [[0, 0], [0, 2], [0, 3]]);
  assert.ok(same(frames[1].buf, frame(2)));
  assert.deepEqual(keysOf(storage), ["0:0", "0:2", "0:3"]); // the bad ones are gone

  const other = await open(t, { key, storage, sessionId: OTHER });
  assert.deepEqual(await other.load(), []);
  assert.deepEqual(keysOf(storage, OTHER), []);
  assert.deepEqual(keysOf(storage), ["0:0", "0:2", "0:3"]);
});

test("commit deletes seq <= c on that channel only, saved and pending", async (t) => {
  const storage = memoryStorage();
  const backlog = await open(t, { key: keyBytes(), storage });
  for (let seq = 0; seq < 5; seq++) {
    backlog.put(0, seq, frame(seq));
    backlog.put(1, seq, frame(100 + seq));
  }
  await backlog.flush();
  await backlog.commit(0, 2);
  assert.deepEqual(keysOf(storage), ["0:3", "0:4", "1:0", "1:1", "1:2", "1:3", "1:4"]);

  // Pending frames the commit covers are never written; later ones are.
  backlog.put(1, 5, frame(105));
  backlog.put(1, 6, frame(106));
  await backlog.commit(1, 5);
  assert.deepEqual(backlog.pending.map((f) => f.seq), [6]); // not held in memory either
  await backlog.flush();
  assert.deepEqual(keysOf(storage), ["0:3", "0:4", "1:6"]);

  // A put at or below the commit mark is ignored; an older commit changes nothing.
  backlog.put(0, 1, frame(1));
  await backlog.commit(0, 1);
  await backlog.flush();
  assert.deepEqual(keysOf(storage), ["0:3", "0:4", "1:6"]);
  assert.deepEqual((await backlog.load()).map((f) => `${f.ch}:${f.seq}`), ["0:3", "0:4", "1:6"]);
});

test("a commit while a batch is being written still deletes it", async (t) => {
  const storage = memoryStorage();
  const backlog = await open(t, { key: keyBytes(), storage });
  backlog.put(0, 0, frame(0));
  backlog.put(0, 1, frame(1));
  const written = backlog.flush(); // encrypting now
  await backlog.commit(0, 1);
  await written;
  assert.deepEqual(keysOf(storage), []);
});

test("clear() removes this session only", async (t) => {
  const key = keyBytes();
  const storage = memoryStorage();
  const mine = await open(t, { key, storage });
  const theirs = await open(t, { key: keyBytes(), storage, sessionId: OTHER });
  mine.put(0, 0, frame(0));
  mine.put(1, 0, frame(1));
  theirs.put(0, 0, frame(2));
  mine.put(0, 1, frame(3)); // still pending at clear()
  await theirs.flush();
  await mine.clear();
  await mine.flush();
  assert.deepEqual(keysOf(storage), []);
  assert.deepEqual(keysOf(storage, OTHER), ["0:0"]);
  assert.equal(mine.available, true); // still usable
});

test("wrong key (rotated or deleted on the server): load() returns [] and the records are gone", async (t) => {
  const storage = memoryStorage();
  const before = await open(t, { key: keyBytes(1), storage });
  for (let seq = 0; seq < 3; seq++) before.put(0, seq, frame(seq));
  await before.close();
  assert.equal(keysOf(storage).length, 3);

  const after = await open(t, { key: keyBytes(2), storage });
  assert.deepEqual(await after.load(), []);
  assert.deepEqual(keysOf(storage), []);
});

test("a storage whose writes fail: available false, put() never throws, onError once", async (t) => {
  const storage = memoryStorage();
  storage.putMany = async () => {
    throw new DOMException("The quota has been exceeded.", "QuotaExceededError");
  };
  const errors = [];
  const backlog = await open(t, { key: keyBytes(), storage, onError: (e) => errors.push(e.name) });
  assert.equal(backlog.available, true);
  backlog.put(0, 0, frame(0));
  await backlog.flush();
  assert.equal(backlog.available, false);
  assert.match(backlog.reason, /QuotaExceededError/);
  assert.doesNotThrow(() => {
    for (let seq = 1; seq < 20; seq++) backlog.put(0, seq, frame(seq));
  });
  await backlog.flush();
  await backlog.commit(0, 5);
  assert.deepEqual(await backlog.load(), []);
  await backlog.clear();
  assert.deepEqual(errors, ["QuotaExceededError"]);
});

test("a storage that fails on every call: nothing rejects", async (t) => {
  const boom = async () => {
    throw new Error("broken");
  };
  const storage = { putMany: boom, getAll: boom, deleteRange: boom, deleteMany: boom, deleteSession: boom, listSessions: boom };
  const backlog = await open(t, { key: keyBytes(), storage });
  backlog.put(0, 0, frame(0));
  await backlog.commit(0, 0);
  assert.deepEqual(await backlog.load(), []);
  await backlog.clear();
  await backlog.close();
  assert.equal(backlog.available, false);
  assert.deepEqual(await dropOtherSessions(SID, storage), []);
});

test("no IndexedDB (node, like a browser that refuses it) or no usable key: a no-op backlog", async () => {
  assert.equal(globalThis.indexedDB, undefined);
  const cases = [
    await openBacklog({ sessionId: SID, keyBytes: keyBytes() }), // default storage: IndexedDB
    await openBacklog({ sessionId: SID, keyBytes: new Uint8Array(16), storage: memoryStorage() }),
    await openBacklog({ sessionId: SID, storage: memoryStorage() }),
    await openBacklog({ keyBytes: keyBytes(), storage: memoryStorage() }),
  ];
  for (const backlog of cases) {
    assert.equal(backlog.available, false);
    assert.equal(typeof backlog.reason, "string");
    assert.doesNotThrow(() => backlog.put(0, 0, frame(0)));
    await backlog.commit(0, 0);
    await backlog.flush();
    assert.deepEqual(await backlog.load(), []);
    await backlog.clear();
    await backlog.close();
  }
  assert.match(cases[0].reason, /IndexedDB/);
  assert.deepEqual(await dropOtherSessions(SID), []);
});

test("batching: puts are written in one transaction, on flush() or after flushMs", async (t) => {
  const storage = countingStorage();
  const backlog = await open(t, { key: keyBytes(), storage, flushMs: 150 });
  for (let seq = 0; seq < 10; seq++) {
    backlog.put(0, seq, frame(seq));
    backlog.put(1, seq, frame(seq));
  }
  await sleep(20);
  assert.deepEqual(storage.writes, []);
  await backlog.flush();
  assert.deepEqual(storage.writes, [20]);

  // The timer writes a batch by itself.
  for (let seq = 10; seq < 14; seq++) backlog.put(0, seq, frame(seq));
  await sleep(60);
  assert.deepEqual(storage.writes, [20]);
  await sleep(200);
  assert.deepEqual(storage.writes, [20, 4]);

  // A put that finds the batch older than flushMs writes it (background tabs'
  // timers can be slowed to once a minute, but frames keep coming).
  backlog.put(0, 14, frame(14));
  clearTimeout(backlog.timer); // as if the timer never fired
  await sleep(160);
  backlog.put(0, 15, frame(15));
  await backlog.queue;
  assert.deepEqual(storage.writes, [20, 4, 2]);
  assert.equal(keysOf(storage).length, 26);
});

test("the default batch interval is about 500 ms", async (t) => {
  const storage = countingStorage();
  const backlog = await open(t, { key: keyBytes(), storage });
  backlog.put(0, 0, frame(0));
  await sleep(350);
  assert.deepEqual(storage.writes, []);
  await sleep(300);
  assert.deepEqual(storage.writes, [1]);
});

test("close() writes what is pending, then ignores further calls", async (t) => {
  const storage = countingStorage();
  const backlog = await open(t, { key: keyBytes(), storage });
  backlog.put(0, 0, frame(0));
  await backlog.close();
  assert.deepEqual(storage.writes, [1]);
  assert.equal(backlog.available, false);
  backlog.put(0, 1, frame(1));
  await backlog.flush();
  assert.deepEqual(storage.writes, [1]);
  assert.deepEqual(await backlog.load(), []);
});

test("dropOtherSessions deletes other sessions' leftovers, sparing fresh ones", async (t) => {
  const storage = memoryStorage();
  const ids = ["old-1", "old-2", "fresh", SID];
  for (const sessionId of ids) {
    const b = await open(t, { key: keyBytes(), storage, sessionId });
    b.put(0, 0, frame(0));
    await b.close();
  }
  for (const r of storage.records.values()) if (r.sessionId.startsWith("old")) r.at -= 10 * 60_000;
  const dropped = await dropOtherSessions(SID, storage);
  assert.deepEqual(dropped.sort(), ["old-1", "old-2"]);
  assert.deepEqual((await storage.listSessions()).map((s) => s.sessionId).sort(), ["3f1c2b9e-0000-4000-8000-000000000001", "fresh"]);
  // graceMs 0: everything but the kept ones goes.
  assert.deepEqual(await dropOtherSessions([SID], storage, { graceMs: 0 }), ["fresh"]);
  assert.deepEqual(keysOf(storage), ["0:0"]);
});
