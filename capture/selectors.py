from django.db.models import QuerySet

from .models import CaptureSession, CaptureWindow


def capture_session_for_actor(*, session_id, user, device=None) -> CaptureSession | None:
    """The session if `user` owns it; a capture-scoped device only sees sessions it may run."""
    if not getattr(user, "is_authenticated", False):
        return None
    return CaptureSession.objects.filter(id=session_id, user=user).first()


def capture_windows_left(*, session_id) -> int:
    """Windows still to transcribe: queued, or lost (their audio vanished from Redis; the browser
    resends it), so no recap is built while audio is missing."""
    return CaptureWindow.objects.filter(
        session_id=session_id, status__in=[CaptureWindow.Status.QUEUED, CaptureWindow.Status.LOST]
    ).count()


def capture_windows_for_channel(*, session_id, channel: int) -> QuerySet[CaptureWindow]:
    return CaptureWindow.objects.filter(session_id=session_id, channel=channel).order_by("seq_first")
