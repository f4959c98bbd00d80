"""Admission control as a person meets it (docs/protocol.md "Busy"), in real headless Chromium: a web
process past what it can serve turns a NEW session away at the door. The page says so in plain words,
nothing is recorded, and the microphone is let go; "Try again" starts over from the same click.

The Daphne here is told that any event-loop lateness is too much (WEB_MAX_LOOP_LAG_MS), so every new
session is refused: the lag sampler and the refusal are the real ones."""

import re

import pytest

from capture.models import CaptureSession, CaptureWindow
from tests.audio import silence, write_wav
from tests.conftest import free_port, launch_chromium, start_daphne
from tests.e2e.test_capture_e2e import _login, confirm_in_person_consent

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def busy_server(proc_log_dir):
    port = free_port()
    proc = start_daphne(proc_log_dir, port, name="daphne-busy", WEB_MAX_LOOP_LAG_MS="0.000001")
    yield f"http://127.0.0.1:{port}", proc
    proc.stop()


def _new_session(page, base) -> str:
    page.goto(f"{base}/capture/")
    page.click("#new-session")
    page.wait_for_url(re.compile(r".*/consent/$"))
    confirm_in_person_consent(page)
    return re.search(r"/capture/s/([0-9a-f-]+)/$", page.url).group(1)


def test_a_busy_web_process_turns_a_new_session_away_with_a_plain_message_and_a_retry(
    busy_server, user, clean_redis, playwright_instance, tmp_path, artifacts_dir
):
    base, proc = busy_server
    wav = write_wav(tmp_path / "quiet.wav", [silence(2.0)])
    browser = launch_chromium(
        playwright_instance,
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={wav}",
    )
    try:
        page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        _login(page, base, user)
        # The process's first capture socket starts its lag sampler, so it meets no measured lag yet
        # and is let in: a first session records, and the person then starts a new one.
        first = _new_session(page, base)
        page.click("#start")
        page.wait_for_selector("#capture-live:not([hidden])")
        session = _new_session(page, base)
        assert session != first
        page.click("#start")
        busy = page.locator("#busy")
        busy.wait_for(state="visible", timeout=20_000)
        assert "Undertone is busy, please try again in a minute." in busy.inner_text()
        assert page.locator("#capture-live").is_hidden()  # still on the setup panel: nothing recording
        assert page.locator("#start").is_enabled()
        page.screenshot(path=str(artifacts_dir / "capture-busy-390.png"), full_page=True)

        # "Try again" runs the same start; this process is still busy, so it is refused again, the same way.
        page.click("#busy-retry")
        busy.wait_for(state="visible", timeout=20_000)
        assert page.locator("#capture-live").is_hidden()
    finally:
        browser.close()
    session = CaptureSession.objects.get(id=session)
    assert session.status == CaptureSession.Status.RECORDING  # as consent left it: still to start
    assert not CaptureWindow.objects.filter(session=session).exists()  # not a frame was taken in
    assert "refused at the door" in proc.output()
