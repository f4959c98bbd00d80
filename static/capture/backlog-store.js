// Browser backlog: the capture client's not-yet-committed frames, kept in
// IndexedDB so that a page reload (or a crashed tab) does not lose audio the
// server has not stored yet. Encrypted at rest with AES-GCM under a
// per-session key that the server puts in the page and this module never
// stores (docs/browser-backlog.md).
//
// Nothing here may break recording: every failure (no IndexedDB, quota, a
// record that does not decrypt) turns into "not saved" (`available: false`)
// or "skipped", never into an exception in the caller's audio path.
//
// Storage adapter (openIndexedDbStorage() below; tests use memoryStorage()).
// Every method returns a promise; a record is
//   { sessionId: string, ch: number, seq: number, iv: Uint8Array(12), data: ArrayBuffer, at: ms }
// keyed by [sessionId, ch, seq] (a put replaces the record with the same key).
//   putMany(records)                 write all of them in one transaction; reject on failure
//   getAll(sessionId)                that session's records (any order)
//   deleteRange(sessionId, ch, maxSeq)   that session's records of channel ch with seq <= maxSeq
//   deleteMany(keys)                 keys: [[sessionId, ch, seq], ...]
//   deleteSession(sessionId)         all of that session's records
//   listSessions()                   [{ sessionId, lastWrite }]: the sessions with records, and
//                                    when each was last written (ms since epoch)
//   close()                          optional

const DB_NAME = "undertone-backlog";
const DB_VERSION = 1;
const STORE = "frames";
const KEY_PATH = ["sessionId", "ch", "seq"];
const OPEN_TIMEOUT_MS = 5000;
// Two channels at 5 frames/s each: ~10 records (64 KB) per write.
const FLUSH_MS = 500;
// Another tab may be recording another session right now; its records are
// fresh, a dead page's are not (see dropOtherSessions).
const OTHER_SESSION_GRACE_MS = 60_000;
const AAD_PREFIX = "undertone-backlog/v1";
const IV_BYTES = 12;
const encoder = new TextEncoder();

// Binds a ciphertext to its place: moved to another seq, channel or session,
// it no longer decrypts.
function aad(sessionId, ch, seq) {
  return encoder.encode(`${AAD_PREFIX}\0${sessionId}\0${ch}\0${seq}`);
}

function byKey(a, b) {
  return a.ch - b.ch || a.seq - b.seq;
}

const DONE = Promise.resolve();

/** The stand-in when nothing can be saved: same shape, does nothing, never throws. */
function unavailable(reason) {
  return {
    available: false,
    reason,
    put() {},
    commit: () => DONE,
    flush: () => DONE,
    load: async () => [],
    clear: () => DONE,
    close: () => DONE,
  };
}

/**
 * Opens this session's backlog. Never rejects: without WebCrypto, a usable
 * key or storage, it resolves to a no-op backlog whose `available` is false
 * (and `reason` says why).
 *
 * keyBytes: Uint8Array(32), imported as a non-extractable AES-GCM key; the
 * bytes are not kept (the caller may zero them once this resolves).
 * storage: an adapter (see the top of this file); default IndexedDB.
 * onError(err): called once when saving stops (a failed write: quota, ...).
 */
export async function openBacklog({ sessionId, keyBytes, storage, flushMs = FLUSH_MS, onError } = {}) {
  if (typeof sessionId !== "string" || !sessionId) return unavailable("no session id");
  if (!ArrayBuffer.isView(keyBytes) || keyBytes.byteLength !== 32) return unavailable("no key");
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return unavailable("no WebCrypto (not a secure context?)");
  let key;
  try {
    key = await subtle.importKey("raw", keyBytes, "AES-GCM", false, ["encrypt", "decrypt"]);
  } catch {
    return unavailable("the key could not be imported");
  }
  let ownStorage = false;
  if (!storage) {
    try {
      storage = await openIndexedDbStorage();
      ownStorage = true;
    } catch (err) {
      return unavailable(`IndexedDB is not available (${err?.name || err})`);
    }
  }
  return new Backlog({ sessionId, key, storage, ownStorage, flushMs, onError });
}

