"""The consent gate and the message builder in real headless Chromium at phone width (390 px), against
real Daphne: the rule follows the answers, confirming opens the session page; the builder's preview
follows the tone, keeps the person's own edits, and Copy puts the message on the clipboard.
Screenshots go to test-artifacts/ for a person to look at (390 px and 1280 px)."""

import re

import pytest
from playwright.sync_api import expect

from capture import services
from capture.consent.script import script_build
from capture.models import CaptureSession
from tests.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 15_000


def _login(page, base, user):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")


def _no_horizontal_overflow(page, width):
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"page is {scroll}px wide at a {width}px viewport"


def _message(page) -> str:
    return page.input_value("#ask-text")


def test_consent_gate_and_message_builder_at_phone_width(asgi_server, browser, user, artifacts_dir):
    base = asgi_server.url
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        _login(page, base, user)

        # The gate. The therapist's place is asked only for video sessions.
        page.goto(f"{base}/capture/")
        page.click("#new-session")
        page.wait_for_url(re.compile(r".*/consent/$"))
        assert page.locator("#therapist-field").is_hidden()
        assert "Choose where you are" in page.inner_text("#consent-rule")
        page.check("input[name=session_type][value=video]")
        page.locator("#therapist-field").wait_for(state="visible")
        page.select_option("#id_client_location", "US-NY")
        # By video the rule waits for the therapist's place too.
        page.wait_for_selector("#consent-rule:has-text('and where your therapist is')")
        assert page.input_value("#id_shown_for") == ""
        page.select_option("#id_therapist_location", "US-CA")
        # The rule follows: New York is one-party, California all-party, so everyone must agree.
        page.wait_for_selector('#consent-rule[data-shown-for="video:US-NY:US-CA"]')
        rule = page.inner_text("#consent-rule")
        assert "Everyone must agree" in rule and "strictest rule applies" in rule
        assert "not legal advice" in rule
        assert page.input_value("#id_shown_for") == "video:US-NY:US-CA"
        # In person: the therapist's place is not asked and only the person's place counts.
        page.check("input[name=session_type][value=in_person]")
        page.wait_for_selector('#consent-rule[data-shown-for="in_person:US-NY:-"]')
        assert page.locator("#therapist-field").is_hidden()
        assert "One person may record" in page.inner_text("#consent-rule")
        page.check("input[name=session_type][value=video]")
        page.wait_for_selector('#consent-rule[data-shown-for="video:US-NY:US-CA"]')
        page.click("#consent-rule summary")  # the sources open in place
        assert "Cal. Penal Code §632" in page.inner_text("#consent-rule")
        _no_horizontal_overflow(page, 390)
        page.screenshot(path=str(artifacts_dir / "consent-390.png"), full_page=True)

        # Continue without the confirmation: refused, with a clear message, nothing recorded.
        session = CaptureSession.objects.get(user=user)
        page.click("#consent-continue")
        page.wait_for_selector("#confirm-error")
        assert "Please confirm that your therapist agreed" in page.inner_text("#confirm-error")
        assert CaptureSession.objects.get(id=session.id).consent_at is None
        page.screenshot(path=str(artifacts_dir / "consent-error-390.png"), full_page=True)
        # The answers stay; the box is not ticked for them. Confirm and go on.
        assert page.input_value("#id_therapist_location") == "US-CA"
        assert not page.is_checked("#id_therapist_agreed")
        page.check("#id_therapist_agreed")
        page.click("#consent-continue")
        page.wait_for_url(f"{base}/capture/s/{session.id}/")
        page.wait_for_selector("#capture")
        session.refresh_from_db()
        assert session.consent["rule"]["code"] == "all_party"
        assert (session.consent["client"]["code"], session.consent["therapist"]["code"]) == ("US-NY", "US-CA")

        # The builder, from home.
        page.goto(f"{base}/")
        page.click("#ask-link")
        page.wait_for_url(f"{base}/capture/ask/")
        assert page.locator("#ask-update").is_hidden()  # live preview instead
        assert page.locator("#ask-copy").is_visible()
        warm = script_build(reasons=["remember"], recording_format="recap", tone="warm")
        assert _message(page) == warm.text
        page.click("label.ask-tone:has-text('Brief')")
        brief = script_build(reasons=["remember"], recording_format="recap", tone="brief")
        expect(page.locator("#ask-text")).to_have_value(brief.text)
        assert "tone=brief" in page.url  # the choices survive a reload
        page.check("input[name=reasons][value=adhd]")
        page.fill("#id_therapist_name", "Dr. Lee")
        chosen = script_build(
            reasons=["remember", "adhd"], recording_format="recap", tone="brief", therapist_name="Dr. Lee"
        )
        expect(page.locator("#ask-text")).to_have_value(chosen.text)
        _no_horizontal_overflow(page, 390)
        page.screenshot(path=str(artifacts_dir / "script-390.png"), full_page=True)

        # Copy puts exactly the message on the clipboard, and says so.
        page.click("#ask-copy")
        expect(page.locator("#ask-copied")).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == chosen.text

        # Edited in place: a new tone does not overwrite the person's words until they ask.
        page.fill("#ask-text", chosen.text + "\n\nP.S. Happy to talk about it first.")
        page.click("label.ask-tone:has-text('Direct')")
        page.locator("#ask-edited").wait_for(state="visible")
        assert _message(page).endswith("P.S. Happy to talk about it first.")
        page.click("#ask-rebuild")
        direct = script_build(
            reasons=["remember", "adhd"], recording_format="recap", tone="direct", therapist_name="Dr. Lee"
        )
        expect(page.locator("#ask-text")).to_have_value(direct.text)
        assert page.locator("#ask-edited").is_hidden()

        # Read aloud: spoken lines ending with a pause for their answer.
        page.check("#id_read_aloud")
        expect(page.locator("#ask-text")).to_have_value(re.compile(r"\(Pause\. Let them answer\.\)$"))
        assert page.inner_text("#ask-output-title") == "What to say"
        page.screenshot(path=str(artifacts_dir / "script-read-aloud-390.png"), full_page=True)

        # Wide screens: the same pages at 1280 px (the gate now prefilled from last time).
        page.set_viewport_size({"width": 1280, "height": 900})
        page.screenshot(path=str(artifacts_dir / "script-1280.png"), full_page=True)
        second = services.capture_session_create(user=user)
        page.goto(f"{base}/capture/s/{second.id}/consent/")
        page.wait_for_selector("#consent-prefilled")
        assert page.is_checked("input[name=session_type][value=video]")
        assert not page.is_checked("#id_therapist_agreed")
        assert "Everyone must agree" in page.inner_text("#consent-rule")
        _no_horizontal_overflow(page, 1280)
        page.screenshot(path=str(artifacts_dir / "consent-1280.png"), full_page=True)
        assert errors == []
    finally:
        context.close()


