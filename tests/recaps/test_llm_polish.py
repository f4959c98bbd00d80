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
    from capture.models import TranscriptNotes

    TranscriptNotes.objects.create(session=session, chunk=0, status="done", data={"covers": [0.0]})
    counts = capture_services.transcript_purge_stale(older_than_s=24 * 3600)
    assert counts["segments"] == len(SEGMENTS)
    assert not TranscriptNotes.objects.filter(session=session).exists()
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
    group = capture_services.session_group(session.id)
    assert told[-2:] == [
        (group, {"type": "capture.polishing", "step": 1, "steps": 1}),  # progress, before the call
        (group, {"type": "capture.polished"}),
    ]
    assert Recap.objects.get(id=recap.id).data["polished"] is True


# ---- the map step: notes on each chunk while the session records ----------------------------------


def recording_session(user) -> CaptureSession:
    session = capture_services.capture_session_create(user=user)
    consent_record_save(session=session, consent=consent_record())
    CaptureSession.objects.filter(id=session.id).update(status=CaptureSession.Status.RECORDING)
    return session


def commit_window(session, channel: int, seq_first: int, seq_last: int, segments) -> None:
    """A window transcribed by a worker, through the real commit path (capture_window_done)."""
    window = CaptureWindow.objects.create(
        session=session, channel=channel, seq_first=seq_first, seq_last=seq_last, speech_s=1.0
    )
    capture_services.capture_window_done(
        window_id=window.id,
        segments=[{"start": s.start, "end": s.end, "text": s.text} for s in segments],
    )


def test_chunks_are_noted_while_recording_and_the_final_recap_reads_only_the_rest(
    user, model, settings, clean_redis, monkeypatch, django_capture_on_commit_callbacks
):
    from django.db import connection

    from capture.models import TranscriptNotes
    from recaps import tasks
    from tests.recaps.test_llm_engine import notes_reply

    settings.RECAP_LLM_CHUNK_S = 60.0  # frames are 0.2 s: seq 299 ends at 60 s
    queued = []
    monkeypatch.setattr(tasks.recap_notes, "delay", lambda *args: queued.append(args))
    session = recording_session(user)
    first = [s for s in SEGMENTS if s.start < 60.0]
    rest = [s for s in SEGMENTS if s.start >= 60.0]
    therapist = [s for s in first if s.speaker == "therapist"]
    with django_capture_on_commit_callbacks(execute=True):
        commit_window(session, 1, 0, 149, [s for s in therapist if s.start < 30.0])
        commit_window(session, 0, 0, 349, [s for s in first if s.speaker == "client"])
    assert queued == []  # the therapist's channel is transcribed to 30 s only
    with django_capture_on_commit_callbacks(execute=True):
        commit_window(session, 1, 150, 349, [s for s in therapist if s.start >= 30.0])
    assert queued == [(str(session.id), 0)]  # an id and a number, never text
    with django_capture_on_commit_callbacks(execute=True):
        commit_window(session, 1, 350, 449, [])
    assert queued == [(str(session.id), 0)]  # claimed once, however many commits follow

    model.push(Reply(notes_reply(cites_outside=9)))
    tasks.recap_notes(str(session.id), 0)
    note = TranscriptNotes.objects.get(session=session)
    assert note.status == TranscriptNotes.Status.DONE and note.data["covers"] == [s.start for s in first]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT data FROM {TranscriptNotes._meta.db_table}")  # noqa: S608
        [(raw,)] = cursor.fetchall()
    assert raw.startswith("gAAAA") and "Work" not in raw  # encrypted like the transcript
    assert services.recap_notes(session_id=session.id, chunk=0) is False  # a redelivery: nothing twice
    assert len(model.requests) == 1

    with django_capture_on_commit_callbacks(execute=True):
        commit_window(session, 0, 350, 699, [s for s in rest if s.speaker == "client"])
        commit_window(session, 1, 450, 699, [s for s in rest if s.speaker == "therapist"])
    assert queued == [(str(session.id), 0), (str(session.id), 1)]  # 60-120 s: complete while recording
    CaptureSession.objects.filter(id=session.id).update(status=CaptureSession.Status.ENDING)
    recap = services.recap_build(session_id=session.id)
    assert recap.data["polishing"] is True
    # Chunk 1's task has not run (a busy queue): the final recap reads that chunk's lines as they are.
    assert list(TranscriptNotes.objects.filter(session=session).values_list("chunk", "status")) == [
        (0, "done"),
        (1, "queued"),
    ]

    known = sorted({7.0, 56.0} | {s.start for s in rest})
    from tests.recaps.test_llm_engine import reduce_reply

    model.push(Reply(reduce_reply({start: n for n, start in enumerate(known)})))
    steps = []
    polished = services.recap_polish(recap_id=recap.id, on_progress=lambda *a: steps.append(a))
    assert polished.data["polished"] is True and steps == [(1, 1)]
    reduce_prompt = model.requests[-1]["json"]["messages"][1]["content"]
    assert "how has the week been" not in reduce_prompt and "Work stress" in reduce_prompt
    assert len(model.requests) == 2  # one chunk's notes while recording, one write-up at Stop
    # The notes go with the transcript.
    assert not TranscriptNotes.objects.filter(session=session).exists()
    assert not TranscriptSegment.objects.filter(session=session).exists()


