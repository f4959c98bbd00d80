"""Content-Security-Policy (django-csp, settings CONTENT_SECURITY_POLICY).

- Every page of the URLconf, for the signed-in person, their capture-scoped laptop and a signed-out
  browser (error pages included), carries the policy, and the policy allows nothing inline or foreign.
- No template has an inline script, a <style> element, a style attribute, an on*= handler or a
  javascript: URL, and no static script uses eval: what the policy would block, found before a
  browser does (a page added with one fails here with its file and line).
- In real Chromium, the pages people use (sign in, the laptop's QR page and its socket, home, the
  recaps, the brief, patterns, devices, and the record page with a fake microphone: socket, AudioWorklet)
  report no CSP violation, and an inline script injected into the page is blocked and reported, which
  shows the listener would have seen one."""

import re
from pathlib import Path

import pytest
from django.test import Client

from tests.conftest import launch_chromium
from tests.factories import PASSWORD
from tests.security.conftest import capture_device_client, signed_in
from tests.security.routes import all_routes

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {
    "default-src": {"'self'"},
    "script-src": {"'self'"},
    "style-src": {"'self'"},
    "object-src": {"'none'"},
    "frame-ancestors": {"'none'"},
    "base-uri": {"'self'"},
    "form-action": {"'self'"},
    "connect-src": {"'self'"},
}
NEVER = {"'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "data:", "blob:", "http:", "https:"}


def policy_of(response) -> dict[str, set[str]]:
    header = response.get("Content-Security-Policy", "")
    directives = {}
    for part in filter(None, (p.strip() for p in header.split(";"))):
        name, *sources = part.split()
        directives[name] = set(sources)
    return directives


@pytest.mark.django_db
def test_every_page_carries_a_policy_that_allows_nothing_inline_or_foreign(
    alice, no_ratelimit_counts, fast_health
):
    visitors = {
        "signed in": signed_in(alice.user),
        "capture device": capture_device_client(alice.user),
        "signed out": Client(),
    }
    checked, failures = 0, []
    for route in all_routes():
        url = route.url(alice)
        for visitor, client in visitors.items():
            no_ratelimit_counts()
            response = client.get(url)
            if route.name == "logout" or not response.get("Content-Type", "").startswith("text/html"):
                continue
            checked += 1
            policy = policy_of(response)
            missing = {
                d: s - policy.get(d, set()) for d, s in REQUIRED.items() if not s <= policy.get(d, set())
            }
            loose = {d: s & NEVER for d, s in policy.items() if s & NEVER}
            if missing or loose:
                failures.append(
                    f"{visitor} GET {url} ({response.status_code}): missing {missing}, loose {loose}"
                )
    assert not failures, "\n".join(failures)
    assert checked >= 30, checked  # HTML pages, error pages among them (404, 403, 410)


INLINE_IN_TEMPLATES = {
    "inline <script>": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "<style> element": re.compile(r"<style\b", re.IGNORECASE),
    "style attribute": re.compile(r"\sstyle\s*=", re.IGNORECASE),
    "on* handler attribute": re.compile(r"\son[a-z]+\s*=\s*[\"']", re.IGNORECASE),
    "javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}
EVAL_IN_SCRIPTS = re.compile(r"\beval\(|new Function\(|setAttribute\(\s*[\"'](style|on[a-z]+)[\"']")


def test_no_template_or_script_has_what_the_policy_would_block():
    found = []
    for path in sorted((ROOT / "templates").rglob("*.html")) + sorted(ROOT.glob("*/templates/**/*.html")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            found += [
                f"{path.relative_to(ROOT)}:{number}: {what}"
                for what, rx in INLINE_IN_TEMPLATES.items()
                if rx.search(line)
            ]
    for path in sorted((ROOT / "static").rglob("*.js")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if EVAL_IN_SCRIPTS.search(line):
                found.append(
                    f"{path.relative_to(ROOT)}:{number}: eval or an inline handler/style set from script"
                )
    assert not found, "\n".join(found)


# ---- in Chromium -----------------------------------------------------------------------------------

LISTEN = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


def _off_the_event_loop(make):
    """Playwright's sync API keeps an event loop in this thread for the session; the pairing services
    push to the channel layer with async_to_sync, which refuses to run here. Build in a thread."""
    import threading

    from django.db import connection

    made = []

    def run():
        try:
            made.append(make())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    assert made, "building the test data failed (see the thread's traceback above)"
    return made[0]


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_pages_in_chromium_report_no_violation_and_an_injected_script_is_blocked(
    asgi_server, user, clean_redis, playwright_instance, artifacts_dir
):
    from capture.models import CaptureSession
    from tests.security.conftest import owned_world

    owned = _off_the_event_loop(lambda: owned_world(user, tag="alice"))
    unconsented = CaptureSession.objects.create(user=user)
    browser = launch_chromium(
        playwright_instance, "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"
    )
    violations, sockets = [], []
    try:
        context = browser.new_context(viewport={"width": 390, "height": 844})
        context.set_default_timeout(20_000)
        context.add_init_script(LISTEN)
        page = context.new_page()
        page.on(
            "console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None
        )
        page.on("websocket", lambda ws: sockets.append(ws.url))
        base = asgi_server.url

        def visit(path: str) -> bool:
            # Only documents: JSON, an attachment (the Markdown export) or an empty 405 runs nothing,
            # and Chromium does not open them as pages. Asked first with this browser's cookies.
            head = context.request.get(f"{base}{path}", max_redirects=0)
            html = head.headers.get("content-type", "").startswith("text/html") and head.body()
            if not html or "attachment" in head.headers.get("content-disposition", ""):
                return False
            page.goto(f"{base}{path}")
            page.wait_for_load_state("load")
            violations.extend(f"{path}: {v}" for v in page.evaluate("window.__csp"))
            return True

        visit("/accounts/login/")
        visit("/capture/")  # signed out: the QR page; pairing.js opens its socket
        page.wait_for_selector("#pair-qr svg")
        page.screenshot(path=str(artifacts_dir / "csp-laptop-qr.png"), full_page=True)
        assert any("/ws/pair/" in url for url in sockets), sockets

        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url(f"{base}/")
        # Every page of the URLconf, with this person's objects (a new page is visited the day it exists),
        # and the consent gate of a session that has none yet (its script runs there).
        paths = [route.url(owned) for route in all_routes() if route.name != "logout"]
        pages = [path for path in [*paths, f"/capture/s/{unconsented.id}/consent/"] if visit(path)]
        assert len(pages) >= 15, pages
        assert not violations, violations

        visit(f"/capture/s/{owned.session.id}/")  # the record page: socket, AudioWorklet, fake microphone
        page.click("#start")
        page.wait_for_selector("#capture-live:not([hidden])")
        page.wait_for_function("document.getElementById('conn-state').textContent === 'Connected'")
        violations.extend(page.evaluate("window.__csp"))
        page.screenshot(path=str(artifacts_dir / "csp-record-live.png"), full_page=True)
        assert any(f"/ws/capture/{owned.session.id}/" in url for url in sockets), sockets
        assert not violations, violations

        # The control: a script injected into the page does not run, and the listener hears of it.
        ran = page.evaluate(
            """() => { const s = document.createElement("script"); s.textContent = "window.__ran = true";
                       document.body.appendChild(s); return window.__ran === true; }"""
        )
        page.wait_for_function("window.__csp.length > 0")
        assert ran is False
        assert any(v.startswith("script-src") for v in page.evaluate("window.__csp"))
        print(f"\nCSP in Chromium: {len(pages) + 4} pages, 0 violations; sockets opened: {len(sockets)}")
    finally:
        browser.close()
