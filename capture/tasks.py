"""Celery tasks of capture. They take ids, never audio or text, re-fetch their rows and are idempotent,
so acks_late redelivery (a killed worker) repeats no work twice. Logs carry ids and counts only."""

import logging
import time

from celery import shared_task
from django.conf import settings

from undertone_web.redaction import content_free_errors

from . import audio_store, selectors, services
from .models import CaptureWindow
from .vad import pieces_to_session_time

log = logging.getLogger(__name__)


@shared_task(
    name="capture.tasks.transcribe_window",
    autoretry_for=(ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=5,
)
@content_free_errors  # no content in Celery's failure log (undertone_web/redaction.py)
def transcribe_window(window_id: str) -> None:
    from .transcription import transcribe_pcm  # loads the model: only in the worker

    window = CaptureWindow.objects.filter(id=window_id).first()
    if window is None or window.status != CaptureWindow.Status.QUEUED:
        return  # done already (redelivery) or deleted with its session
    pcm = audio_store.window_audio_get(window_id=window_id)
    if pcm is None:
        log.warning("window %s: audio missing from Redis, asking the browser to resend", window_id)
        services.capture_window_lost(window_id=window_id)
        return
    started = time.process_time()
    pieces = transcribe_pcm(pcm)
    asr_cpu = time.process_time() - started
    voices_cpu = None
    if window.channel == 0 and selectors.session_in_person(session_id=window.session_id):
        started = time.process_time()
        segments = _by_voice(window, pcm, pieces)
        voices_cpu = time.process_time() - started
    else:
        segments = [
            {
                "start": round(pieces_to_session_time(window.pieces, p.start), 2),
                "end": round(pieces_to_session_time(window.pieces, p.end), 2),
                "text": p.text,
                "avg_logprob": p.avg_logprob,
                "no_speech_prob": p.no_speech_prob,
                "unsure": [list(span) for span in p.unsure],
            }
            for p in pieces
        ]
    services.capture_window_done(window_id=window_id, segments=segments)
    audio_s = len(pcm) / 32000
    # CPU per audio second, transcription and (in person) speaker segmentation side by side.
    log.info(
        "window %s: transcribed %.1f s of speech into %d segments; cpu/s asr %.3f%s",
        window_id,
        window.speech_s,
        len(segments),
        asr_cpu / max(audio_s, 1e-6),
        "" if voices_cpu is None else f" speakers {voices_cpu / max(audio_s, 1e-6):.4f}",
    )


def _by_voice(window: CaptureWindow, pcm: bytes, pieces) -> list[dict]:
    """Both voices on one microphone: each piece, split where the voice changes, with the session's
    voice that spoke it and how sure that is (capture/speakers.py; state in Redis, capture/voices.py)."""
    from .transcription import unsure_spans
    from .voices import voices_assign

    segments = []
    for a in voices_assign(session_id=window.session_id, pcm=pcm, pieces=pieces):
        piece = pieces[a.piece_index]
        whole = a.text == piece.text
        segments.append(
            {
                "start": round(pieces_to_session_time(window.pieces, a.start), 2),
                "end": round(pieces_to_session_time(window.pieces, a.end), 2),
                "text": a.text,
                "avg_logprob": piece.avg_logprob,
                "no_speech_prob": piece.no_speech_prob,
                "unsure": [list(span) for span in piece.unsure]
                if whole
                else [
                    list(span) for span in unsure_spans(a.text, ((w.word, w.probability) for w in a.words))
                ],
                "voice": a.voice,
                "speaker_confidence": a.confidence,
            }
        )
    return segments


@shared_task(name="capture.tasks.purge_stale")
@content_free_errors  # no content in Celery's failure log (undertone_web/redaction.py)
def purge_stale() -> None:
    removed = services.transcript_purge_stale(older_than_s=settings.CAPTURE["PURGE_AFTER_S"])
    log.info("purge: removed %s", removed)


@shared_task(name="capture.tasks.requeue_stuck_windows")
@content_free_errors  # no content in Celery's failure log (undertone_web/redaction.py)
def requeue_stuck_windows() -> None:
    """Safety net beside acks_late: a window queued long ago whose task vanished (a broker restart)
    is enqueued again; the task is idempotent, so a duplicate costs nothing."""
    for window_id in services.windows_stuck(older_than_s=settings.CAPTURE["REQUEUE_AFTER_S"]):
        transcribe_window.delay(str(window_id))
