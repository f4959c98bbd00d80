"""Transcription in batches, across sessions, without giving up exactly-once.

Every queued window still has its own Celery message (`transcribe_window`, acks_late): that message
is what guarantees the window gets done, as before. The task that runs it also takes up to
TRANSCRIBE_BATCH_SIZE - 1 other queued windows, from any session, and transcribes them all in one
batched model call (capture/transcription.py `transcribe_many`), waiting at most
TRANSCRIBE_BATCH_WAIT_S for the batch to fill.

Who transcribes a window is settled by a claim in Redis (`uw:asr:claim:<window id>`, SET NX with a
short TTL that a heartbeat renews while the batch runs). Storing stays idempotent by window id
(services.capture_window_done stores a window once, under its row lock), so a claim only saves work;
it never decides what is stored. The cases:
- a window's own message runs while another batch holds its claim: the message is sent again for when
  that claim would have expired, and meanwhile the task batches other unclaimed windows. If the batch
  finishes, the resent message finds the window done and does nothing; if the batch's worker was
  killed, its heartbeat stops, the claim expires, and the resent message transcribes the window.
- the worker is SIGKILLed mid-batch: its own message is redelivered (reject_on_worker_lost) and the
  other windows' messages are resent as above; a whole worker killed leaves them to the broker's
  visibility timeout and the requeue job, as for a single window.
- one window's audio is missing: that window is marked lost (the browser resends it); the others go on.
- the batched call raises: each window is retried alone, so one bad window cannot fail the others.

Logs carry ids and counts only."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass

from django.conf import settings

from . import audio_store, selectors, services
from .models import CaptureWindow
from .vad import pieces_to_session_time

log = logging.getLogger(__name__)

CLAIM_PREFIX = "uw:asr:claim:"
_POLL_S = 0.05

# Deletes a claim only while it is still ours: after a stall past the TTL another worker may hold it.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def claim_key(window_id) -> str:
    return f"{CLAIM_PREFIX}{window_id}"


class Claims:
    """The windows this task holds, kept alive by a heartbeat thread until released."""

    def __init__(self) -> None:
        self.token = uuid.uuid4().hex
        self.ttl_ms = int(settings.CAPTURE["TRANSCRIBE_CLAIM_TTL_S"] * 1000)
        self.held: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def take(self, window_ids: list[str]) -> list[str]:
        if not window_ids:
            return []
        pipe = audio_store.client().pipeline(transaction=False)
        for window_id in window_ids:
            pipe.set(claim_key(window_id), self.token, nx=True, px=self.ttl_ms)
        won = [w for w, ok in zip(window_ids, pipe.execute(), strict=True) if ok]
        self.held.extend(won)
        return won

    def remaining_s(self, window_id: str) -> float:
        """How long another holder's claim on `window_id` can still last (0 when there is none)."""
        ttl = audio_store.client().pttl(claim_key(window_id))
        return max(ttl, 0) / 1000.0

    def __enter__(self) -> Claims:
        self._thread = threading.Thread(target=self._beat, name="claim-heartbeat", daemon=True)
        self._thread.start()
        return self

    def _beat(self) -> None:
        # The model call holds the GIL only between its C++ steps, so this thread runs on time.
        while not self._stop.wait(self.ttl_ms / 3000.0):
            held = list(self.held)
            if not held:
                continue
            try:
                pipe = audio_store.client().pipeline(transaction=False)
                for window_id in held:
                    pipe.pexpire(claim_key(window_id), self.ttl_ms)
                pipe.execute()
            except Exception as exc:  # noqa: BLE001 - Redis away: claims lapse, which only risks repeated work
                log.warning("claim heartbeat failed (%s)", type(exc).__name__)

    def release(self, window_id: str) -> None:
        if window_id in self.held:
            self.held.remove(window_id)
        try:
            audio_store.client().eval(_RELEASE, 1, claim_key(window_id), self.token)
        except Exception as exc:  # noqa: BLE001 - it expires on its own
            log.warning("claim release failed (%s)", type(exc).__name__)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        for window_id in list(self.held):
            self.release(window_id)


@dataclass
class Job:
    window: CaptureWindow
    pcm: bytes


def _queued(window_ids: list[str]) -> dict[str, CaptureWindow]:
    rows = CaptureWindow.objects.filter(id__in=window_ids, status=CaptureWindow.Status.QUEUED)
    return {str(w.id): w for w in rows}


def _others(*, exclude: set[str], limit: int) -> list[str]:
    """Queued windows of any session, oldest first: candidates for this batch."""
    return [
        str(w)
        for w in CaptureWindow.objects.filter(status=CaptureWindow.Status.QUEUED)
        .exclude(id__in=exclude)
        .order_by("created_at")
        .values_list("id", flat=True)[: limit * 3]
    ]


