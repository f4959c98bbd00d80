"""Views of the QR handoff: decode, validate, delegate to services/selectors, render.

Laptop (signed out): `laptop` (called by capture.views.start), `refresh`, `status`, `complete`.
Phone (signed in, not a capture device): `approve`, `devices`, `device_revoke`."""

import logging
import re
from datetime import timedelta

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit

from . import selectors, services
from .exceptions import DeviceNotFound, PairingGone, WrongNumber
from .forms import ApprovalForm
from .middleware import CAPTURE_DEVICE_SESSION_KEY
from .signals import session_auth_mark

log = logging.getLogger("capture.pairing")

BINDING_COOKIE_MAX_AGE = 10 * 60  # renewed with every new code; outlives one code on purpose
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def _create_rate(group, request) -> str:
    return settings.PAIRING.get("CREATE_RATE", "10/m")


def _approve_rate(group, request) -> str:
    return settings.PAIRING.get("APPROVE_RATE", "10/m")


def _binding_cookie_name(request: HttpRequest) -> str:
    return services.binding_cookie_name(secure=request.is_secure())


def _binding_secret(request: HttpRequest) -> str | None:
    value = request.COOKIES.get(_binding_cookie_name(request), "")
    return value if _SECRET_RE.match(value) else None


def _client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: behind a proxy, set it from X-Forwarded-For in the proxy-aware layer, not here.
    return request.META.get("REMOTE_ADDR") or None


def _gone(request: HttpRequest, exc: PairingGone, *, side: str, wrong_number: bool = False) -> HttpResponse:
    """One page for every dead code; the reason is logged with the request id, never the token. Only
    the phone that just picked a wrong number is told why (it knows the code anyway)."""
    log.info("pairing refused (%s): %s; request %s", side, exc.reason, exc.request_id or "-")
    context = {"side": side, "wrong_number": wrong_number}
    return render(request, "capture/pairing/expired.html", context, status=410)


def _new_pairing(request: HttpRequest) -> tuple[dict, str]:
    """Create a request for this browser; returns what the laptop page shows, and the binding secret."""
    binding = _binding_secret(request) or services.binding_secret_new()
    created = services.pairing_request_create(
        binding_secret=binding,
        user_agent=request.headers.get("user-agent", ""),
        ip=_client_ip(request),
    )
    pairing = created.pairing
    path = reverse("capture:pair_approve", kwargs={"token": created.token})
    base = settings.PAIRING.get("PUBLIC_URL")  # where phones reach this site, when the Host differs
    approve_url = f"{base.rstrip('/')}{path}" if base else request.build_absolute_uri(path)
    qr = segno.make(approve_url, error="m")
    info = {
        "request_id": str(pairing.id),
        "number": pairing.number,
        "expires_in": int((pairing.expires_at - timezone.now()).total_seconds()),
        "qr_svg": qr.svg_inline(
            scale=1,
            border=4,
            omitsize=True,
            dark="#1f2933",
            light="#ffffff",
            svgclass="pair-qr-svg",
            title="QR code: scan it with your phone to link this browser",
        ),
        "ws_path": f"/ws/pair/{pairing.id}/",
        "status_url": reverse("capture:pair_status", kwargs={"request_id": pairing.id}),
        "complete_url": reverse("capture:pair_complete", kwargs={"request_id": pairing.id}),
    }
    return {**info, "approve_url": approve_url}, binding


def _set_binding_cookie(request: HttpRequest, response: HttpResponse, binding: str) -> None:
    # SameSite=Strict: only the laptop page's own same-site requests (fetch, WebSocket, the
    # completion POST) need it; no cross-site navigation ever should carry it.
    response.set_cookie(
        _binding_cookie_name(request),
        binding,
        max_age=BINDING_COOKIE_MAX_AGE,
        path="/",
        secure=request.is_secure(),
        httponly=True,
        samesite="Strict",
    )


@never_cache
@ratelimit(key="ip", rate=_create_rate, group="capture.pairing.create", block=True)
def laptop(request: HttpRequest) -> HttpResponse:
    """/capture/ for a signed-out browser: a fresh QR code, its number, and the binding cookie."""
    info, binding = _new_pairing(request)
    response = render(
        request, "capture/pairing/laptop.html", {"pairing": info, "approve_url": info["approve_url"]}
    )
    _set_binding_cookie(request, response, binding)
    return response


@never_cache
@require_POST
@ratelimit(key="ip", rate=_create_rate, group="capture.pairing.create", block=True)
def refresh(request: HttpRequest) -> JsonResponse:
    """A new code for the laptop page before the current one expires (JSON for pairing.js)."""
    if request.user.is_authenticated:
        return JsonResponse({"signed_in": True})
    info, binding = _new_pairing(request)
    info.pop("approve_url")  # the QR carries it; the page has no use for it in plain text
    response = JsonResponse(info)
    _set_binding_cookie(request, response, binding)
    return response


