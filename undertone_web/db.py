"""Database helpers shared by the apps (no app imports here)."""

import logging

from django.db import connection

log = logging.getLogger(__name__)


def database_wal_truncate() -> None:
    """After deleting transcript segments: checkpoint SQLite's write-ahead log and truncate it to zero.

    Until a checkpoint resets it, the -wal file still holds the pages as they were before the delete,
    i.e. the deleted segments' ciphertext, and the key that opens it sits on the same machine
    (bench/privacy_audit.py found them there after every recap). secure_delete zeroes the deleted rows
    in the pages the checkpoint copies back. https://www.sqlite.org/pragma.html#pragma_wal_checkpoint
    TRUNCATE waits (busy timeout) for readers that started before the delete; a reader that outlasts it
    leaves the log for SQLite's next checkpoint, which is logged. Nothing to do on other databases."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        busy = cursor.fetchone()[0]
    if busy:
        log.warning("write-ahead log not truncated: a reader held it; SQLite checkpoints it later")
