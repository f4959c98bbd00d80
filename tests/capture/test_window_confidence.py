"""capture_window_done keeps the recogniser's confidence with each stored segment, and still takes
the segment dicts of a task from before it was kept (a worker not yet restarted)."""

import pytest

from capture import audio_store, services
from capture.models import CaptureWindow, TranscriptSegment

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("clean_redis")]


def _queued_window(session):
    window = CaptureWindow.objects.create(session=session, channel=0, seq_first=0, seq_last=10, speech_s=1.0)
    audio_store.window_audio_put(window_id=window.id, pcm=b"\x01\x00" * 3200)
    return window


def test_window_done_stores_the_confidence_of_each_segment(consented_session):
    window = _queued_window(consented_session)
    segments = [
        {"start": 0.5, "end": 1.5, "text": "I tried it twice.", "avg_logprob": -0.31, "no_speech_prob": 0.04,
         "unsure": [[2, 7], [11, 17]]},
        {"start": 1.5, "end": 2.0, "text": "Mostly.", "avg_logprob": -1.3, "no_speech_prob": 0.2,
         "unsure": []},
    ]  # fmt: skip
    assert services.capture_window_done(window_id=window.id, segments=segments) is not None

    rows = TranscriptSegment.objects.filter(window=window).order_by("index")
    assert [(r.text, r.avg_logprob, r.no_speech_prob, r.unsure) for r in rows] == [
        ("I tried it twice.", -0.31, 0.04, [[2, 7], [11, 17]]),
        ("Mostly.", -1.3, 0.2, []),
    ]
    assert not audio_store.window_audio_exists(window_id=window.id)


def test_window_done_takes_segments_without_confidence(consented_session):
    window = _queued_window(consented_session)
    services.capture_window_done(window_id=window.id, segments=[{"start": 0.0, "end": 1.0, "text": "Hello."}])
    row = TranscriptSegment.objects.get(window=window)
    assert (row.text, row.avg_logprob, row.no_speech_prob, row.unsure) == ("Hello.", None, None, [])
