import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from redis.exceptions import RedisError

from . import services
from .exceptions import InvalidTransition
from .models import CaptureSession
from .pairing import views as pairing_views
from .selectors import capture_session_for_actor, capture_windows_left, model_host, session_captured_s


@require_http_methods(["GET", "POST"])
def start(request: HttpRequest) -> HttpResponse:
    """Laptop entry point. Signed out: the QR handoff. Signed in (owner or linked device): a new session."""
    if not request.user.is_authenticated:
        return pairing_views.laptop(request)
    if request.method == "POST":
        session = services.capture_session_create(user=request.user, device=request.capture_device)
        return redirect("capture:consent", session_id=session.id)
    return render(request, "capture/start.html")


def own_session_or_404(request: HttpRequest, session_id) -> CaptureSession:
    """The session, if this person (or their linked laptop) owns it; 404 otherwise, the same for a
    session that does not exist and one that belongs to someone else."""
    session = capture_session_for_actor(
        session_id=session_id, user=request.user, device=request.capture_device
    )
    if session is None:
        raise Http404
    return session


@login_required
@require_GET
def session_page(request: HttpRequest, session_id) -> HttpResponse:
    session = own_session_or_404(request, session_id)
    is_self = session.mode == CaptureSession.Mode.SELF
    max_self_s = int(settings.CAPTURE["MAX_SELF_S"])
    if session.consent_at is None:
        # Self sessions are consented as they are made (self_start); one without it is not usable.
        if is_self:
            return redirect("capture:self_start")
        return redirect("capture:consent", session_id=session.id)
    under_way = session.status in (CaptureSession.Status.RECORDING, CaptureSession.Status.PAUSED)
    return render(
        request,
        "capture/record.html",
        {
            "session": session,
            "is_self": is_self,
            "max_self_s": max_self_s,
            "max_self_min": round(max_self_s / 60),
            "max_self_clock": f"{max_self_s // 60}:{max_self_s % 60:02d}",
            "ws_path": f"/ws/capture/{session.id}/",
            # A session under way (a reload, a closed tab): the page says so and offers to finish.
            "captured_s": session_captured_s(session_id=session.id) if under_way else 0,
            # Another tab or device holds the socket right now: Start here moves the recording here.
            "recording_elsewhere": under_way and _recording_elsewhere(session.id),
            # The key the page encrypts its unsent audio with in the browser (docs/protocol.md).
            "backlog_key": services.capture_backlog_key(session_id=session.id),
            "model_host": model_host(),
            "recap_url_prefix": reverse("recaps:list"),
            # A capture-scoped laptop may not open notes (they are content); the phone can.
            "note_url": None if request.capture_device else reverse("recaps:after_note_new"),
        },
    )


def _back_to(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("home")
    return redirect(target)


@login_required
@require_POST
def session_finish(request: HttpRequest, session_id) -> HttpResponse:
    """Finish an unfinished session from what was saved and make its recap (Home, Sessions, or the
    session page after a reload)."""
    session = own_session_or_404(request, session_id)
    try:
        services.session_finish_now(session_id=session.id)
    except InvalidTransition:
        messages.info(request, "That recording has already finished.")
        return _back_to(request)
    return redirect("capture:session", session_id=session.id)


@login_required
@require_POST
def session_discard(request: HttpRequest, session_id) -> HttpResponse:
    session = own_session_or_404(request, session_id)
    try:
        services.session_discard(session_id=session.id)
    except InvalidTransition:
        messages.info(request, "That recording already has its recap; delete the recap instead.")
        return _back_to(request)
    messages.success(request, "The unfinished recording was discarded. Nothing of it is kept.")
    return _back_to(request)


@login_required
@require_GET
def session_status(request: HttpRequest, session_id) -> JsonResponse:
    """Polling fallback for the recap progress when the socket cannot be used."""
    session = own_session_or_404(request, session_id)
    recap = getattr(session, "recap", None) if session.status == CaptureSession.Status.DONE else None
    return JsonResponse(
        {
            "status": session.status,
            "windows_left": capture_windows_left(session_id=session.id),
            "recap_url": reverse("recaps:detail", kwargs={"recap_id": recap.id}) if recap else None,
        }
    )


def _recording_elsewhere(session_id) -> bool:
    """True when another page holds the session's socket. After a reload the old page's socket lets go
    a moment after this request arrives, so a claim is given a few tenths of a second to go."""
    try:
        for _ in range(8):
            if services.capture_writer_holder(session_id=session_id) is None:
                return False
            time.sleep(0.05)
        return True
    except (RedisError, OSError):
        return False  # the page works without the hint
