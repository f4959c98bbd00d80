"""Attacks on the QR handoff (capture/pairing/): token brute force, replay, number matching.

Already proven in tests/capture/test_pairing.py, and not repeated here:

| attack | test_pairing.py |
|---|---|
| a used token approved again | test_token_cannot_be_used_twice |
| the completion replayed with the right binding cookie | test_completion_cannot_run_twice_even_with_the_right_cookie |
| a relayed QR completed without the binding cookie, or with another browser's | test_relayed_qr_approved_on_the_phone_signs_in_no_browser_without_the_binding_cookie |
| a token past its TTL (stored expiry, and the clock 121 s on) | test_token_is_dead_after_its_ttl, test_token_is_dead_121_seconds_later_by_the_clock |
| one wrong number kills the request | test_wrong_number_kills_the_request_and_says_why |
| flooding code creation / approval POSTs with one bad token: 429 | test_flooding_request_creation_returns_429, test_flooding_approval_attempts_returns_429 |
| the pairing socket without the binding cookie: 4403 | test_pairing_socket_talks_only_to_the_browser_with_the_binding_cookie |
| a linked laptop approving another device: 403 | test_capture_scoped_session_is_refused_account_pages |

Added here: every dead code (unknown, malformed, expired, declined, approved, completed, killed) gets
the one byte-identical page, so a guesser learns nothing; guessing tokens by GET (the page reveals a
live token) hits the rate limit, the limited guesser is refused even the real token, and the real
pending request is untouched and still links the right laptop; guessing the laptop's completion or
status endpoints changes nothing; replays of a completion from the signed-in laptop and of an approval
older than the completion window; wrong picks from several accounts add up on the request; numbers
that were never offered are refused without counting and without approving."""  # noqa: E501 (the table)

import secrets
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from capture.models import LinkedDevice, PairingRequest
from capture.pairing import selectors
from capture.pairing.selectors import COMPLETE_WINDOW_S
from capture.pairing.services import WRONG_NUMBER_LIMIT
from tests.factories import UserFactory
from tests.security.conftest import LAPTOP_UA, signed_in
from tests.security.routes import normalise

pytestmark = pytest.mark.django_db

EXPIRED_TITLE = "This code has expired"


class Laptop:
    """A signed-out browser on /capture/: its QR's token, request and binding cookie."""

    def __init__(self):
        self.client = Client(headers={"user-agent": LAPTOP_UA})
        response = self.client.get("/capture/")
        assert response.status_code == 200
        self.info = response.context["pairing"]
        self.token = urlsplit(response.context["approve_url"]).path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def pairing(self) -> PairingRequest:
        return PairingRequest.objects.get(id=self.info["request_id"])

    def complete(self):
        return self.client.post(self.info["complete_url"])


def approve_path(token: str) -> str:
    return f"/capture/pair/{token}/"


def _page(response) -> tuple[int, str]:
    return response.status_code, normalise(response.content.decode(), {})


