"""Batched transcription across sessions (capture/batching.py): one task takes several queued windows
into one model call, and every window is still stored exactly once, whatever fails.

The claim and failure tests run the real task, Redis and database with a recogniser that says which
window it heard; the last two run the real tiny.en model."""

import time

import numpy as np
import pytest

from capture import audio_store, batching, tasks, transcription
from capture.models import CaptureSession, CaptureWindow, TranscriptSegment
from capture.transcription import Piece
from tests.audio import espeak_pcm, need_espeak, silence
from undertone_web.redaction import ContentFreeError

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_redis")]


@pytest.fixture(autouse=True)
def no_recap(monkeypatch):
    monkeypatch.setattr("recaps.tasks.recap_build.delay", lambda session_id: None)


@pytest.fixture(autouse=True)
def batches_of_four(settings):
    """A GPU worker's setting (1, the CPU default, batches nothing)."""
    settings.CAPTURE = {**settings.CAPTURE, "TRANSCRIBE_BATCH_SIZE": 4}


@pytest.fixture
def heard(monkeypatch):
    """A recogniser whose one piece names the window (its first byte), recording each call's batch."""
    calls = []

    def transcribe_many(pcms):
        calls.append(len(pcms))
        for pcm in pcms:
            if pcm[:1] == b"\xff":
                raise RuntimeError("a window the model cannot read")
        return [[Piece(0.0, 1.0, f"window {pcm[0]}")] for pcm in pcms]

    monkeypatch.setattr(transcription, "transcribe_many", transcribe_many)
    return calls


def _session(user):
    return CaptureSession.objects.create(user=user, status=CaptureSession.Status.RECORDING)


def _window(session, n: int, *, channel: int = 0, audio: bool = True, first_byte: int | None = None):
    window = CaptureWindow.objects.create(
        session=session, channel=channel, seq_first=n * 10, seq_last=n * 10 + 9, pieces=[[0.0, n * 2.0, 2.0]]
    )
    if audio:
        byte = n if first_byte is None else first_byte
        audio_store.window_audio_put(window_id=window.id, pcm=bytes([byte, 0]) * 16000)
    return window


def _texts(window) -> list[str]:
    return [s.text for s in TranscriptSegment.objects.filter(window=window).order_by("index")]


def _status(window) -> str:
    window.refresh_from_db()
    return window.status


def test_one_task_transcribes_queued_windows_of_several_sessions_in_one_call(
    user, other_user, heard, settings
):
    settings.CAPTURE = {**settings.CAPTURE, "TRANSCRIBE_BATCH_SIZE": 4, "TRANSCRIBE_BATCH_WAIT_S": 0}
    mine, theirs = _session(user), _session(other_user)
    windows = [_window(mine, 1), _window(theirs, 2), _window(mine, 3, channel=1)]

    tasks.transcribe_window(str(windows[0].id))

    assert heard == [3]  # one batched call
    for window, n in zip(windows, (1, 2, 3), strict=True):
        assert _status(window) == "done"
        assert _texts(window) == [f"window {n}"]  # each window's own words, none of another's
    assert audio_store.client().keys(f"{batching.CLAIM_PREFIX}*") == []  # claims released

    # The other windows' own messages arrive later: nothing is transcribed or stored twice.
    for window in windows[1:]:
        tasks.transcribe_window(str(window.id))
    assert heard == [3]
    assert TranscriptSegment.objects.count() == 3


def test_the_cpu_default_transcribes_one_window_per_call(user, heard, settings):
    settings.CAPTURE = {**settings.CAPTURE, "TRANSCRIBE_BATCH_SIZE": 1}
    session = _session(user)
    windows = [_window(session, n) for n in (1, 2)]
    tasks.transcribe_window(str(windows[1].id))
    assert heard == [1]
    assert [_status(w) for w in windows] == ["queued", "done"]


def test_a_batch_takes_no_more_than_its_size_and_leaves_the_rest_queued(user, heard, settings):
    settings.CAPTURE = {**settings.CAPTURE, "TRANSCRIBE_BATCH_SIZE": 2, "TRANSCRIBE_BATCH_WAIT_S": 0}
    session = _session(user)
    windows = [_window(session, n) for n in range(1, 5)]

    tasks.transcribe_window(str(windows[2].id))

    assert heard == [2]
    # Its own window and the oldest other one; the rest wait for their own messages, unclaimed.
    assert [_status(w) for w in windows] == ["done", "queued", "done", "queued"]
    assert audio_store.client().keys(f"{batching.CLAIM_PREFIX}*") == []


def test_a_window_another_batch_holds_is_sent_again_for_when_that_claim_lapses(
    user, heard, settings, monkeypatch
):
    settings.CAPTURE = {**settings.CAPTURE, "TRANSCRIBE_BATCH_WAIT_S": 0, "TRANSCRIBE_CLAIM_TTL_S": 15.0}
    session = _session(user)
    held, free = _window(session, 1), _window(session, 2)
    audio_store.client().set(batching.claim_key(held.id), "another worker", px=9000)
    resent = []
    monkeypatch.setattr(
        tasks.transcribe_window, "apply_async", lambda args, countdown: resent.append((args, countdown))
    )

    tasks.transcribe_window(str(held.id))

    # Not transcribed here (the holder may be mid-call), but not dropped either: its message comes
    # back just after the holder's claim would run out. Meanwhile the task did other work.
    assert _status(held) == "queued"
    assert len(resent) == 1 and resent[0][0] == (str(held.id),)
    assert 9.0 < resent[0][1] <= 10.0
    assert _status(free) == "done"


