from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from capture.selectors import model_host, unfinished_sessions_for_user
from undertone_web.faults import fault_point

from . import services
from .engines.base import RecapResult
from .forms import AfterNoteForm, AppointmentForm, SessionNoteForm
from .models import ClientSettings, RecapAccess, SessionNote
from .selectors import (
    after_note_for_user,
    after_note_list_for_user,
    after_notes_for_recap,
    brief_for_user,
    done_next_steps,
    moment_today_for_user,
    patterns_recaps_for_user,
    recap_for_user,
    recap_list_for_user,
    recap_unattributed,
    recap_voices,
)
from .view_models import patterns_view, theme_rows, unheard_channel


def _back(request: HttpRequest, default: str) -> HttpResponse:
    # Toggles are posted from the recap page and from the brief; go back to whichever, same host only.
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(default)


@login_required
@never_cache
def recap_list(request: HttpRequest) -> HttpResponse:
    context = {
        "recaps": recap_list_for_user(user=request.user),
        "unfinished": unfinished_sessions_for_user(user=request.user),
    }
    return render(request, "recaps/list.html", context)


@login_required
@never_cache
@require_GET
def recap_detail(request: HttpRequest, recap_id) -> HttpResponse:
    recap = recap_for_user(recap_id=recap_id, user=request.user)
    fault_point("recap_view", detail=lambda: str(recap.data))  # test-only; see undertone_web/faults.py
    services.recap_access_log(user=request.user, recap_id=recap.id, action=RecapAccess.Action.VIEW)
    note = SessionNote.objects.filter(recap=recap).first()
    done = done_next_steps(recap=recap)
    next_steps = [(i, item, i in done) for i, item in enumerate(recap.data.get("next_steps") or [])]
    context = {
        "recap": recap,
        "data": recap.data,
        "themes": theme_rows(recap.data.get("themes") or []),
        "unattributed": recap_unattributed(recap.data),
        "voices": recap_voices(recap.data),
        "voices_by": ((recap.data.get("stats") or {}).get("voices") or {}).get("by"),
        "unheard": unheard_channel(recap.data),
        "next_steps": next_steps,
        "note_form": SessionNoteForm(initial={"text": note.text if note else ""}),
        "note": note,
        "after_notes": after_notes_for_recap(recap=recap),
        # Where a language model wrote (or is writing) this recap, said as it is: a host, not content.
        "llm_host": model_host(),
    }
    return render(request, "recaps/detail.html", context)


@login_required
@never_cache
@require_GET
def recap_export(request: HttpRequest, recap_id) -> HttpResponse:
    recap = recap_for_user(recap_id=recap_id, user=request.user)
    services.recap_access_log(user=request.user, recap_id=recap.id, action=RecapAccess.Action.EXPORT)
    title = f"{recap.label} · Recap in your own voice" if recap.is_self else recap.label
    body = RecapResult.from_dict(recap.data).to_markdown(title=title)
    response = HttpResponse(body, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="session-{recap.number}-{recap.session_date:%Y-%m-%d}.md"'
    )
    return response


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def recap_delete(request: HttpRequest, recap_id) -> HttpResponse:
    recap = recap_for_user(recap_id=recap_id, user=request.user)
    if request.method == "POST":
        services.recap_delete(recap=recap, user=request.user)
        messages.success(request, f"{recap.label} was deleted.")
        return redirect("recaps:list")
    return render(request, "recaps/delete_confirm.html", {"recap": recap})


@login_required
@require_POST
def note_save(request: HttpRequest, recap_id) -> HttpResponse:
    recap = recap_for_user(recap_id=recap_id, user=request.user)
    form = SessionNoteForm(request.POST)
    if form.is_valid():
        note = services.session_note_save(recap=recap, user=request.user, text=form.cleaned_data["text"])
        messages.success(request, "Your note is saved." if note else "Your note was removed.")
    else:
        messages.error(request, "Your note is too long to save.")
    return redirect(f"{recap.get_absolute_url()}#note")


@login_required
@require_POST
def next_step_toggle(request: HttpRequest, recap_id, index: int) -> HttpResponse:
    recap = recap_for_user(recap_id=recap_id, user=request.user)
    try:
        services.next_step_toggle(recap=recap, index=index)
    except services.NextStepMissing:
        raise Http404 from None
    return _back(request, f"{recap.get_absolute_url()}#next-steps")


