"""The person's own changes to a recap, and what a recap is called. Pure functions on ``Recap.data``
(the encrypted JSON): services.py runs them inside a transaction and saves; selectors and views use
the titles, previews and theme topics. No model is imported here, so recaps/models.py may use
``recap_title`` for ``Recap.label``.

Where edits live, all inside the encrypted ``data`` (nothing in plaintext columns):
- ``data["title"]``: the person's own title; absent or "" means the automatic one (``auto_title``);
- an item the person changed carries ``"edited": True`` and keeps its ``sources``; an item they added
  carries ``"added": True`` too and has no sources; a removed item is gone;
- ``data["edits"]``: a minimal log, ``{"at", "what", "section"}`` per change, never any wording.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from datetime import datetime
from functools import lru_cache

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import Truncator

from .engines.topics import SAFETY_TOPICS, Topic, catalogue, topic_hits

TITLE_MAX = 80
WORD_MAX = 60  # "replace X with Y": one word or a short name, not a sentence
ITEM_TEXT_MAX = 600  # as the engines' TEXT_MAX_CHARS
ITEMS_MAX = 12  # next steps or questions, counting those the person added
EDIT_LOG_MAX = 200
PREVIEW_WORDS = 14

# Sections whose items can be removed, in page order, with their names for people.
SECTIONS: dict[str, str] = {
    "summary": "Session Summary",
    "themes": "Themes",
    "insights": "Key insights",
    "next_steps": "Next steps",
    "questions": "Questions for next time",
    "moments": "Moments",
}
ITEM_NAMES: dict[str, str] = {
    "summary": "summary line",
    "themes": "theme",
    "insights": "insight",
    "next_steps": "next step",
    "questions": "question",
    "moments": "moment",
}
# Sections whose items the person can reword or add to.
WRITABLE = ("next_steps", "questions")


# What the edit page says after a change, by code: the code (never any wording) travels in the
# redirect's query string, so the answer shows inside the card that was used, not at the page's top.
OUTCOMES: dict[str, str] = {
    "renamed": "Renamed.",
    "title_auto": "The automatic title is back.",
    "fixed": "Fixed in {n} place{s}.",
    "not_found": "Not found: that word is not in this recap, so nothing changed.",
    "removed": "Removed the {what}.",
    "saved": "Saved the {what}.",
    "added": "Added the {what}.",
}
REFUSALS: dict[str, str] = {
    "empty_wrong": "Write the word to replace.",
    "empty_right": "Write the right word.",
    "empty_item": "Write the {what} first.",
    "long_wrong": f"The word to replace is too long: {WORD_MAX} characters at most.",
    "long_right": f"The right word is too long: {WORD_MAX} characters at most.",
    "long_item": f"That {{what}} is too long: {ITEM_TEXT_MAX} characters at most.",
    "long_title": f"That title is too long: {TITLE_MAX} characters at most.",
    "same_word": "The two words are the same, so there is nothing to fix.",
    "section": "That part of the recap cannot be changed here.",
    "stale": "This recap changed since the page was loaded (another tab?). Nothing was changed.",
    "full": f"A recap can hold {ITEMS_MAX} of those at most.",
    "unchanged": "That is the wording already, so nothing changed.",
    "polishing": "Your recap is still being written. You can edit it once it is ready.",
    "invalid": "That could not be saved. Reload the page and try again.",
}


def outcome_text(code: str, *, section: str = "", n: int = 0) -> tuple[str, bool] | None:
    """(message, is_error) for a code from the query string; None for anything else."""
    what = ITEM_NAMES.get(section, "item")
    if code in OUTCOMES:
        return OUTCOMES[code].format(what=what, n=n, s="" if n == 1 else "s"), False
    if code in REFUSALS:
        return REFUSALS[code].format(what=what), True
    return None


class EditRefused(ValueError):
    """An edit that cannot be made: `code` names it (REFUSALS), str() says it to the person."""

    def __init__(self, code: str, *, section: str = ""):
        self.code = code
        self.section = section
        super().__init__(outcome_text(code, section=section)[0])


# ---- titles, previews, topics ---------------------------------------------------------------------


def normalise_label(label: str) -> str:
    return " ".join(str(label).split()).casefold()


@lru_cache(maxsize=2048)
def theme_topic(label: str) -> Topic | None:
    """The vocabulary's topic a theme label names (recaps/engines/topics.py), so "Sleep" and "Sleep
    problems" are one topic. Conservative: the catalogue's own label, or text that matches the core
    terms of exactly one topic; anything else (a noun the session kept using) is its own theme."""
    key = normalise_label(label)
    if not key:
        return None
    topics = catalogue().topics
    for topic in topics:
        if topic.label.casefold() == key:
            return topic
    core = [tid for tid, (hits, _context) in topic_hits(key).items() if hits]
    if len(core) == 1:
        return next(t for t in topics if t.id == core[0])
    return None


def theme_key(label: str) -> str:
    """One key per topic across sessions: "topic:sleep", or the label itself when no topic fits."""
    topic = theme_topic(label)
    return f"topic:{topic.id}" if topic else f"label:{normalise_label(label)}"


def theme_shown(label: str) -> str:
    """How a merged theme is named: the vocabulary's label, or the label as written."""
    topic = theme_topic(label)
    return topic.label if topic else " ".join(str(label).split())


