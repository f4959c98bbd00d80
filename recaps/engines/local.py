"""The local recap engine: extractive, offline, every item traceable to what was said.

Pipeline:
1. clean each segment (fillers, stutters, sound tags, ASR hallucinations) and split it into sentences;
2. rank sentences by TextRank centrality (rank.py) and find themes with YAKE (themes.py);
3. tag what each sentence *does* (cues.py): therapist reflections, suggestions and "next time" agendas,
   client realisations, commitments and open questions;
4. assemble the recap sections, writing second-person sentences only by light templating around the
   extracted words (rewrite.py), each with the start offsets of the segments it came from.

Nothing here invents content: when a swap of pronouns is not safe, the words are quoted verbatim.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from . import cues, rewrite
from .base import (
    INSIGHTS_MAX,
    MOMENTS_MAX,
    NEXT_STEPS_MAX,
    QUESTIONS_MAX,
    Moment,
    RecapResult,
    Section,
    Segment,
    SourcedText,
    Theme,
    compute_stats,
    normalise_speaker,
    validate,
)
from .rank import jaccard, textrank
from .text import clean_sentences, content_stems
from .themes import ThemeCandidate, extract_themes, theme_share


@dataclass(slots=True)
class _Sent:
    idx: int
    seg: int
    speaker: str
    start: float
    end: float
    text: str
    stems: list[str]
    pos: float  # 0..1 through the session, by time
    central: float = 0.0
    reflection: float = 0.0
    suggestion: float = 0.0
    next_time: float = 0.0
    realisation: float = 0.0
    commitment: float = 0.0
    open_thread: float = 0.0
    question: bool = False
    emotion: bool = False
    validated: bool = False
    themes: list[int] = field(default_factory=list)

    @property
    def words(self) -> int:
        return len(self.text.split())


@dataclass
class _Item:
    """A candidate recap line before validation."""

    text: str
    sources: set[float]
    score: float
    stems: list[str]
    at: float  # offset used for chronological order

    def to_sourced(self) -> SourcedText:
        return SourcedText(text=self.text, sources=sorted(self.sources))


class LocalEngine:
    name = "local"

    def build(self, segments: Sequence[Segment]) -> RecapResult:
        segs = sorted(
            (
                Segment(
                    speaker=normalise_speaker(s.speaker), start=float(s.start), end=float(s.end), text=s.text
                )
                for s in segments
                if math.isfinite(float(s.start))
            ),
            key=lambda s: (s.start, s.end),
        )
        sents, seg_texts = _sentences(segs)
        if not sents:
            return validate(RecapResult(engine=self.name, stats=compute_stats(segs)), segs)

        for sent, score in zip(sents, textrank([s.stems for s in sents]), strict=True):
            sent.central = score
        _tag(sents)

        durations = [max(0.0, s.end - s.start) if seg_texts[i] else 0.0 for i, s in enumerate(segs)]
        segment_stems = [set(content_stems(t)) for t in seg_texts]
        themes = extract_themes(
            texts=[t for t in seg_texts],
            segment_stems=segment_stems,
            durations=durations,
            proper_words=_proper_words(sents),
            exclude=_vocatives(sents),
        )
        for t_index, theme in enumerate(themes):
            for sent in sents:
                if sent.seg in theme.segments and all(st in sent.stems for st in theme.stems):
                    sent.themes.append(t_index)

        insights = _insights(sents)
        next_steps = _next_steps(sents)
        questions = _questions(sents)
        result = RecapResult(
            summary=_summary(sents, themes, segs, insights, next_steps, questions),
            themes=[
                Theme(
                    label=_display_label(t),
                    share=round(theme_share(t, durations), 3),
                    sources=sorted({segs[i].start for i in t.segments}),
                )
                for t in themes
            ],
            insights=[i.to_sourced() for i in insights],
            next_steps=[i.to_sourced() for i in next_steps],
            questions=[i.to_sourced() for i in questions],
            moments=_moments(sents, themes, segs),
            full_recap=_full_recap(sents, themes, segs),
            stats=compute_stats(segs),
            engine=self.name,
        )
        return validate(result, segs)


# --- preparation ----------------------------------------------------------------------------------


def _sentences(segs: Sequence[Segment]) -> tuple[list[_Sent], list[str]]:
    if not segs:
        return [], []
    t0 = segs[0].start
    span = max(1e-6, max(s.end for s in segs) - t0)
    sents: list[_Sent] = []
    texts: list[str] = []
    for seg_index, seg in enumerate(segs):
        cleaned = clean_sentences(seg.text)
        texts.append(" ".join(cleaned))
        for text in cleaned:
            sents.append(
                _Sent(
                    idx=len(sents),
                    seg=seg_index,
                    speaker=seg.speaker,
                    start=seg.start,
                    end=seg.end,
                    text=text,
                    stems=content_stems(text),
                    pos=(seg.start - t0) / span,
                )
            )
    return sents, texts


def _proper_words(sents: Sequence[_Sent]) -> set[str]:
    """Words written capitalised away from the start of a sentence: names, "Mum", "Friday"."""
    out: set[str] = set()
    for sent in sents:
        for word in re.findall(r"(?<=[a-z,;] )[A-Z][a-z]+", sent.text):
            out.add(word.lower())
    return out


_GREETING_NAME = re.compile(r"^(?:hi|hello|hey|morning|welcome back|thanks|thank you),?\s+([A-Z][a-z]+)\b")
_CLOSING_NAME = re.compile(r",\s+([A-Z][a-z]+)[.!?]$")


def _vocatives(sents: Sequence[_Sent]) -> set[str]:
    """Names the therapist calls the client by ("Hi Sam", "See you next week, Sam."): the person's
    own name is not a theme of their session."""
    out: set[str] = set()
    for sent in sents:
        if sent.speaker != "therapist":
            continue
        for rx in (_GREETING_NAME, _CLOSING_NAME):
            m = rx.search(sent.text)
            if m:
                out.add(m.group(1).lower())
    return out


def _display_label(theme: ThemeCandidate) -> str:
    return rewrite.capitalise(theme.label)


def _in_sentence_label(theme: ThemeCandidate) -> str:
    return theme.label.title() if theme.proper else theme.label


def _tag(sents: list[_Sent]) -> None:
    for sent in sents:
        sent.emotion = cues.emotional(sent.text)
        if sent.speaker == "therapist":
            sent.reflection = cues.therapist_reflection(sent.text)
            sent.suggestion = cues.therapist_suggestion(sent.text)
            sent.next_time = cues.therapist_next_time(sent.text)
        else:
            # Unknown speakers are treated like the client for the client's own cues: in a recap the
            # person recorded their own microphone, so first-person change talk is most likely theirs.
            sent.realisation = cues.client_realisation(sent.text)
            sent.commitment = cues.client_commitment(sent.text)
            sent.open_thread = cues.client_open_thread(sent.text)
            sent.question = cues.client_real_question(sent.text)
    # A therapist who says "That's a big realisation" is marking what the client just said.
    for i, sent in enumerate(sents):
        if sent.speaker == "therapist" and cues.therapist_validates(sent.text):
            before = [s for s in sents[max(0, i - 4) : i] if s.speaker != "therapist"]
            if before:
                best = max(before, key=lambda s: (s.realisation > 0, s.idx))
                best.validated = True
                best.realisation = max(best.realisation, 0.8)


# --- item helpers ---------------------------------------------------------------------------------


def _dedupe(items: list[_Item], *, threshold: float = 0.5) -> list[_Item]:
    """Merge near-duplicates (same words), keeping the stronger wording and both sources."""
    kept: list[_Item] = []
    for item in sorted(items, key=lambda i: -i.score):
        for other in kept:
            if jaccard(item.stems, other.stems) >= threshold or item.text.casefold() == other.text.casefold():
                other.sources |= item.sources
                break
        else:
            kept.append(item)
    return kept


def _top_chronological(items: list[_Item], cap: int) -> list[_Item]:
    best = sorted(items, key=lambda i: -i.score)[:cap]
    return sorted(best, key=lambda i: i.at)


def _continuation(sents: Sequence[_Sent], sent: _Sent, *, max_words: int = 55) -> list[_Sent]:
    """Sentences that finish a suggestion in the same breath: "…try a wind-down routine. At ten,
    put your phone in the kitchen. Then do the breathing." """
    out: list[_Sent] = []
    total = sent.words
    for nxt in sents[sent.idx + 1 : sent.idx + 3]:
        if nxt.seg != sent.seg or nxt.text.endswith("?") or nxt.reflection:
            break
        starts_step = re.match(
            r"^(?:just|then|and|at|every|each|one|everything|you don't|don't|if|when|put|write|do|keep|use|"
            r"try|set|take|leave|notice|breathe|remember|not)\b",
            nxt.text,
            re.IGNORECASE,
        )
        if not (starts_step or sent.text.endswith(":")) or total + nxt.words > max_words:
            break
        out.append(nxt)
        total += nxt.words
    return out