def test_gate_and_builder_work_without_javascript(asgi_server, browser, user, artifacts_dir):
    base = asgi_server.url
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        _login(page, base, user)
        session = services.capture_session_create(user=user)
        page.goto(f"{base}/capture/s/{session.id}/consent/")
        assert page.locator("#therapist-field").is_visible()  # simply present without JS
        page.check("input[name=session_type][value=in_person]")
        page.select_option("#id_client_location", "US-PA")
        page.click("button[name=action][value=check]")  # "Show the rule for these places"
        page.wait_for_selector('#consent-rule[data-shown-for="in_person:US-PA:-"]')
        assert "Everyone must agree" in page.inner_text("#consent-rule")
        assert page.is_checked("input[name=session_type][value=in_person]")
        page.screenshot(path=str(artifacts_dir / "consent-nojs-390.png"), full_page=True)
        page.check("#id_therapist_agreed")
        page.click("#consent-continue")
        page.wait_for_url(f"{base}/capture/s/{session.id}/")
        session.refresh_from_db()
        assert session.consent["client"]["code"] == "US-PA" and session.consent["rule"]["code"] == "all_party"

        page.goto(f"{base}/capture/ask/")
        assert page.locator("#ask-copy").is_hidden()  # Copy needs JS; the text can still be selected
        page.check("input[name=tone][value=direct]")
        page.check("input[name=recording_format][value=audio]")
        page.click("#ask-update")
        page.wait_for_url(re.compile(r".*tone=direct.*"))
        expected = script_build(reasons=["remember"], recording_format="audio", tone="direct")
        assert page.input_value("#ask-text") == expected.text
    finally:
        context.close()