class Backlog {
  constructor({ sessionId, key, storage, ownStorage, flushMs, onError }) {
    this.sessionId = sessionId;
    this.key = key;
    this.storage = storage;
    this.ownStorage = ownStorage;
    this.flushMs = flushMs;
    this.onError = onError;
    this.reason = null;
    this.writable = true;
    this.closed = false;
    // Frames put since the last write: references to the caller's buffers,
    // not copies. Encrypted only when written.
    this.pending = [];
    this.pendingSince = 0;
    this.timer = null;
    this.committed = new Map(); // ch -> highest committed seq
    // Storage operations run one after another, in call order: a commit's
    // delete always runs after the write of the frames it covers.
    this.queue = DONE;
  }

  /** False once nothing more is being saved (closed, or a write failed). */
  get available() {
    return this.writable && !this.closed;
  }

  committedOf(ch) {
    return this.committed.get(ch) ?? -1;
  }

  enqueue(op) {
    const run = this.queue.then(op);
    this.queue = run.catch(() => {});
    return run;
  }

  fail(err) {
    if (this.writable) {
      this.writable = false;
      this.reason = `saving stopped (${err?.name || err})`;
      this.pending = [];
      clearTimeout(this.timer);
      this.timer = null;
      try {
        this.onError?.(err);
      } catch {
        /* the caller's problem, not the audio path's */
      }
    }
  }

  /**
   * Queues one frame; it is written, encrypted, with the next batch (within
   * ~flushMs). Synchronous and cheap; never throws. The buffer is held by
   * reference until then: do not modify it.
   */
  put(ch, seq, buf) {
    if (!this.writable || this.closed) return;
    try {
      if (!Number.isInteger(ch) || !Number.isInteger(seq) || seq < 0 || seq <= this.committedOf(ch)) return;
      this.pending.push({ ch, seq, buf });
      const now = Date.now();
      if (this.pending.length === 1) {
        this.pendingSince = now;
        this.timer = setTimeout(() => this.flush(), this.flushMs);
      } else if (now - this.pendingSince >= this.flushMs) {
        // A background tab's timers may run once a minute; frames keep coming.
        this.flush();
      }
    } catch (err) {
      this.fail(err);
    }
  }

  /** Writes what is pending. Resolves once it (and everything before) is written; never rejects. */
  flush() {
    clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    this.pending = [];
    if (!batch.length) return this.queue;
    return this.enqueue(() => this.write(batch));
  }

  async write(batch) {
    if (!this.writable) return;
    try {
      const at = Date.now();
      const live = batch.filter((f) => f.seq > this.committedOf(f.ch));
      if (!live.length) return;
      const records = await Promise.all(live.map((f) => this.seal(f, at)));
      await this.storage.putMany(records);
    } catch (err) {
      this.fail(err);
    }
  }

