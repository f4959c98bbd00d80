"""The whole server path for real: WebSocket client -> Daphne -> VAD windows -> Redis -> Celery worker
with the bundled tiny.en model -> encrypted segments -> recap -> transcript deleted."""

import asyncio
import re

import pytest
from django.db import connection

from bench.protocol_client import stream_session
from capture import services
from capture.audio_store import KEY_PREFIX
from capture.consent.services import consent_record_save
from capture.models import CaptureSession, CaptureWindow, TranscriptSegment
from recaps.models import Recap
from tests.audio import SHARED_AUDIO, espeak_pcm, silence
from tests.capture.conftest import session_cookie
from tests.factories import consent_record

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIENT_TEXT = "I have been sleeping badly because of the deadlines at work."
THERAPIST_TEXT = "This week, try writing down three worries before bed."


def words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 3}


def _new_session(user, channels=1):
    session = services.capture_session_create(user=user)
    consent_record_save(session=session, consent=consent_record())
    return session


def _stream(asgi_server, user, session, pcm_by_channel, **kwargs):
    return asyncio.run(
        stream_session(
            ws_url=f"ws://127.0.0.1:{asgi_server.port}/ws/capture/{session.id}/",
            cookie=session_cookie(user),
            origin=asgi_server.url,
            pcm_by_channel=pcm_by_channel,
            **kwargs,
        )
    )


def _assert_nothing_left(session, redis_client):
    assert not TranscriptSegment.objects.filter(session=session).exists()
    assert not CaptureWindow.objects.filter(session=session).exists()
    assert redis_client.keys(f"{KEY_PREFIX}*") == []


def test_two_channels_are_transcribed_labelled_and_then_deleted(
    asgi_server, celery_worker, user, clean_redis, tmp_path
):
    client_pcm = silence(0.5) + espeak_pcm(CLIENT_TEXT, voice="en-us", tmp_dir=tmp_path) + silence(4)
    therapist_pcm = silence(5) + espeak_pcm(THERAPIST_TEXT, voice="en-gb", tmp_dir=tmp_path) + silence(3)
    session = _new_session(user)
    result = _stream(asgi_server, user, session, {0: client_pcm, 1: therapist_pcm}, speed=4, timeout=180)
    assert result.recap_url, f"no recap; errors={result.errors} closed={result.closed_code}"

    recap = Recap.objects.get(session=session)
    assert result.recap_url == f"/recaps/{recap.id}/"
    data = recap.data
    client_words = words(" ".join(i["text"] for i in data["summary"] + data["insights"] + data["next_steps"]))
    assert data["stats"]["speech_s"]["client"] > 1.0
    assert data["stats"]["speech_s"]["therapist"] > 1.0
    assert client_words  # the recap says something drawn from what was said
    # Every frame of both channels was committed.
    assert result.commit[0] == len(client_pcm) // 6400 + (len(client_pcm) % 6400 > 0) - 1
    assert result.commit[1] == len(therapist_pcm) // 6400 + (len(therapist_pcm) % 6400 > 0) - 1
    _assert_nothing_left(session, clean_redis)
    assert CaptureSession.objects.get(id=session.id).status == "done"


class BackgroundCapture:
    """Runs the protocol client in its own thread and event loop, so the test's main thread can read
    the database (with the test's connection) while the session is live, then ask it to Stop."""

    def __init__(self, asgi_server, user, session, pcm_by_channel, *, speed=4):
        from bench.protocol_client import CaptureStreamer, ThreadedSession

        streamer = CaptureStreamer(
            ws_url=f"ws://127.0.0.1:{asgi_server.port}/ws/capture/{session.id}/",
            cookie=session_cookie(user),
            origin=asgi_server.url,
        )
        self.session = ThreadedSession(streamer, pcm_by_channel, speed=speed, timeout=150, connect_timeout=30)

    def stop(self, timeout=150):
        self.session.request_stop()
        self.session.thread.join(timeout)
        return self.session.result


