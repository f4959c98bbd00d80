"""The QR handoff (issue 3) through the Django test client: fast, no browser. The real-browser flow
is tests/e2e/test_pairing_e2e.py."""

import json
import logging
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from accounts.models import Notification
from capture import services as capture_services
from capture.consent.services import consent_record_save
from capture.models import CaptureSession, LinkedDevice, PairingRequest
from capture.pairing import selectors, services
from capture.pairing.middleware import CAPTURE_DEVICE_SESSION_KEY
from capture.pairing.signals import AUTH_AT_SESSION_KEY
from tests.capture.conftest import ORIGIN, run
from tests.factories import PASSWORD, consent_record

LAPTOP_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36"
)
EXPIRED_TITLE = "This code has expired"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_ratelimit_counts(redis_client, one_ratelimit_window):
    """Rate-limit counters live in the shared test Redis: drop only theirs (not flushdb, which would
    disturb anything else using that Redis)."""

    def clear():
        for key in redis_client.scan_iter(match="*:rl:*"):
            redis_client.delete(key)

    clear()
    yield
    clear()


class Laptop:
    def __init__(self):
        self.client = Client(headers={"user-agent": LAPTOP_UA})
        self.info = None
        self.token = None

    def open(self):
        response = self.client.get("/capture/")
        assert response.status_code == 200
        self.info = response.context["pairing"]
        self.token = urlsplit(response.context["approve_url"]).path.rstrip("/").rsplit("/", 1)[-1]
        return response

    @property
    def pairing(self) -> PairingRequest:
        return PairingRequest.objects.get(id=self.info["request_id"])

    def complete(self):
        return self.client.post(self.info["complete_url"])


def phone_client(user) -> Client:
    client = Client()
    client.force_login(user)  # fires user_logged_in: the session remembers a fresh login
    return client


def approve_path(token: str) -> str:
    return f"/capture/pair/{token}/"


def approve(phone: Client, laptop: Laptop, *, choice: int | None = None, **extra):
    number = laptop.pairing.number if choice is None else choice
    return phone.post(approve_path(laptop.token), {"action": "approve", "choice": number, **extra})


def linked_laptop(user) -> Laptop:
    laptop = Laptop()
    laptop.open()
    assert approve(phone_client(user), laptop).status_code == 200
    response = laptop.complete()
    assert response.status_code == 302, response.content[:500]
    return laptop


# ---- the laptop page ------------------------------------------------------------------------------


