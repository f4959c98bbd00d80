# Pattern tables read best one pattern per line, even when a pattern is long.
# ruff: noqa: E501
"""Checks on a generated recap that go beyond ``base.validate``: is each item *supported* by the
segments it cites, not just pointing at real ones?

A language model writes fluent lines whether or not they were said. ``check`` drops, before anything
is saved, every item that:
- cites no segment, or a segment that does not exist (``unknown_cite``);
- states a risk, safety or diagnostic claim the cited segments do not make, with the same polarity
  ("You denied thoughts of suicide", "no risk", "signs of depression"; ``risk_not_said``). This is
  safety.py's rule for every engine: a recap never writes a risk assessment that was not said;
- is voiced as the client's ("You …") but cites only the therapist, or as the therapist's ("Your
  therapist …") but cites only the client (``wrong_speaker``);
- is a Moment whose quote is not, word for word, in a cited segment (``invented_quote``), or quotes
  a word the recogniser was unsure of (``unsure_quote``);
- has content words that the cited segments do not carry: fewer than half of its content stems
  (text.content_stems, which leaves out pronouns, so "you"/"your" and "I"/"my" need no matching)
  appear in the cited segments (``unsupported``).

Each dropped item counts once, under the first rule it breaks (in the order above); ``kept`` counts
the rest. The report holds counts only, so it can be logged and stored.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from . import compose as C
from . import safety as S
from .base import Moment, RecapResult, Section, Segment, SourcedText, Theme, _Starts, normalise_speaker
from .text import clean_text, content_stems, stem

log = logging.getLogger(__name__)

REASONS: tuple[str, ...] = (
    "unknown_cite",
    "risk_not_said",
    "wrong_speaker",
    "invented_quote",
    "unsure_quote",
    "unsupported",
)

# A stem in an item is supported when at least this share of them is found in the cited segments.
SUPPORT_MIN = 0.5

VOICES: tuple[str, ...] = ("client", "therapist", "both", "")


@dataclass(frozen=True)
class Voiced(SourcedText):
    """A line with the voice the model said it speaks in: "client" (what you said, felt, decided),
    "therapist" (what your therapist said), "both" (agreed together) or "" (not said). The text's own
    opening ("You …", "Your therapist …") wins over this when the two disagree. ``base.validate``
    turns these back into plain SourcedText, so the voice is never stored."""

    speaker: str = ""


# Words that describe the conversation rather than what was said in it: a line needs no support for
# "Your therapist suggested" or "You agreed", only for what was suggested or agreed.
_META_WORDS = """
    therapist therapists client session sessions suggest suggested suggests suggestion agree agreed agrees
    agreement describe described mention mentioned spoke speak explain explained share shared reflect
    reflected reflection discuss discussed explore explored decide decided decision plan plans planned
    notice noticed realise realised realize realized recognise recognised recognize recognized note noted
    name named idea ideas together step steps
