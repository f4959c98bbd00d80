"""How good the recaps are on real counselling sessions: the AnnoMI dev set, scored against its annotations.

Runs a recap engine over every session in ../shared/recap-dev/annomi-dev.csv (30 hand-transcribed
motivational-interviewing sessions, see that folder's README), prints one row per metric (value, target,
pass/fail), a few examples under the table so a person can check the rules, then ONE JSON line for tooling:
    {"engine": "...", "sessions": N, "metrics": {...}, "acts": {...}}     ("acts" only with --acts)

Run: .venv/bin/python bench/recap_quality.py [--csv PATH] [--engine NAME] [--show ID ...] [--acts]
    --engine local        the engine in this working tree (default; any registered name works the same way)
    --engine rev:GITREV   recaps/engines as it was at GITREV, imported from a temporary copy
    --engine old          alias of rev:8631cd0, the engine before the schema-2 rewrite
    --show ID             print that transcript's recap as Markdown before the table (repeatable)
    --acts                also score recaps.engines.acts.tag_turns against the dialogue-act annotations
Without the CSV it prints a line saying so and exits 0.

Transcript: each utterance is one Segment(speaker=interlocutor, text=utterance_text). Utterances sharing a
whole-second timestamp T (n of them, j = 0..n-1 in order) start at round(T + j/(n+1), 3); a segment ends
where the next one starts (the last one, or one followed by an earlier timestamp, ends 2 s after its
start). An item's `sources` resolve to the utterance whose start is within 0.01 s.

Items = summary entries, theme labels, insights, next steps, questions, moments, full-recap paragraphs and
the safety line. Recaps are read through `.to_dict()`, so schema 1 (old engine) and schema 2 both work;
missing fields count as empty. Ratios are pooled over sessions; a ratio with nothing to count is null.

Metrics:
- topic_named (>= 0.9): sessions whose `topic` has a content word (split on ";" and "/", words of >= 4
  letters not in GENERIC) where some content word w is matched, by word start, by a word of the theme
  labels or the summary: recap word r matches when r.startswith(w[:k]), k = min(len(w), max(4, len(w)-3)).
  topic_named_when_said (info): the same, over the sessions whose transcript contains one of those
  words (word start): the ceiling for an engine that names only what was said.
- junk_theme_labels (<= 0.05): share of theme labels that are all filler/glue words (FILLER | GLUE), or
  contain a weekday, month, digit string or number word, or a person's name (a word the session only ever
  writes capitalised, at least once mid-sentence; not "I"), or are one past-tense-looking word ending in
  "ed" (5+ letters, not "-eed", not in ED_NOUNS).
- moments_lift (>= 2.5): share of moments whose offset utterance is a complex therapist reflection or
  client change talk, over the same share among all utterances of >= 6 words.
  moments_sustain_share (info): share of moments whose offset utterance is client sustain talk.
- next_step_precision (>= 0.7) / next_step_recall (>= 0.35): a session's targets are therapist utterances
  with input subtype advice/options/negotiation, plus client change talk at index i >= 2n/3. Precision:
  next steps citing at least one target. Recall: distinct targets cited by any next step (at most 8 per
  session) over the sum of min(targets, 8).
- next_steps_that_are_questions (= 0): next steps containing "?" or citing only therapist questions.
- questions_from_therapist_questions (<= 0.10): "questions for next time" citing a therapist question.
- attribution_errors (<= 0.02): among items whose text (quoted spans removed) claims a speaker, the share
  with a wrong claim. "your therapist/counsellor/counselor" claims the therapist; a sentence starting
  "You " / "You'" or "you <said|realised|decided|want|...>" (CLIENT_CLAIM) claims the client. Wrong when
  no source is by that speaker; for a moment the claim comes from its label, and its offset utterance
  (where the quote is from) must also be by the claimed speaker (therapist if the label claims both).
- summary_copying (<= 0.20): share of summary sentences sharing a run of 12+ words with one utterance of
  the session (lowercased, punctuation and um/uh/er/erm/hmm/mm dropped, I/you, my/your, mine/yours,
  myself/yourself, I'm/you're, I've/you've, I'll/you'll, I'd/you'd each folded to one token; me = I).
- truncated_items (<= 0.01): share of item texts and moment quotes ending mid-phrase: after closing
  quotes/brackets, ends with - — – … ... , or :, or after also dropping final .!? the last word is in
  DANGLING.
- swapped_hedges (= 0): items whose text (quotes removed) has "you mean/guess/suppose/dunno",
  "you're mean/guess/...", or "you mean," / "you guess,".
- safety_recall (= 1.0): sessions at risk (topic mentions self-harm, or a client utterance matches
  SELF_HARM) whose recap has a safety line and whose summary names it (SAFETY_SUMMARY).
  safety_false_alarms (info): sessions with a safety line where no utterance matches SELF_HARM.
- grounded (>= 0.95): share of items whose sources all resolve and at least 60% of whose content words
  (lowercase alphabetic, 3+ letters, not in STOPWORDS | FRAME) word-start-match the cited utterances
  (moments: label and quote together). Theme: sources resolve and, if recaps/engines/data/topics.json has
  a topic with that label, a cited utterance contains one of its terms ("*" = prefix); else the 60% rule
  on the label. Safety line: sources resolve and a cited utterance matches SELF_HARM.
Info rows: mean items per recap by section, mean and max engine.build time per session (after one warm-up).

--acts compares tag_turns([(speaker, text), ...]) -> [set of act labels per turn] with the gold acts
(question_open/closed, reflection_simple/complex, advice/options/information/negotiation, change/sustain;
a predicted "commitment" also counts as "change"), plus any_question and any_reflection rows.
"""

