"""What the capture page keeps in the browser: its encrypted backlog of not-yet-committed audio in
IndexedDB (static/capture/backlog-store.js), read from inside the page for the privacy checks."""

BROWSER_BACKLOG_JS = """(withPlaintext) => new Promise((resolve) => {
    const open = indexedDB.open("undertone-backlog");
    open.onerror = () => resolve([]);
    open.onsuccess = () => {
        const db = open.result;
        if (!db.objectStoreNames.contains("frames")) return resolve([]);
        const all = db.transaction("frames").objectStore("frames").getAll();
        all.onsuccess = () => resolve(all.result.map((r) => {
            const kept = withPlaintext && window.__capture && window.__capture.frames[r.ch].get(r.seq);
            const plain = kept ? new Uint8Array(kept) : null;
            const stored = new Uint8Array(r.data);
            const same = plain ? plain.every((b, i) => b === stored[i]) : false;
            const bytes = r.data.byteLength;
            return { session: r.sessionId, ch: r.ch, seq: r.seq, bytes, same_as_audio: same };
        }));
    };
})"""


def browser_backlog(page, *, with_plaintext_match: bool = False) -> list[dict]:
    """The capture backlog this browser holds in IndexedDB (static/capture/backlog-store.js): one
    entry per stored frame; with_plaintext_match compares each with the page's copy of that frame."""
    return page.evaluate(BROWSER_BACKLOG_JS, with_plaintext_match)