  async seal({ ch, seq, buf }, at) {
    const iv = globalThis.crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const data = await globalThis.crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: aad(this.sessionId, ch, seq) },
      this.key,
      buf,
    );
    return { sessionId: this.sessionId, ch, seq, iv, data, at };
  }

  /**
   * The server committed channel ch up to seq: deletes every saved frame of
   * that channel with seq <= seq, and drops pending ones. Never rejects.
   */
  commit(ch, seq) {
    if (this.closed || !Number.isInteger(ch) || !Number.isInteger(seq) || seq <= this.committedOf(ch)) return DONE;
    this.committed.set(ch, seq);
    this.pending = this.pending.filter((f) => f.ch !== ch || f.seq > seq);
    if (!this.pending.length) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    return this.enqueue(() => this.storage.deleteRange(this.sessionId, ch, seq)).catch((err) => this.fail(err));
  }

  /**
   * This session's saved frames, decrypted: [{ch, seq, buf}] sorted by ch,
   * then seq. Records that do not decrypt (another key, moved, damaged) are
   * deleted and skipped. Writes what is pending first. Never rejects.
   */
  load() {
    if (this.closed) return Promise.resolve([]);
    this.flush();
    return this.enqueue(async () => {
      const records = await this.storage.getAll(this.sessionId);
      records.sort(byKey);
      const frames = [];
      const bad = [];
      for (let i = 0; i < records.length; i++) {
        const r = records[i];
        records[i] = null; // let each ciphertext go once decrypted
        if (!Number.isInteger(r?.ch) || !Number.isInteger(r.seq)) {
          if (r) bad.push([r.sessionId, r.ch, r.seq]);
          continue;
        }
        if (r.seq <= this.committedOf(r.ch)) continue; // its commit's delete is queued
        try {
          const buf = await globalThis.crypto.subtle.decrypt(
            { name: "AES-GCM", iv: r.iv, additionalData: aad(this.sessionId, r.ch, r.seq) },
            this.key,
            r.data,
          );
          frames.push({ ch: r.ch, seq: r.seq, buf });
        } catch {
          bad.push([r.sessionId, r.ch, r.seq]);
        }
      }
      if (bad.length) await this.storage.deleteMany(bad).catch((err) => this.fail(err));
      return frames;
    }).catch((err) => {
      this.fail(err);
      return [];
    });
  }

  /** Deletes everything of this session, saved and pending. Never rejects. */
  clear() {
    clearTimeout(this.timer);
    this.timer = null;
    this.pending = [];
    return this.enqueue(() => this.storage.deleteSession(this.sessionId)).catch((err) => this.fail(err));
  }

  /** Writes what is pending, then stops: later calls do nothing. Never rejects. */
  async close() {
    if (this.closed) return this.queue;
    const written = this.flush();
    this.closed = true;
    await written;
    if (this.ownStorage) {
      try {
        await this.storage.close?.();
      } catch {
        /* closing is best effort */
      }
    }
  }
}

/**
 * Deletes the saved frames of every session other than `keep` (a session id
 * or a list of them), so that a finished session's leftovers do not linger.
 * Sessions written in the last graceMs are spared: another tab may be
 * recording one right now. Resolves to the ids deleted; never rejects.
 */
export async function dropOtherSessions(keep, storage, { graceMs = OTHER_SESSION_GRACE_MS, now = Date.now() } = {}) {
  const kept = new Set([keep].flat());
  let own = false;
  try {
    if (!storage) {
      storage = await openIndexedDbStorage();
      own = true;
    }
    const dropped = [];
    for (const { sessionId, lastWrite } of await storage.listSessions()) {
      if (kept.has(sessionId) || now - (Number(lastWrite) || 0) < graceMs) continue;
      await storage.deleteSession(sessionId);
      dropped.push(sessionId);
    }
    return dropped;
  } catch {
    return [];
  } finally {
    if (own) {
      try {
        await storage?.close?.();
      } catch {
        /* best effort */
      }
    }
  }
}

// ---- storage adapters ----

// IndexedDB key ranges over [sessionId, ch, seq]: a shorter array sorts
// before every longer one it starts, and an array after every number.
function sessionRange(sessionId) {
  return IDBKeyRange.bound([sessionId], [sessionId, []]);
}

/**
 * The IndexedDB adapter: database "undertone-backlog", object store "frames"
 * with keyPath [sessionId, ch, seq]. Rejects where IndexedDB cannot be used
 * (missing, refused in private mode, or not opening within timeoutMs).
 */
export function openIndexedDbStorage({ name = DB_NAME, idb = globalThis.indexedDB, timeoutMs = OPEN_TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    if (!idb) return reject(new Error("no IndexedDB"));
    let req;
    try {
      req = idb.open(name, DB_VERSION);
    } catch (err) {
      return reject(err);
    }
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(new Error("IndexedDB did not open"));
    }, timeoutMs);
    req.onupgradeneeded = () => {
      const db = req.result;
      if (!db.objectStoreNames.contains(STORE)) db.createObjectStore(STORE, { keyPath: KEY_PATH });
    };
    req.onerror = () => {
      clearTimeout(timer);
      if (!settled) reject(req.error);
      settled = true;
    };
    req.onsuccess = () => {
      clearTimeout(timer);
      const db = req.result;
      if (settled) return db.close(); // too late: the caller went on without it
      settled = true;
      // A newer version of this page wants to upgrade: let it.
      db.onversionchange = () => db.close();
      resolve(indexedDbAdapter(db));
    };
  });
}

