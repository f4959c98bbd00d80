"""Unfinished recordings are never invisible: Home and Sessions list them with Continue, Finish now
(a recap from what was saved) and Discard (nothing kept); the session page says a recording was
under way; the purge job finishes an abandoned one from what was saved instead of deleting it."""

from datetime import timedelta
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from capture import audio_store, services
from capture.consent.services import consent_record_save
from capture.models import CaptureSession, CaptureWindow, TranscriptSegment
from recaps import services as recap_services
from recaps.models import Recap
from tests.factories import consent_record


def _recording(user, *, done_text="I want to walk after lunch this week.", queued=True, age=None):
    """A consented session with one transcribed window (60 s) and, optionally, one still queued."""
    session = services.capture_session_create(user=user)
    consent_record_save(session=session, consent=consent_record())
    if age is not None:
        CaptureSession.objects.filter(id=session.id).update(created_at=timezone.now() - age)
    done = CaptureWindow.objects.create(
        session=session, channel=0, seq_first=0, seq_last=299, status=CaptureWindow.Status.DONE
    )
    TranscriptSegment.objects.create(
        session=session, window=done, index=0, channel=0, start=1, end=4, text=done_text
    )
    CaptureSession.objects.filter(id=session.id).update(commit_0=299)
    pending = None
    if queued:
        pending = CaptureWindow.objects.create(session=session, channel=0, seq_first=300, seq_last=349)
        audio_store.window_audio_put(window_id=pending.id, pcm=b"\x01\x02" * 100)
    return CaptureSession.objects.get(id=session.id), pending


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_home_and_sessions_list_unfinished_recordings_with_their_captured_time(user, other_user, clean_redis):
    mine, _ = _recording(user)
    _recording(other_user)
    finished, _ = _recording(user, queued=False)
    CaptureSession.objects.filter(id=finished.id).update(status=CaptureSession.Status.DONE)
    for url in ("/", "/recaps/"):
        body = _client(user).get(url).content.decode()
        assert "A recording isn&#x27;t finished" in body or "A recording isn't finished" in body, url
        assert "1 min 10 s captured" in body  # 350 frames of 200 ms
        assert f"/capture/s/{mine.id}/finish/" in body and f"/capture/s/{mine.id}/discard/" in body
        assert f"/capture/s/{finished.id}/" not in body
    other_body = _client(other_user).get("/").content.decode()
    assert f"/capture/s/{mine.id}/" not in other_body


@pytest.mark.django_db
def test_the_session_page_says_a_recording_was_under_way(user, clean_redis):
    session, _ = _recording(user)
    body = _client(user).get(f"/capture/s/{session.id}/").content.decode()
    assert "You were recording (1 min 10 s captured)" in body
    fresh = services.capture_session_create(user=user)
    consent_record_save(session=fresh, consent=consent_record())
    assert "You were recording" not in _client(user).get(f"/capture/s/{fresh.id}/").content.decode()


@pytest.mark.django_db
def test_finish_now_makes_the_recap_from_what_was_saved(
    user, clean_redis, django_capture_on_commit_callbacks
):
    session, pending = _recording(user)
    with (
        mock.patch("recaps.tasks.recap_build.delay") as delay,
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = _client(user).post(f"/capture/s/{session.id}/finish/")
    assert response.status_code == 302 and response["Location"] == f"/capture/s/{session.id}/"
    # Every window left is transcribed, so the recap is asked for at once (capture.signals).
    delay.assert_called_once_with(str(session.id))
    session.refresh_from_db()
    assert session.status == CaptureSession.Status.ENDING
    # The window never transcribed is gone with its audio: nothing would ever send it now.
    assert not CaptureWindow.objects.filter(id=pending.id).exists()
    assert not audio_store.window_audio_exists(window_id=pending.id)
    recap = recap_services.recap_build(session_id=session.id)
    assert recap is not None and "walk" in str(recap.data)
    assert recap.data["stats"]["recorded_s"] == 60.0
    assert "finished_automatically" not in recap.data["stats"]
    assert not TranscriptSegment.objects.filter(session=session).exists()


@pytest.mark.django_db
def test_discard_leaves_no_window_audio_key_or_segment(user, other_user, clean_redis):
    session, pending = _recording(user)
    keep, keep_pending = _recording(user)
    assert _client(other_user).post(f"/capture/s/{session.id}/discard/").status_code == 404
    response = _client(user).post(f"/capture/s/{session.id}/discard/", {"next": "/recaps/"})
    assert response.status_code == 302 and response["Location"] == "/recaps/"
    assert not CaptureSession.objects.filter(id=session.id).exists()
    assert not CaptureWindow.objects.filter(session_id=session.id).exists()
    assert not TranscriptSegment.objects.filter(session_id=session.id).exists()
    assert not audio_store.window_audio_exists(window_id=pending.id)
    # Only that recording: the other one is untouched.
    assert CaptureWindow.objects.filter(session=keep).count() == 2
    assert audio_store.window_audio_exists(window_id=keep_pending.id)


@pytest.mark.django_db
def test_discard_refuses_a_session_that_has_its_recap(user, clean_redis):
    session, _ = _recording(user, queued=False)
    CaptureSession.objects.filter(id=session.id).update(status=CaptureSession.Status.DONE)
    response = _client(user).post(f"/capture/s/{session.id}/discard/", follow=True)
    assert "delete the recap instead" in response.content.decode()
    assert CaptureSession.objects.filter(id=session.id).exists()


@pytest.mark.django_db
def test_the_purge_finishes_an_abandoned_recording_and_the_recap_says_so(user, clean_redis):
    abandoned, pending = _recording(user, age=timedelta(hours=7))
    with mock.patch("recaps.tasks.recap_build.delay"):
        removed = services.transcript_purge_stale(older_than_s=6 * 3600)
    assert removed["finished"] == 1
    abandoned.refresh_from_db()
    assert abandoned.status == CaptureSession.Status.ENDING and abandoned.finished_automatically
    assert not audio_store.window_audio_exists(window_id=pending.id)
    recap = recap_services.recap_build(session_id=abandoned.id)
    assert recap.data["stats"]["finished_automatically"] is True
    body = _client(user).get(f"/recaps/{recap.id}/").content.decode()
    assert "Nobody pressed Stop on this recording" in body
    # Never finished twice, and a later purge leaves the recap alone.
    services.transcript_purge_stale(older_than_s=6 * 3600)
    assert Recap.objects.filter(session=abandoned).count() == 1