def _wait_for_segments(session, predicate, timeout=120):
    import time

    deadline = time.monotonic() + timeout
    segments = []
    while time.monotonic() < deadline:
        segments = [(s.speaker, s.text) for s in TranscriptSegment.objects.filter(session=session)]
        if predicate(segments):
            break
        time.sleep(0.3)
    return segments


def _speaker_text(segments, speaker):
    return " ".join(t for sp, t in segments if sp == speaker)


def test_words_are_in_the_transient_transcript_with_the_right_speaker(
    asgi_server, celery_worker, user, clean_redis, tmp_path
):
    """Stream without Stop, read the encrypted segments while they exist, then Stop."""
    client_pcm = espeak_pcm(CLIENT_TEXT, voice="en-us", tmp_dir=tmp_path) + silence(4)
    therapist_pcm = silence(1) + espeak_pcm(THERAPIST_TEXT, voice="en-gb", tmp_dir=tmp_path) + silence(3)
    session = _new_session(user)
    capture = BackgroundCapture(asgi_server, user, session, {0: client_pcm, 1: therapist_pcm})
    segments = _wait_for_segments(
        session,
        lambda segs: (
            len(words(_speaker_text(segs, "client")) & words(CLIENT_TEXT)) >= 4
            and len(words(_speaker_text(segs, "therapist")) & words(THERAPIST_TEXT)) >= 4
        ),
    )
    # The recogniser's confidence is kept with each segment, for the recap to leave unsure words unquoted.
    confidence = list(
        TranscriptSegment.objects.filter(session=session).values_list(
            "text", "avg_logprob", "no_speech_prob", "unsure"
        )
    )
    # Stored encrypted: while the session is live, the raw column holds no spoken word.
    with connection.cursor() as cursor:
        cursor.execute("SELECT text FROM recaps_transcriptsegment")
        raw = " ".join(row[0] for row in cursor.fetchall())
    result = capture.stop()
    assert confidence
    for text, avg_logprob, no_speech_prob, unsure in confidence:
        assert avg_logprob is not None and avg_logprob <= 0, confidence
        assert no_speech_prob is not None and 0 <= no_speech_prob <= 1, confidence
        assert all(0 <= a < b <= len(text) for a, b in unsure), confidence
    assert raw.startswith("gAAAA") and not words(raw) & (words(CLIENT_TEXT) | words(THERAPIST_TEXT))
    client_text, therapist_text = _speaker_text(segments, "client"), _speaker_text(segments, "therapist")
    assert len(words(client_text) & words(CLIENT_TEXT)) >= 4, segments
    assert len(words(therapist_text) & words(THERAPIST_TEXT)) >= 4, segments
    # No cross-talk: each channel's distinctive words stay with its speaker.
    assert not words(client_text) & {"worries", "writing"}
    assert not words(therapist_text) & {"deadlines", "sleeping"}
    assert result.recap_url, (result.errors, result.closed_code)
    _assert_nothing_left(session, clean_redis)


@pytest.mark.skipif(not (SHARED_AUDIO / "stereo_diarization.wav").exists(), reason="../shared/audio absent")
def test_shared_stereo_clip_left_is_client_right_is_therapist(asgi_server, celery_worker, user, clean_redis):
    import wave

    import numpy as np

    with wave.open(str(SHARED_AUDIO / "stereo_diarization.wav")) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 2
        stereo = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").reshape(-1, 2)
    left = stereo[:, 0].tobytes() + silence(3)
    right = stereo[:, 1].tobytes() + silence(3)
    session = _new_session(user)
    capture = BackgroundCapture(asgi_server, user, session, {0: left, 1: right})
    segments = _wait_for_segments(
        session,
        lambda segs: {"client", "therapist"} <= {sp for sp, _ in segs},
    )
    result = capture.stop()
    client = _speaker_text(segments, "client").lower()
    therapist = _speaker_text(segments, "therapist").lower()
    assert "wizard" in client or "curtain" in client, segments
    assert "horizon" in therapist or "distant" in therapist, segments
    assert "horizon" not in client and "wizard" not in therapist
    assert result.recap_url
    _assert_nothing_left(session, clean_redis)