@login_required
@require_POST
def moment_seen(request: HttpRequest, schedule_id: int) -> HttpResponse:
    services.moment_mark_seen(schedule_id=schedule_id, user=request.user)
    return redirect("/#moment")


@login_required
@never_cache
@require_GET
def brief(request: HttpRequest) -> HttpResponse:
    return render(request, "recaps/brief.html", {"brief": brief_for_user(user=request.user)})


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def appointment(request: HttpRequest) -> HttpResponse:
    prefs = ClientSettings.objects.filter(user=request.user).first()
    initial = {"kind": AppointmentForm.ONCE, "brief_hours_before": 24}
    if prefs:
        initial = {
            "kind": AppointmentForm.WEEKLY if prefs.weekly_weekday is not None else AppointmentForm.ONCE,
            "next_appointment": timezone.localtime(prefs.next_appointment)
            if prefs.next_appointment
            else None,
            "weekly_weekday": prefs.weekly_weekday,
            "weekly_time": prefs.weekly_time,
            "brief_hours_before": prefs.brief_hours_before,
        }
    form = AppointmentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        services.client_settings_save(
            user=request.user,
            next_appointment=data["next_appointment"],
            weekly_weekday=data["weekly_weekday"],
            weekly_time=data["weekly_time"],
            brief_hours_before=data["brief_hours_before"],
        )
        messages.success(request, "Your appointment is saved.")
        return redirect("recaps:brief")
    return render(request, "recaps/appointment.html", {"form": form})


@login_required
@never_cache
@require_GET
def patterns(request: HttpRequest) -> HttpResponse:
    return render(
        request, "recaps/patterns.html", {"p": patterns_view(patterns_recaps_for_user(user=request.user))}
    )


# After-session notes ---------------------------------------------------------------------------------


@login_required
@never_cache
@require_GET
def after_note_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "recaps/after_note_list.html", {"notes": after_note_list_for_user(user=request.user)}
    )


def _after_note_form(request: HttpRequest, *, note, initial: dict) -> HttpResponse:
    """New and edit share the form, the save and the way back; only what is saved differs."""
    form = AfterNoteForm(
        request.POST if request.method == "POST" else None, initial=initial, user=request.user
    )
    if request.method == "POST" and form.is_valid():
        answers = {key: form.cleaned_data[key] for key in ("stood_out", "practise", "bring_back", "recap")}
        if note is None:
            services.after_note_create(user=request.user, **answers)
            messages.success(request, "Your note is saved. Only you can read it.")
        else:
            services.after_note_update(note=note, **answers)
            messages.success(request, "Your note is saved.")
        return redirect("recaps:after_note_list")
    return render(request, "recaps/after_note_form.html", {"form": form, "note": note})


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def after_note_new(request: HttpRequest) -> HttpResponse:
    initial = {}
    # "?recap=<id>" from a recap page or the end of a recording preselects it. Only the person's own
    # recaps are choices, so someone else's id is simply not preselected.
    wanted = request.GET.get("recap", "")
    recaps = recap_list_for_user(user=request.user)
    if wanted and (match := next((r for r in recaps if str(r.id) == wanted), None)):
        initial["recap"] = match
    return _after_note_form(request, note=None, initial=initial)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def after_note_edit(request: HttpRequest, note_id) -> HttpResponse:
    note = after_note_for_user(note_id=note_id, user=request.user)
    initial = {key: note.answer(key) for key in note.FIELDS} | {"recap": note.recap}
    return _after_note_form(request, note=note, initial=initial)


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def after_note_delete(request: HttpRequest, note_id) -> HttpResponse:
    note = after_note_for_user(note_id=note_id, user=request.user)
    if request.method == "POST":
        services.after_note_delete(note=note)
        messages.success(request, "Your note was deleted.")
        return redirect("recaps:after_note_list")
    return render(request, "recaps/after_note_delete.html", {"note": note})


@never_cache
def home(request: HttpRequest) -> HttpResponse:
    context = {}
    if request.user.is_authenticated:
        context["unfinished"] = unfinished_sessions_for_user(user=request.user)
    # Capture-scoped devices see the home page but none of the person's recap content.
    if request.user.is_authenticated and not getattr(request, "capture_device", None):
        context["today_moment"] = moment_today_for_user(user=request.user)
        context["brief"] = brief_for_user(user=request.user, with_content=False)
    return render(request, "home.html", context)