# --- sections -------------------------------------------------------------------------------------


def _insights(sents: Sequence[_Sent]) -> list[_Item]:
    items: list[_Item] = []
    for sent in sents:
        if sent.speaker != "therapist" and sent.realisation >= 0.5:
            score = sent.realisation + (0.5 if sent.validated else 0.0) + 0.3 * sent.central
            if sent.words >= 6 and len(sent.stems) >= 2:
                items.append(
                    _Item(rewrite.realisation(sent.text), {sent.start}, score, sent.stems, sent.start)
                )
                continue
            # "I hadn't connected that before." only means something with what came just before it,
            # so quote the two together.
            previous = sents[sent.idx - 1] if sent.idx else None
            if previous is not None and previous.speaker == sent.speaker and len(previous.stems) >= 3:
                text = f"You said: {rewrite.quoted(rewrite.strip_lead(previous.text) + ' ' + sent.text)}"
                stems = previous.stems + sent.stems
                items.append(_Item(text, {previous.start, sent.start}, score, stems, previous.start))
            continue
        if sent.words < 6 or len(sent.stems) < 2:
            continue
        if sent.speaker == "therapist" and sent.reflection >= 0.6 and len(sent.stems) >= 3:
            score = 0.4 * sent.reflection + 0.4 * sent.central
            items.append(_Item(rewrite.strip_lead(sent.text), {sent.start}, score, sent.stems, sent.start))
    items = _dedupe(items)
    client = [i for i in items if i.score >= 0.9]
    therapist = [i for i in items if i.score < 0.9]
    # The person's own realisations come first; the therapist's reflections fill in, but never
    # crowd them out.
    chosen = sorted(client, key=lambda i: -i.score)[:INSIGHTS_MAX]
    room = max(0, min(INSIGHTS_MAX - len(chosen), 2 if chosen else 3))
    chosen += sorted(therapist, key=lambda i: -i.score)[:room]
    return sorted(chosen, key=lambda i: i.at)


