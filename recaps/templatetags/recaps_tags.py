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


@register.filter
def minutes_words(seconds) -> str:
    """ "221" -> "3 min 41 s": people think of a session in minutes, not in raw seconds."""
    try:
        total = max(0, round(float(seconds or 0)))
    except (TypeError, ValueError):
        return "0 s"
    m, s = divmod(total, 60)
    if not m:
        return f"{s} s"
    return f"{m} min {s} s" if s else f"{m} min"
