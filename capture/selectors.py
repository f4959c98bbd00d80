from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Max, QuerySet

from .models import CaptureSession, CaptureWindow
from .protocol import FRAME_SECONDS


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


def session_captured_s(*, session_id) -> float:
    """Seconds of audio the server holds for the session (queued or transcribed), per the longest
    channel: what "12 min captured" counts, and what a recap's recorded time counts."""
    return _seconds_through(
        CaptureWindow.objects.filter(session_id=session_id).aggregate(m=Max("seq_last"))["m"]
    )


def _seconds_through(last_seq: int | None) -> float:
    return 0.0 if last_seq is None else (last_seq + 1) * FRAME_SECONDS


@dataclass(frozen=True)
class Unfinished:
    session: CaptureSession
    captured_s: float

    @property
    def can_continue(self) -> bool:
        return self.session.status in (CaptureSession.Status.RECORDING, CaptureSession.Status.PAUSED)


def unfinished_sessions_for_user(*, user) -> list[Unfinished]:
    """Sessions that were consented and started but never reached a recap: a tab closed, a laptop
    that went to sleep, a Stop whose last audio never arrived. Listed so they can be continued,
    finished from what was saved, or discarded, never left invisible."""
    status = CaptureSession.Status
    rows = (
        CaptureSession.objects.filter(
            user=user, consent_at__isnull=False, status__in=[status.RECORDING, status.PAUSED, status.ENDING]
        )
        .annotate(last_seq=Max("windows__seq_last"))
        .order_by("-created_at")
    )
    return [Unfinished(s, _seconds_through(s.last_seq)) for s in rows]


def model_host() -> str:
    """Where a language model writes the recaps (RECAP_LLM_URL's host), or "" when none does: the pages
    that promise what happens to the transcript say so."""
    return (urlsplit(settings.RECAP_LLM_URL).hostname or "") if settings.RECAP_LLM_URL else ""


def session_in_person(*, session_id) -> bool:
    """Without loading the session's encrypted fields: the transcription task asks for every window."""
    row = CaptureSession.objects.filter(id=session_id).values("mode", "consent").first()
    return row is not None and CaptureSession.is_in_person(row["mode"], row["consent"])