"""
META_STEMS: frozenset[str] = frozenset(stem(w) for w in _META_WORDS.split())

_THERAPIST_VOICE = re.compile(r"^\W*(?:your|the) (?:therapist|counsel+or)\b", re.IGNORECASE)
_BOTH_VOICE = re.compile(
    r"^\W*(?:you and your (?:therapist|counsel+or)|you both|both of you|together,? you)\b", re.IGNORECASE
)
_CLIENT_VOICE = re.compile(r"^\W*(?:you|your|you're|you've|you'll|you'd|yours|yourself)\b", re.IGNORECASE)

# --- risk, safety and diagnosis ----------------------------------------------------------------------

# Each family must be found in the cited segments, with the same polarity, whenever an item names it.
# safety.py's patterns are in the speaker's first person ("kill myself"); a recap line is in the
# second person ("kill yourself"), so each family has both.
_RISK_FAMILIES: dict[str, tuple[re.Pattern[str], ...]] = {
    "suicide": (
        S._SUICIDE,
        re.compile(
            r"\b(?:suicid\w*|kill(?:ing)? (?:yourself|themselves)|end(?:ing)? (?:your|their) (?:own )?life|take your (?:own )?life|want(?:ed|s)? to die|better off dead|overdos\w*)\b",
            re.IGNORECASE,
        ),
    ),
    "self_harm": (
        S._SELF_HARM,
        re.compile(
            r"\b(?:self[- ]?harm\w*|self[- ]?injur\w*|(?:hurt|hurting|harm|harming|cut|cutting|burn|burning) (?:yourself|themselves))\b",
            re.IGNORECASE,
        ),
    ),
    "risk": (
        re.compile(
            r"\b(?:at[- ]risk|risks?|safety (?:plan|concerns?|issues?|check)|ideation|danger to (?:yourself|myself|themselves|others)|self[- ]destructive|imminent|unsafe)\b",
            re.IGNORECASE,
        ),
    ),
    "denial": (re.compile(r"\bden(?:y|ies|ied|ying|ial)\b", re.IGNORECASE),),
    "diagnosis": (
        re.compile(
            r"\b(?:diagnos\w*|disorders?|depression|depressive|depressed|clinical(?:ly)?|symptoms?|syndrome|ptsd|c-ptsd|bipolar|manic|mania|ocd|adhd|autis\w*|schizo\w*|psychos[ie]s|psychotic|anorexi\w*|bulimi\w*|insomnia|mental(?:ly)? ill(?:ness)?|medicat\w*|prescri\w*|antidepressants?|trauma(?:tic|tised|tized)?|addict(?:ion|ed)?|alcoholi[cs]m?)\b",
            re.IGNORECASE,
        ),
    ),
}
# A negation shortly before the term, in the same sentence: "never", "no", "not", "denied", "without".
_NEGATION_BEFORE = re.compile(
    r"\b(?:never|not|no|none|nothing|don't|do not|didn't|did not|doesn't|wouldn't|won't|haven't|hasn't|isn't|aren't|wasn't|weren't|without|den(?:y|ies|ied|ying)|free of|absence of|rule[sd]? out|ruling out)\b[^.?!]{0,40}$",
    re.IGNORECASE,
)


def _mentions(text: str) -> set[tuple[str, bool]]:
    """(family, negated) for every risk, safety or diagnostic term in ``text``."""
    out: set[tuple[str, bool]] = set()
    for family, patterns in _RISK_FAMILIES.items():
        for pattern in patterns:
            for m in pattern.finditer(text):
                out.add((family, bool(_NEGATION_BEFORE.search(text[: m.start()]))))
    return out


# --- helpers ------------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return " ".join(text.casefold().split())


def _norm_quote(text: str) -> str:
    return _norm(text).strip(" \"'.,;:!?…-")


def voice(text: str, declared: str = "") -> str:
    """Whose words a line reports: read from its opening, else what the model declared."""
    if _BOTH_VOICE.match(text):
        return "both"
    if _THERAPIST_VOICE.match(text):
        return "therapist"
    if _CLIENT_VOICE.match(text):
        return "client"
    return declared if declared in ("client", "therapist", "both") else ""


def _stem_found(s: str, available: set[str]) -> bool:
    if s in available:
        return True
    # "stress"/"stressful", "rest"/"restful": a shared start of four letters or more.
    return len(s) >= 4 and any(len(a) >= 4 and (a.startswith(s) or s.startswith(a)) for a in available)


class _Cited:
    """The segments an item's sources point at."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        self.starts = _Starts(segments)
        self.by_start: dict[float, list[Segment]] = {}
        for seg in segments:
            hit = self.starts.match(float(seg.start))
            if hit is not None:
                self.by_start.setdefault(hit, []).append(seg)
        self._stems: dict[float, set[str]] = {}
        self._texts: dict[float, tuple[str, str]] = {}

    def segments(self, sources: Sequence[float]) -> list[Segment] | None:
        snapped = self.starts.snap(sources)
        if snapped is None:
            return None
        return [seg for start in snapped for seg in self.by_start.get(start, ())]

    def stems(self, seg: Segment) -> set[str]:
        key = float(seg.start)
        if key not in self._stems:
            self._stems[key] = set(content_stems(seg.text))
        return self._stems[key]

    def texts(self, seg: Segment) -> tuple[str, str]:
        """The segment's text as recorded and as cleaned (fillers, stutters and tags removed), both
        normalised: a quote may be taken from either."""
        key = float(seg.start)
        if key not in self._texts:
            self._texts[key] = (_norm(seg.text), _norm(clean_text(seg.text)))
        return self._texts[key]


def _risk_ok(text: str, cited: list[Segment]) -> bool:
    said = set()
    for seg in cited:
        said |= _mentions(seg.text)
    return _mentions(text) <= said


def _speaker_ok(line_voice: str, cited: list[Segment]) -> bool:
    speakers = {normalise_speaker(s.speaker) for s in cited}
    if line_voice == "client":
        return speakers != {"therapist"}
    if line_voice == "therapist":
        return speakers != {"client"}
    return True


