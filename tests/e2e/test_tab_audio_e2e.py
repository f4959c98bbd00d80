"""The call's audio from another tab, in real headless Chromium with the real stack (Daphne, Redis, the
worker, tiny.en): "Microphone + the call's audio" records the fake microphone on channel 0 (client) and,
through getDisplayMedia, a second tab playing the therapist's speech on channel 1 (therapist).

How headless Chromium gives a real tab's sound, with no sound server and no picker:
- `--auto-select-tab-capture-source-by-title=TITLE` answers getDisplayMedia with the tab whose title
  contains TITLE, as if picked: a video track and a "Tab audio" track. Without it getDisplayMedia never
  settles (the picker cannot show); a title that matches no tab hangs the same way.
- No `--use-fake-ui-for-media-stream`: it overrides the auto-selection and hands getDisplayMedia the fake
  capture device ("Fake audio", the same file as the microphone) instead of the tab. The microphone
  permission is granted through the context instead (`--use-fake-device-for-media-stream` still feeds it
  from the file).
- Playwright launches headless Chromium with `--mute-audio`; a muted tab's captured audio is digital
  silence (every sample 0). `ignore_default_args=["--mute-audio"]` gives the tab's real sound.
  Keeping it is the recipe for a call channel that is present but digitally silent.
"""

import base64
import re
import time

import pytest

from capture import services
from capture.consent.services import consent_record_save
from capture.models import CaptureSession, TranscriptSegment
from recaps.models import Recap
from tests.audio import espeak_pcm, silence, write_wav
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.test_capture_e2e import _login, words
from tests.e2e.test_self_recap_e2e import shoot
from tests.factories import consent_record

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CALL_TITLE = "Call tab"
CLIENT = "I realised that I say yes to everything at work."
# A reflection: the local engine keeps it as the therapist's ("Your therapist reflected that ...", and
# a Moment whose speaker is the therapist).
THERAPIST = "It sounds like you feel overwhelmed when your manager adds more projects."


def tab_capture_browser(playwright, mic_wav, *, tab_sound: bool):
    """Headless Chromium whose getDisplayMedia shares the tab titled CALL_TITLE by itself, and whose
    microphone plays `mic_wav` once (grant the microphone on the context: there is no fake UI).
    tab_sound=False keeps Playwright's --mute-audio: the shared tab's audio track is then digital silence."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            f"--auto-select-tab-capture-source-by-title={CALL_TITLE}",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={mic_wav}%noloop",
            "--autoplay-policy=no-user-gesture-required",
        ],
        ignore_default_args=["--mute-audio"] if tab_sound else [],
    )


def open_call_tab(context, wav) -> object:
    """A tab titled CALL_TITLE holding the therapist's speech in an <audio> element (not yet playing)."""
    data = base64.b64encode(wav.read_bytes()).decode()
    call = context.new_page()
    src = f"data:audio/wav;base64,{data}"
    call.set_content(f'<title>{CALL_TITLE}</title><audio id="call" src="{src}"></audio>')
    return call


def sent_frames(page) -> list[tuple[int, bytes]]:
    """(channel, PCM payload) of every binary frame the page sends (docs/protocol.md: 8-byte header)."""
    frames: list[tuple[int, bytes]] = []

    def on_socket(ws):
        ws.on("framesent", lambda p: frames.append((p[1], p[8:])) if isinstance(p, bytes) else None)

    page.on("websocket", on_socket)
    return frames


def start_tab_recording(context, base, user):
    session = services.capture_session_create(user=user)
    consent_record_save(
        session=session, consent=consent_record(session_type="video", client="US-NY", therapist="US-NY")
    )
    context.grant_permissions(["microphone"], origin=base)
    page = context.new_page()
    frames = sent_frames(page)
    _login(page, base, user)
    page.goto(f"{base}/capture/s/{session.id}/")
    page.check("#source-tab")
    page.bring_to_front()
    page.click("#start")
    page.wait_for_selector("#capture-live:not([hidden])")
    page.wait_for_selector("#channel-1:not([hidden])")
    return session, page, frames


def heard(session, channel: int) -> set[str]:
    return words(" ".join(s.text for s in TranscriptSegment.objects.filter(session=session, channel=channel)))


def wait_until(page, condition, *, timeout_s: float, what: str):
    # page.wait_for_timeout, not time.sleep: Playwright delivers the socket's frame events meanwhile.
    for _ in range(int(timeout_s * 2)):
        if condition():
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"timed out waiting for {what}")


def stop_and_open_recap(page, session) -> Recap:
    page.click("#stop")
    page.click("#stop-confirm")
    page.wait_for_selector("#recap-link:not([hidden])", timeout=120_000)
    page.click("#recap-link")
    page.wait_for_url(re.compile(r".*/recaps/[0-9a-f-]+/$"))
    page.wait_for_selector("#summary")
    return Recap.objects.get(session=session)


