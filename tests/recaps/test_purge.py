from datetime import timedelta

import pytest
from django.utils import timezone

from capture import audio_store, services
from capture.consent.services import consent_record_save
from capture.models import CaptureSession, CaptureWindow, TranscriptSegment
from capture.services import transcript_purge_stale
from tests.factories import consent_record


def _session_with_transcript(user, *, age: timedelta):
    session = services.capture_session_create(user=user)
    consent_record_save(session=session, consent=consent_record())
    CaptureSession.objects.filter(id=session.id).update(created_at=timezone.now() - age)
    window = CaptureWindow.objects.create(session=session, channel=0, seq_first=0, seq_last=10)
    audio_store.window_audio_put(window_id=window.id, pcm=b"\x01\x02" * 100)
    TranscriptSegment.objects.create(
        session=session, window=window, index=0, channel=0, start=0, end=1, text="hi"
    )
    return session, window


@pytest.mark.django_db
def test_purge_removes_transcripts_and_audio_of_sessions_that_never_finished(user, clean_redis):
    old, old_window = _session_with_transcript(user, age=timedelta(hours=7))
    fresh, fresh_window = _session_with_transcript(user, age=timedelta(minutes=5))

    removed = transcript_purge_stale(older_than_s=6 * 3600)

    assert removed == {"finished": 0, "segments": 1, "windows": 1, "audio_keys": 1}
    assert not TranscriptSegment.objects.filter(session=old).exists()
    assert not audio_store.window_audio_exists(window_id=old_window.id)
    assert CaptureSession.objects.get(id=old.id).status == CaptureSession.Status.FAILED
    # A session still in progress keeps its transcript and audio.
    assert TranscriptSegment.objects.filter(session=fresh).count() == 1
    assert audio_store.window_audio_exists(window_id=fresh_window.id)
