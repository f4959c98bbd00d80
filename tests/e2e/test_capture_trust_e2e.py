"""Capture you can trust, in real headless Chromium with the real stack (Daphne, Redis, the worker,
tiny.en) and a fake microphone playing speech: a reload, a closed tab and a second tab lose nothing,
always end in one recap, and tell the person what is going on."""

import re
import time

import pytest

from bench import _fault_scenarios as scenarios
from capture import services
from capture.audio_store import KEY_PREFIX
from capture.consent.services import consent_record_save
from capture.models import CaptureSession, CaptureWindow, TranscriptSegment
from recaps.models import Recap
from tests.audio import espeak_pcm, silence, write_wav
from tests.e2e.browser_storage import browser_backlog
from tests.e2e.test_self_recap_e2e import fake_mic_browser, login, shoot, strings, wait_for, words
from tests.factories import consent_record

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SPOKEN = (
    "My name is Jordan. Work has been heavy and I sleep five hours a night. "
    "I want to walk after lunch three days a week, starting on Monday."
)
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory):
    """The speech once, then silence (%noloop): every page that opens the microphone hears it anew."""
    tmp = tmp_path_factory.mktemp("trust")
    return write_wav(tmp / "speech.wav", [silence(0.5) + espeak_pcm(SPOKEN, tmp_dir=tmp)])


def consented_session(user) -> CaptureSession:
    session = services.capture_session_create(user=user)
    consent_record_save(session=session, consent=consent_record())
    return session


def heard_words(session, *, before_s: float | None = None, after_s: float | None = None) -> set[str]:
    rows = TranscriptSegment.objects.filter(session=session)
    if before_s is not None:
        rows = rows.filter(start__lt=before_s)
    if after_s is not None:
        rows = rows.filter(start__gte=after_s)
    return words(" ".join(r.text for r in rows))


def record(page, seconds: float) -> float:
    """Presses Start (or Continue) and lets the microphone run; returns the seconds it ran."""
    page.click("#start")
    page.wait_for_selector("#capture-live:not([hidden])")
    started = time.monotonic()
    page.wait_for_timeout(seconds * 1000)
    return time.monotonic() - started


def stop_and_wait_for_recap(page) -> None:
    page.click("#stop")
    page.click("#stop-confirm")
    page.wait_for_selector("#recap-link:not([hidden])", timeout=120_000)


def nothing_left(session_id, redis_client) -> None:
    assert not CaptureWindow.objects.filter(session_id=session_id).exists()
    assert not TranscriptSegment.objects.filter(session_id=session_id).exists()
    assert redis_client.keys(f"{KEY_PREFIX}*") == []


def test_a_reload_mid_recording_loses_nothing_and_says_you_were_recording(
    asgi_server, celery_worker, user, clean_redis, playwright_instance, speech_wav, artifacts_dir
):
    session = consented_session(user)
    browser = fake_mic_browser(playwright_instance, speech_wav)
    try:
        page = browser.new_context(viewport=PHONE).new_page()
        page.on("dialog", lambda dialog: dialog.accept())  # the leave-page warning, accepted
        login(page, asgi_server.url, user)
        page.goto(f"{asgi_server.url}/capture/s/{session.id}/")
        before_reload = record(page, 25)
        page.reload()

        # Coming back: the page says a recording is under way, with the server's figures.
        banner = page.wait_for_selector("#resume-banner")
        assert re.search(r"You were recording \(.+ captured\)", banner.inner_text())
        shoot(page, artifacts_dir, "capture-resume")
        # The words of the first page were transcribed from what the server held when it went away.
        wait_for(
            lambda: len(heard_words(session, before_s=before_reload) & words(SPOKEN)) >= 6,
            timeout_s=90,
            what="the words spoken before the reload",
        )
        after_reload = record(page, 12)
        # The timer continued from the server's figure, not from 00:00.
        minutes, seconds = map(int, page.inner_text("#timer").split(":"))
        assert minutes * 60 + seconds >= before_reload + after_reload - 2
        stop_and_wait_for_recap(page)
    finally:
        browser.close()

    recap = Recap.objects.get(session=session)
    assert recap.data["stats"]["recorded_s"] >= before_reload + after_reload - 1
    assert words(" ".join(strings(recap.data))) & words(SPOKEN)
    nothing_left(session.id, clean_redis)