from __future__ import annotations

import argparse
import csv
import functools
import importlib
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_CSV = ROOT.parent / "shared" / "recap-dev" / "annomi-dev.csv"
TOPICS_JSON = ROOT / "recaps" / "engines" / "data" / "topics.json"
OLD_REV = "8631cd0"
TOLERANCE_S = 0.01
LAST_SEGMENT_S = 2.0
COPY_RUN = 12
GROUNDED_SHARE = 0.6
UNIT_GAP = 2
RECALL_CAP = 8
EXAMPLES = 5

# ---------------------------------------------------------------------------------------------------
# Word lists


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


GENERIC = _words(
    "reducing reduce increasing increase more taking following changing approach being management managing "
    "cessation consumption procedure loss with about problem recognition recognising success activity "
    "unidentifiable into under someone getting"
)
FILLER = _words(
    "wanna gonna kinda sorta gotta yeah yes okay ok like stuff thing things um uh really actually basically "
    "just know mean think lot bit time times way day days week weeks kind sort something anything everything "
    "nothing people person guy guys right well good bad sure maybe little much many said say got get make "
    "made go going went come want need feel felt try tried called call told tell see look put take took give "
    "keep let seem talk talking saying doing getting trying wanted today tomorrow yesterday tonight morning "
    "night year years month months hour hours minute minutes number numbers half whole part point idea "
    "question answer reason sense case fact example"
)
# Function words: a label made only of these and FILLER says nothing ("The thing", "Kind of").
GLUE = _words(
    "a an the and or but of to in on at for with from by about as into than then so if it its it's this "
    "that these those there here i i'm me my you your we our us he she they them his her their is are was "
    "were be been am do does did have has had not no don't can could would should will what which who how "
    "when where why all some any very too also up out off over again still even"
)
CALENDAR = _words(
    "monday tuesday wednesday thursday friday saturday sunday january february march april may june july "
    "august september october november december"
)
NUMBER_WORDS = _words(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred thousand "
    "first second third fourth fifth sixth seventh eighth ninth tenth"
)
# Words ending in "ed" that are not past-tense verbs, so a one-word label like "Hatred" is not junk.
ED_NOUNS = _words("hatred sacred naked kindred wicked hundred")
# Words a finished English sentence does not end on. Copulas, "that", "so", "you", "like" and
# "really" are left out on purpose: "…what the problem is.", "I can do that.", "I think so." are whole.
DANGLING = _words(
    "a an the and or but to of in on at for with from by your my his her their our its which "
    "because if i um uh just very than as"
)
DANGLING_ENDS = ("-", "—", "–", "…", "...", ",", ":")
STOPWORDS = _words(
    "a about above after again against all am an and any are aren as at be because been before being below "
    "between both but by can cannot could couldn did didn do does doesn doing don down during each few for "
    "from further had hadn has hasn have haven having he her here hers herself him himself his how i if in "
    "into is isn it its itself just let me more most mustn my myself no nor not now of off on once only or "
    "other ought our ours ourselves out over own same shan she should shouldn so some such than that the "
    "their theirs them themselves then there these they this those through to too under until up very was "
    "wasn we were weren what when where which while who whom why will with won would wouldn yes yeah okay "
    "you your yours yourself yourselves ain ll ve re get got gonna wanna kind sort really well just lot "
    "bit thing maybe one going know think mean right sure even still much many say says"
)
FRAME = _words(
    "you your yours yourself therapist session talked talk spoke about said suggested suggest agreed agree "
    "decided realised realized noticed reflected plan planned next time want wanted would like also came "
    "come back bring things something try trying work working week weekly mentioned felt feel feeling "
    "described shared explained idea ideas together started start opening closing opened closed thanked "
    "asked question questions answer discussed looked looking what when how why hope support call text "
    "emergency services local canada elsewhere line counsellor counselor change wanting hard words named "
    "goal settled proposed step already taken own know can"
)

SELF_HARM = re.compile(
    r"\bsuicid\w*|\bkill(?:ing)? myself\b|\bend(?:ing)? my life\b|\bhurt(?:ing)? myself\b"
    r"|\bharm(?:ing)? myself\b|\bcut(?:ting)? myself\b|\bself[- ]?harm\w*|\boverdos\w*"
    r"|\b(?:don't|do not) want to (?:live|be alive)\b|\bbetter off without me\b|\bnot be here anymore\b",
    re.IGNORECASE,
)
SAFETY_SUMMARY = re.compile(
    r"self-harm|hurt(?:ing)? yourself|harm(?:ing)? yourself|cutting|suicid|ending your life|end your life"
    r"|killing yourself|not being here|not wanting to live|wanting to die",
    re.IGNORECASE,
)
THERAPIST_CLAIM = re.compile(r"\byour (?:therapist|counsell?or)\b", re.IGNORECASE)
CLIENT_CLAIM = re.compile(
    r"\byou (?:said|say|realised|realized|noticed|decided|agreed|want|wanted|plan|planned|feel|felt|talked"
    r"|spoke|described|mentioned|asked|shared|explained|told|chose|committed|hope|hoped|would like|'d like"
    r"|'re going|are going|will|'ll)\b",
    re.IGNORECASE,
)
SWAPPED_HEDGE = re.compile(r"\b(?:you|you're) (?:mean|guess|suppose|dunno)\b|\byou (?:mean|guess),", re.I)
QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"")
SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
CLOSERS = " \t\"'”’)]}»"
# Pronoun pairs folded to one token each, so "I want to stop" copied as "you want to stop" still counts.
PRONOUN_FOLD = {
    "i": "<i>",
    "me": "<i>",
    "you": "<i>",
    "my": "<my>",
    "your": "<my>",
    "mine": "<mine>",
    "yours": "<mine>",
    "myself": "<self>",
    "yourself": "<self>",
    "i'm": "<i'm>",
    "you're": "<i'm>",
    "i've": "<i've>",
    "you've": "<i've>",
    "i'll": "<i'll>",
    "you'll": "<i'll>",
    "i'd": "<i'd>",
    "you'd": "<i'd>",
}
HESITATIONS = _words("um uh er erm hmm mm")

