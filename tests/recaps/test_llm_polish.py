"""With a model server configured, the local recap is saved and shown at Stop as always; the model then
writes the final recap from the transcript, which lives (encrypted) until then and no longer. If the
model cannot, the local recap stands with a quiet note."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from capture import services as capture_services
from capture.consent.services import consent_record_save
from capture.models import CaptureSession, CaptureWindow, TranscriptSegment
from recaps import services
from recaps.models import MomentSchedule, Recap
from tests.factories import consent_record
from tests.recaps.llm_server import Reply, ScriptedLlm, Status
from tests.recaps.test_llm_engine import GOOD, SEGMENTS

pytestmark = pytest.mark.django_db


def ending_session(user) -> CaptureSession:
    session = capture_services.capture_session_create(user=user)
    consent_record_save(session=session, consent=consent_record())
    windows = {
        ch: CaptureWindow.objects.create(
            session=session,
            channel=ch,
            seq_first=0,
            seq_last=699,
            speech_s=45.0,
            status=CaptureWindow.Status.DONE,
        )
        for ch in (0, 1)
    }
    for i, s in enumerate(SEGMENTS):
        ch = 0 if s.speaker == "client" else 1  # a segment's speaker is its channel
        TranscriptSegment.objects.create(
            session=session, window=windows[ch], index=i, channel=ch, start=s.start, end=s.end, text=s.text
        )
    CaptureSession.objects.filter(id=session.id).update(status=CaptureSession.Status.ENDING)
    return session


@pytest.fixture
def model(settings):
    with ScriptedLlm() as llm:
        settings.RECAP_LLM_URL, settings.RECAP_LLM_MODEL = llm.url, "test-model"
        yield llm


def test_the_local_recap_comes_first_then_the_models_replaces_it_and_the_transcript_goes(
    user, model, clean_redis
):
    session = ending_session(user)
    recap = services.recap_build(session_id=session.id)
    assert recap.engine == "local" and recap.data["polishing"] is True
    # The transcript is held for the model, encrypted as always, and nothing else.
    assert TranscriptSegment.objects.filter(session=session).count() == len(SEGMENTS)
    assert CaptureSession.objects.get(id=session.id).transcript_held_at is not None
    page = Client()
    page.force_login(user)
    shown = page.get(f"/recaps/{recap.id}/").content.decode()
    assert "Polishing your recap" in shown and "127.0.0.1" in shown

    model.push(Reply(GOOD))
    polished = services.recap_polish(recap_id=recap.id)
    assert polished.engine == "llm" and polished.data["polished"] is True
    assert "polishing" not in polished.data
    assert polished.data["stats"]["recorded_s"] == recap.data["stats"]["recorded_s"]
    assert [s["text"] for s in polished.data["summary"]] == [s["text"] for s in GOOD["summary"]]
    assert MomentSchedule.objects.filter(recap=polished).count() == len(polished.data["moments"])
    assert not TranscriptSegment.objects.filter(session=session).exists()
    assert not CaptureWindow.objects.filter(session=session).exists()
    assert CaptureSession.objects.get(id=session.id).transcript_held_at is None
    shown = page.get(f"/recaps/{recap.id}/").content.decode()
    assert "Written by the language model at 127.0.0.1" in shown and "Polishing" not in shown
    # Once done, a repeated task (acks_late redelivery) changes nothing.
    assert services.recap_polish(recap_id=recap.id) is None
    assert Recap.objects.get(id=recap.id).data == polished.data


def test_when_the_model_fails_the_local_recap_stands_and_the_transcript_still_goes(user, model, clean_redis):
    session = ending_session(user)
    recap = services.recap_build(session_id=session.id)
    local_summary = recap.data["summary"]
    model.push(Status(500))
    assert services.recap_polish(recap_id=recap.id) is None
    recap.refresh_from_db()
    assert recap.engine == "local" and recap.data["summary"] == local_summary
    assert recap.data["polish_failed"] is True and "polishing" not in recap.data
    assert not TranscriptSegment.objects.filter(session=session).exists()


def test_without_a_model_server_nothing_is_held(user, settings, clean_redis):
    settings.RECAP_LLM_URL = ""
    session = ending_session(user)
    recap = services.recap_build(session_id=session.id)
    assert "polishing" not in recap.data
    assert not TranscriptSegment.objects.filter(session=session).exists()


def test_a_transcript_held_too_long_is_purged_and_the_recap_stands(user, model, clean_redis):
    session = ending_session(user)
    services.recap_build(session_id=session.id)
    CaptureSession.objects.filter(id=session.id).update(
        transcript_held_at=timezone.now() - timedelta(seconds=capture_services.TRANSCRIPT_HOLD_MAX_S + 1)
    )
    counts = capture_services.transcript_purge_stale(older_than_s=24 * 3600)
    assert counts["segments"] == len(SEGMENTS)
    assert not TranscriptSegment.objects.filter(session=session).exists()


def test_the_build_task_hands_the_recap_to_the_llm_queue_by_id(
    user, model, clean_redis, monkeypatch, settings
):
    from recaps import tasks

    sent = []
    monkeypatch.setattr(tasks.recap_polish, "delay", lambda *args: sent.append(args))
    session = ending_session(user)
    tasks.recap_build(str(session.id))
    recap = Recap.objects.get(session=session)
    assert sent == [(str(recap.id),)]  # an id, never text
    assert settings.CELERY_TASK_ROUTES["recaps.tasks.recap_polish"] == {"queue": "llm"}


def test_the_polish_task_tells_the_open_page_when_the_final_recap_is_there(
    user, model, clean_redis, monkeypatch
):
    from recaps import tasks

    told = []
    monkeypatch.setattr(
        tasks.capture_services, "group_send", lambda group, message: told.append((group, message))
    )
    monkeypatch.setattr(tasks.recap_polish, "delay", lambda *args: None)
    session = ending_session(user)
    tasks.recap_build(str(session.id))
    recap = Recap.objects.get(session=session)
    assert told[-1][1] == {"type": "capture.done", "recap_id": str(recap.id), "polishing": True}
    model.push(Reply(GOOD))
    tasks.recap_polish(str(recap.id))
    assert told[-1] == (capture_services.session_group(session.id), {"type": "capture.polished"})
    assert Recap.objects.get(id=recap.id).data["polished"] is True