def short_date(when: datetime) -> str:
    return date_format(timezone.localtime(when), "j M")


def _lower_first(label: str) -> str:
    # "Family" -> "family", but "ADHD and focus" stays as it is.
    if len(label) > 1 and label[1].isupper():
        return label
    return label[:1].lower() + label[1:]


def _title_themes(data: dict) -> list[str]:
    themes = [t for t in data.get("themes") or [] if isinstance(t, dict) and str(t.get("label") or "")]
    themes.sort(key=lambda t: -float(t.get("share") or 0.0))
    labels: list[str] = []
    seen: set[str] = set()
    for theme in themes:
        label = " ".join(str(theme["label"]).split())
        if not label:
            continue
        topic = theme_topic(label)
        # Self-harm and suicide stay in the recap, never in a title seen at a glance on a list.
        if topic is not None and topic.id in SAFETY_TOPICS:
            continue
        key = theme_key(label)
        if key not in seen:
            seen.add(key)
            labels.append(label)
    return labels[:2]


def auto_title(data: dict, *, number: int, session_date: datetime) -> str:
    """ "Sleep and family · 29 Nov" from the two heaviest themes, "Sleep · 29 Nov" from one, and
    "Session 3 · 29 Nov" when there are none."""
    when = short_date(session_date)
    labels = _title_themes(data or {})
    if not labels:
        return f"Session {number} · {when}"
    if len(labels) == 1:
        return f"{labels[0]} · {when}"
    first, second = labels
    joiner = ", " if " and " in f" {first.casefold()} {second.casefold()} " else " and "
    return f"{first}{joiner}{_lower_first(second)} · {when}"


def custom_title(data: dict) -> str:
    return " ".join(str((data or {}).get("title") or "").split())


def title_of(data: dict, *, number: int, session_date: datetime) -> str:
    return custom_title(data) or auto_title(data, number=number, session_date=session_date)


def recap_title(recap) -> str:
    """The session's title wherever it is shown: the person's own, else the automatic one. A recap
    loaded without its data (a deferred field) gets the neutral one rather than a query per row."""
    if "data" in recap.get_deferred_fields():
        return neutral_label(recap)
    return title_of(recap.data or {}, number=recap.number, session_date=recap.session_date)


def dated_title(recap) -> str:
    """The title with the session's date where the person's own title has none: for links and lists
    that show sessions side by side (the brief, Patterns, a choice of sessions)."""
    own = "data" not in recap.get_deferred_fields() and custom_title(recap.data or {})
    return f"{own} · {short_date(recap.session_date)}" if own else recap_title(recap)


def neutral_label(recap) -> str:
    return f"Session {recap.number} · {short_date(recap.session_date)}"


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


# The engines open the summary with the themes ("This session was about work and sleep."), which the
# automatic title already says; the preview takes the next sentence then.
_ABOUT_THEMES = re.compile(r"^(?:this session was about|in the session:? you talked about)\b", re.IGNORECASE)