def _fill(claims: Claims, batch: list[str], *, size: int, exclude: set[str]) -> None:
    """Claim queued windows into `batch` until it holds `size`, never claiming more than it needs."""
    if len(batch) >= size:
        return
    candidates = _others(exclude=exclude | set(batch), limit=size - len(batch))
    while candidates and len(batch) < size:
        need = size - len(batch)
        batch += claims.take(candidates[:need])
        candidates = candidates[need:]


def run(window_id: str, *, resend) -> None:
    """The body of `transcribe_window`. `resend(countdown_s)` sends this window's message again."""
    size = max(1, settings.CAPTURE["TRANSCRIBE_BATCH_SIZE"])
    wait_s = settings.CAPTURE["TRANSCRIBE_BATCH_WAIT_S"]
    started, cpu_started = time.monotonic(), time.process_time()
    with Claims() as claims:
        own = _queued([window_id]).get(window_id)
        if own is None:
            return  # done already (a redelivery or a batch took it) or deleted with its session
        mine = bool(claims.take([window_id]))
        if not mine:
            # Another batch holds it. Our message comes back when that claim would have run out: a
            # no-op if the batch stored the window, the transcription if the batch's worker died.
            resend(claims.remaining_s(window_id) + 1.0)
        batch = [window_id] if mine else []
        while True:
            _fill(claims, batch, size=size, exclude={window_id})
            # Wait for more only on behalf of our own window, and only briefly: under load the queue
            # fills a batch at once; a lone session pays at most the wait.
            left = wait_s - (time.monotonic() - started)
            if len(batch) >= size or not mine or left <= 0:
                break
            time.sleep(min(_POLL_S, left))
        if batch:
            failed = transcribe_batch(batch, claims=claims, cpu_started=cpu_started)
            if window_id in failed:
                raise failed[window_id]


def transcribe_batch(
    window_ids: list[str], *, claims: Claims, cpu_started: float | None = None
) -> dict[str, Exception]:
    """Transcribe and store the claimed windows; returns the ones that failed, with their error.
    `cpu_started`: this process's CPU clock when the task began, to log the CPU spent outside the
    model (claims, database, Redis, encryption) beside the model's own."""
    cpu_started = time.process_time() if cpu_started is None else cpu_started
    from . import transcription  # loads the model: only in the worker

    windows = _queued(window_ids)
    jobs: list[Job] = []
    for window_id in window_ids:
        window = windows.get(window_id)
        if window is None:  # stored meanwhile by an earlier holder, or its session was deleted
            claims.release(window_id)
            continue
        pcm = audio_store.window_audio_get(window_id=window_id)
        if pcm is None:
            log.warning("window %s: audio missing from Redis, asking the browser to resend", window_id)
            services.capture_window_lost(window_id=window_id)
            claims.release(window_id)
            continue
        jobs.append(Job(window, pcm))
    if not jobs:
        return {}
    cpu = time.process_time()
    try:
        results: list[list | Exception] = transcription.transcribe_many([j.pcm for j in jobs])
    except Exception as batch_error:  # noqa: BLE001 - retried one by one below
        if len(jobs) == 1:
            results = [batch_error]
        else:
            log.warning("batch of %d failed (%s); one by one", len(jobs), type(batch_error).__name__)
            results = []
            for job in jobs:
                try:
                    results.append(transcription.transcribe_many([job.pcm])[0])
                except Exception as error:  # noqa: BLE001 - this window alone fails
                    results.append(error)
    asr_cpu = time.process_time() - cpu
    failed: dict[str, Exception] = {}
    voices_cpu = 0.0
    # In order of arrival, so one in-person session's windows update its voices in order.
    for job, pieces in sorted(zip(jobs, results, strict=True), key=lambda jr: jr[0].window.created_at):
        window_id = str(job.window.id)
        try:
            if isinstance(pieces, Exception):
                raise pieces
            started = time.process_time()
            segments = _segments(job.window, job.pcm, pieces)
            voices_cpu += time.process_time() - started
            services.capture_window_done(window_id=window_id, segments=segments)
        except Exception as error:  # noqa: BLE001 - the other windows are still stored
            log.warning("window %s: transcription failed (%s)", window_id, type(error).__name__)
            failed[window_id] = error
        finally:
            claims.release(window_id)
    audio_s = sum(len(j.pcm) for j in jobs) / 32000
    other_cpu = time.process_time() - cpu_started - asr_cpu - voices_cpu
    # CPU seconds, whole batch: the model, speaker segmentation, everything else (bench/capacity.py
    # reads this line); and per audio second.
    log.info(
        "batch of %d window(s): %.1f s of speech; cpu asr %.3f s, speakers %.3f s, other %.3f s; "
        "cpu/s asr %.3f; %d failed",
        len(jobs),
        audio_s,
        asr_cpu,
        voices_cpu,
        other_cpu,
        asr_cpu / max(audio_s, 1e-6),
        len(failed),
    )
    return failed


def _segments(window: CaptureWindow, pcm: bytes, pieces) -> list[dict]:
    if window.channel == 0 and selectors.session_in_person(session_id=window.session_id):
        return _by_voice(window, pcm, pieces)
    return [
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
