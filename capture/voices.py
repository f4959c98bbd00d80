"""Who is speaking, for in-person sessions (both voices on one microphone): the session's voice state
(capture/speakers.py) in Redis, like window audio: a TTL, persistence off, never in the database, and
deleted with the session's transcript (capture.services).

The state is a few hundred bytes of mean MFCCs per voice (and the voice check's mean): it describes a
voice, not what was said, but it is still about a person, so it lives no longer than the audio does.
Windows of one session can be transcribed by two worker processes at once; each read-modify-write of
the state holds a short per-session lock so neither overwrites the other's update."""

from __future__ import annotations

import logging
import time

from django.conf import settings

from . import speakers
from .audio_store import client

log = logging.getLogger(__name__)

KEY_PREFIX = "uw:voices:"
LOCK_MS = 5000  # the locked section is a few milliseconds of numpy; a dead holder frees it this fast
LOCK_WAIT_S = 10.0


def _key(session_id) -> str:
    return f"{KEY_PREFIX}{session_id}"


def _ttl() -> int:
    return int(settings.CAPTURE["WINDOW_AUDIO_TTL_S"])


def voice_check_save(*, session_id, pcm: bytes) -> bool:
    """The voice check's description, kept for the session; the audio itself is not kept anywhere.
    False when it holds too little speech (the page asks to read the sentence again)."""
    voiceprint = speakers.embed_voice_check(pcm)
    if voiceprint is None:
        return False
    with _locked(session_id):
        raw = client().get(_key(session_id))
        state = speakers.SessionVoices.from_bytes(raw)
        # A check repeated before any window was heard replaces the first; later it only renames.
        state.set_check(voiceprint)
        client().set(_key(session_id), state.to_bytes(), ex=_ttl())
    return True


def voice_check_done(*, session_id) -> bool:
    raw = client().get(_key(session_id))
    return bool(raw) and speakers.SessionVoices.from_bytes(raw).has_check


def voices_assign(*, session_id, pcm: bytes, pieces) -> list[speakers.Attributed]:
    """Segments one window of the session and attributes its pieces, moving the session's voices."""
    with _locked(session_id):
        state = speakers.SessionVoices.from_bytes(client().get(_key(session_id)))
        attributed = speakers.assign(pcm, pieces, state)
        client().set(_key(session_id), state.to_bytes(), ex=_ttl())
    return attributed


def voices_get(*, session_id) -> speakers.SessionVoices | None:
    raw = client().get(_key(session_id))
    return speakers.SessionVoices.from_bytes(raw) if raw else None


def voices_delete(*, session_ids) -> int:
    keys = [_key(s) for s in session_ids]
    return client().delete(*keys) if keys else 0


class _locked:
    """A per-session Redis lock (SET NX PX): short, and freed by expiry if its holder dies."""

    def __init__(self, session_id) -> None:
        self.key = f"{_key(session_id)}:lock"
        self.token = str(time.monotonic_ns()).encode()

    def __enter__(self) -> None:
        deadline = time.monotonic() + LOCK_WAIT_S
        while not client().set(self.key, self.token, nx=True, px=LOCK_MS):
            if time.monotonic() > deadline:
                # Better an update raced than a window never transcribed: the state only steers
                # labels, and the next window corrects the centroids.
                log.warning("voices lock %s not free after %.0f s; going on", self.key, LOCK_WAIT_S)
                return
            time.sleep(0.005)

    def __exit__(self, *exc) -> None:
        # Only our own lock: after an expiry another holder may have it.
        if client().get(self.key) == self.token:
            client().delete(self.key)