def recap_preview(data: dict, *, words: int = PREVIEW_WORDS) -> str:
    """The first summary sentence that is not only the themes, cut by words, for the list."""
    sentences = []
    for item in (data or {}).get("summary") or []:
        text = " ".join(str((item or {}).get("text") or "").split())
        sentences += [s for s in _SENTENCE_END.split(text) if s]
    if not sentences:
        return ""
    chosen = next((s for s in sentences if not _ABOUT_THEMES.match(s)), sentences[0])
    return Truncator(chosen).words(words, truncate="…")


def search_text(data: dict, title: str) -> str:
    """What the list's search looks in: the title and the themes (with their topics' names)."""
    parts = [title]
    for theme in (data or {}).get("themes") or []:
        label = str((theme or {}).get("label") or "")
        parts += [label, theme_shown(label)]
    return normalise_label(" ".join(parts))


def search_matches(query: str, haystack: str) -> bool:
    words = normalise_label(query).split()
    return all(word in haystack for word in words)


# ---- edits ----------------------------------------------------------------------------------------


def item_digest(item: dict) -> str:
    """A short fingerprint of an item's wording, sent with its form: a page left open in another tab
    cannot remove or reword a different item after the list changed."""
    keys = ("text", "label", "quote", "reflection")
    payload = json.dumps({k: item.get(k) for k in keys if k in item}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def clean_text(value: str, *, limit: int, field: str, section: str = "") -> str:
    """Whitespace folded; refused when empty or longer than `limit` (codes empty_<field>, long_<field>)."""
    text = " ".join(str(value or "").split())
    if not text:
        raise EditRefused(f"empty_{field}", section=section)
    if len(text) > limit:
        raise EditRefused(f"long_{field}", section=section)
    return text


def rename(data: dict, title: str) -> dict:
    """The person's title; an empty one brings the automatic title back."""
    title = " ".join(str(title or "").split())
    if len(title) > TITLE_MAX:
        raise EditRefused("long_title")
    data = copy.deepcopy(data)
    if title:
        data["title"] = title
    else:
        data.pop("title", None)
    return data


def _word_pattern(wrong: str) -> re.Pattern[str]:
    # Whole words: not inside another word ("art" is not in "start"), nor after an apostrophe ("t" in
    # "don't"); several words match across any spacing.
    body = r"\s+".join(re.escape(w) for w in wrong.split())
    return re.compile(rf"(?<![\w'’]){body}(?!\w)", re.IGNORECASE)


def _cased(found: str, right: str) -> str:
    """Keep the case of what was there where it says something: ALL CAPS stays so, a capital at the
    start of a sentence or a name stays; otherwise the person's wording as typed ("jon" -> "John")."""
    letters = [c for c in found if c.isalpha()]
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return right.upper()
    if found[:1].isupper():
        return right[:1].upper() + right[1:]
    return right


def _text_slots(data: dict):
    """(section, container, key) for every piece of wording in the recap."""
    for section in ("summary", "insights", "next_steps", "questions"):
        for item in data.get(section) or []:
            if isinstance(item, dict):
                yield section, item, "text"
    for theme in data.get("themes") or []:
        if isinstance(theme, dict):
            yield "themes", theme, "label"
    for moment in data.get("moments") or []:
        if isinstance(moment, dict):
            yield "moments", moment, "quote"
            yield "moments", moment, "reflection"
    for part in data.get("full_recap") or []:
        if not isinstance(part, dict):
            continue
        yield "full_recap", part, "subtitle"
        for paragraph in part.get("paragraphs") or []:
            if isinstance(paragraph, dict):
                yield "full_recap", paragraph, "text"


def fix_word(data: dict, wrong: str, right: str) -> tuple[dict, int, list[str]]:
    """Replace a misheard word or name everywhere in the recap. Returns the new data, how many places
    changed and which sections. Every changed item is marked edited; its sources stay."""
    wrong = clean_text(wrong, limit=WORD_MAX, field="wrong")
    right = clean_text(right, limit=WORD_MAX, field="right")
    if wrong == right:
        raise EditRefused("same_word")
    pattern = _word_pattern(wrong)
    data = copy.deepcopy(data)
    count = 0
    sections: list[str] = []

    def replaced(before: str) -> tuple[str, int]:
        changed, pieces, last = 0, [], 0
        for match in pattern.finditer(before):
            new = _cased(match.group(0), right)
            changed += new != match.group(0)
            pieces += [before[last : match.start()], new]
            last = match.end()
        return "".join([*pieces, before[last:]]), changed

    for section, container, key in _text_slots(data):
        before = container.get(key)
        if not isinstance(before, str) or not before:
            continue
        after, changed = replaced(before)
        if not changed:
            continue
        container[key] = after
        container["edited"] = True
        count += changed
        if section not in sections:
            sections.append(section)
    if own := custom_title(data):
        after, changed = replaced(own)
        if changed:
            data["title"] = after
            count += changed
            sections.append("title")
    return data, count, sections


def _checked_index(data: dict, section: str, index: int, digest: str) -> list:
    if section not in SECTIONS:
        raise EditRefused("section")
    items = data.get(section) or []
    if not 0 <= index < len(items) or item_digest(items[index]) != digest:
        raise EditRefused("stale", section=section)
    return items


def remove_item(data: dict, section: str, index: int, digest: str) -> dict:
    data = copy.deepcopy(data)
    items = _checked_index(data, section, index, digest)
    items.pop(index)
    data[section] = items
    return data


def save_item(data: dict, section: str, index: int | None, digest: str, text: str) -> tuple[dict, str]:
    """Reword a next step or question (index given) or add one (index None). Returns the data and
    "edit" or "add"."""
    if section not in WRITABLE:
        raise EditRefused("section")
    text = clean_text(text, limit=ITEM_TEXT_MAX, field="item", section=section)
    data = copy.deepcopy(data)
    if index is None:
        items = data.get(section) or []
        if len(items) >= ITEMS_MAX:
            raise EditRefused("full", section=section)
        items.append({"text": text, "sources": [], "edited": True, "added": True})
        data[section] = items
        return data, "add"
    items = _checked_index(data, section, index, digest)
    if items[index].get("text") == text:
        raise EditRefused("unchanged", section=section)
    items[index]["text"] = text
    items[index]["edited"] = True
    return data, "edit"


def log_edit(data: dict, *, what: str, section: str, at: datetime | None = None) -> dict:
    """One line per change, with no wording in it: when, what kind, which section."""
    at = at or timezone.now()
    log = list(data.get("edits") or [])
    log.append({"at": at.isoformat(timespec="seconds"), "what": what, "section": section})
    data["edits"] = log[-EDIT_LOG_MAX:]
    return data


def export_markdown(recap) -> str:
    """The one-recap Markdown export: the edited recap under its title, changes marked."""
    from .engines.base import RecapResult

    title = dated_title(recap)
    if recap.is_self:
        title += " · Recap in your own voice"
    return RecapResult.from_dict(export_data(recap.data)).to_markdown(title=title)


EDITED_MARK = " (edited)"
ADDED_MARK = " (added by you)"


def export_data(data: dict) -> dict:
    """The recap for the Markdown export, with the person's changes said in the text, since the
    export format (engines/base.py RecapResult) has no field for them."""
    data = copy.deepcopy(data or {})

    def mark(item: dict, key: str) -> None:
        if item.get("edited") and isinstance(item.get(key), str):
            item[key] += ADDED_MARK if item.get("added") else EDITED_MARK

    for section in ("summary", "insights", "next_steps", "questions"):
        for item in data.get(section) or []:
            if isinstance(item, dict):
                mark(item, "text")
    for theme in data.get("themes") or []:
        if isinstance(theme, dict):
            mark(theme, "label")
    for moment in data.get("moments") or []:
        if isinstance(moment, dict):
            mark(moment, "reflection")
    for part in data.get("full_recap") or []:
        for paragraph in (part or {}).get("paragraphs") or []:
            if isinstance(paragraph, dict):
                mark(paragraph, "text")
        if isinstance(part, dict) and part.get("edited") and part.get("subtitle"):
            part["subtitle"] += EDITED_MARK
    return data