def test_a_closed_tab_is_listed_at_home_to_continue_finish_or_discard(
    asgi_server, celery_worker, user, clean_redis, playwright_instance, speech_wav, artifacts_dir
):
    base = asgi_server.url
    browser = fake_mic_browser(playwright_instance, speech_wav)
    try:
        context = browser.new_context(viewport=PHONE)
        page = context.new_page()
        login(page, base, user)

        def record_then_close(seconds: float) -> CaptureSession:
            session = consented_session(user)
            tab = context.new_page()
            tab.goto(f"{base}/capture/s/{session.id}/")
            record(tab, seconds)
            tab.close()  # the tab goes away: no Stop, no leave-page question
            return session

        # Continue, then Stop: one complete recap.
        first = record_then_close(12)
        page.goto(f"{base}/")
        listed = page.wait_for_selector("#unfinished")
        assert "A recording isn't finished" in listed.inner_text()
        shoot(page, artifacts_dir, "home-unfinished")
        page.click("#unfinished a:has-text('Continue recording')")
        page.wait_for_url(re.compile(rf".*/capture/s/{first.id}/$"))
        page.wait_for_selector("#resume-banner")
        record(page, 5)
        stop_and_wait_for_recap(page)
        recap = Recap.objects.get(session=first)
        assert recap.data["stats"]["recorded_s"] >= 12 + 5 - 1.5
        assert words(" ".join(strings(recap.data))) & words(SPOKEN)

        # Finish now: a recap from what was committed, without opening the capture page again.
        second = record_then_close(12)
        wait_for(
            lambda: len(heard_words(second) & words(SPOKEN)) >= 6, timeout_s=90, what="the committed words"
        )
        page.goto(f"{base}/")
        page.click("#unfinished button:has-text('Finish now')")
        wait_for(lambda: Recap.objects.filter(session=second).exists(), timeout_s=90, what="the recap")
        assert words(" ".join(strings(Recap.objects.get(session=second).data))) & words(SPOKEN)

        # Discard: every window, audio key and segment goes, and nothing is listed any more.
        third = record_then_close(6)
        page.goto(f"{base}/")
        page.click("#unfinished summary")
        page.click("#unfinished button:has-text('Discard this recording')")
        page.wait_for_load_state()
        wait_for(
            lambda: not CaptureSession.objects.filter(id=third.id).exists(), timeout_s=30, what="discard"
        )
        page.goto(f"{base}/")
        assert page.query_selector("#unfinished") is None
    finally:
        browser.close()
    assert Recap.objects.filter(user=user).count() == 2
    for session_id in (first.id, second.id, third.id):
        nothing_left(session_id, clean_redis)


def test_two_tabs_one_session_one_recap_and_the_older_tab_says_where_it_went(
    asgi_server, celery_worker, user, clean_redis, playwright_instance, speech_wav, artifacts_dir
):
    session = consented_session(user)
    base = asgi_server.url
    browser = fake_mic_browser(playwright_instance, speech_wav)
    try:
        context = browser.new_context(viewport=PHONE)
        older = context.new_page()
        sockets = {"older": 0, "newer": 0}
        older.on("websocket", lambda ws: sockets.__setitem__("older", sockets["older"] + 1))
        login(older, base, user)
        older.goto(f"{base}/capture/s/{session.id}/")
        first = record(older, 12)

        newer = context.new_page()
        newer.on("websocket", lambda ws: sockets.__setitem__("newer", sockets["newer"] + 1))
        newer.goto(f"{base}/capture/s/{session.id}/")
        newer.wait_for_selector("#resume-banner")
        second = record(newer, 10)
        # The older tab let go, says so, and does not try to take the session back by itself.
        message = older.wait_for_selector("#elsewhere:not([hidden])", timeout=10_000)
        assert "This recording continues in another tab" in message.inner_text()
        assert older.inner_text("#conn-state") == "Recording in another tab"
        shoot(older, artifacts_dir, "capture-takeover")
        older.wait_for_timeout(3000)
        assert sockets == {"older": 1, "newer": 1}, sockets

        # Moved back: the newer tab now shows the message, and the recording goes on in the older one.
        older.click("#take-back")
        older.wait_for_selector("#elsewhere", state="hidden")
        newer.wait_for_selector("#elsewhere:not([hidden])", timeout=10_000)
        older.wait_for_timeout(6000)
        third = 6
        stop_and_wait_for_recap(older)
        assert sockets == {"older": 2, "newer": 1}, sockets
        assert newer.inner_text("#conn-state") == "Recording in another tab"
    finally:
        browser.close()

    assert Recap.objects.filter(session=session).count() == 1
    recap = Recap.objects.get(session=session)
    # Nothing the first tab recorded was written over by the second: all three stretches are there.
    assert recap.data["stats"]["recorded_s"] >= first + second + third - 3
    assert CaptureSession.objects.get(id=session.id).status == "done"
    nothing_left(session.id, clean_redis)


