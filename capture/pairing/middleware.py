"""Capture-scoped devices: a laptop tab signed in through the QR handoff may run captures and nothing
else. The device is re-checked on every request, so revoking or expiring it signs the tab out at once."""

from django.contrib.auth import logout
from django.http import HttpResponseForbidden
from django.template.loader import render_to_string

from .selectors import linked_device_active
from .services import linked_device_touch

CAPTURE_DEVICE_SESSION_KEY = "capture_device_id"

# URL-name prefixes a capture-scoped device may reach. Everything else answers 403.
CAPTURE_ALLOWED_PREFIXES = ("capture:", "healthz", "logout", "home", "static")
# Account pages that live under capture: but belong to the phone: a linked laptop must not approve
# more devices (chaining a link into a second one) nor see or revoke the account's devices.
CAPTURE_DENIED_NAMES = frozenset({"capture:pair_approve", "capture:devices", "capture:device_revoke"})


class CaptureScopeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.capture_device = None
        device_id = request.session.get(CAPTURE_DEVICE_SESSION_KEY) if hasattr(request, "session") else None
        if device_id is not None:
            device = linked_device_active(device_id=device_id, user=request.user)
            if device is None:
                logout(request)
            else:
                request.capture_device = device
                linked_device_touch(device=device)  # at most one write a minute
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.capture_device is None:
            return None
        match = request.resolver_match
        name = (
            f"{match.namespace}:{match.url_name}"
            if match and match.namespace
            else (match.url_name if match else "")
        )
        if name and name.startswith(CAPTURE_ALLOWED_PREFIXES) and name not in CAPTURE_DENIED_NAMES:
            return None
        html = render_to_string("capture_scope_forbidden.html", request=request)
        return HttpResponseForbidden(html)
