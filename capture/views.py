import logging
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit
from redis.exceptions import RedisError

from . import services, voices
from .exceptions import InvalidTransition
from .models import CaptureSession
from .pairing import views as pairing_views
from .selectors import capture_session_for_actor, capture_windows_left, model_host, session_captured_s

log = logging.getLogger(__name__)


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
    in_person = session.in_person
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
            # In person both voices reach one microphone: the optional voice check tells them apart.
            "in_person": in_person,
            "voice_check_done": in_person and _voice_check_done(session.id),
            "voice_check_seconds": VOICE_CHECK_RECORD_S,
        },
    )


def _voice_check_done(session_id) -> bool:
    try:
        return voices.voice_check_done(session_id=session_id)
    except (RedisError, OSError):
        return False  # the page offers the check again; doing it twice is harmless


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


# The voice check (in-person sessions): one sentence read aloud before Start, sent as raw PCM16LE 16 kHz
# mono. Only its description is kept, in Redis (capture.voices); the audio is never written anywhere.
VOICE_CHECK_BYTES_PER_S = 16000 * 2
VOICE_CHECK_MIN_BYTES = VOICE_CHECK_BYTES_PER_S // 2  # 0.5 s: anything shorter is not a reading
VOICE_CHECK_MAX_BYTES = 20 * VOICE_CHECK_BYTES_PER_S  # 640 000 bytes, far below Django's 2.5 MB
VOICE_CHECK_RECORD_S = 8  # what the page records at most (the sentence takes about 6 s to read)
VOICE_CHECK_RATE = "12/m"
_FINISHED = (CaptureSession.Status.ENDING, CaptureSession.Status.DONE, CaptureSession.Status.FAILED)


def _voice_check_refused(status: int, reason: str, error: str) -> JsonResponse:
    return JsonResponse({"ok": False, "reason": reason, "error": error}, status=status)


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


@never_cache
@login_required
@require_POST
@ratelimit(key="user", rate=VOICE_CHECK_RATE, group="capture.voice_check", block=False)
def voice_check(request: HttpRequest, session_id) -> JsonResponse:
    """The voice check's audio in, its description stored for the session (JSON for voice-check.js)."""
    session = own_session_or_404(request, session_id)
    if getattr(request, "limited", False):
        return _voice_check_refused(429, "rate_limited", "Too many voice checks in a row. Wait a minute.")
    if session.consent_at is None:
        return _voice_check_refused(409, "no_consent", "Confirm consent for this session first.")
    if not session.in_person:
        return _voice_check_refused(409, "not_in_person", "The voice check is for in-person sessions only.")
    if session.status in _FINISHED:
        return _voice_check_refused(409, "finished", "This session has already finished.")
    if _declared_length(request) <= 0:
        return _voice_check_refused(400, "bad_audio", "Send 16 kHz mono 16-bit PCM audio.")
    if request.content_type != "application/octet-stream":
        return _voice_check_refused(415, "bad_type", "Send the audio as application/octet-stream.")
    # The header is only a hint: a short body that claims to be long is refused before it is read, and
    # what counts is the length of what actually arrived.
    if _declared_length(request) > VOICE_CHECK_MAX_BYTES:
        return _voice_check_refused(413, "too_long", "That is more audio than one sentence.")
    try:
        pcm = request.body
    except RequestDataTooBig:
        return _voice_check_refused(413, "too_long", "That is more audio than one sentence.")
    if len(pcm) > VOICE_CHECK_MAX_BYTES:
        return _voice_check_refused(413, "too_long", "That is more audio than one sentence.")
    if len(pcm) < VOICE_CHECK_MIN_BYTES or len(pcm) % 2:
        return _voice_check_refused(400, "bad_audio", "Send 16 kHz mono 16-bit PCM audio.")
    try:
        saved = voices.voice_check_save(session_id=session.id, pcm=pcm)
    except (RedisError, OSError):
        log.warning("voice check %s: store unavailable", session.id)
        return _voice_check_refused(503, "unavailable", "The voice check can't be saved just now. Try again.")
    if not saved:
        log.info("voice check %s: too little speech", session.id)
        return JsonResponse({"ok": False, "reason": "too_short"}, status=422)
    log.info("voice check %s: saved", session.id)
    return JsonResponse({"ok": True})
