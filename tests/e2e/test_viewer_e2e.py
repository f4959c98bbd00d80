"""The recap viewer in real headless Chromium at phone size (390x844) against real Daphne: the
session list, a recap, the moment of the day on home, an unlocked Pre-Session Brief and the Patterns
chart. Screenshots go to test-artifacts/ for a person to look at."""

from datetime import timedelta

import pytest
from django.utils import timezone

from recaps.services import client_settings_save
from tests.factories import PASSWORD, UserFactory
from tests.recaps.recap_fixtures import make_recap

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1"
)
TIMEOUT_MS = 15_000


def no_horizontal_overflow(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page is {width}px wide at a 390px viewport"


def test_viewer_at_phone_width(asgi_server, browser, artifacts_dir):
    user = UserFactory()
    now = timezone.now()
    make_recap(user=user, number=1, name="adhd_routines", session_date=now - timedelta(days=21))
    make_recap(user=user, number=2, name="work_sleep", session_date=now - timedelta(days=14))
    make_recap(user=user, number=3, name="grief_parent", session_date=now - timedelta(days=7))
    latest = make_recap(user=user, number=4, name="long_session", session_date=now - timedelta(days=3))
    client_settings_save(  # inside the 24 h window: the brief is unlocked
        user=user,
        next_appointment=now + timedelta(hours=5),
        weekly_weekday=None,
        weekly_time=None,
        brief_hours_before=24,
    )

    ctx = browser.new_context(
        viewport={"width": 390, "height": 844}, user_agent=PHONE_UA, is_mobile=True, has_touch=True
    )
    ctx.set_default_timeout(TIMEOUT_MS)
    page = ctx.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{asgi_server.url}/accounts/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url(f"{asgi_server.url}/")

        # Home: the moment of the day (the oldest due one first) and the brief card.
        page.wait_for_selector("#moment")
        assert page.locator(".brief-card").is_visible()
        no_horizontal_overflow(page)
        page.screenshot(path=str(artifacts_dir / "viewer-home-moment.png"), full_page=True)
        first_quote = page.locator("#moment blockquote").inner_text()
        page.get_by_role("button", name="Seen it · next").click()
        page.wait_for_selector("#moment")
        assert page.locator("#moment blockquote").inner_text() != first_quote  # the next one

        page.goto(f"{asgi_server.url}/recaps/")
        # Newest first, each titled by its top themes, with its number and date under the title.
        meta = page.locator(".session-link .session-meta").all_inner_texts()
        assert [m.split(" ·")[0] for m in meta] == ["Session 4", "Session 3", "Session 2", "Session 1"]
        titles = page.locator(".session-link strong").all_inner_texts()
        assert all(" · " in t and not t.startswith("Session") for t in titles), titles
        no_horizontal_overflow(page)
        page.screenshot(path=str(artifacts_dir / "viewer-list.png"), full_page=True)

        page.locator(".session-link", has_text="Session 4").click()
        page.wait_for_selector("#summary")
        assert page.locator("#full-recap").get_attribute("open") is None  # "go deeper" stays folded
        no_horizontal_overflow(page)
        page.screenshot(path=str(artifacts_dir / "viewer-recap.png"), full_page=True)
        page.screenshot(path=str(artifacts_dir / "viewer-recap-top.png"))  # what the phone shows first
        # Mark a next step done; the page comes back with it done.
        page.locator("#next-steps .step-toggle").first.click()
        page.wait_for_selector("#next-steps .step.done")
        page.locator("#full-recap summary").click()
        assert page.locator("#full-recap h3").first.is_visible()
        page.locator("#next-steps").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "viewer-recap-next-steps.png"))
        box = page.locator("#next-steps .step-toggle").first.bounding_box()
        assert box["height"] >= 44  # a thumb-sized target

        page.goto(f"{asgi_server.url}/recaps/brief/")
        page.wait_for_selector("#brief-next-steps")
        assert page.locator("#brief-recurring li").count() >= 1
        no_horizontal_overflow(page)
        page.screenshot(path=str(artifacts_dir / "viewer-brief.png"), full_page=True)

        page.goto(f"{asgi_server.url}/recaps/patterns/")
        page.wait_for_selector("svg.dot-grid circle")
        assert page.locator("svg.dot-grid").bounding_box()["width"] <= 390
        no_horizontal_overflow(page)
        page.screenshot(path=str(artifacts_dir / "viewer-patterns.png"), full_page=True)
        assert not errors
        assert latest.number == 4
    finally:
        ctx.close()
