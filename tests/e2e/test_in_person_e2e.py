"""An in-person session in real headless Chromium on a phone-sized page: both voices on the one (fake)
microphone, fed from a WAV of two espeak-ng voices. The person does the voice check on the setup
panel, records, stops; the recap names the therapist's suggestion as the therapist's and the client's
commitment as the client's, and nothing of the voices is left afterwards."""

import re
import time

import pytest

from capture.models import CaptureSession, TranscriptSegment
from capture.voices import KEY_PREFIX as VOICES_PREFIX
from tests.audio import espeak_pcm, silence, write_wav
from tests.conftest import launch_chromium
from tests.e2e.test_capture_e2e import _login, confirm_in_person_consent
from tests.e2e.test_tab_audio_e2e import stop_and_open_recap

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIENT, THERAPIST = "en-us+f3", "en-us+m3"  # two espeak-ng voices (bench/speakers.py: told apart)
CHECK = "I'm reading this sentence so that my recap knows which voice is mine, and which is my therapist's."
TURNS = [
    (THERAPIST, "How did the week go with your sleep?"),
    (CLIENT, "Not great. I stayed up late on my phone most nights and I felt exhausted at work."),
    (THERAPIST, "What could you change in the evening?"),
    (CLIENT, "I will leave my phone in the kitchen every night this week."),
    (THERAPIST, "That sounds good. I suggest you take a short walk after lunch each day."),
    (CLIENT, "I don't think I have time for that. My meetings run all afternoon."),
]


def test_in_person_voice_check_then_the_recap_says_who_said_what(
    asgi_server, celery_worker, user, clean_redis, playwright_instance, tmp_path, artifacts_dir
):
    # The file starts with the client reading the check sentence: the voice check hears it, and the
    # recording (which opens the microphone again, from the start of the file) hears it once more.
    audio = silence(0.5) + espeak_pcm(CHECK, voice=CLIENT, tmp_dir=tmp_path) + silence(1.2)
    for voice, text in TURNS:
        audio += espeak_pcm(text, voice=voice, tmp_dir=tmp_path) + silence(1.2)
    wav = write_wav(tmp_path / "in-person.wav", [audio + silence(2.0)])
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
        confirm_in_person_consent(page)
        session = CaptureSession.objects.get(user=user)

        # The voice check: the check sentence is the first 7 s of the file.
        page.click("#voice-check-start")
        page.wait_for_selector("#voice-check-stop:not([hidden])")
        time.sleep(7.5)
        page.click("#voice-check-stop")
        page.locator("#voice-check-status", has_text="Voice check done").wait_for(timeout=20_000)
        page.screenshot(path=str(artifacts_dir / "in-person-voice-check-390.png"), full_page=True)
        assert clean_redis.exists(f"{VOICES_PREFIX}{session.id}")

        page.click("#start")
        page.wait_for_selector("#capture-live:not([hidden])")
        # The last words of the file are transcribed: everything was heard.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            said = " ".join(s.text for s in TranscriptSegment.objects.filter(session=session)).lower()
            if "afternoon" in said:
                break
            time.sleep(0.5)
        assert "afternoon" in said, said
        segments = list(TranscriptSegment.objects.filter(session=session).order_by("start"))
        assert {s.voice for s in segments} == {0, 1}, "two voices on one microphone"

        recap = stop_and_open_recap(page, session)
        page.screenshot(path=str(artifacts_dir / "in-person-recap-390.png"), full_page=True)
        text = page.inner_text("main")
    finally:
        browser.close()

    assert recap.data["stats"]["voices"] == {"told_apart": True, "by": "voice_check", "voice_check": True}
    assert "using your voice check" in text
    # The therapist's suggestion is the therapist's; the client's commitment is the client's.
    lines = [p["text"] for section in recap.data["full_recap"] for p in section["paragraphs"]]
    lines += [i["text"] for key in ("summary", "insights", "next_steps") for i in recap.data[key]]
    written = " ".join(lines)
    assert re.search(r"Your therapist suggested you take a short walk after lunch", written), lines
    steps = " ".join(s["text"] for s in recap.data["next_steps"])
    assert re.search(r"You will leave your phone in the kitchen", steps), lines
    assert not re.search(r"\bYou (?:said you )?(?:suggest|take a short walk)", written), lines
    assert not re.search(r"Your therapist (?:said|suggested) (?:you )?(?:will )?leave your phone", written), (
        lines
    )
    # Nothing of the voices (nor the transcript) is left once the recap is made.
    assert not TranscriptSegment.objects.filter(session=session).exists()
    assert clean_redis.keys(f"{VOICES_PREFIX}*") == []