# ---------------------------------------------------------------------------------------------------
# Text helpers


def plain(text: str) -> str:
    """Curly apostrophes to straight ones, so "don’t" and "don't" compare equal."""
    return text.replace("’", "'").replace("‘", "'")


def letter_words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", plain(text).lower())


def prefix(word: str) -> str:
    """The part of `word` a recap word must start with to count as the same word (smoking ~ smoke)."""
    return word[: min(len(word), max(4, len(word) - 3))]


def word_start_match(word: str, vocabulary: Iterable[str]) -> bool:
    p = prefix(word)
    return any(r.startswith(p) for r in vocabulary)


def content_words(text: str) -> list[str]:
    return [w for w in letter_words(text) if len(w) >= 3 and w not in STOPWORDS and w not in FRAME]


def unquoted(text: str) -> str:
    return QUOTED.sub(" ", text)


def sentences(text: str) -> list[str]:
    return [s for s in SENTENCE_END.split(text.strip()) if s.strip()]


def copy_tokens(text: str) -> list[str]:
    out = []
    for token in re.findall(r"[a-z0-9']+", plain(text).lower()):
        token = token.strip("'")
        if not token or token in HESITATIONS:
            continue
        out.append(PRONOUN_FOLD.get(token, token.replace("'", "")))
    return out


