"""Recap in your own voice, in real headless Chromium against real Daphne, a real Celery worker and the
bundled tiny.en model: a fake microphone plays espeak-ng speech; the person starts a self recap,
confirms it is only their voice, talks (microphone only: the page never asks for the call's audio),
stops, and lands on a recap marked as their own voice, with nothing of the transcript left. Then an
after-session note shows up in the unlocked Pre-Session Brief. A second test lets the page stop
itself at its cap. Screenshots at 390 px and 1280 px go to test-artifacts/."""

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from capture.audio_store import KEY_PREFIX
from capture.models import CaptureSession, CaptureWindow, TranscriptSegment
from recaps.models import AfterNote, Recap
from recaps.services import client_settings_save
from tests.audio import espeak_pcm, silence, write_wav
from tests.conftest import launch_chromium
from tests.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SPOKEN = (
    "Today we talked about my sister and the visits. "
    "I realised that I always say yes to her plans. "
    "This week I want to practise saying let me check my calendar."
)
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
TIMEOUT_MS = 20_000
# Counts calls to the tab picker: a self recap must never ask for another tab's sound.
COUNT_DISPLAY_MEDIA = """
window.__displayCalls = 0;
if (navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia) {
  const original = navigator.mediaDevices.getDisplayMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getDisplayMedia = (...args) => {
    window.__displayCalls++;
    return original(...args);
  };
}
"""


SECONDS_LEFT = (
    "(([m, s]) => m * 60 + s)(document.querySelector('#countdown').textContent.split(':').map(Number))"
)