def test_every_dead_code_gets_the_one_identical_page(user, no_ratelimit_counts):
    phone = signed_in(user)
    dead: dict[str, str] = {
        "unknown": secrets.token_urlsafe(32),
        "too short": "x",
        "too long": "A" * 300,
        "not url-safe": "..~!$&'()*+,;=:@",
    }
    expired = Laptop()
    PairingRequest.objects.filter(id=expired.info["request_id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    dead["expired"] = expired.token
    declined = Laptop()
    phone.post(approve_path(declined.token), {"action": "decline"})
    dead["declined"] = declined.token
    approved = Laptop()
    phone.post(approve_path(approved.token), {"action": "approve", "choice": approved.pairing.number})
    dead["approved, not completed"] = approved.token
    completed = Laptop()
    phone.post(approve_path(completed.token), {"action": "approve", "choice": completed.pairing.number})
    assert completed.complete().status_code == 302
    dead["completed"] = completed.token
    killed = Laptop()
    wrong = next(n for n in selectors.pairing_choices(pairing=killed.pairing) if n != killed.pairing.number)
    for _ in range(WRONG_NUMBER_LIMIT):
        phone.post(approve_path(killed.token), {"action": "approve", "choice": wrong})
    dead["killed by wrong numbers"] = killed.token
    assert {declined.pairing.status, killed.pairing.status} == {PairingRequest.Status.DECLINED}

    pages = {}
    for state, token in dead.items():
        for method in ("get", "post"):
            no_ratelimit_counts()
            args = {"action": "approve", "choice": 10} if method == "post" else None
            response = getattr(phone, method)(approve_path(token), args)
            pages[(state, method)] = _page(response)
    reference = pages[("unknown", "get")]
    assert reference[0] == 410 and EXPIRED_TITLE in reference[1]
    different = {key: page[0] for key, page in pages.items() if page != reference}
    assert not different, f"these dead codes answer differently from an unknown one: {different}"
    # None of those attempts changed a live request, made a device, or revived a dead one.
    assert LinkedDevice.objects.count() == 1
    assert approved.pairing.status == PairingRequest.Status.APPROVED


def test_guessing_tokens_hits_the_rate_limit_and_the_real_request_still_links_the_right_laptop(
    user, no_ratelimit_counts
):
    laptop = Laptop()
    real = laptop.pairing
    attacker = signed_in(UserFactory())
    answers = [attacker.get(approve_path(secrets.token_urlsafe(32))) for _ in range(30)]
    statuses = [r.status_code for r in answers]
    assert statuses[0] == 410 and 429 in statuses, statuses
    first_limited = statuses.index(429)
    assert set(statuses[:first_limited]) == {410} and set(statuses[first_limited:]) == {429}
    assert len({_page(r) for r in answers[:first_limited]}) == 1  # the one page, every time
    # Once limited, even the real token shows nothing: no approval page, no number, no "scanned" push.
    real_try = attacker.get(approve_path(laptop.token))
    assert real_try.status_code == 429
    assert str(real.number) not in real_try.content.decode().split("<main", 1)[-1]
    assert (
        attacker.post(approve_path(laptop.token), {"action": "approve", "choice": real.number}).status_code
        == 429
    )

    # The real request did not notice any of it, and the person's own phone still links the laptop.
    after = laptop.pairing
    assert (after.status, after.failed_attempts, after.approved_by_id) == (
        PairingRequest.Status.PENDING,
        0,
        None,
    )
    assert laptop.client.get(laptop.info["status_url"]).json() == {"status": "pending"}
    phone = signed_in(user)
    assert (
        phone.post(approve_path(laptop.token), {"action": "approve", "choice": real.number}).status_code
        == 200
    )
    assert laptop.complete().status_code == 302
    assert list(LinkedDevice.objects.values_list("user_id", flat=True)) == [user.id]


def test_guessing_the_laptops_completion_and_status_endpoints_changes_nothing(user, no_ratelimit_counts):
    laptop = Laptop()
    phone = signed_in(user)
    assert (
        phone.post(
            approve_path(laptop.token), {"action": "approve", "choice": laptop.pairing.number}
        ).status_code
        == 200
    )
    guesser = Client()
    pages = set()
    for _ in range(25):  # the right request id, a guessed binding cookie (256 bits: never right)
        guesser.cookies["uw_pair"] = secrets.token_urlsafe(32)
        response = guesser.post(laptop.info["complete_url"])
        pages.add(_page(response))
        assert "_auth_user_id" not in guesser.session
    assert len(pages) == 1 and next(iter(pages))[0] == 410
    statuses = [guesser.get(laptop.info["status_url"]).status_code for _ in range(125)]
    assert statuses[0] == 200 and statuses[-1] == 429  # status polling is limited per IP (120/min)
    assert LinkedDevice.objects.count() == 0
    # The approval stands, and the browser that asked still completes.
    assert laptop.complete().status_code == 302
    assert LinkedDevice.objects.filter(user=user).count() == 1


def test_completion_replayed_by_the_linked_laptop_makes_no_second_device(user):
    laptop = Laptop()
    signed_in(user).post(approve_path(laptop.token), {"action": "approve", "choice": laptop.pairing.number})
    assert laptop.complete().status_code == 302
    replay = laptop.complete()
    assert replay.status_code == 302 and replay["Location"] == "/capture/"
    assert LinkedDevice.objects.filter(user=user).count() == 1
    assert laptop.pairing.status == PairingRequest.Status.COMPLETED


def test_an_approval_older_than_the_completion_window_cannot_be_completed(user):
    laptop = Laptop()
    signed_in(user).post(approve_path(laptop.token), {"action": "approve", "choice": laptop.pairing.number})
    PairingRequest.objects.filter(id=laptop.pairing.id).update(
        decided_at=timezone.now() - timedelta(seconds=COMPLETE_WINDOW_S + 1)
    )
    assert laptop.client.get(laptop.info["status_url"]).json() == {"status": "gone"}
    response = laptop.complete()
    assert response.status_code == 410 and EXPIRED_TITLE in response.content.decode()
    assert "_auth_user_id" not in laptop.client.session
    assert LinkedDevice.objects.count() == 0


def test_wrong_picks_from_several_accounts_add_up_and_kill_the_request(no_ratelimit_counts):
    laptop = Laptop()
    right = laptop.pairing.number
    wrong = [n for n in selectors.pairing_choices(pairing=laptop.pairing) if n != right]
    for i in range(WRONG_NUMBER_LIMIT):  # a fresh account each time: the count is on the request
        response = signed_in(UserFactory()).post(
            approve_path(laptop.token), {"action": "approve", "choice": wrong[i % len(wrong)]}
        )
        assert response.status_code == (410 if i == WRONG_NUMBER_LIMIT - 1 else 200)
    assert laptop.pairing.status == PairingRequest.Status.DECLINED
    assert laptop.client.get(laptop.info["status_url"]).json() == {"status": "gone"}
    response = signed_in(UserFactory()).post(
        approve_path(laptop.token), {"action": "approve", "choice": right}
    )
    assert response.status_code == 410 and LinkedDevice.objects.count() == 0


def test_a_number_that_was_not_offered_is_refused_without_counting_or_approving(user):
    laptop = Laptop()
    offered = selectors.pairing_choices(pairing=laptop.pairing)
    phone = signed_in(user)
    for choice in [n for n in range(10, 100) if n not in offered][:5] + [0, 100, -1, "47a", ""]:
        response = phone.post(approve_path(laptop.token), {"action": "approve", "choice": choice})
        assert response.status_code == 200 and 'class="pair-error"' in response.content.decode(), choice
    pairing = laptop.pairing
    assert (pairing.status, pairing.failed_attempts) == (PairingRequest.Status.PENDING, 0)
    assert laptop.complete().status_code == 410 and LinkedDevice.objects.count() == 0


def test_a_guesser_gets_one_pick_not_one_per_offered_number(user, no_ratelimit_counts):
    """Three numbers are offered. If a miss left the request open, tapping each in turn would always
    get in; one miss closes it, so a guesser's chance is the one pick's 1 in 3."""
    laptop = Laptop()
    phone = signed_in(user)
    right = laptop.pairing.number
    choices = selectors.pairing_choices(pairing=laptop.pairing)
    in_turn = [c for c in choices if c != right] + [right]  # the worst case: the right one last
    statuses = [
        phone.post(approve_path(laptop.token), {"action": "approve", "choice": c}).status_code
        for c in in_turn
    ]
    assert statuses == [410, 410, 410]
    assert laptop.pairing.status == PairingRequest.Status.DECLINED
    assert LinkedDevice.objects.count() == 0