@never_cache
@require_GET
@ratelimit(key="ip", rate="120/m", group="capture.pairing.status", block=True)
def status(request: HttpRequest, request_id) -> JsonResponse:
    """Polling fallback when the socket fails. Without the binding cookie everything is "gone"."""
    state = selectors.pairing_state_for_browser(
        request_id=request_id, binding_secret=_binding_secret(request)
    )
    return JsonResponse({"status": state.status if state else "gone"})


@never_cache
@require_POST
def complete(request: HttpRequest, request_id) -> HttpResponse:
    """The laptop's single-use step after approval: log in (a fresh session key), capture-scoped."""
    if request.user.is_authenticated:
        return redirect("capture:start")
    try:
        device = services.pairing_complete(
            pairing_id=request_id, binding_secret=_binding_secret(request), ip=_client_ip(request)
        )
    except PairingGone as exc:
        return _gone(request, exc, side="laptop")
    # login() cycles the session key (no fixation) and fires user_logged_in.
    login(request, device.user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[CAPTURE_DEVICE_SESSION_KEY] = str(device.id)
    request.session.set_expiry(int(settings.PAIRING["DEVICE_TTL_S"]))
    messages.success(
        request, f"This browser is linked for capture to {device.user.get_username()}'s account."
    )
    response = redirect("capture:start")
    response.delete_cookie(_binding_cookie_name(request), path="/", samesite="Strict")
    return response


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
# Every request counts, GETs too: a GET with a live token answers with the approval page, so guessing
# tokens by GET must hit the limit as surely as guessing by POST (tests/security/test_qr_attacks.py).
@ratelimit(key="user", rate=_approve_rate, group="capture.pairing.approve", block=True)
def approve(request: HttpRequest, token: str) -> HttpResponse:
    """The phone's page behind the QR: what is asking, number matching, approve or decline."""
    if request.capture_device is not None:  # the middleware refuses this too
        return HttpResponseForbidden()
    try:
        pairing = selectors.pairing_request_for_token(token=token)
    except PairingGone as exc:
        return _gone(request, exc, side="phone")
    needs_password = selectors.session_reauth_required(session=request.session)
    choices = selectors.pairing_choices(pairing=pairing)
    form = ApprovalForm(
        request.POST if request.method == "POST" else None,
        choices=choices,
        user=request.user,
        needs_password=needs_password,
    )
    device_name = selectors.device_description(user_agent=pairing.user_agent)
    if request.method == "POST" and request.POST.get("action") == "decline":
        try:
            services.pairing_decline(pairing_id=pairing.id, user=request.user)
        except PairingGone as exc:
            return _gone(request, exc, side="phone")
        return _no_referrer(render(request, "capture/pairing/declined.html", {"device_name": device_name}))
    if request.method == "POST" and form.is_valid():
        if needs_password:
            session_auth_mark(session=request.session)
        try:
            services.pairing_approve(
                pairing_id=pairing.id, user=request.user, choice=form.cleaned_data["choice"]
            )
        except PairingGone as exc:
            return _gone(request, exc, side="phone")
        except WrongNumber as exc:
            if exc.dead:
                return _gone(
                    request,
                    PairingGone("wrong number", request_id=pairing.id),
                    side="phone",
                    wrong_number=True,
                )
            form.add_error(
                "choice",
                f"That is not the number on that screen. Look again: {exc.attempts_left} "
                f"{'try' if exc.attempts_left == 1 else 'tries'} left.",
            )
        else:
            return _no_referrer(
                render(request, "capture/pairing/approved.html", {"device_name": device_name})
            )
    elif request.method == "GET":
        services.pairing_scanned(pairing=pairing)
    context = {
        "form": form,
        "choices": choices,
        "device_name": device_name,
        "pairing": pairing,
        "seconds_left": max(int((pairing.expires_at - timezone.now()).total_seconds()), 0),
        "seconds_ago": int((timezone.now() - pairing.created_at).total_seconds()),
        "needs_password": needs_password,
    }
    return _no_referrer(render(request, "capture/pairing/approve.html", context))


def _no_referrer(response: HttpResponse) -> HttpResponse:
    # The page's URL holds the token: Referer headers sent from it carry the origin only, never the
    # path. Not "no-referrer": Chrome then sends "Origin: null" with the form POST and Django's CSRF
    # check (rightly) refuses it.
    response["Referrer-Policy"] = "strict-origin"
    return response


@login_required
@require_GET
def devices(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    return render(
        request,
        "capture/pairing/devices.html",
        {
            "devices": selectors.linked_device_list(user=request.user),
            "notifications": selectors.notification_list_recent(user=request.user),
            "now": now,
            "a_minute_ago": now - timedelta(minutes=1),
        },
    )


@login_required
@require_POST
def device_revoke(request: HttpRequest, device_id) -> HttpResponse:
    try:
        device = services.linked_device_revoke(user=request.user, device_id=device_id)
    except DeviceNotFound:
        raise Http404 from None
    messages.success(request, f"{device.name} is signed out and can no longer record.")
    return redirect("capture:devices")
