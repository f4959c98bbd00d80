"""In-person sessions: both voices on one microphone. The transcription task splits each piece where
the voice changes (capture/speakers.py, state in Redis: capture/voices.py); the handoff names the
voices (the voice check, or who asked the questions) or writes "unknown"; the recap says which, and
the voice state goes with the transcript.

Synthetic voices (tests/capture/test_speakers.py) stand in for speech and a fake recogniser for
faster-whisper, so this runs in a second; the real model and real voices are in the e2e test and
bench/speakers.py."""

from __future__ import annotations

import pytest
from django.test import Client

from capture import audio_store, services, voices
from capture.consent.services import consent_record_save
from capture.models import CaptureSession, CaptureWindow, TranscriptSegment
from capture.transcription import Piece
from recaps import services as recap_services
from recaps.models import Recap
from tests.capture.test_speakers import client, gap, pcm, therapist
from tests.factories import consent_record

pytestmark = pytest.mark.django_db

# The therapist speaks 0-4 s, the client 4.3-8.3 s; one piece each, and one piece across the change.
THERAPIST_WORDS = [(0.2, 1.0, " What"), (1.0, 2.0, " would"), (2.0, 3.0, " help"), (3.0, 3.9, " most?")]
CLIENT_WORDS = [(4.4, 5.4, " I'll"), (5.4, 6.4, " walk"), (6.4, 7.4, " every"), (7.4, 8.2, " morning.")]


def words_piece(words) -> Piece:
    text = "".join(w for _s, _e, w in words).strip()
    return Piece(
        words[0][0],
        words[-1][1],
        text,
        avg_logprob=-0.2,
        no_speech_prob=0.01,
        words=tuple((s, e, w, 0.9) for s, e, w in words),
    )


def in_person_session(user, *, status=CaptureSession.Status.RECORDING) -> CaptureSession:
    session = services.capture_session_create(user=user)
    consent_record_save(session=session, consent=consent_record(session_type="in_person"))
    CaptureSession.objects.filter(id=session.id).update(status=status)
    session.refresh_from_db()
    assert session.in_person
    return session


def transcribe(
    session, monkeypatch, audio: bytes, pieces: list[Piece], *, seq_first: int = 0
) -> CaptureWindow:
    """One microphone window through the real task, with a recogniser that returns ``pieces``."""
    from capture import tasks, transcription

    seconds = len(audio) / 32000
    window = CaptureWindow.objects.create(
        session=session,
        channel=0,
        seq_first=seq_first,
        seq_last=seq_first + int(seconds / 0.2) - 1,
        pieces=[[0.0, seq_first * 0.2, seconds]],
        speech_s=seconds,
    )
    audio_store.window_audio_put(window_id=window.id, pcm=audio)
    monkeypatch.setattr(transcription, "transcribe_many", lambda pcms: [pieces for _ in pcms])
    tasks.transcribe_window(str(window.id))
    return window


def test_a_piece_is_split_where_the_voice_changes_and_the_voice_check_names_who_spoke(
    user, clean_redis, monkeypatch
):
    session = in_person_session(user)
    assert voices.voice_check_save(session_id=session.id, pcm=pcm(client(4.0, seed=9)))
    assert voices.voice_check_done(session_id=session.id)
    audio = pcm(therapist(4.0), gap(0.3), client(4.0))
    # Whisper often runs two speakers into one piece: it is split at the words where the voice changes.
    transcribe(session, monkeypatch, audio, [words_piece(THERAPIST_WORDS + CLIENT_WORDS)])
    for n, more in enumerate([client(6.0, seed=5), therapist(6.0, seed=6)], start=1):
        transcribe(session, monkeypatch, pcm(more), [], seq_first=100 * n)  # more of each voice
    rows = list(TranscriptSegment.objects.filter(session=session).order_by("start"))
    assert [r.text for r in rows] == ["What would help most?", "I'll walk every morning."]
    assert rows[0].voice != rows[1].voice
    assert all(r.speaker_confidence > 0.6 for r in rows)
    assert rows[1].start == pytest.approx(4.4) and rows[0].end == pytest.approx(3.9)
    # Nothing in the database says who spoke until the handoff names the voices.
    assert all(r.speaker_label is None for r in rows)

    CaptureSession.objects.filter(id=session.id).update(status=CaptureSession.Status.ENDING)
    named = {}

    def build(session_, rows_, heard):
        named.update({r.text: r.speaker for r in rows_})
        named["voices"] = heard.voices
        return "built"

    assert services.session_handoff(session_id=session.id, build=build) == "built"
    assert named["What would help most?"] == "therapist"
    assert named["I'll walk every morning."] == "client"
    assert named["voices"] == {"told_apart": True, "by": "voice_check", "voice_check": True}
    # The voice state goes with the transcript: nothing of the voices is left in Redis.
    assert voices.voices_get(session_id=session.id) is None


