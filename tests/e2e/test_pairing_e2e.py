"""The QR handoff in two real browser contexts against real Daphne + Redis: a laptop that shows a QR
code and a phone that scans it (the test decodes the QR from a screenshot, as a camera would),
logs in, picks the number and approves. Then the phone revokes the laptop and its socket closes."""

import io

import pytest
import zxingcpp

from capture import services as capture_services
from capture.consent.services import consent_record_save
from capture.models import LinkedDevice
from tests.factories import PASSWORD, consent_record

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LAPTOP_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36"
)
PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1"
)
TIMEOUT_MS = 15_000


def png_to_gray(png: bytes):
    """Screenshot PNG -> grayscale image for zxingcpp."""
    from PIL import Image

    return Image.open(io.BytesIO(png)).convert("L")


def decode_qr(png: bytes) -> str:
    results = zxingcpp.read_barcodes(png_to_gray(png))
    assert results, "no QR code found in the screenshot"
    return results[0].text


@pytest.fixture
def no_ratelimit_counts(redis_client):
    def clear():
        for key in redis_client.scan_iter(match="*:rl:*"):
            redis_client.delete(key)

    clear()
    yield
    clear()


@pytest.mark.django_db(transaction=True)
def test_qr_handoff_links_the_laptop_and_revoke_closes_its_socket(
    asgi_server, browser, artifacts_dir, user, no_ratelimit_counts
):
    base = asgi_server.url
    laptop_ctx = browser.new_context(viewport={"width": 1280, "height": 800}, user_agent=LAPTOP_UA)
    phone_ctx = browser.new_context(
        viewport={"width": 390, "height": 844}, user_agent=PHONE_UA, is_mobile=True, has_touch=True
    )
    try:
        laptop_ctx.set_default_timeout(TIMEOUT_MS)
        phone_ctx.set_default_timeout(TIMEOUT_MS)

        # Laptop: signed out, /capture/ shows a QR code and a number.
        laptop = laptop_ctx.new_page()
        laptop.goto(f"{base}/capture/")
        qr = laptop.locator("#pair-qr svg")
        qr.wait_for(state="visible")
        approve_url = decode_qr(qr.screenshot())  # read like a camera would, not from the DOM
        assert approve_url.startswith(f"{base}/capture/pair/")
        number = laptop.locator("#pair-number").inner_text().strip()
        assert number.isdigit() and len(number) == 2
        binding = next(c for c in laptop_ctx.cookies() if c["name"] == "uw_pair")
        assert binding["httpOnly"] and binding["sameSite"] == "Strict"
        laptop.screenshot(path=str(artifacts_dir / "pairing-laptop.png"))
        laptop.set_viewport_size({"width": 390, "height": 844})
        laptop.screenshot(path=str(artifacts_dir / "pairing-laptop-390.png"), full_page=True)
        laptop.set_viewport_size({"width": 1280, "height": 800})

        # Phone: opens the scanned link, logs in, sees what is asking.
        phone = phone_ctx.new_page()
        phone.goto(approve_url)
        phone.fill("#id_username", user.username)
        phone.fill("#id_password", PASSWORD)
        phone.click("button[type=submit]")
        phone.get_by_role("heading", name="Link this browser for recording?").wait_for()
        assert "Chrome on Linux" in phone.locator(".pair-device").inner_text()
        choices = phone.locator(".pair-choice span").all_inner_texts()
        assert len(choices) == 3 and number in choices

        # The laptop heard about the scan over its socket.
        laptop.locator("#pairing[data-state=scanned]").wait_for()
        phone.screenshot(path=str(artifacts_dir / "pairing-phone-approve.png"), full_page=True)

        phone.locator(".pair-choice", has_text=number).click()
        phone.get_by_role("button", name="Approve").click()
        phone.get_by_role("heading", name="Approved").wait_for()
        phone.screenshot(path=str(artifacts_dir / "pairing-phone-approved.png"), full_page=True)

        # Laptop: pushed, completes, and lands on the capture page as a capture device.
        laptop.locator(".topbar .pill", has_text="Capture device").wait_for()
        assert laptop.url == f"{base}/capture/"
        assert "This browser is linked for capture" in laptop.locator(".messages").inner_text()
        assert laptop.locator("#new-session").is_visible()
        laptop.screenshot(path=str(artifacts_dir / "pairing-laptop-linked.png"))
        assert laptop.request.get(f"{base}/recaps/", max_redirects=0).status == 403

        # A capture socket of the linked laptop, open...
        device = LinkedDevice.objects.get(user=user)
        session = capture_services.capture_session_create(user=user, device=device)
        consent_record_save(session=session, consent=consent_record())
        opened = laptop.evaluate(
            """(path) => new Promise((resolve) => {
                 window.__closeCode = null;
                 const ws = new WebSocket(`ws://${location.host}${path}`);
                 ws.onopen = () => resolve("open");
                 ws.onclose = (e) => { window.__closeCode = e.code; resolve(`closed ${e.code}`); };
               })""",
            f"/ws/capture/{session.id}/",
        )
        assert opened == "open"
        laptop.wait_for_timeout(300)
        assert laptop.evaluate("window.__closeCode") is None

        # ... is closed within seconds when the phone revokes the device (group_send through Redis).
        phone.goto(f"{base}/capture/devices/")
        assert "New device linked: Chrome on Linux" in phone.locator(".notification-list").inner_text()
        phone.screenshot(path=str(artifacts_dir / "pairing-phone-devices.png"), full_page=True)
        phone.get_by_role("button", name="Unlink and sign out").click()
        phone.locator(".messages", has_text="signed out").wait_for()
        laptop.wait_for_function("window.__closeCode === 4403", timeout=5_000)

        # And its next request is signed out: the QR page again.
        laptop.goto(f"{base}/capture/")
        laptop.locator("#pair-qr svg").wait_for()
        assert laptop.locator(".topbar .pill").count() == 0
    finally:
        laptop_ctx.close()
        phone_ctx.close()
