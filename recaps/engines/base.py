"""Recap data model, engine protocol and the validator every engine's output passes through.

Pure Python on purpose (no Django): engines run inside the Celery recap task, in benchmarks and in
plain unit tests, and must work offline.

The recap is all the person keeps once the transcript is deleted, so every item carries
``sources``: the start offsets (seconds) of the transcript segments it was built from. ``validate``
drops anything that cannot be traced back to a real segment, whichever engine produced it.
"""

from __future__ import annotations

import bisect
import importlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, runtime_checkable

Speaker = Literal["client", "therapist", "unknown"]
SPEAKERS: tuple[str, ...] = ("client", "therapist", "unknown")

# Offsets are stored as floats and travel through JSON and an encrypted field; 10 ms is far below any
# segment length, so it tolerates float noise without letting an item point at the wrong segment.
SOURCE_TOLERANCE_S = 0.01

# 2: moments carry their kind and speaker, the recap may carry a safety line, the full recap has a
# "The plan" phase. Version 1 recaps load unchanged (missing fields take their defaults).
SCHEMA_VERSION = 2

# Section sizes. The product shows these on a phone to someone who may be tired or foggy: short lists
# are the point, so the validator enforces the caps for every engine, not just the local one.
SUMMARY_MAX = 6
MOMENTS_MAX = 7
THEMES_MAX = 6
INSIGHTS_MAX = 6
NEXT_STEPS_MAX = 8
QUESTIONS_MAX = 5
SECTIONS_MAX = 10
PARAGRAPHS_PER_SECTION_MAX = 4
TEXT_MAX_CHARS = 600
QUOTE_MAX_CHARS = 320

FULL_RECAP_TITLES: tuple[str, ...] = ("Opening", "Main threads", "The plan", "Closing")

# What a Moment is, so its label can be truthful: the client's own realisation, change talk or
# feeling, or the therapist's reflection. "" for recaps stored before schema 2.
MOMENT_KINDS: tuple[str, ...] = (
    "realisation",
    "change",
    "commitment",
    "feeling",
    "reflection",
    "sustain",
    "",
)


def normalise_speaker(value: object) -> str:
    """Map whatever the transcript calls a speaker onto the three roles the recap understands."""
    text = str(value or "").strip().lower()
    if text in ("client", "therapist"):
        return text
    return "unknown"


# Below this average log-probability a recogniser segment is too unsure to quote (faster-whisper's own
# fallback threshold is -1.0: https://github.com/SYSTRAN/faster-whisper, `log_prob_threshold`).
UNSURE_AVG_LOGPROB = -1.0


@dataclass(frozen=True)
class Segment:
    """One stretch of transcript. The recogniser's confidence travels with it so the engine never
    quotes words that faster-whisper was unsure of: ``unsure`` holds character spans of ``text``
    whose word probability was low; ``avg_logprob`` and ``no_speech_prob`` are the segment's own.
    All three are optional, so hand-written transcripts and old rows load unchanged."""

    speaker: str
    start: float
    end: float
    text: str
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    unsure: tuple[tuple[int, int], ...] = ()

    @property
    def unsure_whole(self) -> bool:
        return self.avg_logprob is not None and self.avg_logprob < UNSURE_AVG_LOGPROB

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "speaker": self.speaker,
            "start": self.start,
            "end": self.end,
            "text": self.text,
        }
        if self.avg_logprob is not None:
            out["avg_logprob"] = self.avg_logprob
        if self.no_speech_prob is not None:
            out["no_speech_prob"] = self.no_speech_prob
        if self.unsure:
            out["unsure"] = [list(span) for span in self.unsure]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Segment:
        return cls(
            speaker=normalise_speaker(data.get("speaker")),
            start=float(data.get("start", 0.0)),
            end=float(data.get("end", data.get("start", 0.0))),
            text=str(data.get("text") or ""),
            avg_logprob=_optional_float(data.get("avg_logprob")),
            no_speech_prob=_optional_float(data.get("no_speech_prob")),
            unsure=_spans(data.get("unsure")),
        )


