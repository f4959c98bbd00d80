"""Reads for the viewer, the home screen, the Pre-Session Brief and Patterns. Every read is scoped to
the owner: anyone else gets Http404 (not 403), so ids reveal nothing."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.shortcuts import get_object_or_404
from django.utils import timezone

from undertone_web.crypto import DecryptionError

from .edits import (
    dated_title,
    neutral_label,
    recap_preview,
    recap_title,
    search_matches,
    search_text,
    theme_key,
    theme_shown,
)
from .models import AfterNote, ClientSettings, MomentSchedule, NextStepStatus, Recap

BRIEF_RECENT_SESSIONS = 5  # recurring themes: across the last five recaps
BRIEF_NEXT_STEP_SESSIONS = 3  # open next steps: from the last three
BRIEF_QUESTION_SESSIONS = 2
BRIEF_NEXT_STEPS_MAX = 8
BRIEF_QUESTIONS_MAX = 5
BRIEF_NOTES_MAX = 3  # after-session notes: the newest three written since the last appointment
BRIEF_NOTES_DAYS = 14  # "since the last appointment" when that is unknown (a one-off date)
BRIEF_NOTE_LINES_MAX = 5  # lines per answer
PATTERNS_SESSIONS_MAX = 12
PATTERNS_THEMES_MAX = 6
SEARCH_MAX = 100  # characters of a search on the sessions list
# Two brief items are the same when their words (stopwords and punctuation aside) overlap this much.
BRIEF_SAME_JACCARD = 0.8


def recap_for_user(*, recap_id, user) -> Recap:
    return get_object_or_404(Recap, id=recap_id, user=user)


def recap_list_for_user(*, user):
    # The list needs only the label: deferring `data` keeps it from decrypting every recap.
    return (
        Recap.objects.filter(user=user).only("id", "number", "session_date", "kind").order_by("-session_date")
    )


def moment_schedule_for_user(*, schedule_id: int, user) -> MomentSchedule:
    return get_object_or_404(MomentSchedule, id=schedule_id, recap__user=user)


@dataclass
class SessionRow:
    recap: Recap
    title: str
    neutral: str  # "Session 3 · 29 Nov": the number stays findable under any title
    preview: str


@dataclass
class SessionList:
    rows: list[SessionRow]
    query: str
    total: int  # sessions before the search
    readable: bool  # False when the recaps could not be decrypted: neutral labels only, no search


def session_list_for_user(*, user, query: str = "") -> SessionList:
    """The sessions list with titles and a one-line preview, searched (case-insensitively) over titles
    and themes. The recaps are decrypted here, in memory, per request: no plaintext index is written
    anywhere. If they cannot be decrypted (a wrong key), the list still shows the neutral labels."""
    query = " ".join(str(query or "").split())[:SEARCH_MAX]
    try:
        recaps = list(Recap.objects.filter(user=user).order_by("-session_date"))
    except DecryptionError:
        plain = list(recap_list_for_user(user=user))
        rows = [SessionRow(r, neutral_label(r), neutral_label(r), "") for r in plain]
        return SessionList(rows, query, len(rows), readable=False)
    rows = []
    for recap in recaps:
        data = recap.data or {}
        title = recap_title(recap)
        if query and not search_matches(query, search_text(data, title)):
            continue
        rows.append(SessionRow(recap, title, neutral_label(recap), recap_preview(data)))
    return SessionList(rows, query, len(recaps), readable=True)


def item_offset(item: dict) -> float | None:
    sources = item.get("sources") or []
    return min(sources) if sources else None


@dataclass
class DueMoment:
    schedule: MomentSchedule
    recap: Recap
    moment: dict
    waiting: int  # other due, unseen moments after this one


def moment_today_for_user(*, user, now: datetime | None = None) -> DueMoment | None:
    """The earliest due, unseen moment: one at a time, the next shows once this one is seen."""
    now = now or timezone.now()
    due = MomentSchedule.objects.filter(
        recap__user=user, surface_at__lte=now, seen_at__isnull=True
    ).select_related("recap")
    for schedule in due.order_by("surface_at", "index", "id"):
        moments = schedule.recap.data.get("moments") or []
        if schedule.index < len(moments):
            return DueMoment(schedule, schedule.recap, moments[schedule.index], due.count() - 1)
    return None


def done_next_steps(*, recap: Recap) -> set[int]:
    return set(NextStepStatus.objects.filter(recap=recap).values_list("index", flat=True))


def next_weekly(*, now: datetime, weekday: int, at) -> datetime:
    """Next occurrence of weekday/at (local time) strictly after now."""
    local = timezone.localtime(now)
    days = (weekday - local.weekday()) % 7
    candidate = timezone.make_aware(datetime.combine(local.date() + timedelta(days=days), at))
    if candidate <= now:
        candidate = timezone.make_aware(datetime.combine(local.date() + timedelta(days=days + 7), at))
    return candidate


def next_appointment_for_user(
    *, user, now: datetime | None = None
) -> tuple[datetime | None, ClientSettings | None]:
    now = now or timezone.now()
    prefs = ClientSettings.objects.filter(user=user).first()
    if prefs is None:
        return None, None
    candidates = []
    if prefs.next_appointment and prefs.next_appointment > now:
        candidates.append(prefs.next_appointment)
    if prefs.weekly_weekday is not None and prefs.weekly_time is not None:
        candidates.append(next_weekly(now=now, weekday=prefs.weekly_weekday, at=prefs.weekly_time))
    return (min(candidates) if candidates else None), prefs


@dataclass
class BriefItem:
    recap: Recap
    index: int
    text: str
    offset: float | None
    title: str = ""  # the session's title, for the link back to it
    also: list[tuple[Recap, str]] = field(default_factory=list)  # older sessions that said the same


@dataclass
class BriefNoteLine:
    note: AfterNote
    text: str


@dataclass
class Brief:
    appointment: datetime | None
    unlocks_at: datetime | None
    hours_before: int
    unlocked: bool
    next_steps: list[BriefItem] = field(default_factory=list)
    questions: list[BriefItem] = field(default_factory=list)
    recurring: list[tuple[str, int]] = field(default_factory=list)
    moment: dict | None = None
    moment_recap: Recap | None = None
    moment_title: str = ""
    note_practise: list[BriefNoteLine] = field(default_factory=list)
    note_bring_back: list[BriefNoteLine] = field(default_factory=list)


def brief_for_user(*, user, now: datetime | None = None, with_content: bool = True) -> Brief:
    """The Pre-Session Brief. Content is gathered only when unlocked (and asked for): the home screen
    asks for the state alone, so it does not decrypt five recaps on every visit."""
    now = now or timezone.now()
    appointment, prefs = next_appointment_for_user(user=user, now=now)
    hours = prefs.brief_hours_before if prefs else 24
    unlocks_at = appointment - timedelta(hours=hours) if appointment else None
    brief = Brief(appointment, unlocks_at, hours, bool(unlocks_at and unlocks_at <= now < appointment))
    if not (brief.unlocked and with_content):
        return brief
    recent = list(Recap.objects.filter(user=user).order_by("-session_date")[:BRIEF_RECENT_SESSIONS])
    titles = {recap.id: dated_title(recap) for recap in recent}
    done = set(
        NextStepStatus.objects.filter(recap__in=recent[:BRIEF_NEXT_STEP_SESSIONS]).values_list(
            "recap_id", "index"
        )
    )
    steps = _brief_items(recent[:BRIEF_NEXT_STEP_SESSIONS], "next_steps", titles)
    # The newest wording of a step stands for its repeats: marked done there, it is done.
    brief.next_steps = [s for s in steps if (s.recap.id, s.index) not in done][:BRIEF_NEXT_STEPS_MAX]
    brief.questions = _brief_items(recent[:BRIEF_QUESTION_SESSIONS], "questions", titles)[
        :BRIEF_QUESTIONS_MAX
    ]
    brief.recurring = recurring_themes(recaps=recent)
    brief.moment, brief.moment_recap = _moment_to_bring_back(
        recent, {theme_key(t) for t, _ in brief.recurring}
    )
    if brief.moment_recap is not None:
        brief.moment_title = titles[brief.moment_recap.id]
    since = brief_notes_since(appointment=appointment, prefs=prefs)
    for note in after_notes_for_brief(user=user, since=since, until=now):
        brief.note_practise += [
            BriefNoteLine(note, text) for text in note_lines(note.practise)[:BRIEF_NOTE_LINES_MAX]
        ]
        brief.note_bring_back += [
            BriefNoteLine(note, text) for text in note_lines(note.bring_back)[:BRIEF_NOTE_LINES_MAX]
        ]
    return brief


# Words that carry no meaning of their own when comparing two next steps or questions.
_SAME_STOPWORDS = frozenset(
    """a an the and or but of to in on at for with by from as into about up out is are be been was were
    it its this that these those your you yours my me i we our us they them their he she his her him
    will would could should can may might do does did just again also so then than there here if when
    going gonna try""".split()
)
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")


def item_words(text: str) -> frozenset[str]:
    """The words that say what an item is: lower case, no punctuation, no stopwords."""
    words = _WORD.findall(str(text).lower().replace("’", "'"))
    return frozenset(w for w in words if w not in _SAME_STOPWORDS)


def items_same(a: frozenset[str], b: frozenset[str]) -> bool:
    """Conservative: the same words, near enough (Jaccard of the word sets >= BRIEF_SAME_JACCARD)."""
    if not a or not b:
        return False
    return len(a & b) / len(a | b) >= BRIEF_SAME_JACCARD


def _brief_items(recaps: list[Recap], section: str, titles: dict) -> list[BriefItem]:
    """One item per distinct step or question across these recaps (newest first): a repeat in an older
    session is folded into the newest one, which lists it under `also`."""
    kept: list[tuple[frozenset[str], BriefItem]] = []
    for recap in recaps:
        for i, item in enumerate(recap.data.get(section) or []):
            text = str(item.get("text") or "")
            if not text:
                continue
            words = item_words(text)
            same = next((b for w, b in kept if items_same(w, words)), None)
            if same is not None:
                if same.recap.id != recap.id and recap.id not in {r.id for r, _ in same.also}:
                    same.also.append((recap, titles[recap.id]))
                continue
            kept.append((words, BriefItem(recap, i, text, item_offset(item), titles[recap.id])))
    return [b for _, b in kept]


def brief_notes_since(*, appointment: datetime, prefs: ClientSettings | None) -> datetime:
    """Notes written since the last appointment belong to the next one. A weekly slot knows the last
    one (a week before the next); a one-off date does not, so the two weeks before it stand in."""
    if prefs is not None and prefs.weekly_weekday is not None and prefs.weekly_time is not None:
        return appointment - timedelta(days=7)
    return appointment - timedelta(days=BRIEF_NOTES_DAYS)


def after_notes_for_brief(*, user, since: datetime, until: datetime) -> list[AfterNote]:
    return list(
        AfterNote.objects.filter(user=user, created_at__gte=since, created_at__lte=until).order_by(
            "-created_at"
        )[:BRIEF_NOTES_MAX]
    )


_LIST_MARK = re.compile(r"^\s*(?:[-*•·–]|\d{1,2}[.)])\s*")


def note_lines(text: str) -> list[str]:
    """One brief item per line the person wrote, without the bullets or numbers they typed."""
    return [line for raw in text.splitlines() if (line := _LIST_MARK.sub("", raw).strip())]


def after_note_for_user(*, note_id, user) -> AfterNote:
    return get_object_or_404(AfterNote.objects.select_related("recap"), id=note_id, user=user)


def after_note_list_for_user(*, user) -> list[AfterNote]:
    # The linked recap is shown by its title, which is in its encrypted data (edits.recap_title).
    return list(AfterNote.objects.filter(user=user).select_related("recap").order_by("-created_at"))


def after_notes_for_recap(*, recap: Recap) -> list[AfterNote]:
    return list(AfterNote.objects.filter(recap=recap, user=recap.user_id).order_by("-created_at"))


def recurring_themes(*, recaps: list[Recap], min_sessions: int = 2) -> list[tuple[str, int]]:
    """Themes that appear in at least `min_sessions` of these recaps, merged by the topic vocabulary
    ("Sleep" and "Sleep problems" are one; edits.theme_key), named by the vocabulary's label or, for
    a theme outside it, as most recently worded; most frequent first."""
    counts: Counter[str] = Counter()
    shown: dict[str, str] = {}
    for recap in recaps:
        seen = set()
        for theme in recap.data.get("themes") or []:
            label = str(theme.get("label") or "")
            key = theme_key(label) if label.strip() else ""
            if key and key not in seen:
                seen.add(key)
                counts[key] += 1
                shown.setdefault(key, theme_shown(label))
    return [(shown[k], n) for k, n in counts.most_common() if n >= min_sessions]


def _moment_to_bring_back(recent: list[Recap], recurring: set[str]) -> tuple[dict | None, Recap | None]:
    """A moment from the latest session that touches a recurring theme (shares a source segment with
    it); failing that, the latest session's first moment."""
    for recap in recent[:1]:
        moments = recap.data.get("moments") or []
        theme_sources = set()
        for theme in recap.data.get("themes") or []:
            if theme_key(str(theme.get("label") or "")) in recurring:
                theme_sources.update(theme.get("sources") or [])
        for moment in moments:
            if theme_sources.intersection(moment.get("sources") or []):
                return moment, recap
        if moments:
            return moments[0], recap
    return None, None


def patterns_recaps_for_user(*, user) -> list[Recap]:
    """The latest sessions, oldest first (a timeline), for Patterns (recaps/view_models.py)."""
    return list(Recap.objects.filter(user=user).order_by("-session_date")[:PATTERNS_SESSIONS_MAX])[::-1]


def recap_unattributed(data: dict) -> bool:
    """True when everything was heard on one unlabelled channel (who said what is unknown)."""
    words = (data.get("stats") or {}).get("words") or {}
    return bool(words.get("unknown")) and not words.get("client") and not words.get("therapist")


def recap_voices(data: dict) -> str | None:
    """In-person sessions (both voices on one microphone): how the recap knows who said what, for one
    line on the recap. "voice_check" or "questions": told apart and named that way; "unsure": not
    told apart with confidence, so the recap is in neutral wording; None for two-channel sessions."""
    voices = (data.get("stats") or {}).get("voices")
    if not voices:
        return None
    return (voices.get("by") or "questions") if voices.get("told_apart") else "unsure"