def test_laptop_page_shows_an_inline_svg_qr_a_number_and_sets_the_binding_cookie():
    laptop = Laptop()
    response = laptop.open()
    html = response.content.decode()
    assert "<svg" in html and 'class="pair-qr-svg"' in html
    pairing = laptop.pairing
    assert f">{pairing.number}<" in html and 10 <= pairing.number <= 99
    assert laptop.info["approve_url"].startswith("http://testserver/capture/pair/")
    assert response["Cache-Control"].startswith("max-age=0")

    cookie = response.cookies["uw_pair"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert not cookie["secure"]  # plain HTTP here; Secure (and the __Host- name) over HTTPS
    assert pairing.binding_hash == selectors.secret_hash(cookie.value)


def test_token_is_random_hashed_and_short_lived():
    laptop = Laptop()
    laptop.open()
    pairing = laptop.pairing
    assert len(laptop.token) >= 43  # token_urlsafe(32): 256 bits
    assert pairing.token_hash == selectors.secret_hash(laptop.token)
    stored = json.dumps(list(PairingRequest.objects.values().filter(id=pairing.id)), default=str)
    assert laptop.token not in stored
    assert pairing.expires_at - pairing.created_at <= timedelta(seconds=120)


def test_binding_cookie_is_secure_and_host_prefixed_over_https():
    response = Client(headers={"user-agent": LAPTOP_UA}).get("/capture/", secure=True)
    cookie = response.cookies["__Host-uw_pair"]
    assert cookie["secure"] and cookie["httponly"] and cookie["path"] == "/"
    assert response.context["approve_url"].startswith("https://")


def test_refresh_gives_a_new_code_bound_to_the_same_browser():
    laptop = Laptop()
    laptop.open()
    response = laptop.client.post("/capture/pair/new/")
    data = response.json()
    assert data["request_id"] != laptop.info["request_id"] and "<svg" in data["qr_svg"]
    assert "approve_url" not in data
    first, second = laptop.pairing, PairingRequest.objects.get(id=data["request_id"])
    assert first.binding_hash == second.binding_hash and first.token_hash != second.token_hash


# ---- QRLJacking: binding cookie, single use, expiry, number matching -----------------------------------


def test_relayed_qr_approved_on_the_phone_signs_in_no_browser_without_the_binding_cookie(user):
    laptop = Laptop()
    laptop.open()
    assert approve(phone_client(user), laptop).status_code == 200

    # A browser that only knows the request id (the relayed page, a phishing site): no cookie.
    relay = Client()
    response = relay.post(laptop.info["complete_url"])
    assert response.status_code == 410 and EXPIRED_TITLE in response.content.decode()
    assert "_auth_user_id" not in relay.session
    # Its own binding cookie (from opening /capture/ itself) does not match either.
    relay.get("/capture/")
    assert relay.post(laptop.info["complete_url"]).status_code == 410
    assert relay.get(laptop.info["status_url"]).json() == {"status": "gone"}
    assert LinkedDevice.objects.count() == 0

    # The browser that asked still completes.
    assert laptop.client.get(laptop.info["status_url"]).json() == {"status": "approved"}
    response = laptop.complete()
    assert response.status_code == 302 and response["Location"] == "/capture/"
    assert LinkedDevice.objects.filter(user=user).count() == 1


def test_token_cannot_be_used_twice(user):
    laptop = Laptop()
    laptop.open()
    phone = phone_client(user)
    assert approve(phone, laptop).status_code == 200
    for again in (approve(phone, laptop), phone.get(approve_path(laptop.token))):
        assert again.status_code == 410 and EXPIRED_TITLE in again.content.decode()
    assert laptop.complete().status_code == 302
    assert LinkedDevice.objects.count() == 1


def test_completion_cannot_run_twice_even_with_the_right_cookie(user):
    laptop = Laptop()
    laptop.open()
    binding = laptop.client.cookies["uw_pair"].value
    approve(phone_client(user), laptop)
    assert laptop.complete().status_code == 302
    replay = Client()
    replay.cookies["uw_pair"] = binding
    assert replay.post(laptop.info["complete_url"]).status_code == 410
    assert LinkedDevice.objects.count() == 1


def test_token_is_dead_after_its_ttl(user):
    laptop = Laptop()
    laptop.open()
    PairingRequest.objects.filter(id=laptop.info["request_id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    phone = phone_client(user)
    assert phone.get(approve_path(laptop.token)).status_code == 410
    response = approve(phone, laptop)
    assert response.status_code == 410 and EXPIRED_TITLE in response.content.decode()
    assert laptop.pairing.status == PairingRequest.Status.PENDING
    assert laptop.client.get(laptop.info["status_url"]).json() == {"status": "gone"}


def test_token_is_dead_121_seconds_later_by_the_clock(user, monkeypatch):
    laptop = Laptop()
    laptop.open()
    later = timezone.now() + timedelta(seconds=121)
    phone = phone_client(user)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert phone.get(approve_path(laptop.token)).status_code == 410


def test_wrong_number_kills_the_request_and_says_why(user):
    laptop = Laptop()
    laptop.open()
    right = laptop.pairing.number
    wrong = [n for n in selectors.pairing_choices(pairing=laptop.pairing) if n != right]
    phone = phone_client(user)

    response = approve(phone, laptop, choice=wrong[0])
    # One miss is enough: with three numbers on offer, allowing three misses let a guesser win always.
    assert response.status_code == 410
    assert "wasn't the number on the screen" in response.content.decode()
    assert laptop.pairing.status == PairingRequest.Status.DECLINED
    assert laptop.pairing.failed_attempts == 1
    assert laptop.complete().status_code == 410  # nothing to complete
    assert approve(phone, laptop, choice=right).status_code == 410  # the right number is too late
    assert LinkedDevice.objects.count() == 0


def test_approval_page_offers_three_stable_choices_and_does_not_single_out_the_number(user):
    laptop = Laptop()
    laptop.open()
    phone = phone_client(user)
    pages = [phone.get(approve_path(laptop.token)) for _ in range(3)]
    choices = [page.context["choices"] for page in pages]
    assert choices[0] == choices[1] == choices[2]  # a reload reveals nothing by elimination
    assert len(set(choices[0])) == 3 and laptop.pairing.number in choices[0]
    html = pages[0].content.decode()
    assert "Chrome on Linux" in html and "127.0.0.1" in html
    assert pages[0]["Referrer-Policy"] == "strict-origin"  # the token never leaves in a Referer
    # Decline is as prominent as approve: same element and classes, side by side.
    assert 'value="decline" class="button pair-decline"' in html
    assert 'value="approve" class="button pair-approve-button"' in html


def test_decline_kills_the_request_and_tells_the_laptop(user):
    laptop = Laptop()
    laptop.open()
    response = phone_client(user).post(approve_path(laptop.token), {"action": "decline"})
    assert response.status_code == 200 and "Nothing was linked" in response.content.decode()
    assert laptop.pairing.status == PairingRequest.Status.DECLINED
    assert laptop.client.get(laptop.info["status_url"]).json() == {"status": "gone"}
    assert laptop.complete().status_code == 410


def test_unknown_and_used_tokens_get_the_same_page_and_are_logged_without_the_token(user, caplog):
    phone = phone_client(user)
    caplog.set_level(logging.INFO, logger="capture.pairing")
    unknown = "A" * 43
    response = phone.get(approve_path(unknown))
    assert response.status_code == 410 and EXPIRED_TITLE in response.content.decode()
    short = phone.get(approve_path("nope"))
    assert short.status_code == 410 and EXPIRED_TITLE in short.content.decode()

    laptop = Laptop()
    laptop.open()
    approve(phone, laptop)
    assert approve(phone, laptop).status_code == 410
    records = [r for r in caplog.records if r.name == "capture.pairing"]
    messages = [r.getMessage() for r in records]
    assert any("refused" in m and "unknown token" in m for m in messages)
    assert any("refused" in m and laptop.info["request_id"] in m for m in messages)
    assert all(laptop.token not in m and unknown not in m for m in messages)


def test_approval_needs_login_and_asks_for_the_password_when_the_login_is_old(user):
    laptop = Laptop()
    laptop.open()
    anonymous = Client()
    response = anonymous.get(approve_path(laptop.token))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")

    phone = phone_client(user)
    session = phone.session
    session[AUTH_AT_SESSION_KEY] -= settings.PAIRING["REAUTH_AFTER_S"] + 5
    session.save()
    page = phone.get(approve_path(laptop.token))
    assert page.context["needs_password"] and 'name="password"' in page.content.decode()
    response = approve(phone, laptop)  # right number, no password
    assert response.status_code == 200 and laptop.pairing.status == PairingRequest.Status.PENDING
    response = approve(phone, laptop, password="wrong-password")
    assert "That password is not right" in response.content.decode()
    response = approve(phone, laptop, password=PASSWORD)
    assert laptop.pairing.status == PairingRequest.Status.APPROVED
    assert not selectors.session_reauth_required(session=phone.session)


# ---- the linked device ------------------------------------------------------------------------------


def test_completion_logs_in_a_capture_scoped_device_with_a_fresh_session(user):
    laptop = Laptop()
    laptop.open()
    approve(phone_client(user), laptop)
    before = laptop.client.cookies.get(settings.SESSION_COOKIE_NAME)
    before_key = before.value if before else None
    response = laptop.complete()
    assert response.status_code == 302
    assert laptop.client.cookies[settings.SESSION_COOKIE_NAME].value != before_key
    assert laptop.client.cookies["uw_pair"].value == ""  # binding cookie deleted

    device = LinkedDevice.objects.get(user=user)
    session = laptop.client.session
    assert session[CAPTURE_DEVICE_SESSION_KEY] == str(device.id)
    assert session.get_expiry_age() == settings.PAIRING["DEVICE_TTL_S"]
    assert abs((device.expires_at - timezone.now()).total_seconds() - settings.PAIRING["DEVICE_TTL_S"]) < 5
    assert device.name == "Chrome on Linux"
    assert laptop.pairing.status == PairingRequest.Status.COMPLETED

    note = Notification.objects.get(user=user, kind=Notification.Kind.DEVICE_LINKED)
    assert (
        note.message == f"New device linked: Chrome on Linux, {timezone.localtime(device.created_at):%H:%M}"
    )

    page = laptop.client.get("/capture/")
    html = page.content.decode()
    assert page.status_code == 200 and "Capture device" in html and "linked for capture" in html


def test_capture_scoped_session_is_refused_account_pages(user):
    laptop = linked_laptop(user)
    client = laptop.client
    assert client.get("/capture/").status_code == 200
    assert client.post("/capture/").status_code == 302  # may start a capture
    session = CaptureSession.objects.get(user=user)
    assert client.get(f"/capture/s/{session.id}/status/").status_code == 200
    for url in ("/recaps/", "/accounts/password/", "/capture/devices/", approve_path("A" * 43)):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "linked for recording only" in response.content.decode()
    device = LinkedDevice.objects.get(user=user)
    assert client.post(f"/capture/devices/{device.id}/revoke/").status_code == 403
    assert LinkedDevice.objects.get(id=device.id).revoked_at is None


def test_last_seen_is_written_at_most_once_a_minute(user, django_assert_max_num_queries):
    laptop = linked_laptop(user)
    device = LinkedDevice.objects.get(user=user)
    old = timezone.now() - timedelta(minutes=5)
    LinkedDevice.objects.filter(id=device.id).update(last_seen_at=old)
    laptop.client.get("/capture/")
    first = LinkedDevice.objects.get(id=device.id).last_seen_at
    assert first > old
    laptop.client.get("/capture/")
    assert LinkedDevice.objects.get(id=device.id).last_seen_at == first


def test_devices_page_lists_devices_and_notifications_and_revoke_signs_the_device_out(user, other_user):
    laptop = linked_laptop(user)
    device = LinkedDevice.objects.get(user=user)
    phone = phone_client(user)
    page = phone.get("/capture/devices/").content.decode()
    assert "Chrome on Linux" in page and "New device linked: Chrome on Linux" in page
    assert "Last seen" in page

    # Someone else cannot revoke it.
    assert phone_client(other_user).post(f"/capture/devices/{device.id}/revoke/").status_code == 404

    response = phone.post(f"/capture/devices/{device.id}/revoke/")
    assert response.status_code == 302 and response["Location"] == "/capture/devices/"
    assert LinkedDevice.objects.get(id=device.id).revoked_at is not None
    assert Notification.objects.filter(user=user, kind=Notification.Kind.DEVICE_REVOKED).exists()
    # The laptop's next request is signed out: /capture/ shows a QR again, recaps need a login.
    response = laptop.client.get("/capture/")
    assert "pairing" in response.context and "_auth_user_id" not in laptop.client.session
    assert laptop.client.get("/recaps/").status_code == 302


def test_a_device_expires_with_its_ttl(user):
    laptop = linked_laptop(user)
    LinkedDevice.objects.filter(user=user).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert "pairing" in laptop.client.get("/capture/").context


# ---- rate limits ----------------------------------------------------------------------------------


def test_flooding_request_creation_returns_429():
    client = Client(headers={"user-agent": LAPTOP_UA})
    statuses = [client.get("/capture/").status_code for _ in range(12)]
    assert statuses[0] == 200 and statuses[-1] == 429
    assert client.post("/capture/pair/new/").status_code == 429  # refresh shares the counter
    assert PairingRequest.objects.count() == 10


def test_flooding_approval_attempts_returns_429(user):
    laptop = Laptop()
    laptop.open()
    phone = phone_client(user)
    statuses = [
        phone.post(approve_path("B" * 43), {"action": "approve", "choice": 10}).status_code for _ in range(11)
    ]
    assert statuses[0] == 410 and statuses[-1] == 429


# ---- sockets --------------------------------------------------------------------------------------


def _pair_socket(request_id, *, binding: str | None):
    from channels.testing import WebsocketCommunicator

    from undertone_web.asgi import application

    headers = [(b"origin", ORIGIN), (b"host", b"localhost")]
    if binding:
        headers.append((b"cookie", f"uw_pair={binding}".encode()))
    return WebsocketCommunicator(application, f"/ws/pair/{request_id}/", headers=headers)


async def _close_code(comm, timeout=5):
    while True:
        output = await comm.receive_output(timeout=timeout)
        if output["type"] == "websocket.close":
            return output.get("code")


@pytest.mark.django_db(transaction=True)
def test_pairing_socket_talks_only_to_the_browser_with_the_binding_cookie(user):
    laptop = Laptop()
    laptop.open()
    binding = laptop.client.cookies["uw_pair"].value
    pairing = laptop.pairing

    async def scenario():
        stranger = _pair_socket(pairing.id, binding=None)
        assert (await stranger.connect())[0]
        assert await _close_code(stranger) == 4403
        wrong = _pair_socket(pairing.id, binding="z" * 43)
        await wrong.connect()
        assert await _close_code(wrong) == 4403

        comm = _pair_socket(pairing.id, binding=binding)
        assert (await comm.connect())[0]
        assert await comm.receive_nothing(timeout=0.2)
        from channels.db import database_sync_to_async

        await database_sync_to_async(services.pairing_approve)(
            pairing_id=pairing.id, user=user, choice=pairing.number
        )
        assert json.loads(await comm.receive_from(timeout=5)) == {"type": "approved"}
        await comm.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_revoke_closes_the_devices_open_capture_socket(user):
    laptop = linked_laptop(user)
    device = LinkedDevice.objects.get(user=user)
    session = capture_services.capture_session_create(user=user, device=device)
    consent_record_save(session=session, consent=consent_record())
    cookie = laptop.client.cookies[settings.SESSION_COOKIE_NAME].value

    async def scenario():
        from channels.db import database_sync_to_async

        from tests.capture.conftest import communicator

        comm = communicator(session.id, cookie=cookie)
        assert (await comm.connect())[0]
        assert await comm.receive_nothing(timeout=0.3)  # open and accepted, not refused
        await database_sync_to_async(services.linked_device_revoke)(user=user, device_id=device.id)
        assert await _close_code(comm, timeout=3) == 4403

    run(scenario)
