"""Therapy topics from a curated, versioned data file (data/topics.json), matched in the transcript.

A theme a person reads must name a topic in plain words ("Sleep", "Alcohol", "Family"), never a
keyword the statistics happened to like ("Wanna", "Called", "Tuesday", a name). So themes come from a
reviewed list of topics with the words people use for them; the file is validated when it loads, so
a broken edit fails at start-up rather than in a recap.

Term syntax (see the file's "about"): lower-case words; a trailing ``*`` matches any word starting
so; several words match that exact sequence. ``context_terms`` count only in a session where a core
term of the same topic also came up; ``exclude`` phrases cancel a match inside them ("soft drink").
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_FILE = Path(__file__).with_name("data") / "topics.json"
SAFETY_TOPICS = frozenset({"self_harm", "suicidal_thoughts"})
_TOKEN_RE = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")


def tokens(text: str) -> list[str]:
    return [t.replace("’", "'") for t in _TOKEN_RE.findall(text.lower())]


@dataclass(frozen=True)
class Term:
    words: tuple[str, ...]
    prefix: bool  # the last word is a prefix ("alcohol*")

    @classmethod
    def parse(cls, raw: str) -> Term:
        raw = raw.strip().lower()
        prefix = raw.endswith("*")
        words = tuple(tokens(raw.rstrip("*")))
        if not words:
            raise ValueError(f"empty term {raw!r}")
        return cls(words=words, prefix=prefix)

    def spans(self, toks: Sequence[str]) -> list[tuple[int, int]]:
        n = len(self.words)
        out = []
        first = self.words[0]
        for i, tok in enumerate(toks):
            if n == 1:
                hit = tok.startswith(first) if self.prefix else tok == first
                if hit:
                    out.append((i, i + 1))
                continue
            if tok != first or i + n > len(toks):
                continue
            body_ok = all(toks[i + k] == self.words[k] for k in range(1, n - 1))
            last = toks[i + n - 1]
            last_ok = last.startswith(self.words[-1]) if self.prefix else last == self.words[-1]
            if body_ok and last_ok:
                out.append((i, i + n))
        return out


@dataclass(frozen=True)
class Topic:
    id: str
    label: str
    phrase: str
    terms: tuple[Term, ...]
    context_terms: tuple[Term, ...]
    exclude: tuple[Term, ...]


@dataclass(frozen=True)
class Catalogue:
    version: int
    reviewed: str
    topics: tuple[Topic, ...]


def _parse(data: dict) -> Catalogue:
    if not isinstance(data.get("version"), int) or not data.get("reviewed"):
        raise ValueError("topics.json needs an integer version and a reviewed date")
    topics = []
    seen: set[str] = set()
    for entry in data.get("topics") or ():
        tid = str(entry.get("id") or "")
        label = str(entry.get("label") or "").strip()
        phrase = str(entry.get("phrase") or "").strip()
        if not tid or tid in seen or not label or not phrase or not entry.get("terms"):
            raise ValueError(
                f"topics.json: topic {tid or '?'} needs a unique id, a label, a phrase and terms"
            )
        seen.add(tid)
        topics.append(
            Topic(
                id=tid,
                label=label,
                phrase=phrase,
                terms=tuple(Term.parse(t) for t in entry["terms"]),
                context_terms=tuple(Term.parse(t) for t in entry.get("context_terms") or ()),
                exclude=tuple(Term.parse(t) for t in entry.get("exclude") or ()),
            )
        )
    if not topics:
        raise ValueError("topics.json has no topics")
    return Catalogue(version=data["version"], reviewed=str(data["reviewed"]), topics=tuple(topics))


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    return _parse(json.loads(DATA_FILE.read_text(encoding="utf-8")))


class _Index:
    """All topics' terms keyed by their first word (exact) or its prefix, so a transcript is matched
    in one pass over its tokens instead of once per term (1,900+ terms)."""

    def __init__(self, topics: Sequence[Topic]) -> None:
        self.exact: dict[str, list[tuple[int, int, Term]]] = {}
        self.prefix: dict[str, list[tuple[int, int, Term]]] = {}
        for t_index, topic in enumerate(topics):
            for kind, terms in ((0, topic.terms), (1, topic.context_terms), (2, topic.exclude)):
                for term in terms:
                    first = term.words[0]
                    table = self.prefix if term.prefix and len(term.words) == 1 else self.exact
                    table.setdefault(first, []).append((t_index, kind, term))
        self.max_prefix = max((len(k) for k in self.prefix), default=0)

    def hits(self, toks: Sequence[str], n_topics: int) -> tuple[list[int], list[int]]:
        """(core hits, context hits) per topic for one text, with excluded spans removed."""
        found: list[tuple[int, int, int, int]] = []  # topic, kind, start, end
        for i, tok in enumerate(toks):
            for t_index, kind, term in self.exact.get(tok, ()):
                for a, b in term.spans(toks[i : i + len(term.words)]):
                    found.append((t_index, kind, i + a, i + b))
            for k in range(1, min(len(tok), self.max_prefix) + 1):
                for t_index, kind, _term in self.prefix.get(tok[:k], ()):
                    found.append((t_index, kind, i, i + 1))
        core = [0] * n_topics
        context = [0] * n_topics
        if not found:
            return core, context
        blocked: dict[int, set[int]] = {}
        for t_index, kind, a, b in found:
            if kind == 2:
                blocked.setdefault(t_index, set()).update(range(a, b))
        for t_index, kind, a, b in found:
            if kind == 2 or blocked.get(t_index, set()).intersection(range(a, b)):
                continue
            if kind == 0:
                core[t_index] += 1
            else:
                context[t_index] += 1
        return core, context


@lru_cache(maxsize=1)
def _index() -> _Index:
    return _Index(catalogue().topics)


def topic_hits(text: str) -> dict[str, tuple[int, int]]:
    """{topic id: (core hits, context hits)} in one text, excluded phrases removed."""
    topics = catalogue().topics
    core, context = _index().hits(tokens(text), len(topics))
    return {t.id: (core[i], context[i]) for i, t in enumerate(topics) if core[i] or context[i]}


@dataclass
class TopicWeight:
    topic: Topic
    weight: float  # speech seconds in segments that mention it, with the client's talk counting more
    mentions: list[int]  # indexes of the texts that mention it, in order
    client_mentions: int


def session_topics(
    texts: Sequence[str], speakers: Sequence[str], durations: Sequence[float]
) -> list[TopicWeight]:
    """Topics of the session, heaviest first. A topic needs two mentions, at least one by the client
    (or on an unattributed channel), or three by the therapist: a passing word is not what the
    session was about, but a topic the therapist kept raising is."""
    topics = catalogue().topics
    index = _index()
    per_text = [index.hits(tokens(t), len(topics)) for t in texts]
    out: list[TopicWeight] = []
    for t_index, topic in enumerate(topics):
        core = [hits[0][t_index] for hits in per_text]
        if sum(core) == 0:
            continue
        mentions = [i for i, hits in enumerate(per_text) if hits[0][t_index] or hits[1][t_index]]
        client = sum(1 for i in mentions if speakers[i] != "therapist")
        # Self-harm and suicide are named even when said once: the person should see that it was heard.
        needed = 1 if topic.id in SAFETY_TOPICS or len(texts) < 12 else 2
        therapist_only_needed = 2 if len(texts) < 12 else 3
        if len(mentions) < needed or (client == 0 and len(mentions) < therapist_only_needed):
            continue
        weight = sum(
            (1.0 if speakers[i] != "therapist" else 0.6) * (1.0 + max(durations[i], 1.0) / 10.0)
            for i in mentions
        )
        out.append(TopicWeight(topic=topic, weight=weight, mentions=mentions, client_mentions=client))
    out.sort(key=lambda tw: -tw.weight)
    return out


# Nouns that are everywhere in talk and name no topic; the words people use for time, quantity and
# vagueness. Weekdays, months and numbers are never themes either.
_GENERIC_NOUNS = frozenset(
    """thing things stuff time times people person way ways lot lots guy guys kind sort bit part parts day
    days week weeks weekend weekends month months year years today tonight tomorrow yesterday night nights
    morning mornings evening moment moments point idea ideas question questions reason reasons problem
    problems issue issues fact case place places everything something anything nothing someone anyone
    everyone somebody anybody everybody number numbers life world side end start while minute minutes hour
    hours second seconds yeah okay right sense matter level scale stage step steps situation example
    answer bunch couple half whole area areas word words name names mind head hand hands face eyes look
    feeling feelings thought thoughts ones question session sessions therapy therapist counsellor
    counselor doc doctor mom mum dad home house kid kids child children family friend friends school
    work job well sure good deal chance choice option options plan plans goal goals information
    experience experiences group groups term terms form forms community control help call calls cause
    stop lifestyle thinking saying talk talking rest list decision decisions stuff
    glass glasses bottle bottles cup cups can cans pint pints shot shots piece pieces amount amounts
    lots bit bits""".split()
)
_CALENDAR = frozenset(
    """monday tuesday wednesday thursday friday saturday sunday january february march april may june july
    august september october november december one two three four five six seven eight nine ten eleven
    twelve twenty thirty forty fifty hundred thousand first second third""".split()
)
_DETERMINERS = frozenset("the a an my your his her their our this that these those some any every no".split())
_WORD_RE = re.compile(r"[A-Za-z][a-z]+(?:['’-][a-z]+)*")


def session_nouns(
    texts: Sequence[str], speakers: Sequence[str], *, exclude: frozenset[str] = frozenset(), limit: int = 2
) -> list[tuple[str, list[int]]]:
    """Nouns the session kept coming back to that no topic in the file covers ("the marathon", "your
    flatmate"): (label, indexes of the texts that mention it). A word must be a noun in the lexicon
    (or unknown to it and always written in lower case, which keeps out names), said in four or
    more places, twice by the client."""
    from lemminflect import getAllLemmas

    from .text import STOPWORDS

    index = _index()
    n_topics = len(catalogue().topics)
    seen_upper: set[str] = set()
    seen_lower: dict[str, str] = {}
    mentions: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        for pos, match in enumerate(_WORD_RE.finditer(text)):
            word = match.group(0)
            low = word.lower()
            if word[0].isupper():
                if pos:  # capitalised mid-sentence: a name, a place, "Mum"
                    seen_upper.add(low)
                continue
            if (
                "'" in low
                or "’" in low
                or len(low) < 4
                or low in STOPWORDS
                or low in _GENERIC_NOUNS
                or low in _CALENDAR
                or low in exclude
            ):
                continue
            lemmas = getAllLemmas(low)
            noun = lemmas.get("NOUN")
            if lemmas and (not noun or low.endswith(("ing", "ed", "ly"))):
                continue
            # "stop", "keeps", "help" are verbs as often as nouns: such a word counts only where a
            # determiner makes it a noun ("the marathon", "my rules").
            ambiguous = bool(noun) and ("VERB" in lemmas or "ADJ" in lemmas)
            before = text[: match.start()].rstrip().rsplit(" ", 1)[-1].lower()
            if ambiguous and before not in _DETERMINERS:
                continue
            base = noun[0] if noun else low
            if base in _GENERIC_NOUNS or base in exclude:
                continue
            core, context = index.hits([low], n_topics)
            if any(core) or any(context):
                continue  # a topic word: the topic names it already
            seen_lower[base] = low
            mentions.setdefault(base, [])
            if not mentions[base] or mentions[base][-1] != i:
                mentions[base].append(i)
    out = []
    for base, where in mentions.items():
        client = sum(1 for i in where if speakers[i] != "therapist")
        if len(where) < 4 or client < 2 or base in seen_upper:
            continue
        out.append((seen_lower[base], where))
    out.sort(key=lambda x: -len(x[1]))
    return out[:limit]
