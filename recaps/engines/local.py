# Pattern tables read best one pattern per line, even when a pattern is long.
# ruff: noqa: E501
"""The local recap engine: offline, rule-based, built on who said what and what it does.

Pipeline:
1. clean each segment (fillers, sound tags, recogniser hallucinations) and split it into sentences
   (text.py), keeping the recogniser's confidence so unsure words are never quoted;
2. tag every sentence with its dialogue act (acts.py): the therapist's questions, reflections,
   suggestions and deferrals, the client's change and sustain talk, commitments, realisations;
3. find the session's topics in a curated, versioned list (topics.py, data/topics.json);
4. build each section from the acts, composing short second-person clauses (compose.py) with the
   right speaker, each item with the start offsets of the segments it came from.

Nothing is invented: every clause comes from one sentence, and what fails the checks (a question,
a negation, an unfinished phrase, an unsure word, a clause that cannot be turned to "you" safely)
is left out rather than patched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from . import acts as A
from . import compose as C
from . import safety as S
from .base import (
    INSIGHTS_MAX,
    MOMENTS_MAX,
    NEXT_STEPS_MAX,
    QUESTIONS_MAX,
    THEMES_MAX,
    Moment,
    RecapResult,
    Section,
    Segment,
    SourcedText,
    Theme,
    compute_stats,
    ordered_segments,
    validate,
)
from .text import clean_sentences, content_stems
from .topics import SAFETY_TOPICS, TopicWeight, catalogue, session_nouns, session_topics

# How many next steps a person can hold in mind for a week; the validator's cap is a hard limit.
NEXT_STEPS_WANTED = min(NEXT_STEPS_MAX, 6)


@dataclass(slots=True)
class Sent:
    idx: int
    seg: int
    turn: int
    speaker: str
    start: float
    end: float
    text: str
    pos: float  # 0..1 through the session, by time
    unsure: frozenset[str]  # every word the recogniser doubted: never in a quote
    unsure_content: frozenset[str]  # the ones that carry meaning: never in a composed line
    unsure_whole: bool
    acts: set[str] = field(default_factory=set)
    negated: bool = False
    hypothetical: bool = False
    stems: list[str] = field(default_factory=list)

    @property
    def words(self) -> int:
        return len(self.text.split())

    @property
    def client(self) -> bool:
        return self.speaker != "therapist"

    @property
    def quotable(self) -> bool:
        return not self.unsure_whole and C.usable(self.text, min_words=4, max_words=45, unsure=self.unsure)


@dataclass
class _Item:
    text: str
    sources: set[float]
    score: float
    at: float
    stems: list[str]
    # False when the sentence follows the person's own words in the same turn, so its "that" points
    # at those words rather than at what the therapist suggested.
    opens_turn: bool = True

    def to_sourced(self) -> SourcedText:
        return SourcedText(text=self.text, sources=sorted(self.sources))


class LocalEngine:
    name = "local"

    def build(self, segments: Sequence[Segment]) -> RecapResult:
        segs = ordered_segments(segments)
        sents, seg_texts = _sentences(segs)
        if not sents:
            return validate(RecapResult(engine=self.name, stats=compute_stats(segs)), segs)
        session = _Session(segs, sents, seg_texts)
        return validate(session.result(self.name), segs)


# --- preparation -------------------------------------------------------------------------------------


def _sentences(segs: Sequence[Segment]) -> tuple[list[Sent], list[str]]:
    if not segs:
        return [], []
    t0 = segs[0].start
    span = max(1e-6, max(s.end for s in segs) - t0)
    sents: list[Sent] = []
    texts: list[str] = []
    turn = -1
    last_speaker = None
    for seg_index, seg in enumerate(segs):
        cleaned = clean_sentences(seg.text)
        texts.append(" ".join(cleaned))
        if not cleaned:
            continue
        if seg.speaker != last_speaker:
            turn += 1
            last_speaker = seg.speaker
        by_sentence = C.unsure_by_sentence(seg.text, seg.unsure, cleaned)
        for text, unsure in zip(cleaned, by_sentence, strict=True):
            unsure_content = C.content_only(unsure)
            sents.append(
                Sent(
                    idx=len(sents),
                    seg=seg_index,
                    turn=turn,
                    speaker=seg.speaker,
                    start=seg.start,
                    end=seg.end,
                    text=text,
                    pos=(seg.start - t0) / span,
                    unsure=unsure,
                    unsure_content=unsure_content,
                    unsure_whole=seg.unsure_whole,
                    stems=content_stems(text),
                )
            )
    tagged = A.tag_sentences([(s.speaker, s.text) for s in sents])
    for sent, t in zip(sents, tagged, strict=True):
        sent.acts, sent.negated, sent.hypothetical = t.acts, t.negated, t.hypothetical
    return sents, texts


def _jaccard(a: Sequence[str], b: Sequence[str]) -> float:
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb) if sa and sb else 0.0


def _dedupe(items: list[_Item], threshold: float = 0.5) -> list[_Item]:
    kept: list[_Item] = []
    for item in sorted(items, key=lambda i: -i.score):
        for other in kept:
            if (
                _jaccard(item.stems, other.stems) >= threshold
                or item.text.casefold() == other.text.casefold()
            ):
                other.sources |= item.sources
                # "Stop drinking" and "Your goal: to stop, at the next party not have a drink at
                # all" are one step; the one that says more is the one to keep.
                if set(other.stems) < set(item.stems):
                    other.text, other.stems = item.text, item.stems
                break
        else:
            kept.append(item)
    return kept


def _top(items: list[_Item], cap: int) -> list[_Item]:
    # In the order of the times shown beside them (the earliest source), so the list reads forward.
    return sorted(sorted(items, key=lambda i: -i.score)[:cap], key=lambda i: min(i.sources, default=i.at))


def _join(labels: Sequence[str]) -> str:
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " and " + labels[-1]


# Reported or habitual speech describes the problem, it does not decide anything: "I tell myself
# I'll just check one thing", "every time I say I'll stop".
_REPORTED = re.compile(
    r"\b(?:tell myself|told myself|telling myself|say to myself|i say|i said|i always say|i keep saying|i thought|"
    r"every time|whenever|always|usually|used to|each time|last time|promised myself|swore)\b",
    re.IGNORECASE,
)
# Numbers count as detail only as quantities ("three times a week", "20 minutes", "at ten"): a bare
# "one" ("I have one somewhere") is not a detail of a plan.
_SPECIFIC = re.compile(
    r"\b(?:every|each|once|twice|daily|weekly|nightly|\d+(?::\d\d)?|"
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|fifteen|twenty|thirty|forty)(?= (?:times|minutes|hours|days|nights|weeks|drinks|cigarettes|o'clock|a day|a week|pm|am)\b)|"
    r"at (?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)|"
    r"half an hour|an hour|times? a (?:day|week|month)|a (?:day|week|night|month)|"
    r"per (?:day|week)|monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekend|weekends|weekdays|"
    r"tomorrow|tonight|this week|next week|morning|mornings|evening|evenings|night|nights|bedtime|before bed|"
    r"after (?:lunch|dinner|work|school|breakfast)|no more than|less than|at least|minutes|hours|days|weeks|"
    r"with (?:my|her|his|a) \w+|instead)\b",
    re.IGNORECASE,
)
# A deferral is a thread to pick up only when it says so: "can we talk about Mum next time", not
# "I'll make an appointment for next week" (that is a next step).
_RETURN_TO = re.compile(
    r"\b(?:talk|think|come back|get back|discuss|look|go over|bring (?:it|this|that) up|work on|pick (?:it|this|that) up|"
    r"follow up|check in|touch base|figure out|cover|see how|revisit|explore|continue|bring back|bring up|raise)\b",
    re.IGNORECASE,
)
# The verbs of homework: an instruction with one of these is for later, not for now (_instruction).
_HOMEWORK_VERBS = (
    r"try|write|put|keep|set|take|use|make|call|book|pick|practi[cs]e|start|plan|aim|give|leave|switch|swap|"
    r"limit|avoid|schedule|bring|stop|cut|ask|tell|buy|read|walk|join|turn|spend|eat|drink|text|check|find|"
    r"record|track|note|list|add|remove|throw|replace|reward|go|do|get|sit down|look into|reach out|talk to"
)
_IN_THE_ROOM = re.compile(
    r"^(?:take a (?:deep )?breath|breathe|close your eyes|open your eyes|notice|imagine|picture|sit|relax|"
    r"tell me|say more|go on|keep going|hold on|wait|look at|listen|think back|remember|let me)\b",
    re.IGNORECASE,
)
# The person's harsh words about themself ("I'm so stupid") are not repeated back to them in the
# summary as if they were a finding.
_SELF_CRITICAL = re.compile(
    r"\b(?:stupid|idiot|useless|worthless|failure|pathetic|hopeless|burden|disgusting|ugly|loser)\b", re.I
)
# A therapist's summary of the client's own plan ("you have a plan to…", "you're going to…").
_GOAL_PHRASE = re.compile(
    r"^(?:(?:okay|ok|so|and),?\s+)*(\w+ing\b[^,]{3,80}?) is (?:something|what) (?:that )?you(?:'re| are| would|'d)? (?:going to|gonna|like to|want to)? ?work on\b",
    re.IGNORECASE,
)
# "So, setting this goal then of quitting drinking is gonna be really helpful for you."
_SET_GOAL = re.compile(
    r"\bsetting (?:a|the|this|that|your) goal (?:then )?of (\w+ing\b[^,.?!]{2,60}?)(?= is\b| will\b|[,.?!]|$)",
    re.I,
)
_START_WHEN = re.compile(
    r"^(?:start|begin)(?: it| this| that)? (tomorrow|today|tonight|this week|next week|this weekend|on \w+day)$",
    re.IGNORECASE,
)
_STARTING = re.compile(r"^Starting [\w ]+\.$")
_PLAN_SUMMARY = re.compile(
    r"\bis (?:something|what) (?:that )?you(?:'re| are| would|'d)? (?:going to|gonna|like to|want to)? ?work on\b|"
    r"\byou(?:'ve| have)? (?:\w+ ){0,3}?(?:got )?(?:a|this|your) (?:\w+ )?(?:plan|goal) (?:to|of)\b|\byou(?:'re| are) (?:going to|gonna|planning to|"
    r"planning on|willing to|ready to|committed to)\b(?! be\b)|\byou(?:'d| would) like to (?!be\b)|\byou want to (?!be\b)|\byour (?:plan|goal) is\b|"
    r"\bsetting (?:a|the|this|that) goal (?:then )?of\b|\byou (?:could|can) (?:make|start|try|cut|stop)\b",
    re.IGNORECASE,
)
_INTENT = re.compile(
    r"^you('ll| will| are going to|'re going to|'re gonna| are gonna| plan to| want to|'d like to| would like to|"
    r" need to| have to|'ve got to|'ve gotta| gotta| could| can| might| hope to| intend to| aim to| decided to| will try to|'ll try to|"
    r"'re ready to| are ready to|'re willing to| are willing to|'re planning (?:to|on)| were planning (?:to|on))\s+(?:(?:definitely|really|probably|just|also|still|maybe|then|try to|try and|start to|actually)\s+)*(\w+)"
)
_POINTS_BACK = re.compile(
    r"^You(?:'ll| will| could| can| are going to|'re going to|'re gonna| might)? (?:\w+ ){1,3}(?:it|that|this|them|him|her)\b(?! (?:is|was|'s)\b)",
)
_RECAP_LIST = re.compile(
    r"^(?:(?:so|okay|ok|and|right),?\s+)*(?:(?:for this week|this week|the plan is|your homework is|your homework)\s*:|(?:to recap|to sum up|so the plan)\s*[:,-])\s*",
    re.IGNORECASE,
)
_FUTURE = re.compile(
    r"\b(?:this week|next week|this weekend|tomorrow|tonight|from now on|starting (?:today|tomorrow|monday)|every (?:day|morning|night|evening)|before (?:our|the) next)\b",
    re.IGNORECASE,
)
# A wish, hope or condition reaches over the clauses coordinated after it.
_SCOPING_FRAME = re.compile(
    r"\b(?:i'd like|i would like|i want|i wish|i hope|i'd love|if|unless|whether|where i)\b", re.IGNORECASE
)
_PAST_TIME = re.compile(
    r"\bago\b|\b(?:last|yesterday) (?:week|night|month|year|time|weekend)\b|\byesterday\b", re.I
)
_VAGUE_OBJECT = re.compile(
    r"^\w+ (?:it|that|this|them) (?:a (?:little|bit) |even |much )?\w+\.?$|"  # "Make it a little smoother"
    r"\b(?:some|a few|a couple of) (?:small |little |new )?(?:experiments|things|ideas|strategies|options)(?: for [\w ]{1,20})?\.?$|"
    r"\bone of (?:those|these|them)\b|\bdo (?:it|that|this|them)(?: together| again| too)?\.?$|\bdo some \w+ing(?: out| up)?\.?$|"
    r"(?:^(?:\S+ ){0,5}\S+ (?:it|that|this|them|those|one|so|too)|\b(?:give it a (?:try|go|shot)|do (?:it|that|this)|try (?:it|that|this)))\.?$",
    re.IGNORECASE,
)


# "What I'd like to do is cut down" says "I'd like to cut down" the long way round; "I wouldn't mind
# coming back in a week" is a want, not a negation.
_WHAT_I_DO = re.compile(
    r"\bwhat i(?:'d| would)? ?(like|want|wanna|need|plan|'m going|am going|'m gonna|have) to do is (?:to )?",
    re.IGNORECASE,
)
_WOULDNT_MIND = re.compile(r"\bi (?:wouldn't|would not) mind (\w+ing)\b", re.IGNORECASE)
_PLAIN_MODAL = {
    "like": "I'd like to",
    "want": "I want to",
    "wanna": "I want to",
    "need": "I need to",
    "plan": "I plan to",
    "have": "I have to",
}


def _plain_intent(text: str) -> str:
    text = _WHAT_I_DO.sub(lambda m: _PLAIN_MODAL.get(m.group(1).lower(), "I'm going to") + " ", text)

    def want(m: re.Match[str]) -> str:
        verb = C.base_verb(m.group(1))
        return f"I'd like to {verb}" if verb else m.group(0)

    return _WOULDNT_MIND.sub(want, text)


_FOLLOW_UP = re.compile(
    r"\b(?:come back|coming back|meet again|meet up|see each other|follow up|check in|another (?:session|appointment)|"
    r"(?:make|book|schedule) (?:an|another|a|the) (?:appointment|session)|see your therapist again)\b",
    re.IGNORECASE,
)


_MEET_AGAIN = re.compile(
    r"\b(?:meet(?: up| with you)?|see (?:you|each other)|come back|follow up|check in|catch up|get together|"
    r"talk (?:again|about (?:it|this|that) again))\b(?: again)?[^.?!]{0,40}?\b(?P<when>in (?:a|one|two|three|four|a few|"
    r"a couple(?: of)?|several|another) (?:more )?(?:days?|weeks?|months?)|next (?:week|month)|in a week|"
    r"on (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday))\b",
    re.IGNORECASE,
)
FOLLOW_UP_LEAD = "See your therapist again"
# "I'm wondering if we can continue this conversation again": meeting again, said without a date.
_CONTINUE_TALK = re.compile(r"\bcontinue (?:this|the|our) conversation\b", re.IGNORECASE)
_HOW_GOING = re.compile(
    r"\bhow (?:it|that|things|this)(?:'s| is| are)? go(?:es|ing)\b|\bhow it went\b", re.IGNORECASE
)
_HELP_REQUEST = re.compile(
    r"^(?:(?:so|and|but|well|um|okay),?\s+)*(?:can|could|would|will) you (?:please )?help me (?:to )?(\w.{4,80})\?$",
    re.IGNORECASE,
)
_YES_TO_REQUEST = re.compile(
    r"^(?:(?:oh|yeah|yes|well),?\s+)?(?:sure|of course|absolutely|definitely|certainly|yes|i'd be (?:happy|glad) to|"
    r"happy to|we can do that|i can do that)\b(?!.*\bbut\b)",
    re.IGNORECASE,
)
_IF_I_COULD = re.compile(r"\bif i could (?:maybe |just |perhaps |at least |even )*(\w.*)$", re.IGNORECASE)
_BROKEN_OFF = re.compile(r"(?:[-—–]+\s*…?|…|\.\.\.)\s*$")
_WH_ASK = re.compile(
    r"\b(?:what|how|which|where|when|why|who)\b (?:\w+ )?(?:would|could|will|do|does|did|is|are|can|might|should) "
    r"(?:it|you|we|i|that|this|they|he|she|there)\b",
    re.IGNORECASE,
)


class _Session:
    def __init__(self, segs: list[Segment], sents: list[Sent], seg_texts: list[str]) -> None:
        self.segs = segs
        self.sents = sents
        self.seg_texts = seg_texts
        self.duration = max(1.0, segs[-1].end - segs[0].start)
        self.turns: list[list[Sent]] = []
        for s in sents:
            if not self.turns or self.turns[-1][0].turn != s.turn:
                self.turns.append([])
            self.turns[-1].append(s)
        self.speakers_known = any(s.speaker in ("client", "therapist") for s in segs)
        durations = [max(0.0, s.end - s.start) for s in segs]
        self.topics = session_topics(seg_texts, [s.speaker for s in segs], durations)
        self.safety = S.scan([(s.speaker, s.start, s.text) for s in sents])

    # --- helpers ---------------------------------------------------------------------------------

    def turn_after(self, sent: Sent) -> list[Sent]:
        nxt = sent.turn + 1
        return self.turns[nxt] if nxt < len(self.turns) else []

    def turn_before(self, sent: Sent) -> list[Sent]:
        prev = sent.turn - 1
        return self.turns[prev] if prev >= 0 else []

    def topics_near(self, sent: Sent, radius: int = 3) -> list[TopicWeight]:
        near = {s.seg for s in self.sents[max(0, sent.idx - radius) : sent.idx + radius + 1]}
        return [tw for tw in self.topics if near.intersection(tw.mentions)]

    def client_clause(
        self,
        sent: Sent,
        cue: re.Pattern[str] | None = None,
        max_words: int = 14,
        *,
        require_you: bool = True,
        start_you: bool = False,
    ) -> str | None:
        """The client's sentence, or its clause with the cue, in the second person. ``require_you``
        keeps only clauses about the person themself ("you…"); a plan ("no more than 18 a week")
        has no subject and does not need one."""
        text = _plain_intent(C.strip_hedges(sent.text))
        parts = C.clauses(text) or [text]
        # "I'd like to be normal where I don't have to take medicine, and I don't end up in the hospital"
        # wishes the second clause too: cut loose from its frame it would say the opposite.
        framed = next((i for i, p in enumerate(parts) if _SCOPING_FRAME.search(p)), None)
        if framed is not None:
            parts = parts[: framed + 1]
        if cue is not None:
            # Comma pieces too: "Doing the math, no more than 18 drinks a week" has its plan after one.
            parts += [p for p in re.split(r",\s*", text) if p not in parts]
            parts = sorted(parts, key=lambda p: 0 if cue.search(p) else 1)
        # "Doing the math, no more than 18 a week": a participle run-up is not the plan.
        parts = [re.sub(r"^\w+ing\b[^,]{0,25},\s+(?=\S)", "", p) for p in parts]
        for part in parts:
            part = C.strip_hedges(part)
            if not C.usable(part, max_words=max_words, unsure=sent.unsure_content) or sent.unsure_whole:
                continue
            # "I'm like, I'm not a complete fool": talk reported in passing, not what the person holds.
            if re.search(r"\b(?:i'm|i am|i was|he's|she's|they're) like,", part, re.IGNORECASE):
                continue
            swapped = C.second_person(part)
            if swapped:
                # "This week you want to…" -> "You want to … this week": the person first.
                m = re.match(
                    r"^((?:this|next) (?:week|weekend|month|time|session)|tomorrow|tonight|from now on|on \w+day),?\s+(you\b.*)$",
                    swapped,
                    re.I,
                )
                if m:
                    swapped = f"{m.group(2).rstrip('.')} {m.group(1).lower()}"
            if swapped and start_you and not re.match(r"^you(?:r|'re|'ve|'ll|'d)?\b", swapped, re.I):
                continue
            if swapped and (
                not require_you
                or re.search(r"\byou\b|\byour\b|\byou're\b|\byou've\b|\byou'll\b|\byou'd\b", swapped, re.I)
            ):
                return swapped.rstrip(".!?")
        return None

    def therapist_clause(self, sent: Sent, max_words: int = 16) -> str | None:
        """A therapist reflection's content: "It sounds like you're torn" -> "you're torn"."""
        text = C.strip_hedges(sent.text).rstrip("?")
        text = re.sub(
            r"^(?:(?:so|and|but|okay|well|yeah|right),?\s+)*(?:(?:it )?(?:sounds|seems|feels|looks) (?:to me )?(?:like|as if|as though|that)|"
            r"what i(?:'m| am) hearing is(?: that)?|i(?:'m| am)? hear(?:ing)? (?:that )?|i heard you say(?: that)?|"
            r"(?:so )?what you(?:'re| are) saying is(?: that)?|you(?:'re| are) (?:saying|telling me)(?: that)?|"
            r"i (?:get|have) the (?:sense|feeling|impression)(?: that)?|"
            r"(?:what|that's|that is|it's) an? (?:\w+ )?(?:plan|idea|goal|start)(?:,? and| so|,))\s*,?\s*",
            "",
            text,
            flags=re.IGNORECASE,
        )
        for part in C.clauses(text) or [text]:
            part = C.strip_hedges(part)
            if not re.match(r"^(?:you|your|you're|you've|you'd|you'll)\b", part, re.I):
                continue
            # "you saying that and it feels like…" has no verb to follow "reflected that".
            if re.match(r"^you \w+ing\b", part, re.I):
                continue
            if C.therapist_clause_ok(part) and C.usable(
                part, max_words=max_words, unsure=sent.unsure_content
            ):
                return part.rstrip(".!?")
        return None

    def _stated_subject(self) -> SourcedText | None:
        """The person said what the session was about ("Today was mostly about my sister"): their
        own words are the best first line."""
        for sent in self.sents:
            if not sent.client or sent.pos > 0.3:
                continue
            m = re.search(
                r"\b(?:session|today|it|this|we|the appointment)(?: today)? (?:was|were|is) (?:mostly |mainly |all |really |basically )?(?:about|on) (.+)$",
                C.strip_hedges(sent.text),
                re.IGNORECASE,
            )
            if not m:
                continue
            about = C.second_person(m.group(1).rstrip(".!"))
            if about and C.usable(about, min_words=1, max_words=11, unsure=sent.unsure_content):
                return SourcedText(text=f"This session was about {about}.", sources=[sent.start])
        return None

    def _named_mention(self, tw: TopicWeight) -> int:
        """The segment to cite for a topic: the client's own first mention where there is one."""
        client = [i for i in tw.mentions if self.segs[i].speaker != "therapist"]
        return (client or tw.mentions)[0]

    # --- sections --------------------------------------------------------------------------------

    def result(self, engine: str) -> RecapResult:
        next_steps = self.next_steps()
        questions = self.questions()
        insights = self.neutral(self.insights())
        moments = self.moments()
        safety_line = S.support_line(self.safety)
        return RecapResult(
            summary=self.summary(next_steps, insights, questions),
            themes=self.themes(),
            insights=[i.to_sourced() for i in insights],
            next_steps=[i.to_sourced() for i in next_steps],
            questions=[i.to_sourced() for i in questions],
            moments=moments,
            full_recap=self.full_recap(next_steps, questions),
            stats=compute_stats(self.segs),
            engine=engine,
            safety=safety_line,
        )

    def themes(self) -> list[Theme]:
        top = self.topics[0].weight if self.topics else 1.0
        chosen = [tw for tw in self.topics if tw.weight >= 0.15 * top][: THEMES_MAX - 1]
        # Self-harm and suicide are always named when the client spoke of them, however briefly.
        safety = [tw for tw in self.topics if tw.topic.id in SAFETY_TOPICS and tw not in chosen]
        chosen = (safety + chosen)[: THEMES_MAX - 1] if safety else chosen
        nouns = session_nouns(self.seg_texts, [s.speaker for s in self.segs], exclude=self._vocatives())
        # A noun a chosen topic already names says it twice ("Health" beside "Physical health").
        named = {w for tw in chosen for w in re.findall(r"[a-z]+", tw.topic.label.lower())}
        nouns = [(word, where) for word, where in nouns if word.lower() not in named]
        # A noun's weight is its mentions, on the topics' scale (a mention is worth about one unit).
        weighted: list[tuple[str, float, list[int]]] = [
            (tw.topic.label, tw.weight, tw.mentions) for tw in chosen
        ]
        weighted += [(C.capitalise(word), 1.2 * len(where), where) for word, where in nouns]
        floor = max((w for _, w, _ in weighted), default=1.0)
        # Safety topics sort with the heaviest: they are rarely long, but they matter most.
        weighted = [(label, floor if _is_safety_label(label) else w, where) for label, w, where in weighted]
        # A session's own nouns fill the places the catalogue left; they never push out a topic it
        # recognised ("Cars" and "Polytech" are not worth losing "Law and probation" for).
        topics, nouns_only = weighted[: len(chosen)], weighted[len(chosen) :]
        nouns_only = sorted(nouns_only, key=lambda w: -w[1])[: max(1, THEMES_MAX - len(topics))]
        weighted = sorted(topics + nouns_only, key=lambda w: -w[1])[:THEMES_MAX]
        total = sum(w for _, w, _ in weighted) or 1.0
        return [
            Theme(
                label=label,
                share=round(weight / total, 3),
                sources=sorted({self.segs[i].start for i in where}),
            )
            for label, weight, where in weighted
        ]

    def _vocatives(self) -> frozenset[str]:
        """Words the therapist addresses the client by ("Hi Sam"): never a theme."""
        out = set()
        for s in self.sents:
            if s.speaker == "therapist":
                out.update(w.lower() for w in re.findall(r"(?:^|,\s)([A-Z][a-z]+)(?=[,.!?])", s.text))
        return frozenset(out)

    # Next steps ------------------------------------------------------------------------------------

    def _details(self, after: Sent, have: str) -> tuple[str, set[float]]:
        """Specifics (when, how often, how much, with whom) said just after a step, in the step."""
        for nxt in self.sents[after.idx + 1 : after.idx + 4]:
            # Only the answer itself: a detail two turns on belongs to the next thing said.
            if nxt.turn > after.turn + 1 or "question" in nxt.acts or nxt.negated or "sustain" in nxt.acts:
                break
            if not _SPECIFIC.search(nxt.text):
                continue
            clause = None
            if nxt.client:
                # The whole sentence when it is short: a clause cut from it can leave only its
                # "when" ("Tomorrow night when you have your glass of wine").
                whole = C.strip_hedges(nxt.text).rstrip(".!")
                # …from the clause with the when on: "That feels scary, but yes, I will try to tell
                # him on Sunday" keeps "I will try to tell him on Sunday".
                first = next((p for p in C.clauses(whole) if _SPECIFIC.search(p)), None)
                if first and whole.find(first) > 0:
                    whole = C.strip_hedges(whole[whole.find(first) :])
                if C.usable(whole, max_words=18, unsure=nxt.unsure_content) and not nxt.unsure_whole:
                    clause = C.second_person(whole)
                clause = clause or self.client_clause(nxt, _SPECIFIC, 12, require_you=False)
            if nxt.speaker == "therapist":
                if not nxt.acts & {"advice", "options", "negotiation"}:
                    continue
                part = C.strip_hedges(nxt.text)
                if (
                    C.therapist_clause_ok(part)
                    and C.usable(part, max_words=12, unsure=nxt.unsure_content)
                    and "?" not in part
                ):
                    clause = part.rstrip(".!")
            if (
                clause
                and C.word_count(clause) >= 3
                and not set(content_stems(clause)) <= set(content_stems(have))
                # "A couple of weeks ago" is when something happened, not when to do it; "to make
                # an appointment for next week" is a plan of its own, not a detail of this one.
                and not _PAST_TIME.search(clause)
                and not re.match(r"^to \w+", clause, re.IGNORECASE)
            ):
                self._consumed.add(nxt.idx)
                return C.sentence(clause), {nxt.start}
        return "", set()

    def next_steps(self) -> list[_Item]:
        items: list[_Item] = []
        used: set[int] = set()
        self._consumed: set[int] = set()
        for sent in self.sents:
            if sent.idx in self._consumed:
                continue
            if (
                sent.speaker == "therapist"
                and "deferral" not in sent.acts
                and (sent.acts & {"advice", "options", "negotiation"} or self._instruction(sent))
            ):
                item = self._suggestion_step(sent)
                if item:
                    items.append(item)
                    used.add(sent.idx)
                    continue
            if sent.speaker == "therapist" and _PLAN_SUMMARY.search(sent.text):
                item = self._confirmed_plan(sent)
                if item:
                    items.append(item)
            elif sent.client and sent.idx not in used:
                item = self._client_step(sent) or self._request_step(sent) or self._wished_step(sent)
                # "I can try the timer" after the timer suggestion already became a step says
                # yes to it: it cites that step rather than repeating it.
                # "I could do it in the car before work" says when and where for it: it joins it.
                answered = item and next(
                    (o for o in items if o.at in {s.start for s in self.turn_before(sent)}), None
                )
                if answered and set(item.stems) <= set(answered.stems):
                    answered.sources |= item.sources
                elif answered and _POINTS_BACK.match(item.text):
                    answered.text = f"{answered.text.rstrip('.')}. {item.text}"
                    answered.sources |= item.sources
                elif item:
                    items.append(item)
            if sent.speaker == "therapist" and _RECAP_LIST.match(sent.text):
                items.extend(self._recap_list(sent))
        items = self._attach_pronoun_steps(items)
        self._add_follow_up(items)
        # Near-duplicates merge their sources: an intention said twice is one step, cited twice.
        # A long session can hold more agreements than a short one.
        wanted = min(NEXT_STEPS_MAX, NEXT_STEPS_WANTED + int(self.duration // 1200))
        chosen = _top(_dedupe(items, 0.5), wanted)
        for item in chosen:
            item.sources |= self._exchange_sources(item)
        return chosen

    def _exchange_sources(self, item: _Item) -> set[float]:
        """The rest of the exchange a step came out of, so the step points at all of it:
        - neighbouring suggestions, plans and change talk about the same thing (a shared word);
        - the unbroken run of planning talk around it: the planning questions, the client's
          answers and yeses, the therapist's confirmation, turn by turn until the talk moves on."""
        stems = set(item.stems)
        anchors = [s for s in self.sents if s.start in item.sources]
        out: set[float] = set()

        def planning(s: Sent) -> bool:
            if s.negated or "sustain" in s.acts or "decline" in s.acts:
                return False
            if s.speaker == "therapist":
                return bool(s.acts & {"advice", "options", "negotiation"})
            return bool(s.acts & {"change", "commitment", "agree"})

        for anchor in anchors:
            # Four turns either way: a run of "Yeah." - "Okay." does not move the talk on.
            near = [
                s
                for s in self.sents[max(0, anchor.idx - 12) : anchor.idx + 13]
                if abs(s.turn - anchor.turn) <= 4
            ]
            for s in near:
                if s.negated or "question" in s.acts or "sustain" in s.acts:
                    continue
                if planning(s) and stems & set(s.stems):
                    out.add(s.start)
            for step in (-1, 1):
                turn = anchor.turn
                while 0 <= turn + step < len(self.turns) and abs(turn + step - anchor.turn) <= 3:
                    turn += step
                    run = [s for s in self.turns[turn] if planning(s)]
                    if not run:
                        break
                    out.update(s.start for s in run)
        return out

    def _add_follow_up(self, items: list[_Item]) -> None:
        """Meeting again is agreed too: "I'll plan to meet with you again in a couple of weeks" -
        "Okay." The last such plan said by the therapist is one step; when the client already said
        it ("I'd like to come back in a week"), that step cites it instead."""
        for sent in reversed(self.sents):
            if sent.speaker != "therapist" or sent.pos < 0.5:
                continue
            m = _MEET_AGAIN.search(sent.text) or _CONTINUE_TALK.search(sent.text)
            if not m or sent.unsure_whole:
                continue
            answer, reply = self._reply(sent)
            if answer == "declined" or (sent.text.rstrip().endswith("?") and answer != "agreed"):
                return
            sources = {sent.start} | ({s.start for s in reply[:1]} if answer == "agreed" else set())
            said = next((o for o in items if _FOLLOW_UP.search(o.text) and _SPECIFIC.search(o.text)), None)
            if said is not None:
                said.sources |= sources
                return
            when = f" {m.group('when').lower()}" if m.groupdict().get("when") else ""
            if _CONTINUE_TALK.search(sent.text):
                how = " to continue this conversation"
            else:
                how = " to talk about how it's going" if _HOW_GOING.search(sent.text) else ""
            text = f"{FOLLOW_UP_LEAD}{when}{how}."
            items.append(_Item(text, sources, 0.5 + 0.3 * sent.pos, sent.start, content_stems(text)))
            return

    def _request_step(self, sent: Sent) -> _Item | None:
        """The client asks for help and the therapist says yes: "Can you help me make the call?" -
        "Sure, we can do that together." """
        m = _HELP_REQUEST.match(C.strip_hedges(sent.text))
        if not m or sent.unsure_whole:
            return None
        reply = self.turn_after(sent)
        if not reply or reply[0].speaker != "therapist" or not _YES_TO_REQUEST.match(reply[0].text):
            return None
        what = C.second_person(m.group(1).rstrip("?. "))
        if not what or not C.usable(what, min_words=2, max_words=16) or _VAGUE_OBJECT.search(what):
            return None
        text = f"{C.capitalise(what)}, with your therapist's help."
        return _Item(
            text, {sent.start, reply[0].start}, 0.9 + 0.3 * sent.pos, sent.start, content_stems(text)
        )

    def _wished_step(self, sent: Sent) -> _Item | None:
        """An answer to a planning question put as a wish: "What would be helpful as next steps?" -
        "First things first, if I could take a brochure home, show it to my partner and get their
        support, I think that's really gonna help." The steps are the verbs after "if I could"."""
        before = self.turn_before(sent)
        if not any("negotiation" in s.acts for s in before) or sent.unsure_whole or "sustain" in sent.acts:
            return None
        m = _IF_I_COULD.search(C.strip_hedges(sent.text))
        if not m:
            return None
        # "…and get their support I think that's really gonna help": the plan ends at the comment.
        plan_part = re.split(
            r"\s*\b(?:i think|i guess|i feel|i know|that's|that is|that would|it would|it'd)\b", m.group(1)
        )[0]
        pieces = [re.sub(r"\s+maybe$", "", p.strip()) for p in re.split(r",\s*", plan_part) if p.strip()]
        kept = pieces[:1]
        for piece in pieces[1:]:
            piece = re.sub(r"^(?:and|maybe|then|also|um|uh)\s+", "", piece, flags=re.I)
            first = piece.split()[0].lower() if piece.split() else ""
            if first in {"i", "it", "that", "this", "which", "you"} or not C._looks_like_verb(first):
                break
            kept.append(piece)
        plan = kept[0] if len(kept) == 1 else f"{', '.join(kept[:-1])} and {kept[-1]}"
        what = C.second_person(plan.rstrip("."))
        if not what or not C.usable(what, min_words=3, max_words=24) or _VAGUE_OBJECT.search(what):
            return None
        text = C.sentence(C.capitalise(what))
        sources = {sent.start} | {s.start for s in before if "negotiation" in s.acts}
        return _Item(text, sources, 0.8 + 0.3 * sent.pos, sent.start, content_stems(text))

    def _reply(self, sent: Sent) -> tuple[str, list[Sent]]:
        """How the client answered: "agreed", "declined" or "" (moved on, or no answer)."""
        reply = self.turn_after(sent)
        if not reply or reply[0].speaker == "therapist":
            return "", []
        # The first sentence that takes a side decides: "A letter to him. I could do that. Maybe on
        # Sunday" agrees; "That's hard. I don't think so" declines.
        for s in reply[:3]:
            if s.acts & {"agree", "commitment", "change"}:
                return "agreed", reply
            if s.acts & {"decline", "sustain"} or (s.negated and not s.acts & {"change", "commitment"}):
                return "declined", reply
        return "", reply

    def _suggestion_step(self, sent: Sent) -> _Item | None:
        # "What if…"/"Imagine…" wonder aloud; "If you need to relax, go for a walk" is advice.
        if re.match(
            r"^(?:(?:and|so|but|well),?\s+)?(?:what if(?! you)|imagine|suppose)\b", sent.text, re.IGNORECASE
        ):
            return None
        answer, reply = self._reply(sent)
        if answer == "declined":
            return None
        question = sent.text.rstrip().endswith("?") or bool(sent.acts & {"question_open", "question_closed"})
        if "question_open" in sent.acts or (question and answer != "agreed"):
            return None
        what = None
        # Whole sentence first; then its main clauses ("…, so you can see the time" is a reason).
        # Clauses of the sentence with its run-up gone too: "So I think just tell your friends…"
        # starts with "so" only because of the run-up, not because it gives a reason.
        bare = C.strip_hedges(sent.text)
        parts = [sent.text] + [
            p
            for p in dict.fromkeys(C.clauses(sent.text) + (C.clauses(bare) if bare != sent.text else []))
            if not re.match(
                r"^(?:so|because|cause|'cause|which|although|though|but|or|then|whereas)\b", p, re.I
            )
        ]
        for part in parts:
            candidate = C.imperative(part)
            if (
                candidate
                and C.usable(candidate, min_words=2, max_words=30)
                # "Quit drinking" says what in two words; "Start there" does not.
                and (C.word_count(candidate) > 2 or len(content_stems(candidate)) >= 2)
                and not _VAGUE_OBJECT.search(candidate.rstrip("."))
                and (
                    content_stems(candidate) or (_FOLLOW_UP.search(candidate) and _SPECIFIC.search(candidate))
                )
            ):
                what = candidate
                break
        if not what:
            what = self._bare_ask(sent)
        if (
            not what
            or sent.unsure_whole
            or any(w.strip(".,;:!?").lower() in sent.unsure_content for w in what.split())
        ):
            return None
        # An open planning question ("What would you put down as your goal?") has no step in it:
        # the client's answer is the step (see _client_step).
        # Meeting again is written one way, by _add_follow_up ("See your therapist again in…").
        if (_MEET_AGAIN.search(sent.text) or _CONTINUE_TALK.search(sent.text)) and re.match(
            r"^(?:plan to )?(?:follow up|come back|meet|check in|catch up|see you|get together|continue (?:this|the|our) conversation)\b",
            what,
            re.I,
        ):
            return None
        # "Given what you're attempting, when would it be good to come back?" asks inside the clause.
        if re.match(r"^(?:what|how|which|where|when|why)\b", what, re.IGNORECASE) or (
            question and _WH_ASK.search(what)
        ):
            return None
        sources = {sent.start}
        more, more_sents = self._continuation(sent, what)
        if more:
            what = f"{what.rstrip('.')}. {more}"
            sources |= {s.start for s in more_sents}
            self._consumed.update(s.idx for s in more_sents)
        if answer == "agreed":
            text = C.sentence(what)
            sources |= {s.start for s in reply[:2]}
            score = 1.0
        else:
            if "advice" not in sent.acts and not self._instruction(sent):
                return None
            text = f"Your therapist suggested you {C.lower_first(what).rstrip('.')}."
            score = 0.6
        # "Think about making a big change" is a step, but the summary names a thing to do first.
        if re.match(r"^(?:think|consider|reflect)\b", what, re.IGNORECASE):
            score -= 0.4
        # The client's answer often holds the when ("I'm going to set it up this weekend").
        detail, detail_src = self._details(self.turns[sent.turn][-1], text)
        if detail:
            text = f"{text.rstrip('.')}. {detail}"
            sources |= detail_src
        return _Item(text, sources, score + 0.3 * sent.pos, sent.start, content_stems(text))

    def _attach_pronoun_steps(self, items: list[_Item]) -> list[_Item]:
        """ "You'll book it tomorrow morning" says what only next to the suggestion it answers: it
        joins that step (with its when), or goes if there is none within a minute and a half."""
        out: list[_Item] = []
        for item in sorted(items, key=lambda i: i.at):
            # "It's my alarm system, not a heart attack. I'm going to write that on a card": the
            # "that" is the person's own words just before, not the therapist's suggestion.
            if _STARTING.match(item.text):
                target = next((o for o in reversed(out) if 0 <= item.at - o.at <= 300), None)
                if target is not None:
                    target.text = f"{target.text.rstrip('.')}, {C.lower_first(item.text)}"
                    target.sources |= item.sources
                continue
            m = _POINTS_BACK.match(item.text)
            # "You could replace it with a low-calorie drink" says what: only a bare pronoun step joins.
            said_what = m is not None and len(content_stems(item.text[m.end() :].split(".")[0])) >= 2
            if not m or said_what or not item.opens_turn:
                out.append(item)
                continue
            target = next((o for o in reversed(out) if 0 <= item.at - o.at <= 90), None)
            if target is not None:
                target.text = f"{target.text.rstrip('.')}. {item.text}"
                target.sources |= item.sources
                target.score = max(target.score, item.score)
        return out

    def _recap_list(self, sent: Sent) -> list[_Item]:
        """The therapist's closing list ("So, for this week: book the GP appointment, practise the
        breathing, and talk to Jamie"): each part is a step, and each merges with the fuller
        version said earlier (the same words), which then cites both."""
        body = _RECAP_LIST.sub("", sent.text, count=1)
        answer, reply = self._reply(sent)
        if answer == "declined":
            return []
        out = []
        for part in re.split(r",\s*(?:and\s+)?|;\s*|\s+and\s+(?=\w+ (?:the|a|an|your|to)\b)", body):
            what = C.imperative(part)
            if not what or not C.usable(what, min_words=2, max_words=20, unsure=sent.unsure_content):
                continue
            if _VAGUE_OBJECT.search(what) or sent.unsure_whole:
                continue
            sources = {sent.start} | ({reply[0].start} if answer == "agreed" and reply else set())
            text = C.sentence(what)
            out.append(_Item(text, sources, 0.9 + 0.3 * sent.pos, sent.start, content_stems(text)))
        return out

    def _instruction(self, sent: Sent) -> bool:
        """An instruction for later, not for now: "Put the pill box next to the kettle", "If a work
        thought comes, write it down". Only the verbs of homework count: a word that is also a noun
        ("Thanks…", "Pleasure being…") or an ask for right now ("Take a breath") does not."""
        if sent.text.rstrip().endswith("?"):
            return False
        what = C.imperative(sent.text) or ""
        # "Waking up at three and your mind goes to the list" restates; it does not instruct.
        if not what or re.match(r"^\w+ing\b", C.strip_hedges(sent.text)):
            return False
        if not re.match(rf"^(?:{_HOMEWORK_VERBS})\b", what, re.I) or _IN_THE_ROOM.match(what):
            return False
        therapist_talk = {
            "reflection_simple",
            "reflection_complex",
            "question_open",
            "question_closed",
            "information",
            "affirm",
        }
        return not sent.acts & therapist_talk

    def _continuation(self, sent: Sent, what: str) -> tuple[str, list[Sent]]:
        """The rest of a suggestion said in the same breath: "Try a wind-down routine this week. At
        ten, put your phone in the kitchen. Then do ten minutes of the breathing." Each following
        sentence of the turn that is itself an instruction joins the step (up to two)."""
        out: list[str] = []
        used: list[Sent] = []
        words = C.word_count(what)
        for nxt in self.sents[sent.idx + 1 : sent.idx + 4]:
            if nxt.turn != sent.turn or nxt.text.rstrip().endswith("?"):
                break
            step = C.imperative(nxt.text)
            if not step or not C.usable(step, min_words=3, max_words=40):
                continue  # an aside ("You don't send it to anyone") between two parts of the ask
            if words + C.word_count(step) > 70:
                break
            out.append(C.sentence(step))
            used.append(nxt)
            words += C.word_count(step)
        return " ".join(out), used

    def _confirmed_plan(self, sent: Sent) -> _Item | None:
        """The therapist sums up the client's plan and the client confirms it: "So you have a plan to
        cut back on your drinking?" - "Yeah, definitely." The plan is the client's, in the
        therapist's words, so it is written to the client ("You have a plan to…")."""
        extra: set[float] = set()
        continued = self._continued(sent)
        if continued is not None:
            sent, extra = continued
        answer, reply = self._reply(sent)
        if answer != "agreed":
            return None
        # "So getting to school for first hour is something you're going to work on."
        goal = _GOAL_PHRASE.match(C.strip_hedges(sent.text)) or _SET_GOAL.search(C.strip_hedges(sent.text))
        if (
            goal
            and C.usable(goal.group(1), min_words=2, max_words=14)
            and C.therapist_clause_ok(goal.group(1))
        ):
            text = f"Your goal: {C.lower_first(goal.group(1))}."
            sources = {sent.start} | {s.start for s in reply[:2]}
            return _Item(text, sources, 0.95 + 0.3 * sent.pos, sent.start, content_stems(text))
        clause = self.therapist_clause(sent, 20)
        if not clause or not _PLAN_SUMMARY.search(clause) or _VAGUE_OBJECT.search(clause):
            return None
        plan = clause[_PLAN_SUMMARY.search(clause).end() :]
        start = _START_WHEN.match(plan.strip())
        if start:
            # "…and you said you're going to start tomorrow": the when of the plan before it.
            sources = {sent.start} | {s.start for s in reply[:2]} | extra
            return _Item(f"Starting {start.group(1).lower()}.", sources, 0.0, sent.start, [])
        if len(content_stems(plan)) < 2 or re.search(
            r"\b(?:something|anything|things|about it|it)\.?$|\bsomething (?:that (?:was|is) )?\w+\.?$",
            plan,
            re.I,
        ):
            return None  # "you're ready to move up to something that was different": no what
        verb = re.search(
            r"\b(?:to|gonna|could|can)\s+(?:at least |really |just |also )?(\w+)",
            clause[_PLAN_SUMMARY.search(clause).start() :],
        )
        if (
            not verb
            or verb.group(1).lower() in ("be", "get", "feel", "have")
            or not C._looks_like_verb(verb.group(1).lower())
        ):
            return None
        sources = {sent.start} | {s.start for s in reply[:2]} | extra
        text = C.sentence(clause)
        return _Item(text, sources, 0.95 + 0.3 * sent.pos, sent.start, content_stems(text))

    def _continued(self, sent: Sent) -> tuple[Sent, set[float]] | None:
        """A sentence the client's "yeah" cut in two: "So you have a plan to cut back on-" -
        "Yeah, definitely." - "-your drinking eventually?" is one sentence, with both answers."""
        turn = self.turns[sent.turn]
        if turn[-1] is not sent or not _BROKEN_OFF.search(sent.text) or sent.turn + 2 >= len(self.turns):
            return None
        between, after = self.turns[sent.turn + 1], self.turns[sent.turn + 2]
        if len(between) > 1 or C.word_count(between[0].text) > 4 or after[0].speaker != sent.speaker:
            return None
        rest = after[0]
        joined = f"{_BROKEN_OFF.sub('', sent.text).rstrip()} {C.lower_first(rest.text)}"
        answer = self.turn_after(rest)[:1]
        return replace(sent, text=joined), {rest.start} | {s.start for s in answer}

    def _bare_ask(self, sent: Sent) -> str | None:
        """ "You need to quit." says what only with the session's topic: "Quit smoking"."""
        what = C.imperative(sent.text)
        if not what or not re.match(r"^(?:quit|stop|cut down|cut back|give up)\.?$", what, re.I):
            return None
        behaviours = [tw for tw in self.topics if tw.topic.id in _BEHAVIOURS]
        if not behaviours:
            return None

        # The behaviour mentioned closest before the ask is the one it is about.
        def distance(tw: TopicWeight) -> int:
            before = [sent.seg - i for i in tw.mentions if i <= sent.seg]
            return min(before) if before else 10**6

        ranked = sorted(behaviours, key=distance)
        if len(ranked) > 1 and distance(ranked[0]) == distance(ranked[1]):
            return None  # two behaviours in the same breath: do not guess which one to quit
        return f"{what.rstrip('.')} {_BEHAVIOURS[ranked[0].topic.id]}"

    def _client_step(self, sent: Sent) -> _Item | None:
        if not sent.acts & {"commitment", "change"} or sent.negated or sent.hypothetical:
            return None
        if "question" in sent.acts or sent.text.rstrip().endswith("?") or _REPORTED.search(sent.text):
            return None
        if "deferral" in sent.acts and _RETURN_TO.search(sent.text):
            return None  # a thread to pick up next time: a question for next time, not a step
        before = self.turn_before(sent)
        # An answer to a planning question, or taking up the advice just given ("You need to throw
        # those out." - "I guess I can throw the cigarettes.").
        planning = (
            bool(before)
            and before[0].speaker == "therapist"
            and any(s.acts & {"negotiation", "advice", "options"} for s in before)
        )
        commitment = "commitment" in sent.acts
        # A want with a when ("This week I want to practise…") is a plan wherever it comes.
        late = sent.pos >= 0.6 or bool(_FUTURE.search(sent.text))
        if not (commitment or planning or (late and "change" in sent.acts)):
            return None
        # "What are your plans after high school?" - "I'm planning on going to school" in the first
        # minutes tells the person's story; what the session agreed comes later or answers a plan.
        if not planning and sent.pos < 0.3 and not _FUTURE.search(sent.text):
            return None
        cue = _SPECIFIC if planning else (A._COMMITMENT if commitment else A._DESIRE)
        clause = self.client_clause(sent, cue, 24, require_you=not planning)
        listed = None
        if clause and commitment and (_VAGUE_OBJECT.search(clause.lower()) or not content_stems(clause)):
            listed = self._commitment_list(sent)
            clause = listed or clause
        if not clause:
            return None
        low = clause.lower()
        # "…lowering the level of drinking that—" broke off: a plan cut mid-phrase is not a plan.
        if _BROKEN_OFF.search(sent.text) and low.split()[-1:] == [
            w.strip(".,!?—–-…").lower() for w in sent.text.split()[-1:]
        ]:
            return None
        # A bare "You can do that" belongs to the suggestion it answers, not a step of its own.
        # "Come back in a week" is all small words, and still a plan: the when makes it one.
        follow_up = bool(_FOLLOW_UP.search(low) and _SPECIFIC.search(low))
        if (
            (_VAGUE_OBJECT.search(low) and clause != listed)
            or not (content_stems(clause) or follow_up)
            or A._AUX_CLOSED.match(clause)
        ):
            return None
        intent = _INTENT.match(low)
        if re.search(r"\bsay,|, okay,|\bsays?\b.*,", low):
            return None  # reported speech inside the plan: not a step that reads cleanly
        if intent:
            modal, verb = intent.group(1), intent.group(2)
            # "You could…"/"You can…" is a plan only as an answer to a planning question; "you're
            # going to be disappointed" is a prediction, not a decision.
            # "You can write and read" late in a session is ability, not a plan: only an answer to a
            # planning question makes "could"/"can" a step.
            if modal.strip() in ("could", "can", "might") and not planning:
                return None
            # "You're gonna go hang out with friends" early on is narrative; a decision is late in the
            # session, or an answer to a planning question, or says so ("I've decided").
            if modal.strip() in (
                "'ll",
                "will",
                "are going to",
                "'re going to",
                "'re gonna",
                "are gonna",
            ) and not (planning or late or "commitment" in sent.acts and sent.pos >= 0.4):
                return None
            # "You're going to be disappointed" predicts; "You'll have one drink" decides.
            if verb == "be" or re.match(
                r"^(?:have|get) (?:been|had|got|bummed|upset|sick|hurt|angry|mad|sad|worse|better)\b",
                low[intent.start(2) :],
            ):
                return None
            if verb not in ("have", "do", "get") and not C._looks_like_verb(verb):
                return None
            # "You'll have all your senses there" describes; "I'll have one drink" answers "what's
            # your goal?": "have" is a decision only as an answer to a planning question.
            if verb == "have" and not planning:
                return None
            text = C.sentence(clause)
        elif re.match(r"^(?:(?:probably|maybe|just|definitely) )?to (?!be\b)\w+\b", low) and planning:
            # "What sort of goal…?" - "Probably to stop, at the next party not have a drink at all."
            goal = any(re.search(r"\bgoal\b", s.text, re.I) for s in before)
            plan = re.sub(r"^(?:(?:probably|maybe|just|definitely) )", "", clause, flags=re.I)
            text = f"{'Your goal' if goal else 'Your plan'}: {C.lower_first(plan)}."
        elif re.match(r"^(?:to )?\w+ing\b", low) or re.match(
            r"^(?:no more than|less than|at least|about|maybe(?! if\b)|only|just|\d|one|two|three|four|five)\b",
            low,
        ):
            if not planning:
                return None
            goal = any(re.search(r"\bgoal\b", s.text, re.I) for s in before)
            text = f"{'Your goal' if goal else 'Your plan'}: {C.lower_first(clause)}."
        elif planning and C.imperative(clause) == C.capitalise(clause):
            # The client's own plan, said as what to do: "Just go to bed and turn off the lights."
            text = C.sentence(clause)
        else:
            return None
        detail, detail_src = self._details(sent, text)
        if detail:
            text = f"{text.rstrip('.')}. {detail}"
        sources = {sent.start} | detail_src
        if planning:
            # The whole exchange: the planning question it answers is where the step came from too.
            sources |= {s.start for s in before if "negotiation" in s.acts}
        score = (1.0 if commitment else 0.8 if planning else 0.5) + 0.3 * sent.pos
        own_words_before = any(
            s.idx < sent.idx and not s.acts & {"agree"} and len(s.stems) >= 2 for s in self.turns[sent.turn]
        )
        return _Item(text, sources, score, sent.start, content_stems(text), opens_turn=not own_words_before)

    def _commitment_list(self, sent: Sent) -> str | None:
        """Several promises in one breath: "I'll go look at all those things, and I'll try to find
        something, and I'll talk to my doctor about it" is one plan whose first piece alone ("look at
        all those things") says too little. The pieces are kept in order, each in the person's own
        words; a piece broken off and restarted ("I'll find-- I'll try to find something") keeps its
        restart."""
        if sent.unsure_whole:
            return None
        text = _plain_intent(C.strip_hedges(sent.text))
        pieces = []
        for part in C.clauses(text):
            part = re.split(r"\s*(?:--|—|–)\s*", part)[-1]
            part = re.sub(r"^(?:and|then|also),?\s+", "", part.strip(), flags=re.I).rstrip(".,;!")
            m = re.match(r"^i(?:'ll| will| am going to|'m going to|'m gonna)\s+(.+)$", part, re.I)
            if not m or not C.usable(m.group(1), max_words=12, unsure=sent.unsure_content):
                continue
            swapped = C.second_person(m.group(1))
            if swapped:
                pieces.append(swapped.rstrip(".!?"))
        if len(pieces) < 2 or len(content_stems(" ".join(pieces))) < 2:
            return None
        joined = ", ".join(pieces[:-1]) + " and " + pieces[-1]
        return f"you'll {joined}"

    # Questions for next time ---------------------------------------------------------------------

    def questions(self) -> list[_Item]:
        items: list[_Item] = []
        for sent in self.sents:
            if sent.speaker == "therapist":
                # A deferral said in the same breath as a question belongs to the asking.
                asking = any(
                    o.seg == sent.seg and o.text.rstrip().endswith("?") for o in self.turns[sent.turn]
                )
                if "deferral" in sent.acts and not asking and _RETURN_TO.search(sent.text):
                    item = self._therapist_deferral(sent)
                    if item:
                        items.append(item)
                continue
            if "question" in sent.acts:
                item = self._open_question(sent)
                if item:
                    items.append(item)
            elif "deferral" in sent.acts and not sent.negated and _RETURN_TO.search(sent.text):
                clause = self.client_clause(sent, A.DEFERRAL, 20)
                if clause:
                    items.append(
                        _Item(C.sentence(clause), {sent.start}, 0.8, sent.start, content_stems(clause))
                    )
        return _top(_dedupe(items, 0.5), QUESTIONS_MAX)

    def _therapist_deferral(self, sent: Sent) -> _Item | None:
        text = C.strip_hedges(sent.text)
        # "Next week, let's look at how the walks went" -> "Look at how the walks went".
        core = re.sub(
            r"\b(?:next (?:time|week|session|appointment|visit|month)|at (?:our|the|your) next (?:session|appointment|visit|meeting)|in (?:our|your) (?:appointment|session) next (?:week|month))\b,?\s*",
            "",
            text,
            flags=re.IGNORECASE,
        ).strip(" ,")
        core = re.sub(r"^(?:so|and|then|okay|ok|maybe|perhaps),?\s+", "", core, flags=re.IGNORECASE)
        core = re.sub(
            r"\b(?:definitely|certainly|really|also|maybe|perhaps)\s+", "", core, flags=re.IGNORECASE
        )
        core = re.sub(
            r"^(?:let's|let us|we (?:can|could|will|'ll|should)|i(?:'d| would) like (?:us )?to|i(?:'m| am) hoping (?:that )?(?:we can)?|i hope (?:we can)?)\s+",
            "",
            core,
            flags=re.IGNORECASE,
        )
        core = core.rstrip(".!")
        near = self.topics_near(sent, 6)
        if (
            C.usable(core, min_words=2, max_words=16)
            and C.therapist_clause_ok(core)
            and not _VAGUE_OBJECT.search(core)
        ):
            verb = core.split()[0].lower()
            if C._looks_like_verb(verb) and not verb.endswith("ed"):
                return _Item(
                    f"Your therapist proposed to {C.lower_first(core)} next time.",
                    {sent.start},
                    1.0 + 0.2 * sent.pos,
                    sent.start,
                    content_stems(core),
                )
        # The topic the client raised last before the deferral is the one being deferred.
        raised = [
            (max(i for i in tw.mentions if i <= sent.seg and self.segs[i].speaker != "therapist"), tw)
            for tw in near
            if any(i <= sent.seg and self.segs[i].speaker != "therapist" for i in tw.mentions)
        ]
        if raised:
            seg, topic = max(raised, key=lambda pair: pair[0])
            phrase = topic.topic.phrase
            return _Item(
                f"Your therapist proposed coming back to {phrase} next time.",
                {sent.start, self.segs[seg].start},
                0.9 + 0.2 * sent.pos,
                sent.start,
                content_stems(phrase),
            )
        return None

    def _open_question(self, sent: Sent) -> _Item | None:
        """A question the client asked that the session did not settle, in their own words."""
        reply = self.turn_after(sent)
        therapist_reply = reply if reply and reply[0].speaker == "therapist" else []
        deferred = any("deferral" in r.acts for r in therapist_reply[:3])
        unanswered = not therapist_reply or sent.pos > 0.9
        request = "deferral" in sent.acts
        if not (deferred or unanswered or request):
            return None
        text = C.strip_hedges(sent.text)
        if (
            not text.endswith("?")
            or not C.usable(text, min_words=4, max_words=25, unsure=sent.unsure)
            and not (C.word_count(text) <= 25 and not sent.unsure_whole and text.endswith("?"))
        ):
            return None
        if sent.unsure_whole or (
            sent.unsure and any(w.strip("?,.").lower() in sent.unsure for w in text.split())
        ):
            return None
        if len(content_stems(text)) < 2:
            return None
        sources = {sent.start} | {r.start for r in therapist_reply[:1] if "deferral" in r.acts}
        return _Item(
            C.capitalise(text),
            sources,
            1.2 if (deferred or request) else 0.7,
            sent.start,
            content_stems(text),
        )

    # Insights ----------------------------------------------------------------------------------------

    def insights(self) -> list[_Item]:
        items: list[_Item] = []
        for sent in self.sents:
            if sent.client and "realisation" in sent.acts and "question" not in sent.acts:
                clause = self.client_clause(sent, A._REALISATION, 18, start_you=True)
                line = _realised(clause) if clause else None
                if line and content_stems(clause):
                    items.append(
                        _Item(
                            line,
                            {sent.start},
                            1.0,
                            sent.start,
                            content_stems(clause),
                        )
                    )
            elif (
                sent.client
                and "change" in sent.acts
                and A._PROBLEM_RECOGNITION.search(sent.text)
                and not sent.negated
                and not sent.hypothetical
                and "question" not in sent.acts
            ):
                clause = self.client_clause(sent, A._PROBLEM_RECOGNITION, 16, start_you=True)
                if clause and len(content_stems(clause)) >= 2:
                    items.append(
                        _Item(
                            f"You noticed {_that(clause)}.",
                            {sent.start},
                            0.8 + 0.2 * sent.pos,
                            sent.start,
                            content_stems(clause),
                        )
                    )
            elif sent.speaker == "therapist" and "reflection_complex" in sent.acts:
                clause = self.therapist_clause(sent)
                if clause and len(content_stems(clause)) >= 2:
                    items.append(
                        _Item(
                            f"Your therapist reflected that {C.lower_first(clause)}.",
                            {sent.start},
                            0.6 + 0.01 * min(sent.words, 30),
                            sent.start,
                            content_stems(clause),
                        )
                    )
        return _top(_dedupe(items, 0.4), min(INSIGHTS_MAX, 5))

    # Moments -----------------------------------------------------------------------------------------

    def moments(self) -> list[Moment]:
        wanted = max(3, min(MOMENTS_MAX, round(self.duration / 420) + 2))
        scored: list[tuple[float, Sent, str]] = []
        for sent in self.sents:
            if not sent.quotable or sent.words < 6 or "question" in sent.acts or sent.text.endswith("?"):
                continue
            if len(sent.stems) < 2:
                continue
            if sent.speaker == "therapist":
                # The therapist's own "I"/"we" makes it their view or a proposal, not a reflection.
                opening = _REFLECTIVE_OPENING.match(C.strip_vocatives(sent.text))
                body = C.strip_vocatives(sent.text)[opening.end() :] if opening else ""
                strong = bool(opening) and bool(_STRONG_REFLECTION.search(opening.group(0)))
                if (
                    "reflection_complex" in sent.acts
                    and opening
                    and (sent.words >= 14 or (strong and sent.words >= 9))
                    and C.therapist_clause_ok(body)
                ):
                    scored.append((0.9 + 0.005 * min(sent.words, 40), sent, "reflection"))
                continue
            if sent.negated and not sent.acts & {"realisation"}:
                continue
            if "sustain" in sent.acts:
                continue
            # "If you could write on a computer, I could do that", "I usually end up walking": a
            # condition or a habit, not something the person is moving towards.
            if "realisation" not in sent.acts and (sent.hypothetical or _USUALLY.search(sent.text)):
                continue
            if "realisation" in sent.acts:
                scored.append((1.3, sent, "realisation"))
            elif "commitment" in sent.acts and not sent.hypothetical:
                scored.append((1.2, sent, "commitment"))
            elif "change" in sent.acts and _change_kind(sent.text):
                scored.append((1.0 + 0.2 * sent.pos, sent, _change_kind(sent.text)))
        client = [s for s in self.sents if s.client]
        sustain = [s for s in client if "sustain" in s.acts and s.quotable and s.words >= 8]
        change = [s for s in client if s.acts & {"change", "commitment"}]
        if len(scored) < 3 and len(sustain) >= 4 and len(sustain) >= 2 * len(change):
            # A session about why change is hard: its reasons are its heart, so they may be Moments.
            scored += [(0.5, s, "sustain") for s in sustain]
        if len(scored) < 2:
            scored += [
                (0.4, s, "feeling") for s in client if "feeling" in s.acts and s.quotable and s.words >= 6
            ]
        scored.sort(key=lambda x: -x[0])
        gap = max(15.0, self.duration / (wanted * 3))
        chosen: list[tuple[Sent, str]] = []
        for _score, sent, kind in scored:
            if all(abs(sent.start - c.start) >= gap for c, _ in chosen):
                chosen.append((sent, kind))
            if len(chosen) >= wanted:
                break
        if len(chosen) < 3:
            # Fewer than three: the rest of the person's change talk and the therapist's longer
            # reflections may come in, still labelled for what they are.
            taken = {c.start for c, _ in chosen}
            for sent in self.sents:
                if sent.start in taken or not sent.quotable or sent.words < 8 or "question" in sent.acts:
                    continue
                if (
                    sent.client
                    and "change" in sent.acts
                    and not (sent.negated or sent.hypothetical or "sustain" in sent.acts)
                ):
                    if not _USUALLY.search(sent.text):
                        scored.append((0.3, sent, "change"))
                elif sent.speaker == "therapist" and "reflection_complex" in sent.acts and sent.words >= 10:
                    opening = _REFLECTIVE_OPENING.match(C.strip_vocatives(sent.text))
                    if opening and C.therapist_clause_ok(C.strip_vocatives(sent.text)[opening.end() :]):
                        scored.append((0.25, sent, "reflection"))
        if len(chosen) < 3:  # a short session: closer together rather than fewer than three
            for _score, sent, kind in sorted(scored, key=lambda x: -x[0]):
                if len(chosen) >= 3:
                    break
                if all(sent.start != c.start for c, _ in chosen):
                    chosen.append((sent, kind))
        out = []
        for sent, kind in sorted(chosen, key=lambda c: c[0].start):
            label = _MOMENT_LABELS[kind]
            kind = kind if kind in _MOMENT_LABELS and "_" not in kind else "change"
            if not self.speakers_known or sent.speaker == "unknown":
                label = "From the session"
            out.append(
                Moment(
                    reflection=label,
                    quote=C.sentence(C.quote(sent.text)),
                    offset=sent.start,
                    sources=[sent.start],
                    kind=kind,
                    speaker=sent.speaker,
                )
            )
        return out

    # Summary ------------------------------------------------------------------------------------------

    def summary(
        self, next_steps: list[_Item], insights: list[_Item], questions: list[_Item]
    ) -> list[SourcedText]:
        out: list[SourcedText] = []
        stated = self._stated_subject()
        if stated:
            out.append(stated)
        elif [tw for tw in self.topics if tw.topic.id not in SAFETY_TOPICS]:
            # Self-harm and suicide get their own, gentler sentence below, not a place in a list.
            others = [tw for tw in self.topics if tw.topic.id not in SAFETY_TOPICS]
            top = [tw for tw in others[:3] if tw.weight >= 0.25 * others[0].weight] if others else []
            phrases = [tw.topic.phrase for tw in top]
            sources = {self.segs[self._named_mention(tw)].start for tw in top}
            out.append(SourcedText(text=f"This session was about {_join(phrases)}.", sources=sorted(sources)))

        # What weighed on the person: their strongest feeling, in their words turned to "you".
        feeling = next(
            (
                (s, c)
                for s in sorted(
                    (
                        s
                        for s in self.sents
                        if s.client
                        and "feeling" in s.acts
                        and "realisation" not in s.acts
                        and not s.negated
                        and not _SELF_CRITICAL.search(s.text)
                    ),
                    key=lambda s: -len(s.stems),
                )
                if (c := self.client_clause(s, A._FEELING, 11, start_you=True))
            ),
            None,
        )
        if feeling:
            s, clause = feeling
            out.append(SourcedText(text=f"You said {_that(clause)}.", sources=[s.start]))

        realised = [i for i in insights if i.text.startswith(("You realised", "You noticed"))]
        reflected = [i for i in insights if i.text.startswith("Your therapist reflected")]
        if realised:
            best = max(realised, key=lambda i: i.score)
            lead = "You realised" if best.text.startswith("You realised") else "You noticed"
            line = _short(best.text, 11, lead)
            if line:
                out.append(SourcedText(text=line, sources=sorted(best.sources)))
        elif reflected:
            best = max(reflected, key=lambda i: i.score)
            line = _short(best.text, 11, "Your therapist reflected that")
            if line:
                out.append(SourcedText(text=line, sources=sorted(best.sources)))

        proposal = self._open_proposal(next_steps)
        if proposal:
            out.append(proposal)

        if next_steps:
            # The most substantial agreement (said with detail and taken up, not just said last),
            # and, when there is one, the person's own decision too.
            def weight(item: _Item) -> float:
                return item.score + 0.1 * len(item.sources) + 0.05 * len(set(item.stems))

            # A step whose line cannot be cut short enough to paraphrase gives way to the next one.
            ranked = [
                i
                # Meeting again is agreed in almost every session: the summary names what to do first.
                for i in sorted(
                    next_steps, key=lambda i: (not i.text.startswith(FOLLOW_UP_LEAD), weight(i)), reverse=True
                )
                if _summary_clause(_decision_line(i.text), list_cut=True)
            ]
            picks = ranked[:1]
            own = [
                i
                for i in ranked[1:]
                if picks and _OWN_DECISION.match(i.text) and not _OWN_DECISION.match(picks[0].text)
            ]
            picks += own[:1]
            for best in sorted(picks, key=lambda i: i.at):
                line = _summary_clause(_decision_line(best.text), list_cut=True)
                if line:
                    out.append(SourcedText(text=C.sentence(line), sources=sorted(best.sources)))

        out = S.with_summary_sentence(out, self.safety)

        if questions and len(out) < 6:
            # A thread explicitly kept for next time says most about what comes next.
            q = max(
                questions,
                key=lambda i: (bool(re.search(r"next time|proposed", i.text, re.I)), i.score),
            )
            near = [tw for tw in self.topics if any(self.segs[m].start in q.sources for m in tw.mentions)]
            if q.text.endswith("?") and C.word_count(q.text) <= 10:
                out.append(
                    SourcedText(
                        text=f"You want to bring back your question: “{q.text}”", sources=sorted(q.sources)
                    )
                )
            elif q.text.startswith("Your therapist proposed to "):
                plan = re.sub(
                    r"\s*next time\.?$", "", q.text[len("Your therapist proposed to ") :].rstrip(".")
                )
                plan = _summary_clause(plan, 10)
                if plan:
                    line = f"Next time, your therapist proposed to {plan}."
                    out.append(SourcedText(text=line, sources=sorted(q.sources)))
            elif near and not q.text.endswith("?"):
                by_therapist = any(s.speaker == "therapist" and s.start in q.sources for s in self.sents)
                line = (
                    f"Next time, you and your therapist plan to come back to {near[0].topic.phrase}."
                    if by_therapist
                    else f"You want to come back to {near[0].topic.phrase} next time."
                )
                mention = self.segs[self._named_mention(near[0])].start
                out.append(SourcedText(text=line, sources=sorted(q.sources | {mention})))

        if len(out) < 3:
            out += self._summary_fillers(out, insights, 3 - len(out))
        # One sentence per moment of the session: a later line built on the same words goes. The
        # "about" line cites where each topic came up, not words it paraphrases, so it never counts.
        kept: list[SourcedText] = []
        for line in out:
            paraphrases = [k for k in kept if not k.text.startswith("This session was about")]
            if any(set(line.sources) <= set(k.sources) for k in paraphrases):
                continue
            kept.append(line)
        out = kept
        if not self.speakers_known:
            out = [SourcedText(text=_neutral(s.text), sources=s.sources) for s in out]
        return out[:6]

    def _open_proposal(self, next_steps: list[_Item]) -> SourcedText | None:
        """The therapist's main proposal that the person did not take up in the session: "What would
        you think about trying that slightly different approach for two or three months?" - "Well,
        two or three months is a long time…". It is half of what the session was about, so the
        summary names it, with the person's answer in their own words; it is never a next step."""
        step_stems = [set(i.stems) for i in next_steps]
        for sent in reversed(self.sents):
            if sent.speaker != "therapist" or sent.pos < 0.5 or sent.unsure_whole:
                continue
            if not sent.acts & {"advice", "negotiation", "options"} or "deferral" in sent.acts:
                continue
            if any(sent.start in i.sources for i in next_steps):
                continue
            answer, reply = self._reply(sent)
            if answer != "declined":
                continue
            what = C.imperative(sent.text)
            # "…for two or three months, to see whether it makes any difference": the ask, not its why.
            what = what and re.split(r",\s+(?:just\s+)?to (?:see|find out|check)\b", what)[0]
            if (
                not what
                or not C.usable(what, min_words=3, max_words=16, unsure=sent.unsure_content)
                or len(content_stems(what)) < 3
                or _WH_ASK.search(what)
                or _MEET_AGAIN.search(what)
                or any(len(st & set(content_stems(what))) >= 2 for st in step_stems)
            ):
                continue
            what = re.sub(r"^(\w+) that (?=\w+ \w+)", r"\1 a ", C.lower_first(what))
            said = next(
                (
                    (r, c)
                    for r in reply[:3]
                    if r.acts & {"sustain", "decline"} or r.negated
                    if (c := self.client_clause(r, None, 16, require_you=False))
                    and len(content_stems(c)) >= 2
                ),
                None,
            )
            if not said:
                continue
            r, clause = said
            return SourcedText(
                text=f"Your therapist suggested you {what.rstrip('.')}; you said {_that(clause)}.",
                sources=sorted({sent.start, r.start}),
            )
        return None

    def _summary_fillers(
        self, have: list[SourcedText], insights: list[_Item], need: int
    ) -> list[SourcedText]:
        """More of what happened, for a summary that would be too thin: what the person brought,
        an insight or reflection not yet used, what they want to change. Each is still a composed
        clause from one sentence, and none repeats a line already there."""
        # The "about" line cites where each topic came up, not words it paraphrases (as below).
        used = {
            x for line in have if not line.text.startswith("This session was about") for x in line.sources
        }
        out: list[SourcedText] = []

        said = [content_stems(line.text) for line in have]

        def add(text: str, sources: list[float]) -> None:
            if len(out) >= need or used & set(sources) or not text:
                return
            # "You're like, you're not a complete fool" reports talk, it says nothing by itself; a
            # line that says again what is there ("you don't smoke around him") adds nothing.
            stems = content_stems(text)
            if re.search(r"(?:you're|you were|he's|she's|they're) like,", text, re.IGNORECASE) or any(
                _jaccard(stems, other) >= 0.5 for other in said
            ):
                return
            out.append(SourcedText(text=text, sources=sources))
            used.update(sources)
            said.append(stems)

        opening = self._first_said([s for s in self.sents if s.pos < 0.35], None)
        if opening:
            add(opening[1], [opening[0].start])
        for item in sorted(insights, key=lambda i: -i.score):
            line = _summary_clause(item.text, 16)
            if line:
                add(C.sentence(line), sorted(item.sources))
        for sent in sorted(
            (s for s in self.sents if s.client and s.acts & {"change", "sustain"} and not s.hypothetical),
            key=lambda s: -len(s.stems),
        ):
            clause = self.client_clause(sent, None, 11, start_you=True)
            if clause and len(content_stems(clause)) >= 2 and not _VAGUE_OBJECT.search(clause):
                add(f"You said {_that(clause)}.", [sent.start])
        # The therapist's reflections, heaviest first: they often say in one line what the hour was.
        for sent in sorted(
            (
                s
                for s in self.sents
                if s.speaker == "therapist" and s.acts & {"reflection_complex", "reflection_simple"}
            ),
            key=lambda s: (-("reflection_complex" in s.acts), -len(s.stems)),
        ):
            clause = self.therapist_clause(sent, 12)
            if clause and len(content_stems(clause)) >= 2:
                add(f"Your therapist reflected that {C.lower_first(clause)}.", [sent.start])
        for sent in sorted((s for s in self.sents if s.client), key=lambda s: -len(s.stems)):
            clause = self.client_clause(sent, None, 11, start_you=True)
            if clause and len(content_stems(clause)) >= 2:
                add(f"You said {_that(clause)}.", [sent.start])
        # Last, what the therapist asked about: a fact of the session, said as one.
        for sent in sorted(
            (s for s in self.sents if s.speaker == "therapist" and "question_open" in s.acts),
            key=lambda s: -len(s.stems),
        ):
            asked = _embedded_question(C.strip_hedges(sent.text))
            if (
                asked
                and len(content_stems(asked)) >= 2
                and C.usable(asked, max_words=14, unsure=sent.unsure_content)
            ):
                add(f"Your therapist asked {asked}.", [sent.start])
        return out

    def neutral(self, items: list[_Item]) -> list[_Item]:
        if not self.speakers_known:
            for item in items:
                item.text = _neutral(item.text)
        return items

    # Full recap --------------------------------------------------------------------------------------

    def _narrate(self, sent: Sent) -> str | None:
        if sent.speaker == "therapist":
            if "reflection_complex" in sent.acts or "reflection_simple" in sent.acts:
                clause = self.therapist_clause(sent, 18)
                return f"Your therapist reflected that {C.lower_first(clause)}." if clause else None
            if sent.acts & {"advice", "options"}:
                what = C.imperative(sent.text)
                if (
                    what
                    and not sent.unsure_whole
                    and C.usable(what, max_words=20, unsure=sent.unsure_content)
                    and not re.match(r"^(?:what|how)\b", what, re.I)
                ):
                    return f"Your therapist suggested you {C.lower_first(what).rstrip('.')}."
            if "information" in sent.acts:
                return None
            return None
        if "question" in sent.acts:
            return None
        cue = "realisation" in sent.acts
        clause = self.client_clause(sent, None, 16, start_you=True)
        if not clause or len(content_stems(clause)) < 2 or _VAGUE_OBJECT.search(clause):
            return None
        if cue:
            return _realised(clause)
        if "feeling" in sent.acts:
            return f"You said {_that(clause)}."
        if sent.acts & {"change", "commitment", "sustain"}:
            return f"You said {_that(clause)}."
        return None

    def _paragraph(self, block: Sequence[Sent], k: int = 3) -> SourcedText | None:
        def weight(s: Sent) -> float:
            w = 0.0
            if s.acts & {"realisation", "commitment"}:
                w += 1.2
            if s.acts & {"change", "reflection_complex", "feeling"}:
                w += 0.8
            if s.acts & {"sustain", "advice", "options"}:
                w += 0.5
            return w + 0.02 * len(s.stems)

        picked: list[tuple[Sent, str]] = []
        for s in sorted(block, key=weight, reverse=True):
            if weight(s) < 0.5:
                break
            line = self._narrate(s)
            if line and all(_jaccard(content_stems(line), content_stems(p)) < 0.5 for _, p in picked):
                picked.append((s, line))
            if len(picked) >= k:
                break
        if not picked:
            return None
        picked.sort(key=lambda p: p[0].idx)
        text = " ".join(p for _, p in picked)
        if not self.speakers_known:
            text = _neutral(text)
        return SourcedText(text=text, sources=sorted({s.start for s, _ in picked}))

    def full_recap(self, next_steps: list[_Item], questions: list[_Item]) -> list[Section]:
        sents = self.sents
        n = len(sents)
        opening_end = max(1, min(n // 8, 40))
        closing_start = max(opening_end, n - max(1, min(n // 8, 40)))
        sections: list[Section] = []

        opening = sents[:opening_end]
        opener = self._opening(opening)
        if opener:
            sections.append(Section(title="Opening", paragraphs=[opener]))

        middle = sents[opening_end:closing_start]
        for label, block in self._phases(middle):
            paragraph = self._paragraph(block)
            if paragraph:
                sections.append(Section(title="Main threads", subtitle=label, paragraphs=[paragraph]))

        if next_steps:
            texts = [re.split(r"(?<=[.!?])\s+", i.text)[0] for i in next_steps[:3]]
            plan = " ".join(C.sentence(t) for t in texts)
            sources = sorted({s for i in next_steps[:3] for s in i.sources})
            sections.append(Section(title="The plan", paragraphs=[SourcedText(text=plan, sources=sources)]))

        closing = sents[closing_start:]
        closer = self._closing(closing, questions)
        if closer:
            sections.append(Section(title="Closing", paragraphs=[closer]))
        return sections

    def _opening(self, block: Sequence[Sent]) -> SourcedText | None:
        """How it opened: the first topic the client brought, and what they said about it."""
        if not block:
            return None
        parts: list[str] = []
        sources: set[float] = set()
        segs = {s.seg for s in block if s.client}
        first = sorted(
            ((min(segs & set(tw.mentions)), tw) for tw in self.topics if segs & set(tw.mentions)),
            key=lambda pair: pair[0],
        )
        if first:
            seg, tw = first[0]
            parts.append(f"The session opened with {tw.topic.phrase}.")
            sources.add(self.segs[seg].start)
        said = self._first_said(block, None)
        if said:
            parts.append(said[1])
            sources.add(said[0].start)
        if not parts:
            return None
        return SourcedText(text=" ".join(parts), sources=sorted(sources))

    def _first_said(self, block: Sequence[Sent], acts: set[str] | None) -> tuple[Sent, str] | None:
        """The first thing in the block the client said (of that kind), as "You said …"."""
        for sent in block:
            if not sent.client or "question" in sent.acts or not sent.stems:
                continue
            if acts is not None and not sent.acts & acts:
                continue
            clause = self.client_clause(sent, None, 14, start_you=True)
            if clause and re.search(
                r"\byour name is\b|^you're \w+ years old|^you're (?:a|an) (?:junior|senior|student)\b",
                clause,
                re.I,
            ):
                continue  # an introduction, not what the session was about
            if clause and not re.match(r"^you (?:also )?(?:said|told|asked)\b", clause, re.I):
                line = f"You said {_that(clause)}."
                return sent, (_neutral(line) if not self.speakers_known else line)
        return None

    def _closing(self, block: Sequence[Sent], questions: list[_Item]) -> SourcedText | None:
        """How it closed: what was left for next time, and how the person said they felt."""
        parts: list[str] = []
        sources: set[float] = set()
        late_q = [q for q in questions if q.at >= (block[0].start if block else 0)]
        if late_q:
            q = late_q[0]
            if q.text.endswith("?") and C.word_count(q.text) <= 14:
                parts.append(f"You raised a question to come back to: “{q.text}”")
            else:
                parts.append(q.text)
            sources |= q.sources
        said = self._first_said(list(reversed(block)), {"feeling"})
        if said:
            parts.append(said[1])
            sources.add(said[0].start)
        if not parts:
            # Nothing new at the end: the plan section already says what was agreed there.
            return None
        return SourcedText(text=" ".join(parts), sources=sorted(sources))

    def _phases(self, middle: Sequence[Sent]) -> list[tuple[str, list[Sent]]]:
        """The middle of the session cut where its topic changes (by blocks of a few minutes)."""
        if not middle:
            return []
        span = max(1.0, middle[-1].start - middle[0].start)
        blocks_n = max(1, min(6, round(span / 300)))
        step = span / blocks_n
        blocks: list[list[Sent]] = [[] for _ in range(blocks_n)]
        for s in middle:
            blocks[min(blocks_n - 1, int((s.start - middle[0].start) / step))].append(s)
        out: list[tuple[str, list[Sent]]] = []
        for block in blocks:
            if not block:
                continue
            segs = {s.seg for s in block}
            weights = [(len(segs & set(tw.mentions)), tw.topic.label) for tw in self.topics]
            weights = [w for w in weights if w[0] > 0]
            label = max(weights)[1] if weights else ""
            if out and out[-1][0] == label:
                out[-1][1].extend(block)
            else:
                out.append((label, list(block)))
        return out


# What "quit"/"cut down" is about, for a behaviour topic.
_BEHAVIOURS = {"alcohol": "drinking", "smoking": "smoking", "drug_use": "using drugs", "gambling": "gambling"}

# How a reflection opens: on the client ("You…", "So you…") or with a reflective lead.
_REFLECTIVE_OPENING = re.compile(
    r"^(?:(?:so|and|okay|ok|yeah|well|right|mm-hmm|it's okay),?\s+)*(?:you(?:'re|'ve|'d|'ll)?\b|your\b|part of you|"
    r"(?:it )?sounds (?:to me )?like|it seems|it feels like|what i(?:'m| am) hearing|on (?:the )?one hand|i(?:'m| am) hearing)",
    re.IGNORECASE,
)

_STRONG_REFLECTION = re.compile(r"sounds|seems|feels like|part of you|hearing|one hand", re.IGNORECASE)

_USUALLY = re.compile(r"\b(?:usually|normally|always|often|generally|typically|tend to)\b", re.IGNORECASE)

_MOMENT_LABELS = {
    "realisation": "Something you realised",
    "commitment": "Something you decided",
    "change_steps": "A step you've already taken",
    "change_ability": "Something you know you can do",
    "change_problem": "Something you noticed",
    "change_desire": "Something you want",
    "change": "In your own words",
    "feeling": "A feeling you put into words",
    "reflection": "Your therapist reflected",
    "sustain": "Something you said about why change is hard",
}


def _change_kind(text: str) -> str | None:
    """Which kind of change talk, for a truthful label; None when it is too weak to be a Moment."""
    if A._STEPS.search(text):
        return "change_steps"
    if A._PROBLEM_RECOGNITION.search(text):
        return "change_problem"
    if A._ABILITY.search(text) and re.search(rf"\b(?:{A._CHANGE_VERBS})\b", text, re.I):
        return "change_ability"
    if A._DESIRE.search(text) and re.search(rf"\b(?:{A._CHANGE_VERBS})\b", text, re.I):
        return "change_desire"
    return None


def _is_safety_label(label: str) -> bool:
    return any(t.label == label and t.id in SAFETY_TOPICS for t in catalogue().topics)


_OWN_DECISION = re.compile(r"^You(?:'ll| will| are going to|'re going to|'re gonna| are gonna| decided)\b")


def _decision_line(text: str) -> str:
    """A next step as a summary sentence that says whose decision it was."""
    first = re.split(r"(?<=[.!?])\s+", text)[0]
    low = first.lower()
    if first.startswith("Your therapist suggested"):
        return first
    if first.startswith(("Your plan: ", "Your goal: ")):
        return f"You settled on a {'goal' if first.startswith('Your goal') else 'plan'}: {first.split(': ', 1)[1]}"
    if _OWN_DECISION.match(first):
        return f"You decided that {C.lower_first(first)}"
    if re.match(r"^you (?:could|can|might)\b", low):
        return f"One idea you came up with: {C.lower_first(first)}"
    if low.startswith("you"):
        return f"You said {C.lower_first(first)}"
    return f"You agreed to {C.lower_first(first)}"


def _embedded_question(question: str) -> str | None:
    """ "What would you like to change about your drinking?" -> "what you would like to change about
    your drinking": a question reported inside a sentence, word order put back."""
    m = re.match(
        r"^(what|how|why|where|which \w+)\s+(would|could|will|can|might|should|is|are|was|were|have|has|do|does)\s+(you|your \w+|it|that|this|things)\s+(.+?)\?$",
        question,
        re.IGNORECASE,
    )
    if not m:
        return None
    wh, aux, subject, rest = (g.lower() if i < 2 else g for i, g in enumerate(m.groups()))
    if not C.therapist_clause_ok(rest) or not C.therapist_clause_ok(subject):
        return None
    aux = "" if aux in ("do", "does") else f" {aux}"
    return f"{wh} {subject}{aux} {rest}"


def _realised(clause: str) -> str | None:
    """A client's realisation, written as one: "you never noticed how much saying yes starts it" ->
    "You noticed how much saying yes starts it"; "you realised now that you say yes…" -> "You
    realised that you say yes…". A bare "that makes sense" says nothing on its own: None."""
    # Negated: "I never noticed X" realised X. "I never thought about it till…" did not realise
    # anything, so only noticing, realising and connecting turn into a realisation when negated.
    for pattern, join in _REALISED_FORMS:
        m = pattern.match(clause)
        if m:
            rest = m.group(2).rstrip(".")
            verb = _PAST.get(m.group(1).lower(), m.group(1).lower())
            return C.sentence(f"You {verb} {join}{rest}") if C.word_count(rest) >= 3 else None
    if re.match(r"^(?:that|it) (?:makes|made) sense", clause, re.IGNORECASE):
        return None
    if re.match(
        r"^you (?:had |have )?(?:never|hadn't|had not|didn't|did not|haven't) (?:really |even )?(?:thought|think|know|knew)\b",
        clause,
        re.I,
    ):
        return None  # not having thought about something is not a realisation
    return C.sentence(f"You realised {_that(clause)}")


_REALISED_FORMS = (
    (
        re.compile(
            r"^you (?:had |have )?(?:never|hadn't|had not|didn't|did not) (?:really |even )?(noticed|notice|realised|realized|realise|realize|connected)\b\s*(?:that |before that |before )?(.*)$",
            re.IGNORECASE,
        ),
        "",
    ),
    (
        re.compile(
            r"^you (?:just |now |finally |really )?(realised|realized|noticed|see|can see|figured out|worked out|understand)\b(?: (?:just )?now)?\s*(?:that )?(.*)$",
            re.IGNORECASE,
        ),
        "that ",
    ),
)
_PAST = {
    "notice": "noticed",
    "realise": "realised",
    "realize": "realised",
    "realized": "realised",
    "seen": "saw",
    "see": "saw",
    "can see": "saw",
    "understand": "understood",
}


def _that(clause: str) -> str:
    return C.lower_first(clause.rstrip(".!?"))


# Where a decision can end early and still be whole: "You decided that you're going to ask your
# manager | if someone else can share the work".
_CLAUSE_BOUNDARY = re.compile(
    r"\s(?=(?:if|when|so|because|before|after|until|while|with|for the|by|so that|which|who|why|where|how|and then)\b)|,\s"
)
# The last resort: "…go home and throw out the bottles of wine | and stop having a glass at night".
_AND_BOUNDARY = re.compile(r"\s(?=and\b)")


def _summary_clause(line: str, limit: int = 14, *, list_cut: bool = False) -> str:
    """A summary line that paraphrases rather than copies a long run of words: the frame plus the
    decision up to its first clause boundary that keeps it whole and short."""
    if C.word_count(line) <= limit:
        return line
    for boundary in (_CLAUSE_BOUNDARY, _AND_BOUNDARY) if list_cut else (_CLAUSE_BOUNDARY,):
        for cut in reversed([m.start() for m in boundary.finditer(line)]):
            head = re.sub(r"(?:\s+(?:and|or|but|then))+$", "", line[:cut].rstrip(" ,"))
            # "You decided that you'll go look at all those things" cut from a longer promise says nothing.
            said = set(content_stems(head)) - _FRAME_STEMS
            # "…all those things, try to find something" would drop the end of a list.
            if boundary is _AND_BOUNDARY and "," in head:
                continue
            if C.word_count(head) <= limit and C.ends_whole(head) and C.word_count(head) >= 5 and said:
                return head
    return ""


# The summary's own frame words ("You decided that…", "You settled on a goal:"), not what was decided.
_FRAME_STEMS = frozenset(content_stems("decided agreed settled goal plan idea"))


def _short(text: str, clause_words: int, lead: str) -> str:
    """A summary line that paraphrases rather than copies: the clause after its lead, kept short."""
    body = text[len(lead) :].strip() if text.startswith(lead) else text
    body = body.rstrip(".")
    words = body.split()
    if len(words) > clause_words:
        # A realisation's heart is often its last "that" clause: "…so busy looking after Mum that
        # you haven't let yourself grieve Dad at all".
        complements = [f"that {p.strip()}" for p in reversed(re.split(r"\bthat\s+(?=you\b)", body)[1:])]
        pieces = [
            p
            for p in [*C.clauses(body), *re.split(r",\s*", body), *complements]
            if C.usable(p, max_words=clause_words)
        ]
        if not pieces:
            return ""
        body = pieces[0]
    return C.sentence(f"{lead} {body}")


def _neutral(text: str) -> str:
    """Without speaker labels the recap cannot say who said what: neutral wording instead."""
    text = re.sub(
        r"\bYour therapist (?:reflected|suggested|proposed)(?: that| you)?\b", "In the session:", text
    )
    text = re.sub(r"\bYou (?:said|realised|decided)(?: that)?\b", "In the session:", text)
    return text
