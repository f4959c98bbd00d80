"""Reads of the QR handoff. Nothing here writes; see services.py."""

import hashlib
import hmac
import random
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from user_agents import parse as parse_user_agent

from accounts.models import Notification
from capture.models import LinkedDevice, PairingRequest

from .exceptions import PairingGone
from .signals import AUTH_AT_SESSION_KEY

# After the phone approves, the laptop has this long to finish (its socket push arrives in well
# under a second; the polling fallback asks every 2 s).
COMPLETE_WINDOW_S = 30


def secret_hash(value: str) -> str:
    """sha256 hex of a token or binding secret: the only form either is ever stored in."""
    return hashlib.sha256(value.encode()).hexdigest()


def secret_matches(*, secret: str | None, stored_hash: str) -> bool:
    if not secret:
        return False
    return hmac.compare_digest(secret_hash(secret), stored_hash)


def linked_device_active(*, device_id: str, user) -> LinkedDevice | None:
    """The device if it belongs to `user`, is not revoked and not expired; None otherwise."""
    if not getattr(user, "is_authenticated", False):
        return None
    return LinkedDevice.objects.filter(
        id=device_id, user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).first()


def linked_device_list(*, user) -> QuerySet[LinkedDevice]:
    """Devices still linked first, then the ones revoked or expired in the last week (for context)."""
    week_ago = timezone.now() - timedelta(days=7)
    return LinkedDevice.objects.filter(user=user, expires_at__gt=week_ago).order_by("-created_at")


def notification_list_recent(*, user, limit: int = 10) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).order_by("-created_at")[:limit]


def device_description(*, user_agent: str) -> str:
    """ "Chrome on Linux" from a User-Agent; shown on the phone, stored as the device's name."""
    ua = parse_user_agent(user_agent or "")
    browser = ua.browser.family if ua.browser.family != "Other" else "Unknown browser"
    browser = browser.removeprefix("Headless")  # HeadlessChrome is Chrome to a person
    os_name = ua.os.family if ua.os.family != "Other" else "an unknown system"
    return f"{browser} on {os_name}"[:120]


def pairing_request_for_token(*, token: str) -> PairingRequest:
    """The pending, unexpired request the QR's token belongs to. Every other case (unknown token,
    expired, declined, approved, completed) raises PairingGone: to the person they all read
    "this code has expired", and the reason goes to the log."""
    return pairing_open(PairingRequest.objects.filter(token_hash=secret_hash(token)).first(), what="token")


def pairing_open(pairing: PairingRequest | None, *, what: str) -> PairingRequest:
    """The one rule for a request that may still be acted on: it exists, is pending and has not
    expired. Anything else raises PairingGone, whose reason (``what``: token or request) goes to the
    log; to the person every case reads "this code has expired"."""
    if pairing is None:
        raise PairingGone(f"unknown {what}")
    if pairing.status != PairingRequest.Status.PENDING:
        raise PairingGone(f"{what} already {pairing.status}", request_id=pairing.id)
    if pairing.expires_at <= timezone.now():
        raise PairingGone(f"{what} expired", request_id=pairing.id)
    return pairing


def pairing_choices(*, pairing: PairingRequest) -> list[int]:
    """The right number and two distinct decoys, shuffled. Derived from the request id with an HMAC
    of SECRET_KEY, so a reload shows the same three in the same order: reloading cannot reveal the
    right one by elimination, and nothing extra is stored."""
    seed = hmac.new(
        settings.SECRET_KEY.encode(), f"pairing-choices:{pairing.id}".encode(), hashlib.sha256
    ).digest()
    rng = random.Random(seed)  # deterministic by design; the secret is the seed
    decoys = rng.sample([n for n in range(10, 100) if n != pairing.number], 2)
    choices = [pairing.number, *decoys]
    rng.shuffle(choices)
    return choices


@dataclass(frozen=True)
class BrowserPairingState:
    status: str  # "pending" | "approved" | "gone"
    request_id: object


def pairing_state_for_browser(*, request_id, binding_secret: str | None) -> BrowserPairingState | None:
    """What the laptop that holds the binding cookie may know about its request. None when the
    request is unknown or the cookie does not match, so nobody else learns anything from it."""
    pairing = PairingRequest.objects.filter(id=request_id).first()
    if pairing is None or not secret_matches(secret=binding_secret, stored_hash=pairing.binding_hash):
        return None
    now = timezone.now()
    Status = PairingRequest.Status
    try:
        return BrowserPairingState(pairing_open(pairing, what="request").status, pairing.id)
    except PairingGone:
        pass
    if (
        pairing.status == Status.APPROVED
        and pairing.decided_at is not None
        and pairing.decided_at > now - timedelta(seconds=COMPLETE_WINDOW_S)
    ):
        return BrowserPairingState("approved", pairing.id)
    return BrowserPairingState("gone", pairing.id)


def session_reauth_required(*, session) -> bool:
    """True when this session proved the password longer ago than PAIRING["REAUTH_AFTER_S"]."""
    auth_at = session.get(AUTH_AT_SESSION_KEY)
    if not isinstance(auth_at, int | float):
        return True
    return timezone.now().timestamp() - auth_at > settings.PAIRING["REAUTH_AFTER_S"]
