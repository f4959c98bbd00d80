"""Views of the consent gate: the gate itself and its rule panel, the message builder that asks the
therapist, and the own-voice confirmation that starts a self-mode session."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_http_methods

from ..exceptions import InvalidTransition
from ..models import CaptureSession
from ..selectors import model_host
from ..views import own_session_or_404
from .forms import ConsentForm, ScriptForm, SelfConsentForm
from .script import Script, script_build
from .selectors import consent_preference_initial
from .services import consent_give, self_session_start


@login_required
@require_http_methods(["GET", "POST"])
def consent(request: HttpRequest, session_id) -> HttpResponse:
    """The consent gate: where everyone is, the rule there in plain words, and the confirmation that
    the therapist agreed, asked every session. Works without JavaScript ("Show the rule" posts)."""
    session = own_session_or_404(request, session_id)
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
    choices = form.choices() if form.is_valid() else ScriptForm.defaults()
    return script_build(**choices, model_host=model_host())


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
@require_http_methods(["GET", "POST"])
def self_start(request: HttpRequest) -> HttpResponse:
    """Recap in your own voice, for when the therapist said no. The person confirms that only their
    own voice is recorded; the session is made and consented in one step, then the record page opens."""
    # Bound on every POST, even an empty one (an unticked box sends nothing), so it shows its error.
    form = SelfConsentForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        session = self_session_start(user=request.user, device=request.capture_device)
        return redirect("capture:session", session_id=session.id)
    return render(
        request,
        "capture/self_start.html",
        {"form": form, "max_self_min": round(settings.CAPTURE["MAX_SELF_S"] / 60)},
    )