def test_when_the_model_cannot_note_a_chunk_its_lines_go_to_the_final_recap_as_they_are(
    user, model, settings, clean_redis
):
    from capture.models import TranscriptNotes

    settings.RECAP_LLM_CHUNK_S = 60.0
    session = ending_session(user)
    CaptureSession.objects.filter(id=session.id).update(
        status=CaptureSession.Status.RECORDING, commit_0=699, commit_1=699
    )
    assert services.recap_notes_due(session_id=session.id) == [0, 1]
    model.push(Status(500))
    assert services.recap_notes(session_id=session.id, chunk=0) is True
    assert TranscriptNotes.objects.get(chunk=0).status == TranscriptNotes.Status.FAILED
    CaptureSession.objects.filter(id=session.id).update(status=CaptureSession.Status.ENDING)
    recap = services.recap_build(session_id=session.id)
    model.push(Reply(GOOD))
    polished = services.recap_polish(recap_id=recap.id)
    assert polished.data["polished"] is True
    # No usable notes: the whole transcript went in one call, as without the map step.
    prompt = model.requests[-1]["json"]["messages"][1]["content"]
    assert "how has the week been" in prompt and "Notes:" not in prompt
    assert not TranscriptNotes.objects.filter(session=session).exists()


def test_notes_that_arrive_after_the_transcript_is_gone_are_not_kept(user, model, settings, clean_redis):
    from capture.models import TranscriptNotes

    settings.RECAP_LLM_URL = ""  # no model: the handoff deletes the transcript at once
    session = ending_session(user)
    TranscriptNotes.objects.create(session=session, chunk=0)  # claimed while it recorded
    services.recap_build(session_id=session.id)
    assert not TranscriptNotes.objects.filter(session=session).exists()
    TranscriptNotes.objects.create(session=session, chunk=1)  # a notes task still running
    saved = capture_services.transcript_notes_save(session_id=session.id, chunk=1, data={"topics": []})
    assert saved is False and not TranscriptNotes.objects.filter(session=session).exists()


def test_without_a_model_server_nothing_is_claimed(user, settings, clean_redis, monkeypatch):
    from capture.models import TranscriptNotes
    from recaps import tasks

    settings.RECAP_LLM_URL = ""
    monkeypatch.setattr(tasks.recap_notes, "delay", lambda *args: pytest.fail("queued without a model"))
    session = ending_session(user)
    CaptureSession.objects.filter(id=session.id).update(status=CaptureSession.Status.RECORDING)
    tasks.notes_when_due(session.id)
    assert not TranscriptNotes.objects.exists()
