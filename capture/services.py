"""Writes of the capture pipeline. State transitions are guarded here; consumers and views only
decode and delegate."""

import base64
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max, Sum
from django.utils import timezone

from undertone_web.db import database_wal_truncate

from . import audio_store, voices
from .exceptions import ConsentMissing, InvalidTransition, SessionFinished, StaleWriter
from .models import CaptureSession, CaptureWindow, LinkedDevice, TranscriptNotes, TranscriptSegment
from .protocol import FRAME_SECONDS
from .signals import session_ready, transcript_committed
from .vad import ClosedWindow

log = logging.getLogger(__name__)
Status = CaptureSession.Status

ACTIVE = (Status.RECORDING, Status.PAUSED)


def session_group(session_id) -> str:
    return f"capture.{session_id}"


def device_group(device_id) -> str:
    return f"device.{device_id}"


def group_send(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(group, message)


def capture_session_create(
    *, user, device: LinkedDevice | None = None, mode: str = CaptureSession.Mode.SESSION
):
    return CaptureSession.objects.create(user=user, device=device, mode=mode)


def capture_session_assert_can_stream(*, session: CaptureSession) -> None:
    if session.consent_at is None:
        raise ConsentMissing("no consent recorded for this session")
    if session.status in (Status.DONE, Status.FAILED):
        raise SessionFinished("this session is finished")


def capture_session_pause(*, session_id, paused: bool) -> str:
    with transaction.atomic():
        session = CaptureSession.objects.select_for_update().get(id=session_id)
        if session.status not in ACTIVE:
            raise InvalidTransition(f"cannot pause or resume while {session.status}")
        session.status = Status.PAUSED if paused else Status.RECORDING
        session.save(update_fields=["status"])
    return session.status


def capture_resume_point(*, session_id, channel: int) -> int:
    """The seq the server needs next on `channel`: one past the last window still queued or done.

    Windows whose audio vanished from Redis (a Redis restart: persistence is off) are dropped with
    every later window of the channel, so the browser resends that audio and nothing is transcribed
    twice or lost. If that happens after Stop, the session goes back to recording: the recap must wait
    for the resent audio, and the browser sends Stop again once it has resent it."""
    with transaction.atomic():
        windows = list(
            CaptureWindow.objects.select_for_update()
            .filter(session_id=session_id, channel=channel)
            .exclude(status=CaptureWindow.Status.DONE)
            .order_by("seq_first")
        )
        lost_from = None
        for window in windows:
            if window.status == CaptureWindow.Status.LOST or not audio_store.window_audio_exists(
                window_id=window.id
            ):
                lost_from = window.seq_first
                break
        if lost_from is not None:
            doomed = CaptureWindow.objects.filter(
                session_id=session_id, channel=channel, seq_first__gte=lost_from
            )
            log.warning(
                "session %s ch %s: %s windows lost, asking for resend", session_id, channel, doomed.count()
            )
            doomed.delete()
            _commit_recompute(session_id=session_id, channel=channel)
            # In the same transaction as the delete: recap_build (which locks the session and wants
            # ENDING) can never see the session ending with these windows gone.
            CaptureSession.objects.filter(id=session_id, status=Status.ENDING).update(status=Status.RECORDING)
        last = (
            CaptureWindow.objects.filter(session_id=session_id, channel=channel)
            .order_by("-seq_last")
            .values_list("seq_last", flat=True)
            .first()
        )
    return 0 if last is None else last + 1


def capture_window_close(*, session_id, window: ClosedWindow) -> CaptureWindow:
    """Queue a closed VAD window: audio to Redis, a row, and (after commit) a transcription task that
    gets the id only. Silence-only windows are done at once; they just move the commit mark."""
    from .tasks import transcribe_window  # tasks import this module

    with transaction.atomic():
        last = (
            CaptureWindow.objects.select_for_update()
            .filter(session_id=session_id, channel=window.channel)
            .order_by("-seq_last")
            .values_list("seq_last", flat=True)
            .first()
        )
        expected = 0 if last is None else last + 1
        if window.seq_first != expected:
            raise StaleWriter(f"window starts at {window.seq_first}, expected {expected}")
        row = CaptureWindow.objects.create(
            session_id=session_id,
            channel=window.channel,
            seq_first=window.seq_first,
            seq_last=window.seq_last,
            pieces=[list(p) for p in window.pieces],
            speech_s=len(window.pcm) / 32000,
            status=CaptureWindow.Status.DONE if window.is_silence else CaptureWindow.Status.QUEUED,
            done_at=timezone.now() if window.is_silence else None,
        )
        if window.is_silence:
            commit = _commit_recompute(session_id=session_id, channel=window.channel)
            transaction.on_commit(lambda: capture_commit_announce(session_id=session_id, commit=commit))
        else:
            audio_store.window_audio_put(window_id=row.id, pcm=window.pcm)
            if settings.CAPTURE["TRANSCRIBE"]:
                transaction.on_commit(lambda: transcribe_window.delay(str(row.id)))
    return row


def _commit_recompute(*, session_id, channel: int) -> dict[str, int]:
    """Commit = last seq of the longest run of done windows from the start of the channel."""
    commit = -1
    for status, seq_last in (
        CaptureWindow.objects.filter(session_id=session_id, channel=channel)
        .order_by("seq_first")
        .values_list("status", "seq_last")
    ):
        if status != CaptureWindow.Status.DONE:
            break
        commit = seq_last
    CaptureSession.objects.filter(id=session_id).update(**{f"commit_{channel}": commit})
    session = CaptureSession.objects.only("commit_0", "commit_1").get(id=session_id)
    return {"0": session.commit_0, "1": session.commit_1}


def capture_window_done(*, window_id, segments: list[dict]) -> CaptureWindow | None:
    """Store a transcribed window's segments (encrypted) and advance the commit, once.

    Returns None when the window is already done or gone (a redelivered task): idempotent."""
    with transaction.atomic():
        window = CaptureWindow.objects.select_for_update().filter(id=window_id).first()
        if window is None or window.status != CaptureWindow.Status.QUEUED:
            return None
        TranscriptSegment.objects.bulk_create(
            [
                TranscriptSegment(
                    session_id=window.session_id,
                    window=window,
                    index=i,
                    channel=window.channel,
                    start=seg["start"],
                    end=seg["end"],
                    text=seg["text"],
                    # Optional: a task queued by a worker from before they were kept sends none.
                    avg_logprob=seg.get("avg_logprob"),
                    no_speech_prob=seg.get("no_speech_prob"),
                    unsure=[list(span) for span in seg.get("unsure") or ()],
                    voice=seg.get("voice"),
                    speaker_confidence=seg.get("speaker_confidence"),
                )
                for i, seg in enumerate(segments)
            ],
            ignore_conflicts=True,
        )
        window.status = CaptureWindow.Status.DONE
        window.done_at = timezone.now()
        window.save(update_fields=["status", "done_at"])
        commit = _commit_recompute(session_id=window.session_id, channel=window.channel)
        session_id = window.session_id
        transaction.on_commit(lambda: capture_commit_announce(session_id=session_id, commit=commit))
        transaction.on_commit(lambda: capture_recap_if_ready(session_id=session_id))
        transaction.on_commit(lambda: _transcript_committed_tell(session_id))
    audio_store.window_audio_delete(window_ids=[window_id])
    return window


def _transcript_committed_tell(session_id) -> None:
    # A listener's failure (its database or broker) must not fail the transcription task that called
    # it: the window is stored and acknowledged either way. Logged by type only, never content.
    for receiver, result in transcript_committed.send_robust(sender=CaptureSession, session_id=session_id):
        if isinstance(result, Exception):
            log.warning("session %s: %s failed on a commit (%s)", session_id, receiver, type(result).__name__)


def capture_window_lost(*, window_id) -> None:
    """The window's audio is gone from Redis: mark it; the browser still holds the frames and resends
    them when its socket reconnects (the consumer asks it to)."""
    window = CaptureWindow.objects.filter(id=window_id, status=CaptureWindow.Status.QUEUED).first()
    if window is None:
        return
    CaptureWindow.objects.filter(id=window_id).update(status=CaptureWindow.Status.LOST)
    group_send(session_group(window.session_id), {"type": "capture.lost"})


def capture_commit_announce(*, session_id, commit: dict[str, int]) -> None:
    from .selectors import capture_windows_left

    group_send(
        session_group(session_id),
        {
            "type": "capture.commit",
            "commit": commit,
            "windows_left": capture_windows_left(session_id=session_id),
        },
    )


def capture_session_stop(*, session_id) -> CaptureSession:
    """Mark the session ending (its windows are already flushed by the caller) and build the recap
    as soon as every window is transcribed."""
    with transaction.atomic():
        session = CaptureSession.objects.select_for_update().get(id=session_id)
        if session.status == Status.ENDING:
            # Stop again (the browser reconnected): the recap task may have died with a Redis restart
            # (persistence off). Asking again is free: capture_recap_if_ready and recap_build are idempotent.
            transaction.on_commit(lambda: capture_recap_if_ready(session_id=session_id))
            return session
        if session.status == Status.DONE:
            return session
        if session.status not in ACTIVE:
            raise InvalidTransition(f"cannot stop while {session.status}")
        session.status = Status.ENDING
        session.stopped_at = timezone.now()
        session.save(update_fields=["status", "stopped_at"])
        transaction.on_commit(lambda: capture_recap_if_ready(session_id=session_id))
    return session


def session_finish_now(*, session_id, automatically: bool = False) -> CaptureSession:
    """Finish and make the recap from what was transcribed: windows not transcribed yet (queued, or
    lost with their audio) are dropped with their audio, then the session stops as on Stop. For a
    session whose tab is gone: nothing else would ever send the missing audio."""
    with transaction.atomic():
        session = CaptureSession.objects.select_for_update().get(id=session_id)
        if session.status not in (*ACTIVE, Status.ENDING):
            raise InvalidTransition(f"cannot finish while {session.status}")
        pending = list(
            CaptureWindow.objects.filter(session=session)
            .exclude(status=CaptureWindow.Status.DONE)
            .values_list("id", flat=True)
        )
        CaptureWindow.objects.filter(id__in=pending).delete()  # their segments, if any, cascade
        for channel in (0, 1):
            _commit_recompute(session_id=session.id, channel=channel)
        session.refresh_from_db()
        session.status = Status.ENDING
        session.stopped_at = session.stopped_at or timezone.now()
        session.finished_automatically = automatically
        session.save(update_fields=["status", "stopped_at", "finished_automatically"])
        transaction.on_commit(lambda: capture_recap_if_ready(session_id=session_id))
    audio_store.window_audio_delete(window_ids=pending)
    return session


def session_discard(*, session_id) -> None:
    """Throw an unfinished session away: every window, audio key and transcript segment, and the
    session itself. A session that has its recap is deleted with the recap instead."""
    with transaction.atomic():
        session = CaptureSession.objects.select_for_update().get(id=session_id)
        if session.status == Status.DONE:
            raise InvalidTransition("this session has its recap; delete the recap instead")
        window_ids = list(CaptureWindow.objects.filter(session=session).values_list("id", flat=True))
        TranscriptSegment.objects.filter(session=session).delete()
        CaptureWindow.objects.filter(session=session).delete()
        session.delete()
    audio_store.window_audio_delete(window_ids=window_ids)
    voices.voices_delete(session_ids=[session_id])
    database_wal_truncate()
    # A tab still open on it closes (4404 on its reconnect: the session is gone).
    group_send(session_group(session_id), {"type": "capture.takeover", "by": ""})


def capture_recap_if_ready(*, session_id) -> bool:
    """Tell whoever builds recaps (recaps.apps connects to capture.signals.session_ready) that a
    stopped session's transcript is complete. Capture never imports the apps above it."""
    from .selectors import capture_windows_left

    session = CaptureSession.objects.filter(id=session_id).only("status").first()
    if session is None or session.status != Status.ENDING or capture_windows_left(session_id=session_id):
        return False
    session_ready.send(sender=CaptureSession, session_id=session_id)
    return True


T = TypeVar("T")


@dataclass(frozen=True)
class Heard:
    """What the server heard of a session, per channel, from its windows: seconds recorded and
    seconds of speech (webrtcvad). Counts only, no content: the recap keeps it to say honestly what
    it could not hear."""

    recorded_s: float  # the longest channel
    channels: dict[int, tuple[float, float]]  # channel -> (recorded_s, speech_s)
    # In-person sessions: whether the two voices on the microphone were told apart and named, and how
    # ("voice_check" or "questions"); see _voices_name. None for two-channel sessions.
    voices: dict | None = None


# Below this a segment's voice is a guess (the HMM's posterior, capture/speakers.py): it is written
# as "unknown" even in a session whose voices were told apart.
SPEAKER_SURE = 0.6


def _voices_name(session_id, rows: list[TranscriptSegment]) -> dict:
    """Names the voices of an in-person session's microphone segments (speaker_label, on the rows in
    memory): client and therapist when the session's voices were told apart and named (by the voice
    check, or without one by who asked clearly more questions), "unknown" otherwise, so the recap uses
    neutral wording rather than guess who said what."""
    from redis.exceptions import RedisError

    from . import speakers

    try:
        state = voices.voices_get(session_id=session_id)
    except RedisError:
        state = None  # the recap is still made, in neutral wording
    names, by = None, None
    if state is not None and speakers.session_confident(state):
        names, by = speakers.speakers_by_voice(state), "voice_check"
    elif state is not None and speakers.voices_apart(state):
        asked: dict[int, int] = {}
        for row in rows:
            if row.channel == 0 and row.voice is not None:
                asked[row.voice] = asked.get(row.voice, 0) + row.text.count("?")
        names = speakers.identity_from_questions(asked)
        by = "questions" if names else None
    for row in rows:
        if row.channel != 0:
            continue
        sure = names is not None and row.voice in names and (row.speaker_confidence or 0.0) >= SPEAKER_SURE
        row.speaker_label = names[row.voice] if sure else "unknown"
    return {"told_apart": names is not None, "by": by, "voice_check": bool(state and state.has_check)}


def _heard(session: CaptureSession, voices: dict | None = None) -> Heard:
    channels = {
        row["channel"]: (round((row["last"] + 1) * FRAME_SECONDS, 1), round(row["speech"] or 0.0, 1))
        for row in CaptureWindow.objects.filter(session=session)
        .values("channel")
        .annotate(last=Max("seq_last"), speech=Sum("speech_s"))
    }
    return Heard(max((r for r, _s in channels.values()), default=0.0), channels, voices)


def session_handoff(
    *,
    session_id,
    build: Callable[[CaptureSession, list[TranscriptSegment], Heard], T | None],
    hold_transcript: bool = False,
) -> T | None:
    """The one way a finished session leaves capture. With the session locked, when it is ENDING and
    every window is transcribed, ``build(session, segments, heard)`` runs in the same transaction;
    if it returns something, the transcript and windows are deleted and the session is marked done in
    that transaction too, so a recap and its transcript never both exist, nor neither. The windows'
    audio (Redis) goes after the commit. None when the session is not ready, or ``build`` declined.

    ``hold_transcript``: a language model will write the final recap from the transcript, so the
    segments stay (encrypted) until ``transcript_release``; the purge job releases any held longer than
    TRANSCRIPT_HOLD_MAX_S. Windows and audio go as usual."""
    with transaction.atomic():
        session = CaptureSession.objects.select_for_update().filter(id=session_id).first()
        if session is None or session.status != Status.ENDING:
            return None
        # A lost window (its audio vanished from Redis) is not transcribed yet either: the browser
        # resends its audio after it reconnects.
        if CaptureWindow.objects.filter(
            session=session, status__in=[CaptureWindow.Status.QUEUED, CaptureWindow.Status.LOST]
        ).exists():
            return None
        rows = list(TranscriptSegment.objects.filter(session=session).order_by("start", "channel"))
        # In person on one microphone; with the call's audio as well the channels say who spoke.
        one_mic = session.in_person and not any(row.channel == 1 for row in rows)
        voices_named = _voices_name(session.id, rows) if one_mic else None
        result = build(session, rows, _heard(session, voices_named))
        if result is None:
            return None
        window_ids = list(CaptureWindow.objects.filter(session=session).values_list("id", flat=True))
        if hold_transcript:
            # The segments hang off their windows (deleting a window deletes its segments): both stay,
            # without their audio, until transcript_release; with the voices' names, since the voices
            # themselves go now.
            session.transcript_held_at = timezone.now()
            if voices_named is not None:
                TranscriptSegment.objects.bulk_update(rows, ["speaker_label"])
        else:
            TranscriptSegment.objects.filter(session=session).delete()
            TranscriptNotes.objects.filter(session=session).delete()
            CaptureWindow.objects.filter(session=session).delete()
        session.status = Status.DONE
        session.backlog_key = None  # a browser's leftover backlog is unreadable from now on
        session.save(update_fields=["status", "backlog_key", "transcript_held_at"])
    audio_store.window_audio_delete(window_ids=window_ids)
    voices.voices_delete(session_ids=[session_id])
    database_wal_truncate()
    log.info("session %s: handed over %d segments", session_id, len(rows))
    return result


# A held transcript (see session_handoff) goes after this long even if the model never answered.
TRANSCRIPT_HOLD_MAX_S = 3600


def transcript_held(*, session_id) -> list[TranscriptSegment]:
    """The transcript kept for the final recap; empty when it was released (or never held)."""
    if not CaptureSession.objects.filter(id=session_id, transcript_held_at__isnull=False).exists():
        return []
    return list(TranscriptSegment.objects.filter(session_id=session_id).order_by("start", "channel"))


def transcript_release(*, session_id) -> int:
    """Deletes a held transcript; idempotent. Returns the segments deleted."""
    with transaction.atomic():
        deleted = _held_transcripts_drop([session_id])
    if deleted:
        database_wal_truncate()
    return deleted


def _held_transcripts_drop(session_ids) -> int:
    """Inside the caller's transaction: the held segments and their windows (their audio went at the
    handoff), and the hold itself."""
    deleted, _ = TranscriptSegment.objects.filter(session_id__in=session_ids).delete()
    TranscriptNotes.objects.filter(session_id__in=session_ids).delete()
    CaptureWindow.objects.filter(session_id__in=session_ids).delete()
    CaptureSession.objects.filter(id__in=session_ids).update(transcript_held_at=None)
    return deleted


def transcript_purge_stale(*, older_than_s: int) -> dict[str, int]:
    """Sessions that never finished. One with transcribed audio is finished from what was saved
    (session_finish_now, marked automatic: the recap says so); it is not silently deleted. What is
    left after that (nothing transcribed, or a finish already tried and still stuck) has its
    transcript segments, windows and Redis audio dropped and is marked failed."""
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    finished = 0
    for session in CaptureSession.objects.filter(
        created_at__lt=cutoff,
        status__in=(*ACTIVE, Status.ENDING),
        finished_automatically=False,
        windows__status=CaptureWindow.Status.DONE,
    ).distinct():
        try:
            session_finish_now(session_id=session.id, automatically=True)
            finished += 1
        except InvalidTransition:
            pass  # it moved on meanwhile
    # A session finished just now gets one more purge period to build its recap.
    stale = (
        CaptureSession.objects.filter(created_at__lt=cutoff)
        .exclude(status=CaptureSession.Status.DONE)
        .exclude(status=Status.ENDING, finished_automatically=True, stopped_at__gte=cutoff)
    )
    window_ids = list(CaptureWindow.objects.filter(session__in=stale).values_list("id", flat=True))
    # Only the sessions that still hold something: voice state lives no longer than their windows.
    voiced_ids = list(
        stale.exclude(status=Status.FAILED, windows__isnull=True).values_list("id", flat=True).distinct()
    )
    # A transcript held for a final recap the model never wrote goes too: the saved recap stands.
    held_cutoff = timezone.now() - timedelta(seconds=TRANSCRIPT_HOLD_MAX_S)
    held = list(
        CaptureSession.objects.filter(transcript_held_at__lt=held_cutoff).values_list("id", flat=True)
    )
    with transaction.atomic():
        segments, _ = TranscriptSegment.objects.filter(session__in=stale).delete()
        TranscriptNotes.objects.filter(session__in=stale).delete()
        windows, _ = CaptureWindow.objects.filter(id__in=window_ids).delete()
        stale.filter(status__in=[Status.RECORDING, Status.PAUSED, Status.ENDING]).update(
            status=Status.FAILED, backlog_key=None
        )
        segments += _held_transcripts_drop(held)
    audio = audio_store.window_audio_delete(window_ids=window_ids)
    voices.voices_delete(session_ids=voiced_ids)
    if segments:
        database_wal_truncate()
    return {"finished": finished, "segments": segments, "windows": windows, "audio_keys": audio}


# --- notes on the transcript (a language model's map step; recaps writes and reads them) -------------


def transcript_chunks_claim(*, session_id, chunk_s: float) -> list[int]:
    """Claims, once each, the chunks of ``chunk_s`` seconds of a recording session whose audio is
    transcribed on every channel in use and that have no notes yet; returns their numbers. Chunks that
    complete after Stop are left to the final recap, which reads what is not covered as it is."""
    session = (
        CaptureSession.objects.filter(id=session_id, status__in=ACTIVE).only("commit_0", "commit_1").first()
    )
    if session is None:
        return []
    channels = set(CaptureWindow.objects.filter(session_id=session_id).values_list("channel", flat=True))
    if not channels:
        return []
    # Windows commit in order on each channel (silence too), so every segment that starts before this
    # time is stored. A channel with no window yet (its first is still open, or it joined late) cannot
    # hold a chunk back; what it later adds to a noted chunk is not in that chunk's "covers", so the
    # final recap reads it as it is: late lines cost a little quality, never a word.
    committed_s = min((getattr(session, f"commit_{ch}") + 1) * FRAME_SECONDS for ch in channels)
    have = set(TranscriptNotes.objects.filter(session_id=session_id).values_list("chunk", flat=True))
    claimed = []
    for chunk in range(int(committed_s // chunk_s)):
        if chunk in have:
            continue
        try:
            with transaction.atomic():
                TranscriptNotes.objects.create(session_id=session_id, chunk=chunk)
        except IntegrityError:
            continue  # another worker's commit claimed it first
        claimed.append(chunk)
    return claimed


def transcript_chunk(*, session_id, chunk: int, chunk_s: float) -> list[TranscriptSegment] | None:
    """The segments that start in a claimed chunk whose notes are still to be written; None when there
    is nothing to do (written already: a redelivered task; or the session's transcript is gone)."""
    if not TranscriptNotes.objects.filter(
        session_id=session_id, chunk=chunk, status=TranscriptNotes.Status.QUEUED
    ).exists():
        return None
    return list(
        TranscriptSegment.objects.filter(
            session_id=session_id, start__gte=chunk * chunk_s, start__lt=(chunk + 1) * chunk_s
        ).order_by("start", "channel")
    )


def transcript_notes_save(*, session_id, chunk: int, data: dict | None) -> bool:
    """Stores a chunk's notes (None: the model could not write them) while the transcript they come
    from still exists; with the session locked, so a handoff deleting the transcript cannot interleave
    and leave notes behind it. False when nothing was stored."""
    with transaction.atomic():
        session = CaptureSession.objects.select_for_update().filter(id=session_id).first()
        if session is None:
            return False
        if session.status not in (*ACTIVE, Status.ENDING) and session.transcript_held_at is None:
            TranscriptNotes.objects.filter(session=session).delete()
            return False
        return bool(
            TranscriptNotes.objects.filter(
                session=session, chunk=chunk, status=TranscriptNotes.Status.QUEUED
            ).update(
                status=TranscriptNotes.Status.DONE if data is not None else TranscriptNotes.Status.FAILED,
                data=data,
            )
        )


def transcript_notes(*, session_id) -> list[dict]:
    """The notes written so far, in session order."""
    return [
        n.data
        for n in TranscriptNotes.objects.filter(session_id=session_id, status=TranscriptNotes.Status.DONE)
        if n.data is not None
    ]


def windows_stuck(*, older_than_s: int) -> list:
    cutoff = timezone.now() - timedelta(seconds=older_than_s)
    return list(
        CaptureWindow.objects.filter(status=CaptureWindow.Status.QUEUED, created_at__lt=cutoff).values_list(
            "id", flat=True
        )
    )


def capture_session_max_frames(*, mode: str = CaptureSession.Mode.SESSION) -> int:
    """Frames per channel the server accepts. Self mode: the page's cap plus a small grace."""
    if mode == CaptureSession.Mode.SELF:
        return int((settings.CAPTURE["MAX_SELF_S"] + settings.CAPTURE["SELF_GRACE_S"]) / FRAME_SECONDS)
    return int(settings.CAPTURE["MAX_SESSION_S"] / FRAME_SECONDS)


# A key per open capture socket in the Redis that holds window audio and the channel layer. Redis runs
# without persistence, so a restart empties it, and channels_redis may reconnect without a word: the
# socket would stay open but deaf to its commits, and audio queued before the restart would be gone.
# The consumer checks its key every few seconds and closes with 4500 once it is missing.
SOCKET_CANARY_TTL_S = 60


def _socket_canary_key(channel_name: str) -> str:
    return f"uw:sock:{channel_name}"


def capture_socket_canary_put(*, channel_name: str) -> None:
    audio_store.client().set(_socket_canary_key(channel_name), b"1", ex=SOCKET_CANARY_TTL_S)


# The socket that writes a session's audio right now. A newer socket waits (briefly) for the older one
# to queue what it acked and let go, so its `next` continues after that audio instead of writing over
# it: a second tab takes over without losing the first tab's last seconds.
WRITER_TTL_S = SOCKET_CANARY_TTL_S


def _writer_key(session_id) -> str:
    return f"uw:writer:{session_id}"


def capture_writer_claim(*, session_id, channel_name: str) -> None:
    audio_store.client().set(_writer_key(session_id), channel_name.encode(), ex=WRITER_TTL_S)


def capture_writer_holder(*, session_id) -> str | None:
    value = audio_store.client().get(_writer_key(session_id))
    return value.decode() if value else None


# Delete only our own claim: a newer socket's claim must survive an older socket's late close.
_RELEASE_IF_MINE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def capture_writer_release(*, session_id, channel_name: str) -> None:
    audio_store.client().eval(_RELEASE_IF_MINE, 1, _writer_key(session_id), channel_name.encode())


_REFRESH_IF_MINE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end
return 0
"""


def capture_sockets_keep_alive(entries: list[tuple[str, object]]) -> list[bool]:
    """For each open socket, (channel name, session whose writer claim it refreshes, or None): is its
    key still in Redis (its TTL refreshed)? A session's writer claim is refreshed only while that socket
    holds it. One round trip for every socket of a process (capture/socket_guard.py)."""
    client = audio_store.client()
    refresh = client.register_script(_REFRESH_IF_MINE)
    pipe = client.pipeline(transaction=False)
    for channel_name, session_id in entries:
        pipe.expire(_socket_canary_key(channel_name), SOCKET_CANARY_TTL_S)
        if session_id is not None:
            refresh(keys=[_writer_key(session_id)], args=[channel_name.encode(), WRITER_TTL_S], client=pipe)
    results = iter(pipe.execute())
    alive = []
    for _channel_name, session_id in entries:
        alive.append(bool(next(results)))
        if session_id is not None:
            next(results)
    return alive


# The browser's encrypted backlog (static/capture/backlog-store.js): one random AES-256 key per session.
BACKLOG_KEY_STATUSES = (Status.RECORDING, Status.PAUSED, Status.ENDING)


def capture_backlog_key(*, session_id) -> str | None:
    """The session's backlog key (base64url, 32 bytes), made on first use; None once the session has
    its recap (or failed): a page opened then has nothing to keep."""
    with transaction.atomic():
        session = CaptureSession.objects.select_for_update().get(id=session_id)
        if session.status not in BACKLOG_KEY_STATUSES:
            return None
        if not session.backlog_key:
            session.backlog_key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")
            session.save(update_fields=["backlog_key"])
        return session.backlog_key
