"""Themes: YAKE keyphrases, merged, with a share of the session's speech time.

YAKE is statistical and needs no model or download, which keeps the engine offline. Its candidates
are merged when they are forms of the same thing ("deadline" / "deadlines", "sleep" / "sleeping
well"), and a theme's share is the fraction of speech time spent in segments that mention it, so
the number means something a person can check against their memory of the session.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import jellyfish
import yake

from .text import STOPWORDS, stem, words

YAKE_TOP = 30
# YAKE only proposes candidates (coverage is counted on every segment), and it costs ~0.1 s per
# 1000 words, so long sessions are sampled evenly down to this size.
YAKE_MAX_WORDS = 8000
THEMES_WANTED = 5
# Words that YAKE happily scores but that name no topic in a therapy session.
_NOT_TOPICS = frozenset(
    """
    session therapist therapy sense moment question minute minutes hour hours year years
    week weeks today tomorrow yesterday people person kind part
    whole idea point reason word words head body bad hard easy big small long short old new real true
    different same everything anything nothing someone everyone thing things times place side end
    start god ten four five six seven eight nine three two one twenty thirty hundred percent yeah
    okay saying honestly really maybe totally completely wow huh
    check checking wake waking lead straight notice noticed write leave expect allowed busy forget
    single starting works call calls ring important dramatic automatic months died catches sit stop
    find pick stay staying read buy bring drive watch hold move turn walk lose lost help helps helped
    use open close happy fine real great amazing worse worst honest funny weird scary crazy silly
    normal huge massive full sorry list lot loud quiet hate love loved care cared deal dealt thinks
    told tells spend spent happening fix fixed stuck gets worked working seeing guess
    """.split()
)
# Life areas that therapy sessions are usually about. Mentioned-often words from this list are
# preferred as theme labels over equally frequent words that YAKE ranks higher only because they
# came up early (YAKE favours early position, and sessions open with small talk).
_LIFE_AREAS = frozenset(
    """
    sleep work job career manager boss deadline family mum mom mother dad father parent parents
    sister brother partner wife husband boyfriend girlfriend relationship marriage divorce children
    kids child friends friend grief loss death anxiety panic depression anger guilt shame boundaries
    routine routines money health body eating food drinking alcohol school university exams
    loneliness perfectionism burnout stress adhd medication meds trauma exercise anniversary
    wedding rest self-esteem confidence fear worry conflict home breathing shifts shift
    """.split()
)


@lru_cache(maxsize=1)
def _extractor() -> yake.KeywordExtractor:
    base = yake.KeywordExtractor(lan="en").stopword_set
    return yake.KeywordExtractor(
        lan="en", n=2, dedup_lim=0.8, top=YAKE_TOP, stopwords=set(base) | set(STOPWORDS) | _NOT_TOPICS
    )


@dataclass
class ThemeCandidate:
    label: str
    stems: tuple[str, ...]
    rank: int
    segments: set[int] = field(default_factory=set)
    proper: bool = False


def _mentions(stems: tuple[str, ...], segment_stems: Sequence[set[str]]) -> set[int]:
    return {i for i, have in enumerate(segment_stems) if all(s in have for s in stems)}


def _same_theme(a: ThemeCandidate, b: ThemeCandidate) -> bool:
    sa, sb = set(a.stems), set(b.stems)
    if sa <= sb or sb <= sa:
        return True
    if len(a.stems) == len(b.stems) == 1:
        return jellyfish.jaro_winkler_similarity(a.stems[0], b.stems[0]) >= 0.93
    return False


def extract_themes(
    *,
    texts: Sequence[str],
    segment_stems: Sequence[set[str]],
    durations: Sequence[float],
    proper_words: set[str],
    exclude: set[str] = frozenset(),  # type: ignore[assignment]
) -> list[ThemeCandidate]:
    """Themes ranked by how much of the session they cover, best first.

    ``texts`` are the cleaned segment texts; ``segment_stems`` their stem sets; ``durations`` their
    speech seconds; ``proper_words`` lower-cased words seen capitalised mid-sentence (names, "Mum");
    ``exclude`` lower-cased words never to use (the client's own name: not a theme).
    """
    total = sum(durations) or 1.0
    corpus = " ".join(texts)
    n_words = len(corpus.split())
    if n_words > YAKE_MAX_WORDS:
        step = math.ceil(n_words / YAKE_MAX_WORDS)
        corpus = " ".join(texts[::step])
    if not corpus.strip():
        return []
    candidates: list[ThemeCandidate] = []
    for rank, (phrase, _score) in enumerate(_extractor().extract_keywords(corpus)):
        parts = words(phrase)
        if not parts or any(len(p) < 3 or p in STOPWORDS or p in _NOT_TOPICS or p in exclude for p in parts):
            continue
        stems = tuple(stem(p) for p in parts)
        mentions = _mentions(stems, segment_stems)
        candidates.append(
            ThemeCandidate(
                label=" ".join(parts),
                stems=stems,
                rank=rank,
                segments=mentions,
                proper=all(p in proper_words for p in parts),
            )
        )

    # A topic must come up more than once or twice to be a theme of the session.
    min_segments = 2 if len(texts) < 30 else 3
    candidates = [c for c in candidates if len(c.segments) >= min_segments]

    groups: list[list[ThemeCandidate]] = []
    for cand in candidates:
        for group in groups:
            if any(_same_theme(cand, other) for other in group):
                group.append(cand)
                break
        else:
            groups.append([cand])

    themes: list[ThemeCandidate] = []
    for group in groups:
        # Name the theme after its most-mentioned form; YAKE's order breaks ties.
        best = max(group, key=lambda c: (len(c.segments), -len(c.stems), len(c.label), -c.rank))
        merged = set().union(*(c.segments for c in group))
        themes.append(
            ThemeCandidate(
                label=best.label,
                stems=best.stems,
                rank=min(c.rank for c in group),
                segments=merged,
                proper=best.proper,
            )
        )

    def score(theme: ThemeCandidate) -> float:
        share = sum(durations[i] for i in theme.segments) / total
        life_area = 1.6 if any(p in _LIFE_AREAS for p in theme.label.split()) else 1.0
        # Coverage says how much of the hour it took; YAKE's rank says how specific it is.
        return life_area * share**0.6 / (1.0 + theme.rank) ** 0.35

    themes.sort(key=score, reverse=True)
    return themes[:THEMES_WANTED]


def theme_share(theme: ThemeCandidate, durations: Sequence[float]) -> float:
    total = sum(durations) or 1.0
    return sum(durations[i] for i in theme.segments) / total