_DEICTIC = re.compile(r"\b(?:it|that|this|them|those|one of those)\b", re.IGNORECASE)
_ANNOUNCE = re.compile(
    r"^(?:i(?:'d| would) like to suggest|i(?:'d| would) like us to|let's try some)\b", re.IGNORECASE
)


def _next_steps(sents: Sequence[_Sent]) -> list[_Item]:
    items: list[_Item] = []
    for sent in sents:
        if sent.speaker == "therapist" and sent.suggestion >= 0.6:
            if _ANNOUNCE.search(sent.text) and sent.suggestion < 1.0:
                continue
            if _ANNOUNCE.search(sent.text) and len(sent.stems) < 3:
                continue
            parts = [sent, *_continuation(sents, sent)]
            text = " ".join([rewrite.suggestion(parts[0].text), *(p.text for p in parts[1:])])
            stems = [s for p in parts for s in p.stems]
            score = sent.suggestion + 0.3 * sent.pos + 0.2 * sent.central
            item = _Item(text, {sent.start}, score, stems, sent.start)
            # The client taking it up ("Yeah, I can do that") is part of the same step.
            for reply in sents[sent.idx + 1 : sent.idx + 5]:
                if reply.speaker != "therapist" and cues.client_agrees(reply.text):
                    item.sources.add(reply.start)
                    item.score += 0.2
                    break
            items.append(item)
        elif sent.speaker != "therapist" and sent.commitment >= 0.6:
            # "I'll book it tomorrow" points back at the suggestion it answers: it joins that step.
            if _DEICTIC.search(sent.text) and len(sent.stems) < 3:
                target = next(
                    (i for i in reversed(items) if 0 <= sent.start - i.at <= 90 and i.at in i.sources), None
                )
                if target is not None:
                    target.sources.add(sent.start)
                    target.score += 0.2
                continue
            if len(sent.stems) < 2:
                continue
            swapped = rewrite.second_person(sent.text)
            text = swapped if swapped else rewrite.client_said(sent.text)
            score = 0.9 * sent.commitment + 0.3 * sent.pos + 0.1 * sent.central
            items.append(_Item(text, {sent.start}, score, sent.stems, sent.start))
    return _top_chronological(_dedupe(items, threshold=0.45), NEXT_STEPS_MAX)


