"""The capture journey in real headless Chromium: a fake microphone fed from a WAV of known speech,
a signed-in user confirms consent, records, stops, and lands on the recap; afterwards no transcript
segment, Redis audio or audio file remains."""

import re
import tempfile
import time
from pathlib import Path

import pytest

from capture.audio_store import KEY_PREFIX
from capture.models import CaptureSession, TranscriptSegment
from recaps.models import Recap
from tests.audio import espeak_pcm, silence, write_wav
from tests.conftest import launch_chromium
from tests.e2e.browser_storage import browser_backlog
from tests.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SPOKEN = (
    "I realised that I say yes to everything at work. "
    "This week I am going to practise saying let me check my calendar."
)


def words(text):
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 3}


def _login(page, base, user):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")


def confirm_in_person_consent(page) -> None:
    """On the consent gate: in person, in New York, the therapist agreed; then on to the session page."""
    page.check("input[name=session_type][value=in_person]")
    page.select_option("#id_client_location", "US-NY")
    page.wait_for_selector('#consent-rule[data-shown-for="in_person:US-NY:-"]')
    page.check("#id_therapist_agreed")
    page.click("#consent-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/capture/s/[0-9a-f-]+/$"))


def test_record_stop_recap_and_nothing_left(
    asgi_server, celery_worker, user, clean_redis, playwright_instance, tmp_path, artifacts_dir
):
    speech = espeak_pcm(SPOKEN, tmp_dir=tmp_path)
    # %noloop: Chromium plays the file once, then silence, so the words are spoken exactly once.
    wav = write_wav(tmp_path / "speech.wav", [silence(1.0) + speech + silence(1.0)])
    before_tmp = set(Path(tempfile.gettempdir()).rglob("*.wav"))
    browser = launch_chromium(
        playwright_instance,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}%noloop",
        "--autoplay-policy=no-user-gesture-required",
    )
    try:
        context = browser.new_context(viewport={"width": 390, "height": 844})
        page = context.new_page()
        base = asgi_server.url
        _login(page, base, user)
        page.goto(f"{base}/capture/")
        page.click("#new-session")
        page.wait_for_url(re.compile(r".*/consent/$"))
        page.screenshot(path=str(artifacts_dir / "capture-consent-390.png"), full_page=True)
        # Consent is required: the form will not go on without it (tests/e2e/test_consent_e2e.py).
        confirm_in_person_consent(page)
        session = CaptureSession.objects.get(user=user)
        assert session.consent["therapist_agreed"] is True and session.consent["client"]["code"] == "US-NY"
        page.screenshot(path=str(artifacts_dir / "capture-setup-390.png"), full_page=True)
        page.click("#start")
        page.wait_for_selector("#capture-live:not([hidden])")

        # While recording: the words arrive in the temporary (encrypted) transcript.
        deadline = time.monotonic() + 90
        heard = set()
        while time.monotonic() < deadline:
            heard = words(" ".join(s.text for s in TranscriptSegment.objects.filter(session=session)))
            if len(heard & words(SPOKEN)) >= 6:
                break
            time.sleep(0.5)
        page.screenshot(path=str(artifacts_dir / "capture-live-390.png"), full_page=True)
        assert len(heard & words(SPOKEN)) >= 6, heard
        assert all(s.speaker == "client" for s in TranscriptSegment.objects.filter(session=session))
        assert page.inner_text("#conn-state") in {"Connected", "Catching up…"}

        page.click("#stop")
        page.click("#stop-confirm")
        page.wait_for_selector("#recap-link:not([hidden])", timeout=90_000)
        page.screenshot(path=str(artifacts_dir / "capture-done-390.png"), full_page=True)
        page.click("#recap-link")
        page.wait_for_url(re.compile(r".*/recaps/[0-9a-f-]+/$"))
        page.wait_for_selector("#summary")
        page.screenshot(path=str(artifacts_dir / "recap-390.png"), full_page=True)
        recap = Recap.objects.get(session=session)
        # The browser's encrypted backlog of unsent audio is gone too (static/capture/backlog-store.js).
        assert browser_backlog(page) == []
        text = page.inner_text("main")
        assert recap.label in text
        assert words(text) & words(SPOKEN), "the recap shows nothing that was said"
    finally:
        browser.close()

    # Nothing kept: no segment, no window audio in Redis, no new audio file in the temp dir.
    assert not TranscriptSegment.objects.exists()
    assert clean_redis.keys(f"{KEY_PREFIX}*") == []
    after_tmp = set(Path(tempfile.gettempdir()).rglob("*.wav")) - {wav}
    assert after_tmp - before_tmp == set()
    assert CaptureSession.objects.get(id=session.id).status == "done"