def _supported(text: str, cited: list[Segment], index: _Cited) -> bool:
    wanted = [s for s in content_stems(text) if s not in META_STEMS]
    if not wanted:
        return True
    available: set[str] = set()
    for seg in cited:
        available |= index.stems(seg)
    found = sum(1 for s in wanted if _stem_found(s, available))
    return found >= SUPPORT_MIN * len(wanted)


def _quote_segment(quote: str, cited: list[Segment], index: _Cited) -> Segment | None:
    q = _norm_quote(quote)
    if not q:
        return None
    for seg in cited:
        if any(q in t for t in index.texts(seg)):
            return seg
    return None


def quote_source(quote: str, sources: Sequence[float], segments: Sequence[Segment]) -> Segment | None:
    """The cited segment that holds ``quote`` word for word (after whitespace and case), or None."""
    index = _Cited(segments)
    cited = index.segments(sources)
    return _quote_segment(quote, cited, index) if cited else None


def _unsure_in_quote(quote: str, seg: Segment) -> bool:
    if seg.unsure_whole:
        return True
    if not seg.unsure:
        return False
    doubted = C.unsure_words(seg.text, seg.unsure)
    return any(w.strip(".,;:!?'\"").lower() in doubted for w in quote.split())


# --- the check ----------------------------------------------------------------------------------------


def _line_reason(text: str, sources: Sequence[float], declared: str, index: _Cited) -> str | None:
    cited = index.segments(sources)
    if not cited:
        return "unknown_cite"
    if not _risk_ok(text, cited):
        return "risk_not_said"
    if not _speaker_ok(voice(text, declared), cited):
        return "wrong_speaker"
    if not _supported(text, cited, index):
        return "unsupported"
    return None


def _moment(moment: Moment, index: _Cited) -> tuple[Moment | None, str | None]:
    cited = index.segments(moment.sources)
    if not cited:
        return None, "unknown_cite"
    if not _risk_ok(moment.reflection, cited):
        return None, "risk_not_said"
    if not _speaker_ok(voice(moment.reflection), cited):
        return None, "wrong_speaker"
    seg = _quote_segment(moment.quote, cited, index)
    if seg is None:
        return None, "invented_quote"
    if _unsure_in_quote(moment.quote, seg):
        return None, "unsure_quote"
    if not _supported(moment.reflection, cited, index):
        return None, "unsupported"
    # Where the quote was said and who said it are facts of the transcript, not the model's to claim.
    offset = index.starts.match(float(seg.start))
    speaker = normalise_speaker(seg.speaker)
    return (
        replace(
            moment,
            offset=offset if offset is not None else float(seg.start),
            speaker=speaker if speaker != "unknown" else "",
        ),
        None,
    )


def check(result: RecapResult, segments: Sequence[Segment]) -> tuple[RecapResult, dict[str, int]]:
    """``result`` without the items the cited segments do not support, and the counts per reason
    (every key of REASONS, plus "kept"). The safety line is the engine's own fixed text and is left
    alone; ``base.validate`` still runs afterwards for sizes, duplicates and exact sources."""
    index = _Cited(segments)
    report = dict.fromkeys((*REASONS, "kept"), 0)

    def tally(reason: str | None) -> bool:
        report[reason or "kept"] += 1
        return reason is None

    def lines(items: Sequence[SourcedText]) -> list[SourcedText]:
        return [
            item
            for item in items
            if tally(_line_reason(item.text, item.sources, getattr(item, "speaker", ""), index))
        ]

    themes: list[Theme] = [t for t in result.themes if tally(_line_reason(t.label, t.sources, "", index))]

    moments: list[Moment] = []
    for moment in result.moments:
        kept, reason = _moment(moment, index)
        tally(reason)
        if kept is not None:
            moments.append(kept)

    sections: list[Section] = []
    for section in result.full_recap:
        paragraphs = lines(section.paragraphs)
        if paragraphs:
            sections.append(replace(section, paragraphs=paragraphs))

    checked = replace(
        result,
        summary=lines(result.summary),
        themes=themes,
        insights=lines(result.insights),
        next_steps=lines(result.next_steps),
        questions=lines(result.questions),
        moments=moments,
        full_recap=sections,
    )
    log.info("llm recap check: %s", " ".join(f"{k}={v}" for k, v in report.items()))
    return checked, report