def _therapist_reply(sents: Sequence[_Sent], sent: _Sent) -> list[_Sent] | None:
    """The therapist's answer to a client question: their next turn's sentences, or None if the
    session ends (or moves on) before they answer."""
    reply: list[_Sent] = []
    for nxt in sents[sent.idx + 1 : sent.idx + 12]:
        if nxt.start - sent.end > 90:
            break
        if nxt.speaker == "therapist":
            reply.append(nxt)
        elif reply:
            break
    return reply or None


def _questions(sents: Sequence[_Sent]) -> list[_Item]:
    items: list[_Item] = []
    consumed: set[int] = set()  # therapist "next time" lines already folded into a client question
    for sent in sents:
        if sent.speaker == "therapist":
            if sent.next_time and sent.idx not in consumed:
                items.append(
                    _Item(
                        rewrite.strip_lead(sent.text),
                        {sent.start},
                        1.0 + 0.2 * sent.pos,
                        sent.stems,
                        sent.start,
                    )
                )
            continue
        if sent.question:
            reply = _therapist_reply(sents, sent)
            settled = reply is not None and not any(cues.therapist_defers(r.text) for r in reply[:3])
            request = cues.client_next_time(sent.text)
            if settled and not request:
                continue
            parts = [sent]
            previous = sents[sent.idx - 1] if sent.idx else None
            # "And the supermarket. Should I go back there…?" needs its short lead-in, and "Will I
            # always be like this? The perfectionism, I mean." its short follow-up.
            if (
                previous is not None
                and previous.seg == sent.seg
                and previous.words <= 4
                and previous.stems
                and not previous.text.endswith("?")
            ):
                parts.insert(0, previous)
            following = sents[sent.idx + 1] if sent.idx + 1 < len(sents) else None
            if (
                following is not None
                and following.seg == sent.seg
                and following.words <= 6
                and not following.text.endswith("?")
            ):
                parts.append(following)
            text = rewrite.strip_lead(" ".join(p.text for p in parts))
            item = _Item(
                text,
                {p.start for p in parts},
                1.1 if request else 0.9,
                [x for p in parts for x in p.stems],
                sent.start,
            )
            for r in (reply or [])[:3]:
                if r.next_time:
                    consumed.add(r.idx)
                    item.sources.add(r.start)
                    if request:  # "Can we talk about Mum next time?" -> the therapist's fuller agenda
                        item.text = rewrite.strip_lead(r.text)
            items.append(item)
        elif sent.open_thread and len(sent.stems) >= 3:
            items.append(
                _Item(
                    rewrite.strip_lead(sent.text),
                    {sent.start},
                    0.5 * sent.open_thread,
                    sent.stems,
                    sent.start,
                )
            )
    merged: list[_Item] = []
    for item in sorted(items, key=lambda i: i.at):
        prev = merged[-1] if merged else None
        if prev is not None and item.at - prev.at <= 60 and jaccard(item.stems, prev.stems) >= 0.2:
            prev.sources |= item.sources
            prev.score = max(prev.score, item.score)
            continue
        merged.append(item)
    return _top_chronological(_dedupe(merged), QUESTIONS_MAX)