def _optional_float(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _spans(value: Any) -> tuple[tuple[int, int], ...]:
    out = []
    for span in value or ():
        try:
            a, b = int(span[0]), int(span[1])
        except (TypeError, ValueError, IndexError, KeyError):
            continue
        if 0 <= a < b:
            out.append((a, b))
    return tuple(out)


def _floats(values: Any) -> list[float]:
    out: list[float] = []
    for v in values or ():
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out.append(f)
    return out


@dataclass(frozen=True)
class SourcedText:
    text: str
    sources: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "sources": list(self.sources)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SourcedText:
        return cls(text=str(data.get("text") or ""), sources=_floats(data.get("sources")))


@dataclass(frozen=True)
class Theme:
    label: str
    share: float
    sources: list[float] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "share": self.share, "sources": list(self.sources)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Theme:
        return cls(
            label=str(data.get("label") or ""),
            share=float(data.get("share") or 0.0),
            sources=_floats(data.get("sources")),
        )


@dataclass(frozen=True)
class Moment:
    reflection: str
    quote: str
    offset: float
    sources: list[float] = field(default_factory=list)
    kind: str = ""
    speaker: str = ""  # who said the quote: "client" or "therapist"; "" in schema 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "reflection": self.reflection,
            "quote": self.quote,
            "offset": self.offset,
            "sources": list(self.sources),
            "kind": self.kind,
            "speaker": self.speaker,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Moment:
        kind = str(data.get("kind") or "")
        speaker = str(data.get("speaker") or "")
        return cls(
            reflection=str(data.get("reflection") or ""),
            quote=str(data.get("quote") or ""),
            offset=float(data.get("offset") or 0.0),
            sources=_floats(data.get("sources")),
            kind=kind if kind in MOMENT_KINDS else "",
            speaker=speaker if speaker in SPEAKERS else "",
        )


@dataclass(frozen=True)
class Section:
    title: str
    paragraphs: list[SourcedText] = field(default_factory=list)
    # A thread's topic ("Sleep") for "Main threads" sections; kept apart from the title so the viewer
    # can rely on the title being one of FULL_RECAP_TITLES.
    subtitle: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "subtitle": self.subtitle,
            "paragraphs": [p.to_dict() for p in self.paragraphs],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Section:
        return cls(
            title=str(data.get("title") or ""),
            subtitle=str(data.get("subtitle") or ""),
            paragraphs=[SourcedText.from_dict(p) for p in data.get("paragraphs") or ()],
        )


@dataclass(frozen=True)
class Stats:
    duration_s: float = 0.0
    speech_s: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SPEAKERS, 0.0))
    words: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SPEAKERS, 0))
    segments: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "duration_s": self.duration_s,
            "speech_s": dict(self.speech_s),
            "words": dict(self.words),
            "segments": self.segments,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stats:
        # Unknown keys (the service adds "recorded_s") are ignored here, so old and new recaps load.
        return cls(
            duration_s=float(data.get("duration_s") or 0.0),
            speech_s={str(k): float(v) for k, v in (data.get("speech_s") or {}).items()},
            words={str(k): int(v) for k, v in (data.get("words") or {}).items()},
            segments=int(data.get("segments") or 0),
        )


_MARKDOWN_HEADINGS = (
    "Session Summary",
    "Themes",
    "Key insights",
    "Next steps",
    "Questions for next time",
    "Moments",
    "Full recap",
)


