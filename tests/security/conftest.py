"""Shared pieces of the security suite: one person's full set of objects (so every URL can name a real
one), clients for each kind of visitor, and database snapshots that prove a refusal changed nothing."""

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.test import Client
from django.utils import timezone

from capture.models import CaptureSession, LinkedDevice, PairingRequest
from capture.pairing import services as pairing_services
from capture.pairing.middleware import CAPTURE_DEVICE_SESSION_KEY
from recaps.models import MomentSchedule, Recap
from recaps.services import next_step_toggle, session_note_save
from tests.recaps.recap_fixtures import appointment_soon, make_recap

LAPTOP_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36"
)


def recording_session(user, *, device: LinkedDevice | None = None) -> CaptureSession:
    """A session that may stream. Made directly: how consent is asked and recorded is tested in
    tests/capture; the socket only needs `consent_at` set and an active status."""
    return CaptureSession.objects.create(
        user=user,
        device=device,
        status=CaptureSession.Status.RECORDING,
        consent={"therapist_agreed": True, "made_by": "tests/security"},
        consent_at=timezone.now(),
    )


@dataclass
class Owned:
    """One person and one of each of their objects, with the strings that must never reach anyone else."""

    user: object
    session: CaptureSession
    recap: Recap
    schedule: MomentSchedule
    device: LinkedDevice
    pairing: PairingRequest
    token: str
    after_note: object | None
    marker: str
    secrets: list[str] = field(default_factory=list)


def owned_world(user, *, tag: str) -> Owned:
    marker = f"{tag}-private-{secrets.token_hex(6)}"
    user.username = f"{tag}-{secrets.token_hex(4)}"
    user.save(update_fields=["username"])
    session = recording_session(user)
    recap = make_recap(user=user, name="work_sleep" if tag == "alice" else "grief_parent")
    data = recap.data
    data["summary"][0]["text"] += f" {marker}"
    recap.data = data
    recap.save(update_fields=["data"])
    schedule = MomentSchedule.objects.filter(recap=recap).order_by("id").first()
    session_note_save(recap=recap, user=user, text=f"session note {marker}")
    next_step_toggle(recap=recap, index=0)
    appointment_soon(user)
    # A laptop linked through the real handoff: its (now used) token and request are this person's too.
    binding = pairing_services.binding_secret_new()
    created = pairing_services.pairing_request_create(binding_secret=binding, user_agent=LAPTOP_UA, ip=None)
    pairing_services.pairing_approve(pairing_id=created.pairing.id, user=user, choice=created.pairing.number)
    device = pairing_services.pairing_complete(pairing_id=created.pairing.id, binding_secret=binding, ip=None)
    after_note = None
    try:  # after-session notes (recaps.AfterNote), where that feature exists
        after_note = apps.get_model("recaps", "AfterNote").objects.create(
            user=user,
            recap=recap,
            content={"stood_out": f"after note {marker}", "practise": "", "bring_back": ""},
        )
    except LookupError:
        pass
    ids = [session.id, recap.id, device.id, created.pairing.id] + ([after_note.id] if after_note else [])
    return Owned(
        user=user,
        session=session,
        recap=recap,
        schedule=schedule,
        device=device,
        pairing=PairingRequest.objects.get(id=created.pairing.id),
        token=created.token,
        after_note=after_note,
        marker=marker,
        secrets=[marker, user.username, created.token, *map(str, ids)],
    )


@pytest.fixture
def alice(user):
    return owned_world(user, tag="alice")


@pytest.fixture
def bob(other_user):
    return owned_world(other_user, tag="bob")


def signed_in(user, **client_kwargs) -> Client:
    client = Client(**client_kwargs)
    client.force_login(user)
    return client


def capture_device_client(user, **client_kwargs) -> Client:
    """A laptop tab linked for capture only (what the QR handoff makes), as a test client."""
    device = LinkedDevice.objects.create(
        user=user, name="Chrome on Linux", expires_at=timezone.now() + timedelta(hours=1)
    )
    client = signed_in(user, **client_kwargs)
    session = client.session
    session[CAPTURE_DEVICE_SESSION_KEY] = str(device.id)
    session.save()
    client.get("/capture/")  # first request: the middleware's once-a-minute last_seen write happens now
    return client


def session_cookie_of(client: Client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


# ---- snapshots ------------------------------------------------------------------------------------


def _rows(model, queryset=None) -> list[tuple]:
    fields = [f.attname for f in model._meta.concrete_fields]
    qs = model._default_manager.all() if queryset is None else queryset
    return [tuple(row[f] for f in fields) for row in qs.order_by("pk").values(*fields)]


def db_snapshot() -> dict[str, list[tuple]]:
    """Every row of every table (values, so updated_at and every other column is compared)."""
    return {model._meta.label: _rows(model) for model in apps.get_models()}


def _owner_path(model, depth: int = 0) -> str | None:
    """The lookup from `model` to its owning user ("user", "recap__user", ...), if it has one."""
    user_model = get_user_model()
    if model is user_model:
        return "pk"
    to_user = [
        f
        for f in model._meta.concrete_fields
        if isinstance(f, models.ForeignKey) and f.related_model is user_model
    ]
    for f in sorted(to_user, key=lambda f: f.name not in ("user", "owner")):  # "user" first, then any other
        return f.name
    if depth < 2:
        for f in model._meta.concrete_fields:
            if isinstance(f, models.ForeignKey) and f.related_model is not user_model:
                inner = _owner_path(f.related_model, depth + 1)
                if inner and inner != "pk":
                    return f"{f.name}__{inner}"
    return None


def owned_snapshot(user) -> dict[str, list[tuple]]:
    """Every row that belongs to `user`, found through the models' foreign keys (so a new model with
    an owner is covered without listing it here)."""
    snapshot = {}
    for model in apps.get_models():
        path = _owner_path(model)
        if path:
            snapshot[model._meta.label] = _rows(model, model._default_manager.filter(**{path: user.pk}))
    return snapshot


def cross_owner_references() -> list[str]:
    """Rows of one person that point at an object of another person (a note on someone else's recap,
    a session on someone else's device): what an IDOR through a form field would leave behind."""
    found = []
    for model in apps.get_models():
        own = _owner_path(model)
        if not own or own == "pk":
            continue
        for f in model._meta.concrete_fields:
            if not isinstance(f, models.ForeignKey) or f.related_model is get_user_model():
                continue
            target = _owner_path(f.related_model)
            if not target or target == "pk":
                continue
            for row in model._default_manager.filter(**{f"{f.name}__isnull": False}).values(
                "pk", own, f"{f.name}__{target}"
            ):
                if row[own] != row[f"{f.name}__{target}"]:
                    found.append(f"{model._meta.label} {row['pk']}: {f.name} belongs to another person")
    return found


@pytest.fixture
def no_ratelimit_counts(redis_client, one_ratelimit_window):
    """Rate-limit counters live in the test Redis; tests that make many requests start from zero."""

    def clear():
        for key in redis_client.scan_iter(match="*:rl:*"):
            redis_client.delete(key)

    clear()
    yield clear
    clear()


@pytest.fixture
def fast_health(monkeypatch):
    """/healthz pings Celery with a 1 s timeout; what it says is not the subject of these tests."""
    monkeypatch.setattr("undertone_web.health.check_celery", lambda: "ok")
