"""CSRF on every POST. The URL list is generated from the URLconf (tests/security/routes.py) and filled
with a real person's objects, so a page added tomorrow is covered without touching this file (and a
new kind of path parameter fails here until it is given a filler).

Each URL is POSTed without a token, by three visitors that all hold a CSRF cookie (as a browser that
loaded any page would): the signed-in person, their capture-scoped linked laptop, and a signed-out
browser. Then again with a valid token but a foreign or `null` Origin (a cross-site form that somehow
knew the token). Every one must be refused with 403 by Django's CSRF check (its security log line is
the proof it was that check, not a view that happens to answer 403), and the whole database, every
row and column, must be exactly as before. The POST body would be a valid request if it got through
(the account's real password, the right pairing number...), so a hole would show as a changed row."""

import logging

import pytest
from django.conf import settings
from django.test import Client

from recaps.models import NextStepStatus
from tests.factories import PASSWORD
from tests.security.conftest import capture_device_client, db_snapshot, signed_in
from tests.security.routes import all_routes

pytestmark = pytest.mark.django_db

# Views that accept a cross-site POST on purpose, with the reason. There are none, and a new entry
# needs a reason a reviewer can check (e.g. a webhook that authenticates by signature).
CSRF_EXEMPT_BY_DESIGN: dict[str, str] = {}

CSRF_SECRET = "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6"  # the cookie a browser would hold (32 characters)
FOREIGN_ORIGINS = ("https://evil.example", "null", "http://127.0.0.1.evil.example")


def _post_data(owned) -> dict:
    return {
        "password": PASSWORD,
        "action": "approve",
        "choice": owned.pairing.number,
        "text": "csrf probe",
        "stood_out": "csrf probe",
        "therapist_agreed": "on",
        "own_voice_only": "on",
        "kind": "once",
        "brief_hours_before": "12",
        "recap": str(owned.recap.id),
    }


def _visitors(owned) -> dict[str, Client]:
    visitors = {
        "signed in": signed_in(owned.user, enforce_csrf_checks=True),
        "capture device": capture_device_client(owned.user, enforce_csrf_checks=True),
        "signed out": Client(enforce_csrf_checks=True),
    }
    for client in visitors.values():
        client.cookies[settings.CSRF_COOKIE_NAME] = CSRF_SECRET
    return visitors


def _csrf_refusals(caplog) -> int:
    return sum(1 for r in caplog.records if r.name == "django.security.csrf")


def test_no_view_is_csrf_exempt():
    exempt = {r.name for r in all_routes() if getattr(r.callback, "csrf_exempt", False)}
    assert exempt <= set(CSRF_EXEMPT_BY_DESIGN), f"csrf_exempt without a reason: {exempt}"


def test_every_post_without_a_token_or_from_another_origin_is_refused_and_changes_nothing(alice, caplog):
    urls = [(route.name, route.url(alice)) for route in all_routes()]
    assert len(urls) >= 20  # the walk found the site, not an empty resolver
    visitors = _visitors(alice)
    data = _post_data(alice)
    before = db_snapshot()
    caplog.set_level(logging.WARNING, logger="django.security.csrf")
    failures = []
    attempts = 0
    for visitor, client in visitors.items():
        for name, url in urls:
            tries = [("no token", {})] + [
                (f"token, Origin {o}", {"HTTP_X_CSRFTOKEN": CSRF_SECRET, "HTTP_ORIGIN": o})
                for o in FOREIGN_ORIGINS
            ]
            for how, headers in tries:
                caplog.clear()
                response = client.post(url, data, **headers)
                attempts += 1
                if response.status_code != 403 or _csrf_refusals(caplog) != 1:
                    failures.append(f"{visitor} POST {url} ({name}, {how}): {response.status_code}")
    assert not failures, "\n".join(failures)
    assert db_snapshot() == before
    print(
        f"\nCSRF: {attempts} POSTs to {len(urls)} URLs by {len(visitors)} visitors, all 403, no row changed"
    )


def test_the_same_post_with_the_token_from_this_origin_goes_through(alice, caplog):
    """The control: the refusals above are the CSRF check, not a harness that cannot post at all."""
    client = _visitors(alice)["signed in"]
    url = f"/recaps/{alice.recap.id}/next-steps/1/toggle/"
    caplog.set_level(logging.WARNING, logger="django.security.csrf")
    assert client.post(url).status_code == 403
    assert not NextStepStatus.objects.filter(recap=alice.recap, index=1).exists()
    caplog.clear()
    response = client.post(url, HTTP_X_CSRFTOKEN=CSRF_SECRET, HTTP_ORIGIN="http://testserver")
    assert response.status_code == 302 and _csrf_refusals(caplog) == 0
    assert NextStepStatus.objects.filter(recap=alice.recap, index=1).exists()