def _summary(
    sents: Sequence[_Sent],
    themes: Sequence[ThemeCandidate],
    segs: Sequence[Segment],
    insights: Sequence[_Item],
    next_steps: Sequence[_Item],
    questions: Sequence[_Item],
) -> list[SourcedText]:
    out: list[SourcedText] = []
    used: set[int] = set()

    if themes:
        labels = [_in_sentence_label(t) for t in themes[:3]]
        joined = labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
        # Two sources per theme: where it first came up, and where it came up most centrally.
        sources: set[float] = set()
        for theme in themes[:3]:
            mentions = [s for s in sents if s.seg in theme.segments]
            if mentions:
                sources.add(mentions[0].start)
                sources.add(max(mentions, key=lambda s: s.central).start)
        out.append(SourcedText(text=f"You talked about {joined}.", sources=sorted(sources)))

    def central_client(skip: set[int]) -> _Sent | None:
        pool = [
            s
            for s in sents
            if s.speaker != "therapist"
            and s.idx not in skip
            and 8 <= s.words <= 40
            and not s.text.endswith("?")
            and len(s.stems) >= 3
        ]
        return max(pool, key=lambda s: s.central + 0.3 * s.emotion, default=None)

    # The insight, suggestion and commitment get their own lines below; don't spend the "what you
    # talked about" line on the same sentence.
    for sent in sents:
        if sent.realisation >= 0.5 or sent.commitment or any(sent.start in i.sources for i in insights):
            used.add(sent.idx)
    first = central_client(used)
    if first is not None:
        used.add(first.idx)
        out.append(SourcedText(text=rewrite.client_said(first.text), sources=[first.start]))

    client_insights = [i for i in insights if i.score >= 0.9]
    if client_insights:
        best = max(client_insights, key=lambda i: i.score)
        out.append(SourcedText(text=best.text, sources=sorted(best.sources)))
    else:
        reflections = [s for s in sents if s.reflection >= 0.6 and len(s.stems) >= 3]
        if reflections:
            best_r = max(reflections, key=lambda s: s.central + s.reflection)
            out.append(SourcedText(text=rewrite.therapist_reflected(best_r.text), sources=[best_r.start]))

    suggestions = [
        s for s in sents if s.speaker == "therapist" and s.suggestion >= 0.6 and not _ANNOUNCE.search(s.text)
    ]
    if suggestions:
        top = max(suggestions, key=lambda s: s.suggestion + 0.3 * s.pos + 0.2 * s.central)
        out.append(SourcedText(text=rewrite.therapist_suggested(top.text), sources=[top.start]))

    commitments = [s for s in sents if s.speaker != "therapist" and s.commitment >= 0.6 and len(s.stems) >= 2]
    if commitments:
        top_c = max(commitments, key=lambda s: s.commitment + 0.3 * s.pos + 0.1 * s.central)
        out.append(SourcedText(text=rewrite.client_said(top_c.text), sources=[top_c.start]))

    if questions:
        q = max(questions, key=lambda i: i.score)
        lead = next(
            (s for s in sents if s.start in q.sources and s.speaker == "therapist" and s.next_time), None
        )
        if lead is not None and rewrite.strip_lead(lead.text) == q.text:
            out.append(SourcedText(text=rewrite.next_time(lead.text), sources=sorted(q.sources)))
        else:
            text = f"A question to bring back next time: {rewrite.quoted(q.text)}"
            out.append(SourcedText(text=text, sources=sorted(q.sources)))

    # Short or cue-less sessions: fill up to three with what the person said most centrally.
    while len(out) < 3:
        extra = central_client(used)
        if extra is None:
            break
        used.add(extra.idx)
        out.append(SourcedText(text=rewrite.client_said(extra.text), sources=[extra.start]))
    return out[:6]


def _moment_reflection(sent: _Sent, themes: Sequence[ThemeCandidate]) -> str:
    about = f" about {_in_sentence_label(themes[sent.themes[0]])}" if sent.themes else ""
    if sent.speaker == "therapist":
        if sent.suggestion:
            return "An idea your therapist offered."
        return "Your therapist reflected this back to you."
    if sent.realisation >= 0.5:
        return f"Something you noticed{about}."
    if sent.commitment:
        return "Something you decided you want to try."
    if cues.names_feeling(sent.text):
        return f"A feeling you put into words{about}."
    return f"Something you said{about}."


def _moments(
    sents: Sequence[_Sent], themes: Sequence[ThemeCandidate], segs: Sequence[Segment]
) -> list[Moment]:
    duration = segs[-1].end - segs[0].start if segs else 0.0
    wanted = max(3, min(MOMENTS_MAX, round(duration / 480)))
    scored: list[tuple[float, _Sent]] = []
    for sent in sents:
        if not 6 <= sent.words <= 45 or len(sent.stems) < 2 or sent.text.endswith("?"):
            continue
        if sent.speaker == "therapist":
            if not (sent.reflection or sent.suggestion) or len(sent.stems) < 3:
                continue
            score = 0.7 * (sent.central + 0.3 * sent.reflection)
        else:
            score = (
                sent.central
                + 1.0 * sent.realisation
                + 0.5 * sent.validated
                + 0.4 * sent.emotion
                + 0.3 * sent.commitment
            )
        scored.append((score, sent))
    scored.sort(key=lambda pair: -pair[0])
    # Spread moments over the session: they are surfaced one a day, and five from the same two
    # minutes would feel repetitive.
    gap = max(20.0, duration / (wanted * 3)) if duration else 0.0
    chosen: list[_Sent] = []
    for _score, sent in scored:
        if all(abs(sent.start - c.start) >= gap for c in chosen):
            chosen.append(sent)
        if len(chosen) >= wanted:
            break
    if len(chosen) < 3:  # a short session: relax the spacing rather than show fewer than three
        for _score, sent in scored:
            if sent not in chosen and all(sent.start != c.start for c in chosen):
                chosen.append(sent)
            if len(chosen) >= 3:
                break
    return [
        Moment(
            reflection=_moment_reflection(sent, themes),
            quote=rewrite.ensure_period(rewrite.strip_lead(sent.text)),
            offset=sent.start,
            sources=[sent.start],
        )
        for sent in sorted(chosen, key=lambda s: s.start)
    ]


