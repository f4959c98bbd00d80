"""The installable web app in real headless Chromium against real Daphne: the manifest is fetched and
valid; the service worker registers and controls the page; after a recap was shown, Cache Storage holds
the app shell only (no recap URL, none of the recap's words); offline, a page load shows the offline
page. axe-core finds no violation on home (signed out and in), sign up, log in, a recap, the offline
page and the consent form with errors, in light and dark mode; a consent-form error goes away once its
field is fixed. Screenshots at 390 and 1280 px, light and dark, go to test-artifacts/ for a person to
look at."""

import re
import time
from datetime import timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.factories import PASSWORD, UserFactory
from tests.recaps.recap_fixtures import make_recap

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TIMEOUT_MS = 15_000
CONTENT_PATHS = ("/recaps/", "/capture/", "/accounts/")

CACHE_CONTENTS = """async () => {
  const out = [];
  for (const name of await caches.keys()) {
    const cache = await caches.open(name);
    for (const request of await cache.keys()) {
      const response = await cache.match(request);
      out.push({ cache: name, url: request.url, body: await response.text() });
    }
  }
  return out;
}"""


def poll(page, script: str, *, timeout: float = 10.0):
    """page.wait_for_function with a string is an eval the site's CSP blocks: poll from here instead."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(script)
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def axe_clean(page, label: str, shots, name: str) -> None:
    """No axe-core violation in light and in dark mode; a screenshot of each at this width."""
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        results = Axe().run(page)
        assert results.violations_count == 0, f"{label} ({scheme}):\n{results.generate_report()}"
        width = page.viewport_size["width"]
        page.screenshot(path=str(shots / f"app-{name}-{width}-{scheme}.png"), full_page=True)
    page.emulate_media(color_scheme="light")


def test_installable_app_offline_page_and_accessibility(asgi_server, browser, artifacts_dir):
    base = asgi_server.url
    user = UserFactory()
    recap = make_recap(user=user, name="work_sleep")
    recap_url = f"{base}/recaps/{recap.id}/"
    # Words only this recap's page shows: none may be in the browser's caches.
    recap_words = [recap.data["summary"][1]["text"], recap.data["moments"][1]["quote"][:60], user.username]

    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        # The manifest: linked from the page, fetched, valid, its icons load.
        page.goto(f"{base}/")
        href = page.get_attribute("link[rel=manifest]", "href")
        manifest = page.evaluate("async (url) => (await fetch(url)).json()", href)
        assert (manifest["name"], manifest["start_url"], manifest["display"]) == (
            "Undertone",
            "/",
            "standalone",
        )
        for icon in manifest["icons"]:
            status = page.evaluate("async (url) => (await fetch(url)).status", icon["src"])
            assert status == 200, icon["src"]

        # The service worker: registered, active, and in control of the page after a reload.
        assert poll(page, "async () => !!(await navigator.serviceWorker.ready).active")
        page.reload()
        assert page.evaluate("() => navigator.serviceWorker.controller?.scriptURL") == f"{base}/sw.js"
        axe_clean(page, "home, signed out", artifacts_dir, "home")

        # Sign in (a form post: the worker leaves it alone) and read a recap.
        page.goto(f"{base}/accounts/signup/")
        axe_clean(page, "sign up", artifacts_dir, "signup")
        page.goto(f"{base}/accounts/login/")
        axe_clean(page, "log in", artifacts_dir, "login")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url(f"{base}/")
        axe_clean(page, "home, signed in", artifacts_dir, "home-signed-in")
        page.goto(recap_url)
        page.wait_for_selector("#summary")
        assert recap_words[0] in page.inner_text("#summary")
        axe_clean(page, "a recap", artifacts_dir, "recap")

        # Cache Storage: the app shell only. No recap, capture or account URL; none of the recap's words.
        cached = page.evaluate(CACHE_CONTENTS)
        paths = {re.sub(r"^https?://[^/]+", "", item["url"]) for item in cached}
        assert "/offline/" in paths and "/static/css/site.css" in paths, paths
        assert not [p for p in paths if p.startswith(CONTENT_PATHS)], paths
        assert all(p.startswith("/static/") or p in ("/offline/", "/manifest.webmanifest") for p in paths), (
            paths
        )
        for item in cached:
            for words in recap_words:
                assert words not in item["body"], f"{item['url']} holds the recap's words"
        assert {item["cache"] for item in cached} == {"undertone-shell-v1"}

        # Offline: a page load shows the offline page, at the address asked for, and its styles load.
        context.set_offline(True)
        page.goto(recap_url)
        page.wait_for_selector('h1:has-text("You\'re offline")')
        assert page.url == recap_url
        text = page.inner_text("main")
        assert "Nothing of your recaps is stored on this device" in text
        assert not any(words in page.content() for words in recap_words)
        assert page.evaluate("() => getComputedStyle(document.body).display") == "flex"  # site.css, cached
        axe_clean(page, "the offline page", artifacts_dir, "offline")
        context.set_offline(False)
        page.click("#offline-retry")  # "Try again" loads the same address, now online
        page.wait_for_selector("#summary")

        # Wide screens, light and dark (axe again: the layout changes at 720 px).
        page.set_viewport_size({"width": 1280, "height": 900})
        axe_clean(page, "a recap, 1280 px", artifacts_dir, "recap")
        page.goto(f"{base}/")
        axe_clean(page, "home, signed in, 1280 px", artifacts_dir, "home-signed-in")
        page.goto(f"{base}/offline/")
        axe_clean(page, "the offline page, 1280 px", artifacts_dir, "offline")

        # The pages a person keeps coming back to, an edited recap among them: axe-clean at both widths.
        from django.utils import timezone

        from recaps import services as recap_services
        from recaps.models import ClientSettings

        # An appointment in two hours: the Brief is unlocked, with its content.
        ClientSettings.objects.create(user=user, next_appointment=timezone.now() + timedelta(hours=2))
        make_recap(
            user=user, name="grief_parent", number=2, session_date=recap.session_date - timedelta(days=7)
        )
        recap_services.recap_rename(recap=recap, title="Evenings and work")
        recap_services.recap_item_save(
            recap=recap, section="questions", index=None, digest="", text="Ask about sleep?"
        )
        page.goto(recap_url)
        assert "Evenings and work" in page.inner_text("h1")
        assert "Ask about sleep?" in page.inner_text("#questions")
        for width in (390, 1280):
            page.set_viewport_size({"width": width, "height": 900})
            for path, name in (
                ("/recaps/settings/", "settings"),
                ("/recaps/?q=work", "sessions-search"),
                (f"/recaps/{recap.id}/", "recap-edited"),
                (f"/recaps/{recap.id}/edit/", "recap-edit"),
                ("/recaps/patterns/", "patterns"),
                ("/recaps/brief/", "brief"),
            ):
                page.goto(f"{base}{path}")
                axe_clean(page, f"{name}, {width} px", artifacts_dir, name)

        # The consent form: an error goes away, with its aria-invalid, once its field holds a valid answer.
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{base}/capture/")
        page.click("#new-session")
        page.wait_for_url(re.compile(r".*/consent/$"))
        page.click("#consent-continue")
        page.wait_for_selector("#id_client_location_error")
        assert page.locator(".consent-error-summary").count() == 1
        axe_clean(page, "the consent form with errors", artifacts_dir, "consent-errors")
        page.select_option("#id_client_location", "US-NY")
        page.wait_for_selector("#id_client_location_error", state="detached")
        assert page.get_attribute("#id_client_location", "aria-invalid") is None
        assert page.locator("#id_session_type_error").count() == 1  # still wrong: still said
        page.check("input[name=session_type][value=in_person]")
        page.wait_for_selector("#id_session_type_error", state="detached")
        assert page.locator("input[name=session_type][aria-invalid]").count() == 0
        page.check("#id_therapist_agreed")
        page.wait_for_selector("#confirm-error", state="detached")
        assert page.get_attribute("#id_therapist_agreed", "aria-invalid") is None
        assert page.locator(".consent-error-summary").count() == 0  # nothing left to fix
        assert not errors, errors
    finally:
        context.close()
