"""The voice check of an in-person session (capture.views.voice_check, static/capture/voice-check.js):
who may send one and when, what a body must look like, what is kept (a short description of the voice
in Redis, never the audio: not in Redis, not in the database, not in the logs), and the block on the
session page that offers it."""

import json
import logging

import numpy as np
import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from redis.exceptions import ConnectionError as RedisConnectionError

from capture import speakers, views, voices
from capture.consent.law import VIDEO
from capture.consent.services import consent_record_save
from capture.models import CaptureSession
from tests.factories import consent_record
from tests.security.conftest import db_snapshot
from tests.security.routes import normalise

pytestmark = pytest.mark.django_db

SAMPLE_RATE = 16000


def speech_like(seconds: float, *, seed: int = 3) -> bytes:
    """PCM16LE 16 kHz mono that the voice check takes for speech: a voiced sound (harmonics of a pitch
    that wanders), two moving formant-like peaks, a syllable-rate envelope and a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    pitch = 140 + 25 * np.sin(2 * np.pi * 0.7 * t) + 10 * np.sin(2 * np.pi * 2.3 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE
    f1 = 600 + 250 * np.sin(2 * np.pi * 1.1 * t)
    f2 = 1700 + 500 * np.sin(2 * np.pi * 0.8 * t + 1)
    out = np.zeros_like(t)
    for k in range(1, 25):
        f = k * pitch
        amp = np.exp(-(((f - f1) / 300) ** 2)) + 0.6 * np.exp(-(((f - f2) / 400) ** 2)) + 0.05
        out += amp * np.sin(k * phase) / np.sqrt(k)
    out *= 0.6 + 0.4 * np.sin(2 * np.pi * 3.5 * t) ** 2
    out = out / np.abs(out).max() * 0.5 + rng.normal(0, 0.002, t.size)
    return (out * 32767).astype("<i2").tobytes()


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * SAMPLE_RATE) * 2)


SPEECH = speech_like(3.0)


def test_the_test_audio_is_speech_to_the_voice_check():
    # The premise of the tests below, checked on the function the view calls.
    voiceprint = speakers.embed_voice_check(SPEECH)
    assert voiceprint is not None and voiceprint.speech_s >= 2.5
    assert speakers.embed_voice_check(speech_like(1.0)) is None  # under MIN_VOICE_CHECK_S
    assert speakers.embed_voice_check(silence(3.0)) is None


# ---- helpers -----------------------------------------------------------------------------------------


def make_session(user, *, session_type: str | None = "in_person", mode=CaptureSession.Mode.SESSION, **fields):
    session = CaptureSession.objects.create(user=user, mode=mode)
    if session_type is not None:
        therapist = "US-CA" if session_type == VIDEO else None
        consent_record_save(
            session=session, consent=consent_record(session_type=session_type, therapist=therapist)
        )
    if fields:
        CaptureSession.objects.filter(id=session.id).update(**fields)
    return CaptureSession.objects.get(id=session.id)


def signed_in(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def url(session) -> str:
    return reverse("capture:voice_check", kwargs={"session_id": session.id})


def post(client: Client, session, body: bytes, **extra):
    return client.post(url(session), data=body, content_type="application/octet-stream", **extra)


def done(session) -> bool:
    return voices.voice_check_done(session_id=session.id)


def voice_keys(redis_client) -> list[bytes]:
    """Every key but the rate limiter's counters (in django's cache)."""
    cache_prefix = settings.CACHES["default"].get("KEY_PREFIX", "").encode()
    return sorted(k for k in redis_client.keys("*") if not (cache_prefix and k.startswith(cache_prefix)))


@pytest.fixture
def session(user):
    return make_session(user)


@pytest.fixture
def client(user):
    return signed_in(user)


# ---- the way it should go ----------------------------------------------------------------------------


def test_a_reading_is_kept_as_a_short_description_and_never_as_audio(client, session, clean_redis, caplog):
    caplog.set_level(logging.INFO, logger="capture.views")
    before = db_snapshot()
    response = post(client, session, SPEECH)
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert done(session)

    # Redis holds one key for the session: its voice state, small JSON with no slice of the audio.
    assert voice_keys(clean_redis) == [f"{voices.KEY_PREFIX}{session.id}".encode()]
    raw = clean_redis.get(f"{voices.KEY_PREFIX}{session.id}")
    assert len(raw) < 4096 < len(SPEECH)
    json.loads(raw)
    for at in (len(SPEECH) // 4, len(SPEECH) // 2, 3 * len(SPEECH) // 4):
        piece = SPEECH[at : at + 32]
        assert piece not in raw and piece.hex().encode() not in raw
    assert 0 < clean_redis.ttl(f"{voices.KEY_PREFIX}{session.id}") <= settings.CAPTURE["WINDOW_AUDIO_TTL_S"]

    # Not one row of the database changed, and the log says which session and how it went, nothing more.
    assert db_snapshot() == before
    lines = [r.getMessage() for r in caplog.records if r.name == "capture.views"]
    assert lines == [f"voice check {session.id}: saved"]


def test_reading_again_replaces_the_check(client, session, clean_redis):
    assert post(client, session, SPEECH).status_code == 200
    assert post(client, session, speech_like(4.0, seed=8)).status_code == 200
    assert done(session)
    assert len(voice_keys(clean_redis)) == 1


@pytest.mark.parametrize("body", [silence(3.0), speech_like(1.0)], ids=["silence", "one second"])
def test_too_little_speech_asks_to_read_again_and_keeps_nothing(client, session, clean_redis, body):
    response = post(client, session, body)
    assert response.status_code == 422
    assert response.json() == {"ok": False, "reason": "too_short"}
    assert not done(session)
    assert voice_keys(clean_redis) == []


def test_a_laptop_linked_for_capture_may_send_the_check(user, session, clean_redis):
    from tests.security.conftest import capture_device_client

    assert post(capture_device_client(user), session, SPEECH).status_code == 200
    assert done(session)


# ---- who and when ------------------------------------------------------------------------------------


def test_someone_elses_session_is_not_found_like_one_that_does_not_exist(other_user, session, clean_redis):
    bob = signed_in(other_user)
    theirs = post(bob, session, SPEECH)
    nobody_id = "00000000-0000-4000-8000-000000000000"
    nobody = bob.post(
        reverse("capture:voice_check", kwargs={"session_id": nobody_id}),
        data=SPEECH,
        content_type="application/octet-stream",
    )
    assert theirs.status_code == nobody.status_code == 404
    # The same page but for the id in its path (tests/security/test_idor.py checks it byte for byte).
    assert normalise(theirs.content.decode(), {str(session.id): nobody_id}) == normalise(
        nobody.content.decode(), {}
    )
    assert not done(session)


def test_signed_out_is_sent_to_sign_in(session, clean_redis):
    response = post(Client(), session, SPEECH)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert not done(session)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda user: make_session(user, session_type=VIDEO), "not_in_person"),
        (lambda user: make_session(user, session_type=None), "no_consent"),
        (
            lambda user: make_session(user, mode=CaptureSession.Mode.SELF),
            "not_in_person",
        ),
        (lambda user: make_session(user, status=CaptureSession.Status.ENDING), "finished"),
        (lambda user: make_session(user, status=CaptureSession.Status.DONE), "finished"),
        (lambda user: make_session(user, status=CaptureSession.Status.FAILED), "finished"),
    ],
    ids=["video", "no consent", "self recap", "ending", "done", "failed"],
)
def test_only_an_in_person_session_that_is_not_finished_takes_a_check(
    user, client, clean_redis, make, reason
):
    session = make(user)
    response = post(client, session, SPEECH)
    assert response.status_code == 409
    body = response.json()
    assert body["ok"] is False and body["reason"] == reason and body["error"]
    assert not done(session)
    assert voice_keys(clean_redis) == []


def test_paused_sessions_still_take_a_check(user, client, clean_redis):
    session = make_session(user, status=CaptureSession.Status.PAUSED)
    assert post(client, session, SPEECH).status_code == 200


# ---- the body ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"", SPEECH[:-1], silence(0.49)],
    ids=["empty", "odd length", "under half a second"],
)
def test_a_body_that_is_not_audio_of_a_reading_is_refused(client, session, clean_redis, body):
    response = post(client, session, body)
    assert response.status_code == 400
    assert response.json()["reason"] == "bad_audio"
    assert voice_keys(clean_redis) == []


def test_half_a_second_is_read_and_found_too_short(client, session, clean_redis):
    assert post(client, session, speech_like(0.5)).status_code == 422


def test_more_than_twenty_seconds_is_refused(client, session, clean_redis):
    assert len(speech_like(20.0)) == views.VOICE_CHECK_MAX_BYTES == 640_000
    assert post(client, session, speech_like(20.0)).status_code == 200
    for body in (speech_like(20.0) + b"\0\0", bytes(3 * 1024 * 1024)):  # the second is over Django's cap too
        response = post(client, session, body)
        assert response.status_code == 413
        assert response.json()["reason"] == "too_long"


def test_the_declared_length_is_not_trusted(client, session, clean_redis):
    # Claims more than the limit: refused before the body is read.
    assert post(client, session, SPEECH, CONTENT_LENGTH="700000").status_code == 413
    # Claims less than it sends: only what the header announced is read, and judged on its own length.
    assert post(client, session, SPEECH, CONTENT_LENGTH="999").status_code == 400


def test_other_content_types_are_refused(client, session, clean_redis):
    response = client.post(url(session), data={"audio": "x"})
    assert response.status_code == 415
    assert voice_keys(clean_redis) == []


def test_get_is_not_allowed(client, session, clean_redis):
    assert client.get(url(session)).status_code == 405


def test_without_the_csrf_token_it_is_refused(user, session, clean_redis):
    browser = signed_in(user, enforce_csrf_checks=True)
    browser.get(reverse("capture:session", kwargs={"session_id": session.id}))  # sets the CSRF cookie
    assert post(browser, session, SPEECH).status_code == 403
    assert not done(session)
    token = browser.cookies[settings.CSRF_COOKIE_NAME].value
    assert post(browser, session, SPEECH, HTTP_X_CSRFTOKEN=token).status_code == 200


def test_many_tries_in_a_minute_are_slowed_down(
    client, session, other_user, clean_redis, one_ratelimit_window
):
    short = silence(0.5)  # cheap: every request counts, whatever its outcome
    for _ in range(12):
        assert post(client, session, short).status_code == 422
    response = post(client, session, short)
    assert response.status_code == 429
    assert response.json()["reason"] == "rate_limited"
    # Per person: someone else is not slowed down by it.
    assert post(signed_in(other_user), make_session(other_user), short).status_code == 422


def test_redis_unreachable_answers_try_again(client, session, monkeypatch, clean_redis):
    def down(**kwargs):
        raise RedisConnectionError("connection refused")

    monkeypatch.setattr(voices, "voice_check_save", down)
    response = post(client, session, SPEECH)
    assert response.status_code == 503
    assert response.json()["reason"] == "unavailable"


# ---- the session page --------------------------------------------------------------------------------


def page(client, session) -> str:
    response = client.get(reverse("capture:session", kwargs={"session_id": session.id}))
    assert response.status_code == 200
    return response.content.decode()


def test_the_page_offers_the_check_for_in_person_sessions_only(user, client, clean_redis):
    in_person = page(client, make_session(user))
    assert 'id="voice-check"' in in_person and 'id="voice-check-start"' in in_person
    assert "Read it now" in in_person and "read this sentence aloud" in in_person
    assert 'role="status"' in in_person and 'aria-live="polite"' in in_person
    assert 'name="csrfmiddlewaretoken"' in in_person
    assert 'data-done="false"' in in_person
    assert "Voice check done" not in in_person
    assert 'id="start"' in in_person  # Start is there with or without the check

    for other in (make_session(user, session_type=VIDEO), make_session(user, mode=CaptureSession.Mode.SELF)):
        assert 'id="voice-check"' not in page(client, other)


def test_the_page_says_when_the_check_is_done(user, client, session, clean_redis):
    assert post(client, session, SPEECH).status_code == 200
    html = page(client, session)
    assert 'data-done="true"' in html
    assert "Voice check done. Your recap will know which voice is yours." in html
    assert "Do it again" in html


def test_the_page_still_opens_when_redis_is_down(client, session, monkeypatch):
    def down(**kwargs):
        raise RedisConnectionError("connection refused")

    monkeypatch.setattr(voices, "voice_check_done", down)
    html = page(client, session)
    assert 'id="voice-check"' in html and 'data-done="false"' in html