def test_after_a_batch_dies_mid_call_its_windows_are_stored_once_when_their_claims_lapse(
    user, heard, settings, monkeypatch
):
    """A worker killed inside the model call: its claims stop being renewed. The windows' messages
    (the killed task's redelivered one, the others' resent ones) then find the claims gone."""
    settings.CAPTURE = {**settings.CAPTURE, "TRANSCRIBE_BATCH_WAIT_S": 0}
    session = _session(user)
    windows = [_window(session, n) for n in (1, 2, 3)]
    for window in windows:  # what the dead batch left: claims that are no longer renewed
        audio_store.client().set(batching.claim_key(window.id), "dead worker", px=1)
    time.sleep(0.01)

    for window in windows:  # every message runs, in any order
        tasks.transcribe_window(str(window.id))

    assert heard == [3]
    assert [len(_texts(w)) for w in windows] == [1, 1, 1]


def test_a_window_whose_audio_is_gone_is_marked_lost_and_the_others_are_stored(user, heard, settings):
    settings.CAPTURE = {**settings.CAPTURE, "TRANSCRIBE_BATCH_WAIT_S": 0}
    session = _session(user)
    lost, kept = _window(session, 1, audio=False), _window(session, 2)

    tasks.transcribe_window(str(lost.id))

    assert _status(lost) == "lost"  # the browser is asked to resend it
    assert _texts(kept) == ["window 2"]


def test_a_window_the_model_cannot_read_fails_alone(user, heard, settings):
    settings.CAPTURE = {**settings.CAPTURE, "TRANSCRIBE_BATCH_WAIT_S": 0}
    session = _session(user)
    good, bad, also_good = _window(session, 1), _window(session, 2, first_byte=0xFF), _window(session, 3)

    tasks.transcribe_window(str(good.id))  # the batch call raises; each window is tried alone
    assert heard == [3, 1, 1, 1]
    assert _texts(good) == ["window 1"] and _texts(also_good) == ["window 3"]
    assert _status(bad) == "queued"  # left for its own message (and the requeue job)

    # Its own message fails loudly (type only: the task is content-free), and stores nothing.
    with pytest.raises(ContentFreeError, match="RuntimeError"):
        tasks.transcribe_window(str(bad.id))
    assert _status(bad) == "queued" and _texts(bad) == []
    assert audio_store.client().keys(f"{batching.CLAIM_PREFIX}*") == []


# The real model ------------------------------------------------------------------------------------

SENTENCES = (
    "On Sunday I went for a long walk by the river and felt calmer afterwards.",
    "My manager asked for the report early, and I panicked for most of the afternoon.",
    "I want to bring up my sister next time, because that conversation still bothers me.",
)
KEYWORDS = {"river", "manager", "sister"}


def _words(text: str) -> list[str]:
    return "".join(c if c.isalnum() or c == " " else " " for c in text.lower()).split()


@pytest.mark.slow
def test_batched_windows_get_the_same_words_as_one_by_one_and_keep_to_their_own_audio(tmp_path):
    need_espeak()
    pcms = [
        silence(0.4) + espeak_pcm(SENTENCES[0], tmp_dir=tmp_path) + silence(0.3),
        espeak_pcm(SENTENCES[1], voice="en-gb", tmp_dir=tmp_path),
        silence(2.0) + espeak_pcm(SENTENCES[2], tmp_dir=tmp_path) * 2,
    ]
    batched = transcription.transcribe_many(pcms)
    alone = [transcription.transcribe_pcm(pcm) for pcm in pcms]

    for pcm, pieces, single, sentence in zip(pcms, batched, alone, SENTENCES, strict=True):
        text = " ".join(p.text for p in pieces)
        assert _words(text) == _words(" ".join(p.text for p in single))
        # Its own sentence's words, and none of the others' (they share a call, never a context).
        assert KEYWORDS & set(_words(text)) == KEYWORDS & set(_words(sentence))
        duration = len(pcm) / 32000
        assert all(0.0 <= p.start < p.end <= duration + 0.05 for p in pieces)
        assert all(0.0 <= w[0] <= w[1] <= duration + 0.05 for p in pieces for w in p.words)
    # Times are relative to each window's own start (the third starts about 20 s into the call):
    # its speech begins after 2 s of silence, where decoding it alone puts it too.
    assert 1.0 < batched[2][0].start < 2.5
    assert abs(batched[2][0].start - alone[2][0].start) < 0.5


@pytest.mark.slow
def test_silence_in_a_batch_gives_no_words_and_does_not_disturb_its_neighbours(tmp_path):
    need_espeak()
    speech = espeak_pcm(SENTENCES[1], tmp_dir=tmp_path)
    quiet = (np.random.default_rng(0).normal(0, 30, 16000 * 3)).astype("<i2").tobytes()
    batched = transcription.transcribe_many([quiet, speech, b""])
    assert batched[0] == [] and batched[2] == []
    assert "manager" in _words(" ".join(p.text for p in batched[1]))
