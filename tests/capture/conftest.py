import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client, override_settings

from capture import services
from capture.consent.services import consent_record_save
from capture.models import CaptureSession
from tests.factories import consent_record

ORIGIN = b"http://localhost"


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def communicator(session_id, *, cookie: str | None = None, origin: bytes = ORIGIN) -> WebsocketCommunicator:
    from undertone_web.asgi import application

    headers = [(b"origin", origin), (b"host", b"localhost")]
    if cookie:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode()))
    return WebsocketCommunicator(application, f"/ws/capture/{session_id}/", headers=headers)


def run(coro_fn, *args, **kwargs):
    return async_to_sync(coro_fn)(*args, **kwargs)


@pytest.fixture
def consented_session(user):
    session = services.capture_session_create(user=user)
    consent_record_save(session=session, consent=consent_record())
    return CaptureSession.objects.get(id=session.id)


@pytest.fixture
def no_transcribe(monkeypatch):
    """In-process protocol tests: no transcription, and no recap task reaches the broker either. A live
    worker left by an earlier test (session-wide fixture) would otherwise build the recap and delete
    the windows while the test still reads them. Requested recaps are recorded on the list returned."""
    from recaps import tasks

    requested = []
    monkeypatch.setattr(tasks.recap_build, "delay", lambda session_id: requested.append(session_id))
    with override_settings(CAPTURE={**settings.CAPTURE, "TRANSCRIBE": False}):
        yield requested


@pytest.fixture
def cookie(user):
    return session_cookie(user)


@pytest.fixture
def other_cookie(other_user):
    return session_cookie(other_user)
