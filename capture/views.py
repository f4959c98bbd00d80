from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from . import services
from .consent.script import Script, script_build
from .consent.selectors import consent_preference_initial
from .consent.services import consent_give
from .exceptions import InvalidTransition
from .forms import ConsentForm, ScriptForm
from .models import CaptureSession
from .pairing import views as pairing_views
from .selectors import capture_session_for_actor, capture_windows_left
from .self_forms import SelfConsentForm


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
    """The consent gate: where everyone is, the rule there in plain words, and the confirmation that
    the therapist agreed, asked every session. Works without JavaScript ("Show the rule" posts)."""
    session = _own_session(request, session_id)
    if session.consent_at is not None:
        return redirect("capture:session", session_id=session.id)
    if session.mode == CaptureSession.Mode.SELF:
        return redirect("capture:self_start")  # own-voice sessions confirm something else, there
    if request.method == "POST":
        form = ConsentForm(request.POST, check_only=request.POST.get("action") == "check")
        if form.is_valid() and not form.check_only:
            try:
                consent_give(session=session, **form.answers())
            except InvalidTransition:
                pass  # another tab confirmed first; the session page takes it from here
            return redirect("capture:session", session_id=session.id)
        prefilled = False
    else:
        initial = consent_preference_initial(user=request.user)
        form = ConsentForm(initial=initial)
        prefilled = bool(initial)
    decision = form.rule_decision()
    return render(
        request,
        "capture/consent.html",
        {"session": session, "form": form, "decision": decision, "prefilled": prefilled},
    )


@login_required
@require_GET
def consent_rule(request: HttpRequest) -> HttpResponse:
    """The rule panel for the answers so far, for the gate's script to swap in as they change."""
    form = ConsentForm(request.GET, check_only=True)
    return render(
        request,
        "capture/_consent_rule.html",
        {"decision": form.rule_decision(), "video": form.answer("session_type") == "video"},
    )


def _own_account_only(request: HttpRequest) -> HttpResponse | None:
    """The message builder belongs to the person's own pages, not to a capture-only linked laptop."""
    if request.capture_device is not None:
        return HttpResponseForbidden(render_to_string("capture_scope_forbidden.html", request=request))
    return None


def _script_for(form: ScriptForm) -> Script:
    return script_build(**(form.choices() if form.is_valid() else ScriptForm.defaults()))


@login_required
@require_GET
def ask(request: HttpRequest) -> HttpResponse:
    """Build a message asking the therapist (the five-part ask). A GET form: without JavaScript the
    "Update the message" button renders it; with JavaScript the preview follows every change."""
    if (refused := _own_account_only(request)) is not None:
        return refused
    form = ScriptForm(request.GET or None)
    return render(request, "capture/ask.html", {"form": form, "script": _script_for(form)})


@login_required
@require_GET
def ask_message(request: HttpRequest) -> HttpResponse:
    """The message for the choices so far, as JSON, for the live preview."""
    if (refused := _own_account_only(request)) is not None:
        return refused
    form = ScriptForm(request.GET)
    script = _script_for(form)
    return JsonResponse(
        {
            "text": script.text,
            "parts": [{"key": p.key, "title": p.title, "text": p.text} for p in script.parts],
        }
    )


@login_required
@require_GET
def session_page(request: HttpRequest, session_id) -> HttpResponse:
    session = _own_session(request, session_id)
    is_self = session.mode == CaptureSession.Mode.SELF
    max_self_s = int(settings.CAPTURE["MAX_SELF_S"])
    if session.consent_at is None:
        # Self sessions are consented as they are made (self_start); one without it is not usable.
        if is_self:
            return redirect("capture:self_start")
        return redirect("capture:consent", session_id=session.id)
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
            "recap_url_prefix": reverse("recaps:list"),
            # A capture-scoped laptop may not open notes (they are content); the phone can.
            "note_url": None if request.capture_device else reverse("recaps:after_note_new"),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def self_start(request: HttpRequest) -> HttpResponse:
    """Recap in your own voice, for when the therapist said no. The person confirms that only their
    own voice is recorded; the session is made and consented in one step, then the record page opens."""
    # Bound on every POST, even an empty one (an unticked box sends nothing), so it shows its error.
    form = SelfConsentForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        session = services.capture_self_session_start(user=request.user, device=request.capture_device)
        return redirect("capture:session", session_id=session.id)
    return render(
        request,
        "capture/self_start.html",
        {"form": form, "max_self_min": round(settings.CAPTURE["MAX_SELF_S"] / 60)},
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
