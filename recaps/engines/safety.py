# Pattern tables read best one pattern per line, even when a pattern is long.
# ruff: noqa: E501
"""Self-harm and suicide: notice when the client speaks of it, and never claim what was not said.

When the client speaks of hurting themselves or of suicide, the recap names it gently in the summary
and shows a short support line. The engine never writes a risk *assessment* ("denies suicidal
ideation", "no risk"): a recap records what the person said, and a negated mention ("I'd never hurt
myself") is not written up as a statement about risk either way; it only brings the support line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .base import SourcedText

# 988 is the Suicide & Crisis Lifeline in the US and, since 2023-11-30, in Canada (call or text).
SUPPORT_LINE = (
    "If you are thinking about harming yourself or feel unsafe, you don't have to wait for your next "
    "session: in the US and Canada, call or text 988; elsewhere, contact your local emergency services."
)

_SUICIDE = re.compile(
    r"\b(?:suicid\w*|kill(?:ing)? myself|end(?:ing)? (?:my|it all|my own) ?life|end it all|take my (?:own )?life|"
    r"(?:don't|do not|didn't) want to (?:live(?= anymore| any more|[.,!?]|$)|be alive|be here anymore|wake up)|better off (?:dead|without me)|"
    r"wish i (?:was|were) dead|want(?:ed)? to die|not (?:be|being) (?:here|alive) anymore|if i (?:don't|didn't) live|"
    r"if i wasn't here|overdos\w*)\b",
    re.IGNORECASE,
)
_SELF_HARM = re.compile(
    r"\b(?:self[- ]?harm\w*|(?:hurt|hurting|harm|harming|cut|cutting|burn|burning) (?:myself(?! (?:a|an|some|another) )|my (?:arms?|legs?|wrists?|thighs?|skin))|"
    r"(?:cuts|scars) on my)\b",
    re.IGNORECASE,
)
_THERAPIST_ASKS = re.compile(
    r"\b(?:suicid\w*|kill(?:ing)? yourself|end(?:ing)? your life|hurt(?:ing)? yourself|harm(?:ing)? yourself|cut(?:ting)? yourself|self[- ]?harm\w*)\b",
    re.IGNORECASE,
)
_NEGATED = re.compile(
    r"\b(?:never|not|don't|do not|didn't|wouldn't|won't|no|haven't|hasn't|isn't|aren't)\b[^.?!]{0,30}$",
    re.IGNORECASE,
)
_YES = re.compile(
    r"^(?:yes|yeah|yep|sometimes|a bit|a little|i have|i do|i did|kind of|sort of|mm-hmm|uh-huh)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SafetyMention:
    start: float
    kind: str  # "suicide" | "self_harm"
    affirmed: bool  # said as something that is happening, not denied


def _kind(text: str) -> tuple[str | None, re.Match[str] | None]:
    m = _SUICIDE.search(text)
    if m:
        return "suicide", m
    m = _SELF_HARM.search(text)
    if m:
        return "self_harm", m
    return None, None


def scan(turns: list[tuple[str, float, str]]) -> list[SafetyMention]:
    """(speaker, start, text) in order -> the client's mentions of self-harm or suicide, including a
    "yes" to the therapist asking about it."""
    out: list[SafetyMention] = []
    for i, (speaker, start, text) in enumerate(turns):
        if speaker == "therapist":
            m = _THERAPIST_ASKS.search(text)
            if (
                m
                and i + 1 < len(turns)
                and turns[i + 1][0] != "therapist"
                and _YES.match(turns[i + 1][2].strip())
            ):
                kind = "suicide" if re.search(r"suicid|kill|end", m.group(0), re.IGNORECASE) else "self_harm"
                out.append(SafetyMention(start=turns[i + 1][1], kind=kind, affirmed=True))
                out.append(SafetyMention(start=start, kind=kind, affirmed=False))  # where it was asked
            continue
        kind, match = _kind(text)
        if kind is None or match is None:
            continue
        before = text[: match.start()]
        negated = bool(_NEGATED.search(before)) and "don't want to" not in match.group(0).lower()
        out.append(SafetyMention(start=start, kind=kind, affirmed=not negated))
    return out


def support_line(mentions: list[SafetyMention]) -> SourcedText | None:
    """The fixed support line, citing every mention (a negated one too), or None without any."""
    return SourcedText(text=SUPPORT_LINE, sources=sorted({m.start for m in mentions})) if mentions else None


def with_summary_sentence(summary: list[SourcedText], mentions: list[SafetyMention]) -> list[SourcedText]:
    """The summary with its gentle sentence about self-harm or suicide (affirmed mentions only), third
    at most, so it is never buried; alone, it reads "You spoke about…"."""
    sentence = summary_sentence(mentions)
    if not sentence:
        return list(summary)
    if not summary:
        sentence = sentence.replace("You also spoke", "You spoke")
    where = sorted({m.start for m in mentions if m.affirmed})
    out = list(summary)
    out.insert(min(2, len(out)), SourcedText(text=sentence, sources=where))
    return out


def summary_sentence(mentions: list[SafetyMention]) -> str | None:
    kinds = {m.kind for m in mentions if m.affirmed}
    if not kinds:
        return None
    if kinds == {"self_harm"}:
        return "You also spoke about self-harm."
    if kinds == {"suicide"}:
        return "You also spoke about thoughts of suicide."
    return "You also spoke about self-harm and thoughts of suicide."
