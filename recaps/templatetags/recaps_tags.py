from django import template

register = template.Library()


@register.filter
def mmss(seconds) -> str:
    """Seconds into the session as mm:ss (h:mm:ss past an hour)."""
    try:
        total = max(0, int(float(seconds)))
    except (TypeError, ValueError):
        return ""
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


@register.filter
def first_offset(item) -> float | None:
    sources = (item or {}).get("sources") or []
    return min(sources) if sources else None


@register.filter
def percent(share) -> int:
    try:
        return round(float(share) * 100)
    except (TypeError, ValueError):
        return 0


def _whole_seconds(seconds) -> int:
    try:
        return max(0, int(float(seconds or 0)))
    except (TypeError, ValueError):
        return 0


@register.filter
def duration_words(seconds) -> str:
    """A length of time in words, as people say it: 42 -> "42 s", 221 -> "3 min 41 s", 3900 ->
    "1 h 5 min" (past an hour the seconds no longer matter and are dropped; never rounded up, so a
    captured time is never overstated). Not a number, or nothing: "0 s"."""
    h, rest = divmod(_whole_seconds(seconds), 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h} h {m} min" if m else f"{h} h"
    if m:
        return f"{m} min {s} s" if s else f"{m} min"
    return f"{s} s"


@register.filter
def duration_iso(seconds) -> str:
    """The same length for a <time datetime="..."> (ISO 8601): 221 -> "PT3M41S"."""
    h, rest = divmod(_whole_seconds(seconds), 3600)
    m, s = divmod(rest, 60)
    return "PT" + (f"{h}H" if h else "") + (f"{m}M" if m else "") + (f"{s}S" if s or not (h or m) else "")


# The older name, still used by templates: the same words (it said "65 min" past an hour before).
minutes_words = register.filter("minutes_words", duration_words)
