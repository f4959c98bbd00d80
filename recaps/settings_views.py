"""The settings page (account, reminders, appointments, linked devices, export, the recap engine) and
the two pages reached without signing in: a reminder email's off link and the calendar feed. Thin, as
recaps/views.py: the writes are in recaps/reminders.py and recaps/calendar.py, the zip in export.py."""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_ratelimit.decorators import ratelimit

from capture.models import LinkedDevice
from capture.selectors import model_host

from . import calendar, export, reminders
from .selectors import brief_for_user


class EmailForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        required=False,
        max_length=254,
        help_text="Only for the reminders you turn on below. Leave it empty to get no email at all.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class ReminderForm(forms.Form):
    email_moments = forms.BooleanField(
        label="Email me when a moment from a session is waiting", required=False
    )
    email_brief = forms.BooleanField(label="Email me when my Pre-Session Brief is ready", required=False)


def _devices(user) -> list[LinkedDevice]:
    """Browsers still linked for recording; the devices page (capture:devices) has the full list."""
    return list(
        LinkedDevice.objects.filter(
            user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()
        ).order_by("-last_seen_at", "-created_at")
    )


def _page(request: HttpRequest, *, status: int = 200, **context) -> HttpResponse:
    user = request.user
    prefs = reminders.reminder_settings_for_user(user=user)
    now = timezone.now()
    context = {
        "email_form": EmailForm(initial={"email": user.email}),
        "reminder_form": ReminderForm(
            initial={"email_moments": prefs.email_moments, "email_brief": prefs.email_brief}
        ),
        "prefs": prefs,
        "brief": brief_for_user(user=user, now=now, with_content=False),
        "devices": _devices(user),
        "a_minute_ago": now - timedelta(minutes=1),
        "model_host": model_host(),
        **context,
    }
    return render(request, "recaps/settings.html", context, status=status)


@login_required
@never_cache
@require_GET
def settings_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@login_required
@never_cache
@require_POST
def settings_email(request: HttpRequest) -> HttpResponse:
    form = EmailForm(request.POST)
    if not form.is_valid():
        return _page(request, email_form=form)
    reminders.reminder_email_change(user=request.user, email=form.cleaned_data["email"])
    messages.success(
        request, "Your email address is saved." if request.user.email else "Your email address is removed."
    )
    return redirect("recaps:settings")


@login_required
@never_cache
@require_POST
def settings_reminders(request: HttpRequest) -> HttpResponse:
    form = ReminderForm(request.POST)
    form.is_valid()  # two checkboxes: always valid
    wanted = form.cleaned_data
    if not request.user.email and (wanted["email_moments"] or wanted["email_brief"]):
        form.add_error(None, "Add your email address first, then turn reminders on.")
        return _page(request, reminder_form=form)
    reminders.reminder_settings_save(
        user=request.user, email_moments=wanted["email_moments"], email_brief=wanted["email_brief"]
    )
    messages.success(request, "Your reminders are saved.")
    return redirect("recaps:settings")


@login_required
@never_cache
@require_POST
def settings_calendar(request: HttpRequest) -> HttpResponse:
    """Make or reset the feed (the new URL is on this response only: it is not stored), or turn it off."""
    action = request.POST.get("action")
    if action in ("create", "reset"):
        token = calendar.calendar_feed_create(user=request.user)
        # Rendered, not redirected: the URL cannot be read back later (calendar.py says why).
        return _page(
            request, new_feed_url=calendar.calendar_feed_url(token, request=request), reset=action == "reset"
        )
    if action == "off":
        calendar.calendar_feed_off(user=request.user)
        messages.success(request, "Your calendar feed is off. Its address no longer works.")
    return redirect("recaps:settings")


@login_required
@never_cache
@require_GET
def settings_export(request: HttpRequest) -> HttpResponse:
    # The zip is already whole in memory (export.py says why never on disk), so one plain response: a
    # streaming one would stream from that same buffer and gain nothing.
    archive = export.recaps_zip(user=request.user)
    response = HttpResponse(archive.getvalue(), content_type="application/zip")
    response["Content-Disposition"] = (
        f'attachment; filename="undertone-recaps-{timezone.localdate():%Y-%m-%d}.zip"'
    )
    return response


# Reached without signing in -------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate="30/m", group="recaps.reminder_off", block=True)
def reminder_off(request: HttpRequest, token: str) -> HttpResponse:
    """A reminder email's off link. GET shows one button and changes nothing, because mail scanners
    open links; the POST (with the CSRF token of that page) turns the reminder off.

    RFC 8058 one-click (List-Unsubscribe-Post) is left out on purpose: the mail provider's POST carries
    no CSRF cookie, so it needs a csrf_exempt view, and tests/security/test_csrf.py allows none without a
    reviewed entry. The List-Unsubscribe header points at this page instead (RFC 2369)."""
    found = reminders.off_token_read(token)
    if found is None:
        # Tampered with, made up, or not a link of ours: one answer for all (404, as for any unknown URL).
        return render(request, "recaps/settings_reminder_off.html", {"invalid": True}, status=404)
    user_id, kind = found
    if request.method == "POST":
        reminders.reminder_off(user_id=user_id, kind=kind)
        return render(request, "recaps/settings_reminder_off.html", {"done": True, "kind": kind})
    return render(request, "recaps/settings_reminder_off.html", {"kind": kind})


def _feed_key(group: str, request: HttpRequest) -> str:
    # Per feed, not per address: Google and Outlook fetch every subscriber's calendar from a few shared
    # addresses. Hashed so the secret is not a cache key in Redis.
    return calendar.feed_hash(request.resolver_match.kwargs.get("token", ""))


@never_cache
@require_GET
@ratelimit(key="ip", rate="600/h", group="recaps.calendar_feed.ip", block=True)
@ratelimit(key=_feed_key, rate="60/h", group="recaps.calendar_feed", block=True)
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The token is the authentication. Unknown, reset and turned-off tokens all get the site's one
    404, the same as for a URL nobody has, so the answer says nothing about whether an account exists."""
    prefs = calendar.calendar_feed_for_token(token)
    if prefs is None:
        raise Http404
    calendar.calendar_feed_touch(prefs=prefs)
    response = HttpResponse(calendar.calendar_ics(prefs=prefs), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="undertone.ics"'
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