def test_a_network_outage_then_a_reload_during_it_loses_nothing(
    asgi_server, celery_worker, user, clean_redis, playwright_instance, speech_wav, artifacts_dir
):
    """The laptop's network drops for 30 s; the person reloads during the outage. What the page
    recorded meanwhile was never acked, so only the browser had it: its encrypted backlog
    (IndexedDB) brings it back to the reloaded page, which sends it before anything new."""
    session = consented_session(user)
    network = scenarios.FlakyNetwork(asgi_server.port).start()
    base = f"http://127.0.0.1:{network.port}"
    browser = fake_mic_browser(playwright_instance, speech_wav)
    try:
        page = browser.new_context(viewport=PHONE).new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        login(page, base, user)
        page.goto(f"{base}/capture/s/{session.id}/")
        page.click("#start")
        page.wait_for_selector("#capture-live:not([hidden])")
        started = time.monotonic()
        page.wait_for_timeout(5000)
        network.outage()  # the speech goes on for a few seconds: only the browser holds it now
        outage_at = time.monotonic() - started
        page.wait_for_timeout(15_000)
        # At rest in the browser, the frames are AES-GCM ciphertext, never the audio itself.
        stored = browser_backlog(page, with_plaintext_match=True)
        assert len(stored) >= 40, len(stored)  # 10 s of audio and more, since the outage began
        assert not any(record["same_as_audio"] for record in stored)
        assert all(record["bytes"] == 6400 + 16 for record in stored)
        # A reload while the network is still down: the page cannot load until it comes back.
        page.evaluate("setTimeout(() => location.reload(), 0)")
        before_reload = time.monotonic() - started
        page.wait_for_timeout(15_000)
        network.restore()
        page.wait_for_selector("#backlog-kept:not([hidden])", timeout=30_000)
        kept = page.inner_text("#backlog-kept")
        assert re.search(
            r"\d+ (?:min(?: \d+ s)?|s) of audio not yet transcribed are kept safely on this device", kept
        ), kept
        shoot(page, artifacts_dir, "capture-backlog-kept")
        after_reload = record(page, 6)
        # What was said during the outage reached the transcript: only the browser had it. (The server
        # cut its window at the last frame it acked, a moment before the outage as timed here.)
        wait_for(
            lambda: (
                len(heard_words(session, after_s=outage_at - 1, before_s=before_reload) & words(SPOKEN)) >= 4
            ),
            timeout_s=90,
            what="the words spoken during the outage",
        )
        stop_and_wait_for_recap(page)
        # Nothing of the session's audio is left in this browser once the recap is made.
        assert browser_backlog(page) == [], "audio left in the browser after the recap"
    finally:
        browser.close()
        network.close()

    recap = Recap.objects.get(session=session)
    assert recap.data["stats"]["recorded_s"] >= before_reload + after_reload - 1.5
    assert CaptureSession.objects.get(id=session.id).backlog_key is None
    nothing_left(session.id, clean_redis)