def test_voices_not_told_apart_make_a_neutral_recap_that_says_so(user, clean_redis, monkeypatch):
    session = in_person_session(user)
    # One voice only, and no voice check: nothing can say who is who.
    transcribe(
        session,
        monkeypatch,
        pcm(client(9.0)),
        [
            Piece(0.2, 4.0, "I said I would walk every morning before work.", words=()),
            Piece(4.2, 8.8, "I think I'll try that tomorrow and see how it feels.", words=()),
        ],
    )
    CaptureSession.objects.filter(id=session.id).update(status=CaptureSession.Status.ENDING)
    recap = recap_services.recap_build(session_id=session.id)
    assert recap.data["stats"]["voices"] == {"told_apart": False, "by": None, "voice_check": False}
    assert recap.data["stats"]["words"].get("client", 0) == 0  # every word is "unknown"
    written = " ".join(i["text"] for key in ("summary", "next_steps", "insights") for i in recap.data[key])
    assert "You said" not in written and "Your therapist" not in written
    page = Client()
    page.force_login(user)
    shown = page.get(f"/recaps/{recap.id}/").content.decode()
    assert "could not be told apart with confidence" in shown and "do the voice check" in shown


def test_without_a_check_the_voice_that_asks_the_questions_is_the_therapists(user, clean_redis, monkeypatch):
    session = in_person_session(user)
    turns = [
        (therapist(4.0, seed=11), "How has your sleep been? What keeps you up?"),
        (client(4.0, seed=12), "I lie awake thinking about work most nights."),
        (therapist(4.0, seed=13), "When does it start? Is it every night? What helps?"),
        (client(4.0, seed=14), "It starts around eleven and I'll try reading instead."),
    ]
    for n, (audio, text) in enumerate(turns):
        transcribe(session, monkeypatch, pcm(audio), [Piece(0.1, 3.9, text, words=())], seq_first=50 * n)
    CaptureSession.objects.filter(id=session.id).update(status=CaptureSession.Status.ENDING)
    recap = recap_services.recap_build(session_id=session.id)
    assert recap.data["stats"]["voices"] == {"told_apart": True, "by": "questions", "voice_check": False}
    words = recap.data["stats"]["words"]
    assert words["therapist"] > 0 and words["client"] > 0
    page = Client()
    page.force_login(user)
    shown = page.get(f"/recaps/{recap.id}/").content.decode()
    assert "asked most of the questions" in shown


def test_two_channels_in_person_keep_the_channels_and_no_voice_names(user, clean_redis):
    session = in_person_session(user, status=CaptureSession.Status.ENDING)
    for ch, text in ((0, "I'll walk every morning."), (1, "What would help most?")):
        window = CaptureWindow.objects.create(
            session=session, channel=ch, seq_first=0, seq_last=10, status=CaptureWindow.Status.DONE
        )
        TranscriptSegment.objects.create(
            session=session, window=window, index=0, channel=ch, start=ch, end=ch + 1, text=text
        )
    recap = recap_services.recap_build(session_id=session.id)
    assert "voices" not in recap.data["stats"]
    assert recap.data["stats"]["words"]["client"] > 0 and recap.data["stats"]["words"]["therapist"] > 0


def test_the_voice_state_goes_with_a_discarded_or_purged_session(user, clean_redis):
    kept = in_person_session(user)
    voices.voice_check_save(session_id=kept.id, pcm=pcm(client(3.0)))
    services.session_discard(session_id=kept.id)
    assert voices.voices_get(session_id=kept.id) is None

    stale = in_person_session(user)
    voices.voice_check_save(session_id=stale.id, pcm=pcm(client(3.0)))
    CaptureSession.objects.filter(id=stale.id).update(created_at=stale.created_at.replace(year=2020))
    services.transcript_purge_stale(older_than_s=3600)
    assert voices.voices_get(session_id=stale.id) is None


def test_a_held_transcript_keeps_the_voices_names_for_the_language_model(
    user, clean_redis, monkeypatch, settings
):
    from tests.recaps.llm_server import ScriptedLlm

    session = in_person_session(user)
    assert voices.voice_check_save(session_id=session.id, pcm=pcm(client(4.0, seed=9)))
    audio = pcm(therapist(4.0), gap(0.3), client(4.0))
    transcribe(session, monkeypatch, audio, [words_piece(THERAPIST_WORDS + CLIENT_WORDS)])
    for n, more in enumerate([client(6.0, seed=5), therapist(6.0, seed=6)], start=1):
        transcribe(session, monkeypatch, pcm(more), [], seq_first=100 * n)
    CaptureSession.objects.filter(id=session.id).update(status=CaptureSession.Status.ENDING)
    with ScriptedLlm() as llm:
        settings.RECAP_LLM_URL, settings.RECAP_LLM_MODEL = llm.url, "test-model"
        recap = recap_services.recap_build(session_id=session.id)
    assert recap.data["polishing"] is True
    held = services.transcript_held(session_id=session.id)
    assert {r.text: r.speaker for r in held} == {
        "What would help most?": "therapist",
        "I'll walk every morning.": "client",
    }
    assert voices.voices_get(session_id=session.id) is None
    assert Recap.objects.filter(session=session).count() == 1