def _narrate(sent: _Sent) -> str:
    if sent.speaker == "therapist":
        if sent.suggestion:
            return rewrite.therapist_suggested(sent.text)
        if sent.reflection:
            return rewrite.therapist_reflected(sent.text)
        if sent.next_time:
            return rewrite.next_time(sent.text)
        if sent.text.endswith("?"):
            return f"Your therapist asked: {rewrite.quoted(rewrite.strip_lead(sent.text))}"
        return f"Your therapist said: {rewrite.quoted(rewrite.strip_lead(sent.text))}"
    if sent.realisation >= 0.5:
        return rewrite.realisation(sent.text)
    if sent.text.endswith("?"):
        return f"You asked: {rewrite.quoted(rewrite.strip_lead(sent.text))}"
    return rewrite.client_said(sent.text)


def _paragraph(block: Sequence[_Sent], *, k: int) -> SourcedText | None:
    pool = [s for s in block if len(s.stems) >= 2 and s.words >= 5]
    if not pool:
        return None

    def weight(s: _Sent) -> float:
        cue = max(s.realisation, s.commitment, s.suggestion, s.next_time, 0.6 * s.reflection)
        return s.central + 0.8 * cue + (0.15 if s.speaker != "therapist" else 0.0)

    picked = sorted(sorted(pool, key=weight, reverse=True)[:k], key=lambda s: s.idx)
    return SourcedText(text=" ".join(_narrate(s) for s in picked), sources=sorted({s.start for s in picked}))


def _full_recap(
    sents: Sequence[_Sent], themes: Sequence[ThemeCandidate], segs: Sequence[Segment]
) -> list[Section]:
    t0, t1 = segs[0].start, segs[-1].end
    duration = max(1.0, t1 - t0)
    edge = min(300.0, max(90.0, 0.12 * duration))
    if duration < 3 * edge:  # too short for three parts: opening and closing only
        edge = duration / 2
    opening = [s for s in sents if s.start < t0 + edge]
    closing = [s for s in sents if s.start >= t1 - edge and s not in opening]
    middle = [s for s in sents if t0 + edge <= s.start < t1 - edge]

    sections: list[Section] = []
    para = _paragraph(opening, k=3)
    if para:
        sections.append(Section(title="Opening", paragraphs=[para]))

    if middle:
        span = middle[-1].start - middle[0].start
        blocks_n = max(1, min(6, round(span / 420)))
        step = (span / blocks_n) if span else 1.0
        blocks: list[list[_Sent]] = [[] for _ in range(blocks_n)]
        for sent in middle:
            blocks[min(blocks_n - 1, int((sent.start - middle[0].start) / step))].append(sent)
        labelled: list[tuple[str, list[_Sent]]] = []
        for block in blocks:
            if not block:
                continue
            label = _block_label(block, themes)
            if labelled and labelled[-1][0] == label:
                labelled[-1][1].extend(block)
            else:
                labelled.append((label, list(block)))
        for label, block in labelled:
            paragraphs = [p for p in _split_paragraphs(block) if p]
            if paragraphs:
                sections.append(Section(title="Main threads", subtitle=label, paragraphs=paragraphs))

    closing_items = [s for s in closing if s.suggestion or s.commitment or s.next_time or s.question]
    para = _paragraph(closing_items or closing, k=4)
    if para:
        sections.append(Section(title="Closing", paragraphs=[para]))
    return sections


def _split_paragraphs(block: Sequence[_Sent]) -> list[SourcedText | None]:
    # Long threads read better as two short paragraphs than one long one.
    if len(block) < 40:
        return [_paragraph(block, k=3)]
    half = len(block) // 2
    return [_paragraph(block[:half], k=3), _paragraph(block[half:], k=3)]


def _block_label(block: Sequence[_Sent], themes: Sequence[ThemeCandidate]) -> str:
    weight: dict[int, float] = {}
    for sent in block:
        for t in sent.themes:
            weight[t] = weight.get(t, 0.0) + max(0.0, sent.end - sent.start)
    if not weight:
        return ""
    return _display_label(themes[max(weight, key=lambda t: (weight[t], -t))])