def test_the_call_tab_is_recorded_as_the_therapist(
    asgi_server, celery_worker, user, clean_redis, playwright_instance, tmp_path, artifacts_dir
):
    client_pcm = espeak_pcm(CLIENT, tmp_dir=tmp_path)
    mic = write_wav(tmp_path / "mic.wav", [silence(0.5) + client_pcm])
    call_wav = write_wav(tmp_path / "call.wav", [silence(0.3) + espeak_pcm(THERAPIST, tmp_dir=tmp_path)])
    browser = tab_capture_browser(playwright_instance, mic, tab_sound=True)
    try:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        call = open_call_tab(context, call_wav)
        session, page, frames = start_tab_recording(context, asgi_server.url, user)
        assert page.is_hidden("#notice"), page.inner_text("#notice")  # no "recording your microphone only"
        # The therapist answers once the client has spoken.
        page.wait_for_timeout(500 + len(client_pcm) / 32)
        call.evaluate("document.getElementById('call').play()")
        wait_until(
            page,
            lambda: (
                len(heard(session, 1) & words(THERAPIST)) >= 4 and len(heard(session, 0) & words(CLIENT)) >= 3
            ),
            timeout_s=90,
            what="both voices in the transcript",
        )
        page.screenshot(path=str(artifacts_dir / "tab-audio-live.png"), full_page=True)
        # Who said what: the tab's words only on the therapist's channel, the microphone's only on
        # the client's.
        assert not heard(session, 0) & (words(THERAPIST) - words(CLIENT)), heard(session, 0)
        assert not heard(session, 1) & (words(CLIENT) - words(THERAPIST)), heard(session, 1)
        assert any(ch == 1 and pcm != bytes(len(pcm)) for ch, pcm in frames)  # real sound on the wire

        recap = stop_and_open_recap(page, session)
        page.screenshot(path=str(artifacts_dir / "tab-audio-recap.png"), full_page=True)
        shown = page.inner_text("main")
    finally:
        browser.close()

    data = recap.data
    assert data["stats"]["words"]["therapist"] >= 6, data["stats"]
    theirs = [m["quote"] for m in data["moments"] if m["speaker"] == "therapist"]
    theirs += [
        item["text"]
        for key in ("summary", "insights", "next_steps")
        for item in data[key]
        if item["text"].startswith("Your therapist")
    ]
    assert any(len(words(t) & words(THERAPIST)) >= 3 for t in theirs), data
    assert "Your therapist" in shown and len(words(shown) & words(THERAPIST)) >= 3, shown
    assert CaptureSession.objects.get(id=session.id).status == "done"


# The client talks on while the call is muted: over 10 s of speech, so the recap can tell that one side
# spoke and the other was silent (recaps.view_models.unheard_channel).
CLIENT_LONG = (
    CLIENT + " My manager keeps adding projects and I never say no. "
    "I sleep five hours a night and I am tired all the time. "
    "This week I want to practise saying let me check my calendar before I agree to anything."
)


def test_a_muted_call_tab_is_a_digitally_silent_therapist_channel_the_page_and_the_recap_say_so(
    asgi_server, celery_worker, user, clean_redis, playwright_instance, tmp_path, artifacts_dir
):
    mic = write_wav(tmp_path / "mic.wav", [silence(0.5) + espeak_pcm(CLIENT_LONG, tmp_dir=tmp_path)])
    call_wav = write_wav(tmp_path / "call.wav", [espeak_pcm(THERAPIST, tmp_dir=tmp_path)])
    browser = tab_capture_browser(playwright_instance, mic, tab_sound=False)
    try:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        call = open_call_tab(context, call_wav)
        # How far the call got at most: a background tab's media may be paused again later on a busy box.
        call.evaluate(
            """() => {
                const a = document.getElementById('call');
                a.loop = true;
                window.__played = 0;
                const seen = () => { window.__played = Math.max(window.__played, a.currentTime); };
                a.addEventListener('timeupdate', seen);
                return a.play();
            }"""
        )
        session, page, frames = start_tab_recording(context, asgi_server.url, user)
        started = time.monotonic()
        # The page's watchdog: the call channel at digital silence for 10 s is an alert within 15 s.
        alert = page.wait_for_selector("#alert-1:not([hidden])", timeout=15_000)
        assert time.monotonic() - started <= 15
        assert alert.get_attribute("role") == "alert"
        assert "We can't hear the call" in alert.inner_text()
        page.set_viewport_size({"width": 390, "height": 844})
        shoot(page, artifacts_dir, "capture-silent-call")
        # Sharing the tab again swaps the call channel's source without ending the session.
        page.click("#reshare-tab")
        page.wait_for_selector("#alert-1", state="hidden")
        assert page.is_hidden("#error"), page.inner_text("#error")
        wait_until(
            page,
            lambda: len(heard(session, 0) & words(CLIENT)) >= 3,
            timeout_s=90,
            what="the client's words",
        )
        # Long enough for the recap to judge a channel unheard (30 s recorded).
        page.wait_for_timeout(max(0, 32 - (time.monotonic() - started)) * 1000)
        assert call.evaluate("window.__played") > 0  # the call did play
        silent = [pcm for ch, pcm in frames if ch == 1]
        assert len(silent) >= 15, len(silent)  # 3 s of the call's channel reached the socket
        assert all(pcm == bytes(len(pcm)) for pcm in silent), "the muted tab's audio was not all zeros"
        assert any(ch == 0 and pcm != bytes(len(pcm)) for ch, pcm in frames)
        assert not TranscriptSegment.objects.filter(session=session, channel=1).exists()

        recap = stop_and_open_recap(page, session)
        shown = page.inner_text("main")
        page.screenshot(path=str(artifacts_dir / "recap-silent-call-1280.png"), full_page=True)
    finally:
        browser.close()
    assert recap.data["stats"]["words"]["therapist"] == 0, recap.data["stats"]
    assert re.search(r"The call audio was silent for \d", shown), shown
    assert "so this recap has only your side" in shown