def ngrams(tokens: Sequence[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def is_truncated(text: str) -> bool:
    t = text.rstrip().rstrip(CLOSERS)
    if t.endswith(DANGLING_ENDS):
        return True
    t = t.rstrip(".!?").rstrip(CLOSERS)
    # The last token, digits included: "…to bed at 11:00." ends on "11:00", not on "at".
    last = re.findall(r"[a-z0-9':]+", plain(t).lower())
    return bool(last) and last[-1] in DANGLING


def ratio(num: float, den: float) -> float | None:
    return num / den if den else None


# ---------------------------------------------------------------------------------------------------
# The data set


@dataclass(frozen=True)
class Utterance:
    index: int
    speaker: str
    start: float
    end: float
    text: str
    behaviour: str
    talk: str
    input_subtype: str
    reflection_subtype: str
    question_subtype: str
    vocabulary: frozenset[str]

    @property
    def therapist_question(self) -> bool:
        return self.speaker == "therapist" and self.behaviour == "question"

    @property
    def complex_reflection(self) -> bool:
        return (
            self.speaker == "therapist"
            and self.behaviour == "reflection"
            and self.reflection_subtype == "complex"
        )

    @property
    def change_talk(self) -> bool:
        return self.speaker == "client" and self.talk == "change"


@dataclass
class Session:
    tid: str
    topic: str
    utterances: list[Utterance]
    starts: list[float] = field(init=False)
    by_start: list[Utterance] = field(init=False)

    def __post_init__(self) -> None:
        self.by_start = sorted(self.utterances, key=lambda u: u.start)
        self.starts = [u.start for u in self.by_start]

    def resolve(self, offset: float) -> Utterance | None:
        """The utterance a source offset points at, or None when none starts within 10 ms."""
        i = bisect_left(self.starts, offset - TOLERANCE_S)
        if i < len(self.starts) and abs(self.starts[i] - offset) <= TOLERANCE_S:
            return self.by_start[i]
        return None

    def cited(self, sources: Iterable[float]) -> list[Utterance]:
        return [u for u in (self.resolve(s) for s in sources) if u is not None]

    def all_resolve(self, sources: Sequence[float]) -> bool:
        return bool(sources) and all(self.resolve(s) is not None for s in sources)


def _seconds(stamp: str) -> int:
    h, m, s = (int(x) for x in stamp.split(":"))
    return h * 3600 + m * 60 + s


def _starts(stamps: Sequence[int]) -> list[float]:
    shared = Counter(stamps)
    seen: Counter[int] = Counter()
    out = []
    for t in stamps:
        out.append(round(t + seen[t] / (shared[t] + 1), 3))
        seen[t] += 1
    return out


def load_sessions(path: Path) -> list[Session]:
    rows_by_session: dict[str, list[dict[str, str]]] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rows_by_session.setdefault(row["transcript_id"], []).append(row)
    sessions = []
    for tid, rows in rows_by_session.items():
        rows.sort(key=lambda r: int(r["utterance_id"]))
        starts = _starts([_seconds(r["timestamp"]) for r in rows])
        utterances = []
        for i, (row, start) in enumerate(zip(rows, starts, strict=True)):
            nxt = starts[i + 1] if i + 1 < len(starts) else None
            end = nxt if nxt is not None and nxt > start else start + LAST_SEGMENT_S
            text = row["utterance_text"]
            utterances.append(
                Utterance(
                    index=i,
                    speaker=row["interlocutor"].strip().lower(),
                    start=start,
                    end=round(end, 3),
                    text=text,
                    behaviour=row["main_therapist_behaviour"],
                    talk=row["client_talk_type"],
                    input_subtype=row["therapist_input_subtype"],
                    reflection_subtype=row["reflection_subtype"],
                    question_subtype=row["question_subtype"],
                    vocabulary=frozenset(letter_words(text)),
                )
            )
        sessions.append(Session(tid=tid, topic=rows[0]["topic"], utterances=utterances))
    return sessions


# ---------------------------------------------------------------------------------------------------
# Engines

_KEEP_ALIVE: list[tempfile.TemporaryDirectory[str]] = []  # old engines import lazily from their copy


@dataclass
class EngineHandle:
    label: str
    engine: Any  # a RecapEngine of whichever version
    package: ModuleType  # the recaps.engines package it came from (its Segment, its acts module)


def _import_rev(rev: str) -> ModuleType:
    """recaps/engines as it was at `rev`, imported from a temporary copy under its own module name so its
    relative imports stay inside the copy and it never clashes with the working tree's recaps.engines."""
    sha = subprocess.run(
        ["git", "rev-parse", "--verify", f"{rev}^{{commit}}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", sha, "recaps/engines"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    tmp = tempfile.TemporaryDirectory(prefix=f"recap-engines-{sha[:10]}-")
    _KEEP_ALIVE.append(tmp)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tmp.name, filter="data")
    package_dir = Path(tmp.name) / "recaps" / "engines"
    name = f"_recap_engines_{sha[:12]}"
    spec = importlib.util.spec_from_file_location(
        name, package_dir / "__init__.py", submodule_search_locations=[str(package_dir)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import recaps/engines at {rev}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_engine(name: str) -> EngineHandle:
    if name == "old":
        name = f"rev:{OLD_REV}"
    if name.startswith("rev:"):
        package = _import_rev(name.removeprefix("rev:"))
        return EngineHandle(label=name, engine=package.get_engine("local"), package=package)
    package = importlib.import_module("recaps.engines")
    return EngineHandle(label=name, engine=package.get_engine(name), package=package)


def segments_for(session: Session, package: ModuleType) -> list[Any]:
    return [
        package.Segment(speaker=u.speaker, start=u.start, end=u.end, text=u.text) for u in session.utterances
    ]


# ---------------------------------------------------------------------------------------------------
# Recap items


@dataclass(frozen=True)
class Item:
    section: str  # summary | theme | insight | next_step | question | moment | paragraph | safety
    text: str  # a moment's label ("reflection"); a theme's label
    sources: tuple[float, ...]
    quote: str = ""
    offset: float | None = None


def _sources(entry: Mapping[str, Any]) -> tuple[float, ...]:
    return tuple(float(s) for s in entry.get("sources") or ())


def recap_items(data: Mapping[str, Any]) -> list[Item]:
    items: list[Item] = []
    for key, section in (("summary", "summary"), ("insights", "insight")):
        items += [Item(section, str(e.get("text") or ""), _sources(e)) for e in data.get(key) or ()]
    items += [Item("theme", str(e.get("label") or ""), _sources(e)) for e in data.get("themes") or ()]
    for key, section in (("next_steps", "next_step"), ("questions", "question")):
        items += [Item(section, str(e.get("text") or ""), _sources(e)) for e in data.get(key) or ()]
    for m in data.get("moments") or ():
        offset = m.get("offset")
        items.append(
            Item(
                "moment",
                str(m.get("reflection") or ""),
                _sources(m),
                quote=str(m.get("quote") or ""),
                offset=float(offset) if offset is not None else None,
            )
        )
    for sec in data.get("full_recap") or ():
        items += [
            Item("paragraph", str(p.get("text") or ""), _sources(p)) for p in sec.get("paragraphs") or ()
        ]
    safety = data.get("safety")
    if isinstance(safety, Mapping):
        items.append(Item("safety", str(safety.get("text") or ""), _sources(safety)))
    return items


@dataclass
class Run:
    session: Session
    data: dict[str, Any]
    items: list[Item]
    seconds: float

    def section(self, name: str) -> list[Item]:
        return [i for i in self.items if i.section == name]

    @property
    def summary_text(self) -> str:
        return " ".join(i.text for i in self.section("summary"))


# ---------------------------------------------------------------------------------------------------
# Metrics


@dataclass
class Row:
    name: str
    value: float | None
    target: str = ""  # ">= 0.9", "<= 0.05", "= 0"; "" for info rows
    digits: int = 3

    @property
    def status(self) -> str:
        if not self.target:
            return "info"
        if self.value is None:
            return "n/a"
        op, _, threshold = self.target.partition(" ")
        t = float(threshold)
        ok = {">=": self.value >= t, "<=": self.value <= t, "=": abs(self.value - t) < 1e-9}[op]
        return "pass" if ok else "FAIL"

    def shown(self) -> str:
        if self.value is None:
            return "n/a"
        if float(self.value).is_integer() and self.digits == 0:
            return str(int(self.value))
        return f"{self.value:.{self.digits}f}"


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def topic_named(runs: Sequence[Run], report: Report) -> None:
    counted = named = sayable = sayable_named = 0
    missed = []
    for run in runs:
        words = [w for part in re.split(r"[;/]", run.session.topic) for w in letter_words(part)]
        wanted = [w for w in words if len(w) >= 4 and w not in GENERIC]
        if not wanted:
            continue
        counted += 1
        recap_words = set(
            letter_words(" ".join(i.text for i in run.section("theme")) + " " + run.summary_text)
        )
        # A recap that names only what was said can name the topic only if the session says one
        # of its words: "reducing recidivism" never appears in a session about a reading course.
        said = set(letter_words(" ".join(u.text for u in run.session.utterances)))
        in_session = any(word_start_match(w, said) for w in wanted)
        sayable += in_session
        if any(word_start_match(w, recap_words) for w in wanted):
            named += 1
            sayable_named += in_session
        else:
            missed.append(f"{run.session.tid} ({run.session.topic}{'' if in_session else ', never said'})")
    report.rows.append(Row("topic_named", ratio(named, counted), ">= 0.9"))
    report.rows.append(Row("topic_named_when_said", ratio(sayable_named, sayable)))
    report.notes.append(
        f"topic_named: {named}/{counted} sessions with a content word in their topic; "
        f"{sayable_named}/{sayable} of those where the session itself says one of those words"
    )
    if missed:
        report.notes.append("  not named: " + "; ".join(missed))


def _names(session: Session) -> set[str]:
    """Words the session only ever writes capitalised, at least once not at the start of a sentence."""
    capitalised_mid: set[str] = set()
    lower: set[str] = set()
    for u in session.utterances:
        for sentence in sentences(plain(u.text)):
            for position, word in enumerate(re.findall(r"[A-Za-z]+", sentence)):
                if word.islower():
                    lower.add(word)
                elif word[0].isupper() and position > 0:
                    capitalised_mid.add(word.lower())
    return {w for w in capitalised_mid if w not in lower and w != "i"}


def junk_reason(label: str, names: set[str]) -> str | None:
    words = [w.strip("'") for w in re.findall(r"[a-z0-9']+", plain(label).lower())]
    words = [w.removesuffix("'s") for w in words if w]
    if not words:
        return "empty"
    if all(w in FILLER or w in GLUE for w in words):
        return "filler"
    for w in words:
        if w in CALENDAR:
            return "calendar"
        if w.isdigit() or w in NUMBER_WORDS:
            return "number"
        if w in names:
            return "name"
    w = words[0]
    if len(words) == 1 and w.endswith("ed") and len(w) >= 5 and not w.endswith("eed") and w not in ED_NOUNS:
        return "past tense"
    return None


def junk_theme_labels(runs: Sequence[Run], report: Report) -> None:
    total = 0
    junk: Counter[tuple[str, str]] = Counter()
    for run in runs:
        names = _names(run.session)
        for item in run.section("theme"):
            total += 1
            reason = junk_reason(item.text, names)
            if reason:
                junk[(item.text, reason)] += 1
    report.rows.append(Row("junk_theme_labels", ratio(sum(junk.values()), total), "<= 0.05"))
    report.notes.append(f"junk_theme_labels: {sum(junk.values())}/{total} labels")
    if junk:
        shown = sorted(junk.items(), key=lambda kv: (-kv[1], kv[0]))
        report.notes.append("  " + ", ".join(f"{label!r} [{why}] x{n}" for (label, why), n in shown))


def moments_lift(runs: Sequence[Run], report: Report) -> None:
    moments = hits = sustain = 0
    base = base_hits = 0
    for run in runs:
        for u in run.session.utterances:
            if len(u.text.split()) >= 6:
                base += 1
                base_hits += u.complex_reflection or u.change_talk
        for item in run.section("moment"):
            moments += 1
            u = run.session.resolve(item.offset) if item.offset is not None else None
            if u is None:
                continue
            hits += u.complex_reflection or u.change_talk
            sustain += u.speaker == "client" and u.talk == "sustain"
    moment_share, base_share = ratio(hits, moments), ratio(base_hits, base)
    lift = moment_share / base_share if moment_share is not None and base_share else None
    report.rows.append(Row("moments_lift", lift, ">= 2.5", digits=2))
    report.rows.append(Row("moments_sustain_share", ratio(sustain, moments)))
    report.notes.append(
        f"moments_lift: {hits}/{moments} moments on complex reflections or change talk, "
        f"vs {base_hits}/{base} utterances of 6+ words"
    )


def _next_step_targets(session: Session) -> set[int]:
    n = len(session.utterances)
    out = set()
    for u in session.utterances:
        advice = u.speaker == "therapist" and u.input_subtype in ("advice", "options", "negotiation")
        late_change = u.change_talk and u.index * 3 >= 2 * n
        if advice or late_change:
            out.add(u.index)
    return out


def _agreement_units(targets: set[int], gap: int = UNIT_GAP) -> list[set[int]]:
    """Target utterances within ``gap`` utterances of each other form one unit: a proposal, the
    client's answer and the therapist's confirmation are one agreement, however many turns it took."""
    units: list[set[int]] = []
    for index in sorted(targets):
        if units and index - max(units[-1]) <= gap:
            units[-1].add(index)
        else:
            units.append({index})
    return units


def next_steps(runs: Sequence[Run], report: Report) -> None:
    steps = on_target = cited_total = wanted_total = questions = 0
    units_cited = units_wanted = 0
    for run in runs:
        targets = _next_step_targets(run.session)
        cited: set[int] = set()
        for item in run.section("next_step"):
            steps += 1
            utterances = run.session.cited(item.sources)
            hit = {u.index for u in utterances} & targets
            on_target += bool(hit)
            cited |= hit
            all_questions = run.session.all_resolve(item.sources) and all(
                u.therapist_question for u in utterances
            )
            questions += "?" in item.text or all_questions
        cited_total += min(len(cited), RECALL_CAP)
        wanted_total += min(len(targets), RECALL_CAP)
        units = _agreement_units(targets)
        units_cited += min(sum(1 for unit in units if unit & cited), RECALL_CAP)
        units_wanted += min(len(units), RECALL_CAP)
    report.rows.append(Row("next_step_precision", ratio(on_target, steps), ">= 0.7"))
    report.rows.append(Row("next_step_recall", ratio(units_cited, units_wanted), ">= 0.35"))
    report.rows.append(Row("next_step_recall_utterances", ratio(cited_total, wanted_total)))
    report.rows.append(Row("next_steps_that_are_questions", questions, "= 0", digits=0))
    report.notes.append(
        f"next steps: {on_target}/{steps} cite a target; {units_cited}/{units_wanted} agreement units cited "
        f"(targets within {UNIT_GAP} utterances of each other form one unit; "
        f"at most {RECALL_CAP} per session); "
        f"{cited_total}/{wanted_total} target utterances cited"
    )


def questions_from_therapist(runs: Sequence[Run], report: Report) -> None:
    total = bad = 0
    for run in runs:
        for item in run.section("question"):
            total += 1
            bad += any(u.therapist_question for u in run.session.cited(item.sources))
    report.rows.append(Row("questions_from_therapist_questions", ratio(bad, total), "<= 0.1"))


# What follows "Your therapist reflected/suggested (that)" is the therapist's content: its "you feel"
# reports what the therapist said about the client, so it is not a claim about what the client said.
REPORTED_BY_THERAPIST = re.compile(
    r"\byour (?:therapist|counsell?or) (?:reflected|suggested|said|noticed|asked|proposed|wondered|"
    r"pointed out|explained|observed|mentioned)\b[^.!?]*",
    re.IGNORECASE,
)


def claims(text: str) -> set[str]:
    free = unquoted(plain(text))
    out = set()
    if THERAPIST_CLAIM.search(free):
        out.add("therapist")
    free = REPORTED_BY_THERAPIST.sub("Your therapist said", free)
    if CLIENT_CLAIM.search(free) or any(
        s.lstrip(CLOSERS).startswith(("You ", "You'")) for s in sentences(free)
    ):
        out.add("client")
    return out


def attribution(runs: Sequence[Run], report: Report) -> None:
    claimed = wrong = 0
    examples = []
    for run in runs:
        for item in run.items:
            said = claims(item.text)
            if not said:
                continue
            claimed += 1
            speakers = {u.speaker for u in run.session.cited(item.sources)}
            bad = not said <= speakers
            if item.section == "moment":
                quoted = "therapist" if "therapist" in said else "client"
                at = run.session.resolve(item.offset) if item.offset is not None else None
                bad = bad or at is None or at.speaker != quoted
            if bad:
                wrong += 1
                if len(examples) < EXAMPLES:
                    where = f"{run.session.tid}/{item.section}"
                    examples.append(
                        f"  [{where}] {item.text!r} claims {sorted(said)}, sources by {sorted(speakers)}"
                    )
    report.rows.append(Row("attribution_errors", ratio(wrong, claimed), "<= 0.02"))
    report.notes.append(f"attribution_errors: {wrong}/{claimed} items that claim a speaker")
    report.notes += examples


def summary_copying(runs: Sequence[Run], report: Report) -> None:
    total = copied = 0
    for run in runs:
        said: set[tuple[str, ...]] = set()
        for u in run.session.utterances:
            said |= ngrams(copy_tokens(u.text), COPY_RUN)
        for item in run.section("summary"):
            for sentence in sentences(item.text):
                total += 1
                copied += not said.isdisjoint(ngrams(copy_tokens(sentence), COPY_RUN))
    report.rows.append(Row("summary_copying", ratio(copied, total), "<= 0.2"))


def truncated(runs: Sequence[Run], report: Report) -> None:
    total = bad = 0
    examples = []
    for run in runs:
        for item in run.items:
            for text in (item.text, item.quote) if item.section == "moment" else (item.text,):
                total += 1
                if is_truncated(text):
                    bad += 1
                    if len(examples) < EXAMPLES:
                        examples.append(f"  [{run.session.tid}/{item.section}] {text!r}")
    report.rows.append(Row("truncated_items", ratio(bad, total), "<= 0.01"))
    report.notes.append(f"truncated_items: {bad}/{total} texts")
    report.notes += examples


def swapped_hedges(runs: Sequence[Run], report: Report) -> None:
    found = [
        f"  [{run.session.tid}/{item.section}] {item.text!r}"
        for run in runs
        for item in run.items
        if SWAPPED_HEDGE.search(unquoted(plain(item.text)))
    ]
    report.rows.append(Row("swapped_hedges", len(found), "= 0", digits=0))
    if found:
        report.notes.append(f"swapped_hedges: {len(found)}")
        report.notes += found[:EXAMPLES]


def safety(runs: Sequence[Run], report: Report) -> None:
    at_risk = caught = false_alarms = 0
    for run in runs:
        has_line = run.data.get("safety") is not None
        anyone = any(SELF_HARM.search(plain(u.text)) for u in run.session.utterances)
        client = any(
            u.speaker == "client" and SELF_HARM.search(plain(u.text)) for u in run.session.utterances
        )
        if "self-harm" in run.session.topic.lower() or client:
            at_risk += 1
            caught += has_line and bool(SAFETY_SUMMARY.search(run.summary_text))
        false_alarms += has_line and not anyone
    report.rows.append(Row("safety_recall", ratio(caught, at_risk), ">= 1.0"))
    report.rows.append(Row("safety_false_alarms", false_alarms, digits=0))
    report.notes.append(f"safety_recall: {caught}/{at_risk} sessions at risk")


# A topic term: its words, and whether the last one is a prefix ("alcohol*"). Terms and utterances are
# split into words the same way, so "self-harm" in the file is the two-word sequence self, harm.
TopicTerm = tuple[tuple[str, ...], bool]


def _term_words(text: str) -> tuple[str, ...]:
    return tuple(w.strip("'") for w in re.findall(r"[a-z0-9']+", plain(text).lower()) if w.strip("'"))


def _topic_terms() -> dict[str, list[TopicTerm]]:
    """Theme label -> its topic's terms, from recaps/engines/data/topics.json when it exists
    ({"topics": [{"label": ..., "terms": [...]}, ...]}, or a bare list of such topics)."""
    if not TOPICS_JSON.exists():
        return {}
    data = json.loads(TOPICS_JSON.read_text(encoding="utf-8"))
    topics = data.get("topics") or () if isinstance(data, Mapping) else data
    out: dict[str, list[TopicTerm]] = {}
    for topic in topics:
        if not isinstance(topic, Mapping) or not topic.get("label"):
            continue
        terms = []
        for raw in topic.get("terms") or ():
            raw = str(raw).strip()
            words = _term_words(raw.rstrip("*"))
            if words:
                terms.append((words, raw.endswith("*")))
        out[str(topic["label"]).strip()] = terms
    return out


def _has_term(text: str, terms: Sequence[TopicTerm]) -> bool:
    tokens = _term_words(text)
    for words, is_prefix in terms:
        n = len(words)
        for i in range(len(tokens) - n + 1):
            body = tokens[i : i + n - 1] == words[:-1]
            last = tokens[i + n - 1]
            if body and (last.startswith(words[-1]) if is_prefix else last == words[-1]):
                return True
    return False


@functools.lru_cache(maxsize=1)
def _topic_phrases() -> list[tuple[str, tuple[TopicTerm, ...]]]:
    """(lower-cased label or phrase, that topic's terms), longest first: a paraphrase of a topic
    ("drinking" for a session that said "alcohol") is grounded by the reviewed synonyms in
    topics.json, not by the literal words."""
    if not TOPICS_JSON.exists():
        return []
    data = json.loads(TOPICS_JSON.read_text(encoding="utf-8"))
    by_label = _topic_terms()
    out = []
    for topic in data.get("topics") or ():
        terms = tuple(by_label.get(topic.get("label", ""), ()))
        for name in (topic.get("label"), topic.get("phrase")):
            if name and terms:
                out.append((str(name).lower(), terms))
    return sorted(out, key=lambda p: -len(p[0]))


def _words_grounded(text: str, cited: Sequence[Utterance]) -> bool:
    low = text.lower()
    for phrase, terms in _topic_phrases():
        if phrase in low and any(_has_term(u.text, terms) for u in cited):
            low = low.replace(phrase, " ")
    if SAFETY_SUMMARY.search(low) and any(SELF_HARM.search(plain(u.text)) for u in cited):
        low = SAFETY_SUMMARY.sub(" ", low).replace("thoughts of", " ")
    text = low
    wanted = content_words(text)
    if not wanted:
        return True
    vocabulary = set().union(*(u.vocabulary for u in cited))
    return sum(word_start_match(w, vocabulary) for w in wanted) >= GROUNDED_SHARE * len(wanted)


def grounded(runs: Sequence[Run], report: Report) -> None:
    topic_terms = _topic_terms()
    total = ok = 0
    by_section: Counter[str] = Counter()
    examples: list[str] = []
    for run in runs:
        for item in run.items:
            total += 1
            if not run.session.all_resolve(item.sources):
                by_section[item.section] += 1
                examples.append(
                    f"  [{run.session.tid}/{item.section}] unresolved sources: {item.text[:120]!r}"
                )
                continue
            cited = run.session.cited(item.sources)
            if item.section == "safety":
                good = any(SELF_HARM.search(plain(u.text)) for u in cited)
            elif item.section == "theme" and item.text in topic_terms:
                good = any(_has_term(u.text, topic_terms[item.text]) for u in cited)
            else:
                good = _words_grounded(f"{item.text} {item.quote}", cited)
            ok += good
            by_section[item.section] += not good
            if not good:
                examples.append(f"  [{run.session.tid}/{item.section}] {item.text[:160]!r}")
    report.rows.append(Row("grounded", ratio(ok, total), ">= 0.95"))
    report.notes.append(f"grounded: {ok}/{total} items")
    report.notes.extend(examples[: int(os.environ.get("RECAP_QUALITY_EXAMPLES", EXAMPLES))])
    if any(by_section.values()):
        report.notes.append(
            "  ungrounded by section: " + ", ".join(f"{k} {v}" for k, v in sorted(by_section.items()) if v)
        )


def section_sizes(runs: Sequence[Run], report: Report) -> None:
    n = len(runs)
    counts: dict[str, Callable[[Run], int]] = {
        "per_recap_summary_sentences": lambda r: sum(len(sentences(i.text)) for i in r.section("summary")),
        "per_recap_themes": lambda r: len(r.section("theme")),
        "per_recap_insights": lambda r: len(r.section("insight")),
        "per_recap_next_steps": lambda r: len(r.section("next_step")),
        "per_recap_questions": lambda r: len(r.section("question")),
        "per_recap_moments": lambda r: len(r.section("moment")),
        "per_recap_paragraphs": lambda r: len(r.section("paragraph")),
    }
    for name, count in counts.items():
        report.rows.append(Row(name, ratio(sum(count(r) for r in runs), n), digits=2))
    times = [r.seconds for r in runs]
    report.rows.append(Row("build_s_mean", ratio(sum(times), len(times))))
    report.rows.append(Row("build_s_max", max(times) if times else None))


METRICS: tuple[Callable[[Sequence[Run], Report], None], ...] = (
    topic_named,
    junk_theme_labels,
    moments_lift,
    next_steps,
    questions_from_therapist,
    attribution,
    summary_copying,
    truncated,
    swapped_hedges,
    safety,
    grounded,
    section_sizes,
)

# ---------------------------------------------------------------------------------------------------
# Dialogue acts (--acts)

ACTS = (
    "question_open",
    "question_closed",
    "reflection_simple",
    "reflection_complex",
    "advice",
    "options",
    "information",
    "negotiation",
    "change",
    "sustain",
)
ACT_GROUPS = {
    "any_question": ("question_open", "question_closed"),
    "any_reflection": ("reflection_simple", "reflection_complex"),
}


def gold_acts(u: Utterance) -> set[str]:
    out = set()
    if u.question_subtype in ("open", "closed"):
        out.add(f"question_{u.question_subtype}")
    if u.reflection_subtype in ("simple", "complex"):
        out.add(f"reflection_{u.reflection_subtype}")
    if u.input_subtype in ("advice", "options", "information", "negotiation"):
        out.add(u.input_subtype)
    if u.speaker == "client" and u.talk in ("change", "sustain"):
        out.add(u.talk)
    return out


def score_acts(
    sessions: Sequence[Session], handle: EngineHandle
) -> dict[str, dict[str, float | int | None]] | None:
    """Per-act predicted/gold counts, precision and recall; None (with a line saying why) when the engine
    under test has no recaps.engines.acts.tag_turns yet."""
    try:
        acts = importlib.import_module(f"{handle.package.__name__}.acts")
    except ModuleNotFoundError:
        print(f"--acts skipped: engine {handle.label} has no recaps.engines.acts")
        return None
    tag_turns = getattr(acts, "tag_turns", None)
    if not callable(tag_turns):
        print(f"--acts skipped: engine {handle.label}'s recaps.engines.acts has no tag_turns()")
        return None
    pairs: list[tuple[set[str], set[str]]] = []
    for session in sessions:
        predicted = tag_turns([(u.speaker, u.text) for u in session.utterances])
        for u, labels in zip(session.utterances, predicted, strict=True):
            labels = set(labels)
            if "commitment" in labels:
                labels.add("change")
            pairs.append((labels, gold_acts(u)))
    for group, members in ACT_GROUPS.items():
        for predicted_set, gold_set in pairs:
            if predicted_set & set(members):
                predicted_set.add(group)
            if gold_set & set(members):
                gold_set.add(group)
    out: dict[str, dict[str, float | int | None]] = {}
    print()
    header = f"{'act':<20} {'predicted':>9} {'gold':>6} {'precision':>9} {'recall':>7}"
    print(header)
    print("-" * len(header))
    for act in (*ACTS, *ACT_GROUPS):
        predicted_n = sum(act in p for p, _ in pairs)
        gold_n = sum(act in g for _, g in pairs)
        both = sum(act in p and act in g for p, g in pairs)
        precision, recall = ratio(both, predicted_n), ratio(both, gold_n)
        out[act] = {
            "predicted": predicted_n,
            "gold": gold_n,
            "precision": None if precision is None else round(precision, 4),
            "recall": None if recall is None else round(recall, 4),
        }
        shown_p = "n/a" if precision is None else f"{precision:.3f}"
        shown_r = "n/a" if recall is None else f"{recall:.3f}"
        print(f"{act:<20} {predicted_n:>9} {gold_n:>6} {shown_p:>9} {shown_r:>7}")
    return out


# ---------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="AnnoMI dev CSV (default: %(default)s)")
    parser.add_argument(
        "--engine", default="local", help="local (default), a registered name, old, rev:GITREV"
    )
    parser.add_argument(
        "--show", nargs="+", action="extend", default=[], metavar="ID", help="print these recaps"
    )
    parser.add_argument("--acts", action="store_true", help="score the dialogue-act tagger too")
    args = parser.parse_args(argv)

    if not args.csv.exists():
        print(f"recap quality: {args.csv} not found, nothing to measure")
        return 0
    sessions = load_sessions(args.csv)
    try:
        handle = load_engine(args.engine)
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr.decode() if isinstance(exc.stderr, bytes) else exc.stderr
        print(f"recap quality: cannot check out {args.engine!r}: {(detail or '').strip()}")
        return 2
    engine, package = handle.engine, handle.package

    unknown = sorted(set(args.show) - {s.tid for s in sessions})
    if unknown:
        print(f"--show: no transcript {', '.join(unknown)} in {args.csv.name}")

    engine.build(segments_for(sessions[0], package)[:12])  # lazy imports load once, outside the timings
    runs: list[Run] = []
    for session in sessions:
        segments = segments_for(session, package)
        started = time.perf_counter()
        result = engine.build(segments)
        seconds = time.perf_counter() - started
        data = result.to_dict()
        runs.append(Run(session=session, data=data, items=recap_items(data), seconds=seconds))
        if session.tid in args.show:
            print(result.to_markdown(title=f"Transcript {session.tid}: {session.topic}"))

    report = Report()
    for metric in METRICS:
        metric(runs, report)

    utterances = sum(len(s.utterances) for s in sessions)
    print(
        f"recap quality, engine {handle.label}, {len(sessions)} sessions, "
        f"{utterances} utterances ({args.csv.name})"
    )
    header = f"{'metric':<36} {'value':>8} {'target':>9} {'':>5}"
    print(header)
    print("-" * len(header))
    for row in report.rows:
        print(f"{row.name:<36} {row.shown():>8} {row.target:>9} {row.status:>5}")
    print()
    for note in report.notes:
        print(note)

    acts = score_acts(sessions, handle) if args.acts else None

    line: dict[str, Any] = {
        "engine": handle.label,
        "sessions": len(sessions),
        "metrics": {r.name: None if r.value is None else round(r.value, 4) for r in report.rows},
    }
    if acts is not None:
        line["acts"] = acts
    print(json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
