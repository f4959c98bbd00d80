"""IDOR across every URL, generated from the URLconf (tests/security/routes.py). Alice has one of
everything (a capture session, a recap with moments, notes, next steps and settings, a linked laptop
made through the real QR handoff, an after-session note where that feature exists). Bob, Bob's
capture-scoped laptop and a signed-out browser then GET and POST every one of Alice's URLs.

What must hold, for every URL and method:
- the answer is a refusal: 404 (403 for the capture-scoped laptop on account pages), 405 where the
  view takes no such method, 410 for a dead pairing code, a redirect to sign in (signed out), or a
  documented refusal listed below, never a page of Alice's;
- it is byte for byte the answer for an id that belongs to nobody, so an id reveals nothing, not
  even that it exists;
- no response body carries anything of Alice's (a marker in her recap and notes, her username, her
  ids, her pairing token);
- afterwards every row Alice owns is unchanged, and no row of Bob's points at an object of Alice's.

Pages without ids are then visited by all three: none shows anything of Alice's, and a signed-out
browser is sent to sign in except on the public pages listed in PUBLIC."""

import json

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.test import Client

from tests.security.conftest import capture_device_client, cross_owner_references, owned_snapshot, signed_in
from tests.security.routes import all_routes, normalise

pytestmark = pytest.mark.django_db

# Refusals that answer 200, with why. The laptop's polling fallback answers "gone" to every browser
# without the request's binding cookie, exactly as for an id nobody has (capture/pairing/views.status).
JSON_REFUSALS = {"capture:pair_status": {"status": "gone"}}
# Refusals that redirect, by where to. Nothing of the object is read before either redirect.
LOGIN_PATH = resolve_url(settings.LOGIN_URL)
REDIRECT_REFUSALS = {
    LOGIN_PATH: "signed out: sign in first (the requested path is only echoed in ?next=)",
    # capture/pairing/views.complete: a browser that is already signed in is sent to its own capture
    # page before the request is looked at.
    "/capture/": "pair_complete from a signed-in browser",
}
REFUSAL_STATUSES = {403, 404, 405, 410}

# Pages a signed-out browser may see, with why. Every other page must send it to sign in.
PUBLIC = {
    "home": "the landing page (no account content when signed out)",
    "healthz": "liveness probe: ok/error words only",
    "login": "sign in",
    "signup": "sign up",
    "logout": "POST only; signs out whoever asks",
    "capture:start": "the laptop's QR page when signed out (the QR handoff starts here)",
    "capture:pair_refresh": "a new QR code for this browser (POST only)",
    "capture:pair_status": "binding-cookie bound: 'gone' for everyone else",
    "capture:pair_complete": "binding-cookie bound: the one expired page for everyone else",
    "manifest": "the web app manifest: static, the same for everyone",
    "service_worker": "the service worker script: static",
    "offline": "the offline page: the same for everyone, no account content",
}


class Visitor:
    """A client that is put back in its state before each request (a POST to /accounts/logout/ or to
    the pairing completion may change who it is)."""

    def __init__(self, kind: str, user):
        self.kind = kind
        self.user = user
        self.client = None

    def fresh(self) -> Client:
        if self.kind == "signed out":
            self.client = Client()
        elif self.client is None or self.client.session.get("_auth_user_id") != str(self.user.pk):
            make = capture_device_client if self.kind == "capture device" else signed_in
            self.client = make(self.user)
        return self.client


def _visitors(bob) -> list[Visitor]:
    return [Visitor("Bob", bob.user), Visitor("capture device", bob.user), Visitor("signed out", None)]


def _post_data(alice) -> dict:
    """Form fields that name Alice's objects, for views that take an id in the body."""
    return {
        "recap": str(alice.recap.id),
        "recap_id": str(alice.recap.id),
        "session": str(alice.session.id),
        "device": str(alice.device.id),
        "next": f"/recaps/{alice.recap.id}/",
        "text": "idor probe",
        "stood_out": "idor probe",
        "practise": "idor probe",
        "action": "approve",
        "choice": alice.pairing.number,
    }


def _fingerprint(response, *, url: str) -> tuple:
    ids = {url: "<URL>"}
    location = normalise(response.get("Location", ""), ids)
    return response.status_code, location, normalise(response.content.decode(errors="replace"), ids)