@dataclass(frozen=True)
class RecapResult:
    summary: list[SourcedText] = field(default_factory=list)
    themes: list[Theme] = field(default_factory=list)
    insights: list[SourcedText] = field(default_factory=list)
    next_steps: list[SourcedText] = field(default_factory=list)
    questions: list[SourcedText] = field(default_factory=list)
    moments: list[Moment] = field(default_factory=list)
    full_recap: list[Section] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    engine: str = ""
    schema: int = SCHEMA_VERSION
    # Shown when the client spoke of self-harm or suicide: a short support line, sourced to where it
    # came up. None when it did not come up (and in schema 1 recaps).
    safety: SourcedText | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "engine": self.engine,
            "summary": [s.to_dict() for s in self.summary],
            "themes": [t.to_dict() for t in self.themes],
            "insights": [s.to_dict() for s in self.insights],
            "next_steps": [s.to_dict() for s in self.next_steps],
            "questions": [s.to_dict() for s in self.questions],
            "moments": [m.to_dict() for m in self.moments],
            "full_recap": [s.to_dict() for s in self.full_recap],
            "stats": self.stats.to_dict(),
            "safety": self.safety.to_dict() if self.safety else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecapResult:
        def items(key: str, kind: Any) -> list[Any]:
            return [kind.from_dict(x) for x in data.get(key) or () if isinstance(x, Mapping)]

        return cls(
            summary=items("summary", SourcedText),
            themes=items("themes", Theme),
            insights=items("insights", SourcedText),
            next_steps=items("next_steps", SourcedText),
            questions=items("questions", SourcedText),
            moments=items("moments", Moment),
            full_recap=items("full_recap", Section),
            stats=Stats.from_dict(data.get("stats") or {}),
            engine=str(data.get("engine") or ""),
            # A stored recap without a version predates versioning: schema 1.
            schema=int(data.get("schema") or 1),
            safety=SourcedText.from_dict(data["safety"]) if isinstance(data.get("safety"), Mapping) else None,
        )

    def to_markdown(self, *, title: str = "Session recap") -> str:
        """Export for the person to keep. Offsets are shown as mm:ss so an item can be placed in the
        session without the transcript, which no longer exists."""
        lines: list[str] = [f"# {_md_line(title)}", ""]

        def bullets(items: Sequence[SourcedText]) -> None:
            if not items:
                lines.append("_Nothing for this section._")
            for item in items:
                lines.append(f"- {_md_line(item.text)}{_md_when(item.sources)}")
            lines.append("")

        lines += [f"## {_MARKDOWN_HEADINGS[0]}", ""]
        if self.summary:
            lines.append(" ".join(_md_line(s.text) for s in self.summary))
        else:
            lines.append("_Not enough was said to summarise._")
        lines.append("")
        if self.safety is not None:
            lines += [f"> {_md_line(self.safety.text)}", ""]
        lines += [f"## {_MARKDOWN_HEADINGS[1]}", ""]
        if not self.themes:
            lines.append("_Nothing for this section._")
        # Heaviest first; a percentage of "mentions" means nothing to a reader, so none is shown.
        for theme in self.themes:
            lines.append(f"- {_md_line(theme.label)}")
        lines.append("")
        lines += [f"## {_MARKDOWN_HEADINGS[2]}", ""]
        bullets(self.insights)
        lines += [f"## {_MARKDOWN_HEADINGS[3]}", ""]
        bullets(self.next_steps)
        lines += [f"## {_MARKDOWN_HEADINGS[4]}", ""]
        bullets(self.questions)
        lines += [f"## {_MARKDOWN_HEADINGS[5]}", ""]
        if not self.moments:
            lines.append("_Nothing for this section._")
        for moment in self.moments:
            lines.append(f"- {_md_line(moment.reflection)} ({_mmss(moment.offset)})")
            lines.append(f"  > {_md_line(moment.quote)}")
        lines.append("")
        lines += [f"## {_MARKDOWN_HEADINGS[6]}", ""]
        if not self.full_recap:
            lines += ["_Nothing for this section._", ""]
        for section in self.full_recap:
            heading = section.title + (f": {section.subtitle}" if section.subtitle else "")
            lines += [f"### {_md_line(heading)}", ""]
            for paragraph in section.paragraphs:
                lines += [_md_line(paragraph.text) + _md_when(paragraph.sources), ""]
        s = self.stats
        lines.append(
            f"_{round(s.duration_s / 60)} min session · {s.segments} segments · "
            f"you spoke {round(s.speech_s.get('client', 0.0) / 60)} min_"
        )
        return "\n".join(lines).rstrip() + "\n"


