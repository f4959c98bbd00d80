from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from . import services
from .exceptions import InvalidTransition
from .forms import ConsentForm
from .models import CaptureSession
from .pairing import views as pairing_views
from .selectors import capture_session_for_actor, capture_windows_left


@require_http_methods(["GET", "POST"])
def start(request: HttpRequest) -> HttpResponse:
    """Laptop entry point. Signed out: the QR handoff. Signed in (owner or linked device): a new session."""
    if not request.user.is_authenticated:
        return pairing_views.laptop(request)
    if request.method == "POST":
        session = services.capture_session_create(user=request.user, device=request.capture_device)
        return redirect("capture:consent", session_id=session.id)
    return render(request, "capture/start.html")


def _own_session(request: HttpRequest, session_id) -> CaptureSession:
    session = capture_session_for_actor(
        session_id=session_id, user=request.user, device=request.capture_device
    )
    if session is None:
        raise Http404
    return session


@login_required
@require_http_methods(["GET", "POST"])
def consent(request: HttpRequest, session_id) -> HttpResponse:
    session = _own_session(request, session_id)
    if session.consent_at is not None:
        return redirect("capture:session", session_id=session.id)
    form = ConsentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.capture_consent_record(session=session, consent={"therapist_agreed": True})
        except InvalidTransition:
            pass
        return redirect("capture:session", session_id=session.id)
    return render(request, "capture/consent.html", {"session": session, "form": form})


@login_required
@require_GET
def session_page(request: HttpRequest, session_id) -> HttpResponse:
    session = _own_session(request, session_id)
    if session.consent_at is None:
        return redirect("capture:consent", session_id=session.id)
    return render(
        request,
        "capture/record.html",
        {
            "session": session,
            "ws_path": f"/ws/capture/{session.id}/",
            "recap_url_prefix": reverse("recaps:list"),
        },
    )


@login_required
@require_GET
def session_status(request: HttpRequest, session_id) -> JsonResponse:
    """Polling fallback for the recap progress when the socket cannot be used."""
    session = _own_session(request, session_id)
    recap = getattr(session, "recap", None) if session.status == CaptureSession.Status.DONE else None
    return JsonResponse(
        {
            "status": session.status,
            "windows_left": capture_windows_left(session_id=session.id),
            "recap_url": reverse("recaps:detail", kwargs={"recap_id": recap.id}) if recap else None,
        }
    )