def _leaks(response, alice, *, sent: str = "") -> list[str]:
    """Alice's secrets in the body, except what the request itself carried (a form may echo its own
    input back, e.g. the login page's ?next=; that tells the visitor nothing new)."""
    body = response.content.decode(errors="replace")
    return [s for s in alice.secrets if s in body and s not in sent]


def test_every_url_of_alices_objects_is_refused_to_everyone_else(
    alice, bob, no_ratelimit_counts, fast_health
):
    routes = [r for r in all_routes() if r.is_object]
    assert len(routes) >= 10
    alice_before = owned_snapshot(alice.user)
    data = _post_data(alice)
    failures, seen = [], {}
    for route in routes:
        url = route.url(alice)
        for visitor in _visitors(bob):
            for method in ("get", "post"):
                no_ratelimit_counts()  # counters per user/IP must not make the two answers differ
                response = (
                    getattr(visitor.fresh(), method)(url, data)
                    if method == "post"
                    else (visitor.fresh().get(url))
                )
                nobody_url = route.url_nonexistent()
                no_ratelimit_counts()
                nobody = (
                    getattr(visitor.fresh(), method)(nobody_url, data)
                    if method == "post"
                    else (visitor.fresh().get(nobody_url))
                )
                where = f"{visitor.kind} {method.upper()} {url} ({route.name})"
                seen.setdefault(response.status_code, set()).add(route.name)
                if _fingerprint(response, url=url) != _fingerprint(nobody, url=nobody_url):
                    failures.append(
                        f"{where}: differs from an id nobody has ({response.status_code} vs "
                        f"{nobody.status_code})"
                    )
                if leaks := _leaks(response, alice):
                    failures.append(f"{where}: response carries Alice's {leaks}")
                status = response.status_code
                if status == 200:
                    expected = JSON_REFUSALS.get(route.name)
                    if expected is None or json.loads(response.content) != expected:
                        failures.append(f"{where}: 200")
                elif 300 <= status < 400:
                    target = response["Location"].split("?")[0]
                    if target not in REDIRECT_REFUSALS or (target == LOGIN_PATH) != (
                        visitor.kind == "signed out"
                    ):
                        failures.append(f"{where}: redirects to {response['Location']}")
                elif status not in REFUSAL_STATUSES:
                    failures.append(f"{where}: {status}")
                elif visitor.kind == "Bob" and status == 403:
                    failures.append(f"{where}: 403 (a person gets 404: not even existence is confirmed)")
    assert not failures, "\n".join(failures)
    assert owned_snapshot(alice.user) == alice_before
    assert cross_owner_references() == []
    print(
        f"\nIDOR: {len(routes)} object URLs x 3 visitors x GET/POST; statuses: "
        + ", ".join(f"{code}: {len(names)} routes" for code, names in sorted(seen.items()))
    )


def test_pages_without_ids_show_nothing_of_alices_and_signed_out_visitors_must_sign_in(
    alice, bob, no_ratelimit_counts, fast_health
):
    routes = [r for r in all_routes() if not r.is_object]
    alice_before = owned_snapshot(alice.user)
    data = _post_data(alice)
    failures = []
    for route in routes:
        url = route.url(alice)
        for visitor in _visitors(bob):
            for method in ("get", "post"):
                no_ratelimit_counts()
                client = visitor.fresh()
                response = client.post(url, data) if method == "post" else client.get(url)
                where = f"{visitor.kind} {method.upper()} {url} ({route.name})"
                if response.status_code >= 500:
                    failures.append(f"{where}: {response.status_code}")
                if leaks := _leaks(response, alice, sent=json.dumps(data) if method == "post" else ""):
                    failures.append(f"{where}: response carries Alice's {leaks}")
                if visitor.kind == "signed out" and route.name not in PUBLIC and method == "get":
                    location = response.get("Location", "")
                    if response.status_code != 302 or not location.startswith(LOGIN_PATH):
                        failures.append(f"{where}: {response.status_code} {location} (not sent to sign in)")
    assert not failures, "\n".join(failures)
    # Bob's own forms were sent Alice's ids: nothing of Alice's changed, and nothing of Bob's now
    # points at her objects (e.g. a note filed under her recap).
    assert owned_snapshot(alice.user) == alice_before
    assert cross_owner_references() == []
