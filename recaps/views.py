from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from capture.selectors import model_host, unfinished_sessions_for_user
from undertone_web.faults import fault_point

from . import services
from .edits import (
    ITEM_TEXT_MAX,
    SECTIONS,
    TITLE_MAX,
    EditRefused,
    custom_title,
    export_markdown,
    outcome_text,
    recap_title,
)
from .edits import auto_title as recap_auto_title
from .forms import (
    AfterNoteForm,
    AppointmentForm,
    FixWordForm,
    ItemRemoveForm,
    ItemSaveForm,
    RecapTitleForm,
    SessionNoteForm,
)
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
    session_list_for_user,
)
from .view_models import edit_sections, patterns_view, theme_rows, unheard_channel


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
        "sessions": session_list_for_user(user=request.user, query=request.GET.get("q", "")),
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
        "title": recap_title(recap),
        "data": recap.data,
        "themes": theme_rows(recap.data.get("themes") or []),
        "unattributed": recap_unattributed(recap.data),
        "voices": recap_voices(recap.data),
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
    body = export_markdown(recap)  # the edited recap, its changes marked (recaps/edits.py)
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
        title = recap_title(recap)
        services.recap_delete(recap=recap, user=request.user)
        messages.success(request, f"{title} was deleted.")
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


# Shaping a recap: rename, fix a misheard word, remove, reword or add ---------------------------------
# A page of its own (/recaps/<id>/edit/) rather than controls inside the reading view: the recap stays
# calm to read, every control works without JavaScript, and a phone gets full-width forms. Each change
# is its own POST (CSRF, owner only: someone else's id is a 404 like an id nobody has), then back here.


def _edit_back(
    recap, code: str, *, section: str = "", n: int | None = None, anchor: str = ""
) -> HttpResponse:
    """Back to the edit page, at the card that was used, which then says what happened (a code, a
    section name and a count travel in the URL; never any wording)."""
    query = {"r": code}
    if section in SECTIONS:
        query["s"] = section
    if n is not None:
        query["n"] = str(n)
    anchor = anchor or (f"edit-{section}" if section in SECTIONS else "")
    url = f"{reverse('recaps:edit', args=[recap.id])}?{urlencode(query)}"
    return redirect(f"{url}#{anchor}" if anchor else url)


def _edit_status(request: HttpRequest) -> dict | None:
    code, section = request.GET.get("r", ""), request.GET.get("s", "")
    try:
        n = max(0, int(request.GET.get("n", "0")))
    except ValueError:
        n = 0
    found = outcome_text(code, section=section, n=n)
    if found is None:
        return None
    where = f"edit-{section}" if section in SECTIONS else STATUS_CARDS.get(code, "")
    return {"text": found[0], "error": found[1], "where": where}


# Outcomes that belong to the title or the fix-a-word card rather than to a section.
STATUS_CARDS = {
    "renamed": "edit-title",
    "title_auto": "edit-title",
    "long_title": "edit-title",
    "fixed": "edit-fix",
    "not_found": "edit-fix",
    "empty_wrong": "edit-fix",
    "empty_right": "edit-fix",
    "long_wrong": "edit-fix",
    "long_right": "edit-fix",
    "same_word": "edit-fix",
    "polishing": "edit-polishing",
}


@login_required
@never_cache
@require_GET
def recap_edit(request: HttpRequest, recap_id) -> HttpResponse:
    recap = recap_for_user(recap_id=recap_id, user=request.user)
    services.recap_access_log(user=request.user, recap_id=recap.id, action=RecapAccess.Action.VIEW)
    own = custom_title(recap.data)
    context = {
        "recap": recap,
        "title": recap_title(recap),
        "auto_title": recap_auto_title(recap.data, number=recap.number, session_date=recap.session_date),
        "title_form": RecapTitleForm(initial={"title": own}),
        "fix_form": FixWordForm(),
        "sections": edit_sections(recap.data, done=done_next_steps(recap=recap)),
        "polishing": bool(recap.data.get("polishing")),
        "text_max": ITEM_TEXT_MAX,
        "title_max": TITLE_MAX,
        "status": _edit_status(request),
    }
    return render(request, "recaps/_edit.html", context)


@login_required
@require_POST
def recap_edit_title(request: HttpRequest, recap_id) -> HttpResponse:
    recap = recap_for_user(recap_id=recap_id, user=request.user)
    try:
        title = services.recap_rename(recap=recap, title=request.POST.get("title", ""))
    except EditRefused as exc:
        return _edit_back(recap, exc.code, anchor=STATUS_CARDS.get(exc.code, "edit-title"))
    return _edit_back(recap, "renamed" if title else "title_auto", anchor="edit-title")


@login_required
@require_POST
def recap_edit_fix_word(request: HttpRequest, recap_id) -> HttpResponse:
    recap = recap_for_user(recap_id=recap_id, user=request.user)
    try:
        count = services.recap_fix_word(
            recap=recap, wrong=request.POST.get("wrong", ""), right=request.POST.get("right", "")
        )
    except EditRefused as exc:
        return _edit_back(recap, exc.code, anchor=STATUS_CARDS.get(exc.code, "edit-fix"))
    return _edit_back(recap, "fixed" if count else "not_found", n=count, anchor="edit-fix")


@login_required
@require_POST
def recap_edit_remove(request: HttpRequest, recap_id) -> HttpResponse:
    recap = recap_for_user(recap_id=recap_id, user=request.user)
    form = ItemRemoveForm(request.POST)
    if not form.is_valid():
        return _edit_back(recap, "invalid", section=request.POST.get("section", ""))
    section = form.cleaned_data["section"]
    try:
        services.recap_item_remove(
            recap=recap, section=section, index=form.cleaned_data["index"], digest=form.cleaned_data["digest"]
        )
    except EditRefused as exc:
        return _edit_back(recap, exc.code, section=section)
    return _edit_back(recap, "removed", section=section)


@login_required
@require_POST
def recap_edit_item(request: HttpRequest, recap_id) -> HttpResponse:
    recap = recap_for_user(recap_id=recap_id, user=request.user)
    form = ItemSaveForm(request.POST)
    if not form.is_valid():
        return _edit_back(recap, "invalid", section=request.POST.get("section", ""))
    data = form.cleaned_data
    try:
        what = services.recap_item_save(
            recap=recap,
            section=data["section"],
            index=data["index"],
            digest=data["digest"],
            text=request.POST.get("text", ""),
        )
    except EditRefused as exc:
        return _edit_back(recap, exc.code, section=data["section"])
    return _edit_back(recap, "added" if what == "add" else "saved", section=data["section"])


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