def _mmss(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def _md_when(sources: Sequence[float]) -> str:
    return f" ({_mmss(min(sources))})" if sources else ""


def _md_line(text: str) -> str:
    # Transcript text is user content: keep it on one line and stop it from opening Markdown blocks.
    flat = " ".join(str(text).split())
    return flat.lstrip("#>")


@runtime_checkable
class RecapEngine(Protocol):
    name: str

    def build(self, segments: Sequence[Segment]) -> RecapResult: ...


# ---------------------------------------------------------------------------------------------------
# Validation


class _Starts:
    """Sorted segment starts, for matching sources in O(log n)."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        self.values = sorted({float(s.start) for s in segments if math.isfinite(float(s.start))})

    def match(self, offset: float) -> float | None:
        i = bisect.bisect_left(self.values, offset - SOURCE_TOLERANCE_S)
        if i < len(self.values) and abs(self.values[i] - offset) <= SOURCE_TOLERANCE_S:
            return self.values[i]
        return None

    def snap(self, sources: Sequence[float]) -> list[float] | None:
        """Sources snapped to the exact segment starts, or None when any one is not a segment start:
        an item that cites something that was never said is not trustworthy as a whole."""
        if not sources:
            return None
        out = set()
        for offset in sources:
            hit = self.match(offset)
            if hit is None:
                return None
            out.add(hit)
        return sorted(out)


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def _valid_texts(items: Sequence[SourcedText], starts: _Starts, cap: int) -> list[SourcedText]:
    out: list[SourcedText] = []
    seen: set[str] = set()
    for item in items:
        text = _clip(item.text, TEXT_MAX_CHARS)
        sources = starts.snap(item.sources)
        key = text.casefold()
        if not text or sources is None or key in seen:
            continue
        seen.add(key)
        out.append(SourcedText(text=text, sources=sources))
        if len(out) >= cap:
            break
    return out


def ordered_segments(segments: Sequence[Segment]) -> list[Segment]:
    """Segments as every engine reads them: speakers normalised, times as floats, those without a
    usable start left out, in time order. ``replace()``, not a new Segment: every field (the
    recogniser's confidence too) comes along."""
    return sorted(
        (
            replace(s, speaker=normalise_speaker(s.speaker), start=float(s.start), end=float(s.end))
            for s in segments
            if math.isfinite(float(s.start))
        ),
        key=lambda s: (s.start, s.end),
    )


def compute_stats(segments: Sequence[Segment]) -> Stats:
    """Stats from the segments themselves, so no engine can misreport them. Lines that are only
    ASR hallucinations or sound tags ("Thanks for watching!", "[MUSIC]") do not count as speech,
    and fillers ("um") do not count as words."""
    from .text import speech_words  # local import: text.py pulls in segtok

    speech = dict.fromkeys(SPEAKERS, 0.0)
    words = dict.fromkeys(SPEAKERS, 0)
    first, last, count = math.inf, -math.inf, 0
    for seg in segments:
        count += 1
        first = min(first, seg.start)
        last = max(last, seg.end, seg.start)
        n = speech_words(seg.text)
        if not n:
            continue
        role = normalise_speaker(seg.speaker)
        speech[role] += max(0.0, seg.end - seg.start)
        words[role] += n
    duration = (last - first) if count else 0.0
    return Stats(
        duration_s=round(max(0.0, duration), 1),
        speech_s={k: round(v, 1) for k, v in speech.items()},
        words=words,
        segments=count,
    )


def validate(result: RecapResult, segments: Sequence[Segment]) -> RecapResult:
    """Keep only what can be traced to the transcript and fits the section sizes.

    Runs on every engine's output (``get_engine`` wraps engines so callers cannot skip it). It never
    adds content: it drops, deduplicates, snaps sources to exact segment starts and clips lengths.
    """
    starts = _Starts(segments)

    themes: list[Theme] = []
    seen_labels: set[str] = set()
    for theme in result.themes:
        label = _clip(theme.label, 60)
        sources = starts.snap(theme.sources)
        if not label or sources is None or label.casefold() in seen_labels:
            continue
        share = theme.share if math.isfinite(theme.share) else 0.0
        seen_labels.add(label.casefold())
        themes.append(Theme(label=label, share=round(min(1.0, max(0.0, share)), 3), sources=sources))
        if len(themes) >= THEMES_MAX:
            break

    moments: list[Moment] = []
    used_offsets: set[float] = set()
    for moment in result.moments:
        sources = starts.snap(moment.sources)
        offset = starts.match(moment.offset)
        quote = _clip(moment.quote, QUOTE_MAX_CHARS)
        reflection = _clip(moment.reflection, 200)
        # The offset is where the viewer says the moment happened, so it must be one of its sources.
        if sources is None or offset is None or offset not in sources or not quote or not reflection:
            continue
        if offset in used_offsets:
            continue
        used_offsets.add(offset)
        moments.append(replace(moment, reflection=reflection, quote=quote, offset=offset, sources=sources))
        if len(moments) >= MOMENTS_MAX:
            break
    moments.sort(key=lambda m: m.offset)

    sections: list[Section] = []
    for section in result.full_recap:
        if section.title not in FULL_RECAP_TITLES:
            continue
        paragraphs = _valid_texts(section.paragraphs, starts, PARAGRAPHS_PER_SECTION_MAX)
        if paragraphs:
            sections.append(
                Section(title=section.title, subtitle=_clip(section.subtitle, 60), paragraphs=paragraphs)
            )
        if len(sections) >= SECTIONS_MAX:
            break

    safety = None
    if result.safety is not None:
        # The support line is fixed text; what must be traceable is where the subject came up.
        kept = _valid_texts([result.safety], starts, 1)
        safety = kept[0] if kept else None

    return replace(
        result,
        safety=safety,
        summary=_valid_texts(result.summary, starts, SUMMARY_MAX),
        themes=themes,
        insights=_valid_texts(result.insights, starts, INSIGHTS_MAX),
        next_steps=_valid_texts(result.next_steps, starts, NEXT_STEPS_MAX),
        questions=_valid_texts(result.questions, starts, QUESTIONS_MAX),
        moments=moments,
        full_recap=sections,
        stats=compute_stats(segments),
        schema=SCHEMA_VERSION,
    )


# ---------------------------------------------------------------------------------------------------
# Registry

# Import paths, not classes, so a future engine with heavy dependencies costs nothing until chosen.
_ENGINES: dict[str, str] = {
    "local": ".local:LocalEngine",
    # Needs settings=LlmSettings(...) (recaps/engines/llm_client.py); off unless RECAP_LLM_URL is set.
    "llm": ".llm:LlmEngine",
}


class _ValidatedEngine:
    """Wraps an engine so that ``validate`` always runs on its output."""

    def __init__(self, inner: RecapEngine) -> None:
        self._inner = inner
        self.name = inner.name

    def build(self, segments: Sequence[Segment]) -> RecapResult:
        segments = list(segments)
        result = self._inner.build(segments)
        return validate(replace(result, engine=result.engine or self.name), segments)

    def __repr__(self) -> str:
        return f"<validated {self._inner!r}>"


def get_engine(name: str = "local", **options) -> RecapEngine:
    try:
        target = _ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown recap engine {name!r}; known: {', '.join(sorted(_ENGINES))}") from None
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name, __package__)
    return _ValidatedEngine(getattr(module, attr)(**options))