function indexedDbAdapter(db) {
  // Runs fn(store) in one transaction; resolves with what fn's returned
  // getter says once the transaction is complete (so writes are durable).
  const tx = (mode, fn) =>
    new Promise((resolve, reject) => {
      let t;
      let result;
      try {
        t = db.transaction(STORE, mode);
        result = fn(t.objectStore(STORE));
      } catch (err) {
        return reject(err);
      }
      t.oncomplete = () => resolve(result?.());
      t.onabort = () => reject(t.error || new DOMException("transaction aborted", "AbortError"));
    });
  return {
    putMany: (records) =>
      tx("readwrite", (store) => {
        for (const r of records) store.put(r);
      }),
    getAll: (sessionId) =>
      tx("readonly", (store) => {
        const req = store.getAll(sessionRange(sessionId));
        return () => req.result;
      }),
    deleteRange: (sessionId, ch, maxSeq) =>
      tx("readwrite", (store) => {
        store.delete(IDBKeyRange.bound([sessionId, ch], [sessionId, ch, maxSeq]));
      }),
    deleteMany: (keys) =>
      tx("readwrite", (store) => {
        for (const k of keys) store.delete(k);
      }),
    deleteSession: (sessionId) =>
      tx("readwrite", (store) => {
        store.delete(sessionRange(sessionId));
      }),
    // One key per session (the cursor jumps over the rest), and the `at` of
    // its highest-keyed record, which in practice is the latest written.
    listSessions: () =>
      tx("readonly", (store) => {
        const out = [];
        const req = store.openKeyCursor();
        req.onsuccess = () => {
          const cursor = req.result;
          if (!cursor) return;
          const entry = { sessionId: cursor.key[0], lastWrite: 0 };
          out.push(entry);
          const last = store.openCursor(sessionRange(entry.sessionId), "prev");
          last.onsuccess = () => {
            entry.lastWrite = Number(last.result?.value?.at) || 0;
          };
          cursor.continue([entry.sessionId, []]);
        };
        return () => out;
      }),
    close: () => db.close(),
  };
}

/** The same interface in memory (tests; or a page that must not touch disk). Records are copied in and out, as IndexedDB does. */
export function memoryStorage() {
  const records = new Map(); // JSON key -> record
  const keyOf = (sessionId, ch, seq) => JSON.stringify([sessionId, ch, seq]);
  const removeWhere = (pred) => {
    for (const [k, r] of records) if (pred(r)) records.delete(k);
  };
  return {
    records, // for tests
    async putMany(list) {
      const copies = structuredClone(list);
      for (const r of copies) records.set(keyOf(r.sessionId, r.ch, r.seq), r);
    },
    async getAll(sessionId) {
      return structuredClone([...records.values()].filter((r) => r.sessionId === sessionId));
    },
    async deleteRange(sessionId, ch, maxSeq) {
      removeWhere((r) => r.sessionId === sessionId && r.ch === ch && r.seq <= maxSeq);
    },
    async deleteMany(keys) {
      for (const [s, ch, seq] of keys) records.delete(keyOf(s, ch, seq));
    },
    async deleteSession(sessionId) {
      removeWhere((r) => r.sessionId === sessionId);
    },
    async listSessions() {
      const last = new Map();
      for (const r of records.values()) last.set(r.sessionId, Math.max(last.get(r.sessionId) ?? 0, r.at || 0));
      return [...last].map(([sessionId, lastWrite]) => ({ sessionId, lastWrite }));
    },
    close() {},
  };
}