def strings(value):
    """Every text in a recap's data (not its keys: stats count speech per role, "therapist" too)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def words(text):
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) > 3}


def no_horizontal_overflow(page):
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size["width"]
    assert width <= viewport, f"page is {width}px wide at a {viewport}px viewport"


def shoot(page, artifacts_dir, name):
    """Full-page screenshots at phone and desktop width; the phone one is checked for overflow."""
    no_horizontal_overflow(page)
    page.screenshot(path=str(artifacts_dir / f"{name}-390.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(artifacts_dir / f"{name}-1280.png"), full_page=True)
    page.set_viewport_size(PHONE)


def fake_mic_browser(playwright_instance, wav):
    # %noloop: the file plays once, then silence, so the words are spoken exactly once.
    return launch_chromium(
        playwright_instance,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}%noloop",
        "--autoplay-policy=no-user-gesture-required",
    )


def login(page, base, user):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")


def wait_for(condition, *, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_self_recap_then_after_session_note_in_the_brief(
    asgi_server, celery_worker, user, clean_redis, playwright_instance, tmp_path, artifacts_dir
):
    speech = espeak_pcm(SPOKEN, tmp_dir=tmp_path)
    wav = write_wav(tmp_path / "speech.wav", [silence(1.0) + speech + silence(1.0)])
    browser = fake_mic_browser(playwright_instance, wav)
    base = asgi_server.url
    try:
        context = browser.new_context(viewport=PHONE)
        context.set_default_timeout(TIMEOUT_MS)
        context.add_init_script(COUNT_DISPLAY_MEDIA)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        login(page, base, user)
        shoot(page, artifacts_dir, "self-home")

        # The way in: "My therapist said no" on the start page.
        page.goto(f"{base}/capture/")
        shoot(page, artifacts_dir, "capture-start-self-offer")
        page.click("#self-start-link")
        page.wait_for_url(f"{base}/capture/self/")
        shoot(page, artifacts_dir, "self-start")
        page.click("main button[type=submit]")  # not ticked: a kind no, and nothing is made
        page.wait_for_selector("#own-voice-error")
        assert not CaptureSession.objects.filter(user=user).exists()
        shoot(page, artifacts_dir, "self-start-error")
        page.check("#id_own_voice_only")
        page.click("main button[type=submit]")
        page.wait_for_url(re.compile(r".*/capture/s/[0-9a-f-]+/$"))
        session = CaptureSession.objects.get(user=user)
        assert session.mode == "self" and session.consent["own_voice_only"] is True

        # Before recording: prompts, "Start talking", no choice of sources.
        assert page.locator("#source-tab").count() == 0
        assert page.locator("#prompts-setup").is_visible()
        shoot(page, artifacts_dir, "self-record-setup")
        assert page.text_content("#countdown") == "5:00"
        page.click("#start")
        page.wait_for_selector("#capture-live:not([hidden])")
        page.wait_for_function(f"() => {SECONDS_LEFT} <= 297")  # counting down while recording
        assert page.evaluate("window.__displayCalls") == 0
        assert page.evaluate("window.__capture.channels") == [0]
        assert page.locator("#channel-1").count() == 0

        # While talking: the words arrive in the temporary (encrypted) transcript, as the client.
        def heard():
            return words(" ".join(s.text for s in TranscriptSegment.objects.filter(session=session)))

        wait_for(
            lambda: len(heard() & words(SPOKEN)) >= 6,
            timeout_s=90,
            what="the spoken words in the transcript",
        )
        assert all(s.speaker == "client" for s in TranscriptSegment.objects.filter(session=session))
        shoot(page, artifacts_dir, "self-record-live")

        page.click("#stop")
        page.click("#stop-confirm")
        page.wait_for_selector("#recap-link:not([hidden])", timeout=90_000)
        page.wait_for_selector("#note-offer:not([hidden])")
        recap = Recap.objects.get(session=session)
        assert page.get_attribute("#note-link", "href").endswith(f"?recap={recap.id}")
        assert page.evaluate("window.__displayCalls") == 0
        shoot(page, artifacts_dir, "self-record-done")

        page.click("#recap-link")
        page.wait_for_url(re.compile(r".*/recaps/[0-9a-f-]+/$"))
        page.wait_for_selector("#summary")
        assert page.inner_text("#self-badge") == "Recap in your own voice"
        text = page.inner_text("main")
        assert words(text) & words(SPOKEN), "the recap shows nothing that was said"
        assert "therapist" not in " ".join(strings(recap.data)).lower()  # only the person spoke
        assert recap.kind == Recap.Kind.SELF
        shoot(page, artifacts_dir, "self-recap")

        # Nothing of the transcript or the audio is left.
        assert not TranscriptSegment.objects.filter(session=session).exists()
        assert not CaptureWindow.objects.filter(session=session).exists()
        assert clean_redis.keys(f"{KEY_PREFIX}*") == []
        assert CaptureSession.objects.get(id=session.id).status == "done"

        # The after-session note, offered on the recap, lands in the next brief.
        page.click("#write-after-note")
        page.wait_for_selector("#after-note-form")
        assert page.input_value("#id_recap") == str(recap.id)
        page.fill("#id_stood_out", "How quickly I say yes.")
        page.fill("#id_practise", "Say let me check my calendar\nOne slow breath before answering")
        page.fill("#id_bring_back", "Why does the guilt come so fast?")
        shoot(page, artifacts_dir, "after-note-form")
        page.click("main button[type=submit]")
        page.wait_for_url(f"{base}/recaps/notes/")
        shoot(page, artifacts_dir, "after-note-list")
        note = AfterNote.objects.get(user=user)
        assert note.recap_id == recap.id

        client_settings_save(  # inside the 24 h window: the brief is unlocked
            user=user,
            next_appointment=timezone.now() + timedelta(hours=5),
            weekly_weekday=None,
            weekly_time=None,
            brief_hours_before=24,
        )
        page.goto(f"{base}/recaps/brief/")
        page.wait_for_selector("#brief-next-steps")
        label = f"From your note, {timezone.localtime(note.created_at):%-d %b}"
        still_open = page.inner_text("#brief-next-steps")
        assert "One slow breath before answering" in still_open and label in still_open
        assert "Why does the guilt come so fast?" in page.inner_text("#brief-questions")
        shoot(page, artifacts_dir, "self-brief")
        assert not errors
    finally:
        browser.close()


def test_self_recap_stops_itself_at_the_cap(
    asgi_server, celery_worker, user, clean_redis, playwright_instance, tmp_path, artifacts_dir
):
    cap_s = 4
    speech = espeak_pcm("I want to practise breathing slowly.", tmp_dir=tmp_path)
    wav = write_wav(tmp_path / "short.wav", [silence(0.5) + speech])
    browser = fake_mic_browser(playwright_instance, wav)
    base = asgi_server.url
    try:
        context = browser.new_context(viewport=PHONE)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()

        login(page, base, user)
        page.goto(f"{base}/capture/self/")
        page.check("#id_own_voice_only")
        page.click("main button[type=submit]")
        page.wait_for_url(re.compile(r".*/capture/s/[0-9a-f-]+/$"))
        # The page reads its cap (5 min, from the server) at Start; a shorter one keeps this test
        # short. The server's own cap is tested in tests/capture/test_self_mode.py.
        assert page.get_attribute("#capture", "data-max-seconds") == "300"
        page.evaluate(f"document.getElementById('capture').dataset.maxSeconds = '{cap_s}'")
        page.click("#start")
        page.wait_for_selector("#capture-live:not([hidden])")
        # Nobody presses Stop: the page stops by itself at the cap and makes the recap.
        page.wait_for_selector("#capture-finish:not([hidden])", timeout=30_000)
        assert "so we stopped here" in page.inner_text("#capture-finish")
        page.wait_for_selector("#recap-link:not([hidden])", timeout=90_000)
        # Still said once the recap is ready (it can be ready before anyone has read the first line).
        assert page.is_visible("#finish-hint")
        assert "so we stopped here" in page.inner_text("#finish-hint")
        session = CaptureSession.objects.get(user=user)
        recap = Recap.objects.get(session=session)
        assert recap.kind == Recap.Kind.SELF
        assert cap_s <= recap.data["stats"]["recorded_s"] <= cap_s + 0.4  # the cap, plus one padded frame
    finally:
        browser.close()
