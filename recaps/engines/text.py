"""Transcript clean-up and the small amount of language handling the local engine needs.

Quotes shown to the person must read cleanly *and* stay faithful, so cleaning only removes what
carries no meaning: fillers ("um", "uh"), filler "you know" / "like" when punctuation marks them as
asides, stutters ("I I I", "I-I"), bracketed sound tags ("[MUSIC]", "(laughs)") and Whisper's
well-known hallucinations on silence ("Thanks for watching!"). Anything ambiguous is left alone.
"""

from __future__ import annotations

import re

from segtok.segmenter import split_multi

from capture.whisper_phrases import is_hallucination_line

# --- sound tags and hallucinations ------------------------------------------------------------------

_TAG_WORDS = (
    r"music|applause|laugh(?:s|ter|ing)?|chuckl(?:es?|ing)|inaudible|indistinct|silence|noise|crosstalk|"
    r"sighs?|sighing|cough(?:s|ing)?|pause|crying|cries|sniff(?:s|ing)?|background(?: \w+)?|blank_audio|"
    r"no speech|static|beep|typing|clears throat|unintelligible"
)
# Square brackets and *stars* never hold speech in Whisper output; parentheses sometimes could, so
# only known sound words are removed from them.
_TAG_RE = re.compile(
    rf"\[[^\]]{{0,60}}\]|\*[^*]{{1,40}}\*|\((?:{_TAG_WORDS})\)|♪[^♪]{{0,200}}♪|[♪♫]+|<\|[^|]{{0,30}}\|>|^>>\s*",
    re.IGNORECASE,
)

# --- fillers and stutters ---------------------------------------------------------------------------

_FILLER = r"(?:u+m+|u+h+m*|e+r+m+|e+r|h+m+|m{2,}|m+h+m+|mm+-?hm+|uh-huh|ah+(?=,)|eh(?=,))"
_FILLER_ASIDE_RE = re.compile(rf",\s*{_FILLER}\s*,", re.IGNORECASE)
_FILLER_RE = re.compile(rf"(^|[\s,;]){_FILLER}(?:,|…|\.\.\.)*(?=[\s.!?;]|$)", re.IGNORECASE)
# "you know" and "like" are only fillers when set off as asides; "you know what I mean" or "I like
# it" stay untouched.
_ASIDE_RE = re.compile(r",\s*(?:you know|like)\s*,", re.IGNORECASE)
_LEADING_ASIDE_RE = re.compile(r"^(?:you know|like)\s*,\s*", re.IGNORECASE)
_TRAILING_YOU_KNOW_RE = re.compile(r",?\s*you know\s*([?.!]*)$", re.IGNORECASE)
_STUTTER_RE = re.compile(r"\b([\w']{1,3})-(?=\1)", re.IGNORECASE)
_STUTTER_KEEP = {"so", "bye", "uh", "mm", "no", "ha"}
# Doubled words: "I I I think" -> "I think". A few doublings are grammatical or emphatic
# ("I know that that's true", "had had", "very very") and stay.
_REPEAT_RE = re.compile(r"\b([\w']+)(?:[\s,]+\1\b)+", re.IGNORECASE)
_REPEAT_KEEP = {"that", "had", "very", "really", "no", "so", "bye", "ha", "knock", "is", "do"}
_REPEAT_PAIR_RE = re.compile(r"\b([\w']+\s+[\w']+),?\s+\1\b", re.IGNORECASE)


def _unstutter(match: re.Match[str]) -> str:
    return match.group(0) if match.group(1).lower() in _STUTTER_KEEP else ""


def _unrepeat(match: re.Match[str]) -> str:
    word = match.group(1)
    return match.group(0) if word.lower() in _REPEAT_KEEP else word


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.;:!?…])", r"\1", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    text = re.sub(r"[,;:]\s*(?=[.!?])", "", text)
    text = re.sub(r"^[\s,;:.!?…-]+", "", text)
    text = re.sub(r"[\s,;:-]+$", "", text)
    return text.strip()


def clean_sentence(sentence: str) -> str:
    """Clean one sentence; returns "" when nothing meaningful is left. A sentence broken off
    ("see whether anything-") keeps an ellipsis, so nothing downstream takes it for a whole one."""
    broken = bool(re.search(r"\w\s*(?:-|--|—|–)\s*$", sentence.strip()))
    s = _TAG_RE.sub(" ", sentence)
    s = _tidy(s)
    if not s or is_hallucination_line(s):
        return ""
    s = _TRAILING_YOU_KNOW_RE.sub(lambda m: "." if "?" in m.group(1) else m.group(1), s)
    s = _ASIDE_RE.sub(" ", s)
    s = _LEADING_ASIDE_RE.sub("", s)
    s = _FILLER_ASIDE_RE.sub(" ", s)  # "Part of me is, uh, angry" -> "Part of me is angry"
    # Fillers can sit next to each other ("uh, um,"), so repeat until stable (bounded).
    for _ in range(3):
        cleaned = _FILLER_RE.sub(r"\1", s)
        if cleaned == s:
            break
        s = cleaned
    s = _STUTTER_RE.sub(_unstutter, s)
    s = _REPEAT_PAIR_RE.sub(r"\1", s)
    s = _REPEAT_RE.sub(_unrepeat, s)
    s = _tidy(s)
    if not re.search(r"[A-Za-z0-9]", s):
        return ""
    # A sentence that lost its leading filler starts lower-case; ASR output starts sentences upper-case.
    if s[0].islower():
        s = s[0].upper() + s[1:]
    if broken:
        s = s.rstrip(".!?") + "…"
    return s


def _split(text: str) -> list[str]:
    out: list[str] = []
    for sentence in split_multi(text):
        sentence = sentence.strip()
        if not sentence:
            continue
        words = sentence.split()
        # ASR sometimes runs on without punctuation; very long "sentences" make poor quotes, so
        # break them at commas into pieces of roughly 30 words.
        if len(words) > 60:
            piece: list[str] = []
            for word in words:
                piece.append(word)
                if len(piece) >= 30 and word.endswith(","):
                    out.append(" ".join(piece).rstrip(",") + ".")
                    piece = []
            if piece:
                out.append(" ".join(piece))
        else:
            out.append(sentence)
    return out


def clean_sentences(text: str) -> list[str]:
    """Sentences of one segment, cleaned, with hallucination lines and Whisper's repetition loops
    (the same sentence over and over) removed."""
    text = _TAG_RE.sub(" ", str(text or ""))
    out: list[str] = []
    last_key = None
    for raw in _split(text):
        sentence = clean_sentence(raw)
        if not sentence:
            continue
        key = re.sub(r"[^\w\s]", "", sentence.lower())
        if key == last_key:
            continue
        last_key = key
        out.append(sentence)
    return out


def clean_text(text: str) -> str:
    return " ".join(clean_sentences(text))


_FILLER_WORD_RE = re.compile(rf"^{_FILLER}$|^(?:ah|eh)$", re.IGNORECASE)
_ROUGH_SENTENCE_RE = re.compile(r"[^.!?]+[.!?]*")


def speech_words(text: str) -> int:
    """Word count for stats: a cheaper cousin of clean_text (no sentence model), which drops the
    same tags, hallucination lines and fillers."""
    count = 0
    for sentence in _ROUGH_SENTENCE_RE.findall(_TAG_RE.sub(" ", str(text or ""))):
        core = sentence.strip().strip(" .!?…").strip()
        if not core or is_hallucination_line(core):
            continue
        count += sum(1 for w in core.split() if not _FILLER_WORD_RE.match(w.strip(",.;:!?…")))
    return count


# --- tokens -------------------------------------------------------------------------------------

# Function words plus the conversational glue of therapy talk ("yeah", "feel", "think"): they are
# everywhere in a session, so they say nothing about what this session was about.
STOPWORDS: frozenset[str] = frozenset(
    """
    a about above after again against all almost also although always am an and another any anyone
    anything anyway are aren't around as at away back be became because become been before being
    below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't
    done down during each either else enough even ever every everyone everything few first for from
    further get gets getting go goes going gone gonna got gotta had hadn't has hasn't have haven't
    having he he'd he'll he's her here here's hers herself him himself his how how's however i i'd i'll
    i'm i've if in into is isn't it it'd it'll it's its itself just kind know knew known let let's like
    likely lot lots made make makes making many may maybe me might mine more most much must mustn't my
    myself need needs never next no nor not nothing now of off often oh ok okay on once one only or
    other others ought our ours ourselves out over own per perhaps probably put quite rather really
    right said same say saying says see seem seemed seems shall shan't she she'd she'll she's should
    shouldn't since so some someone something sometimes somewhat sort still stuff such sure take
    taken tell than that that's the their theirs them themselves then there there's these they they'd
    they'll they're they've thing things think thinking this those though thought through to too
    toward towards try trying tried under until up upon us very via was wasn't way we we'd we'll we're
    we've well went were weren't what what's whatever when when's where where's whether which while
    who who's whom whose why why's will with within without won't would wouldn't yeah yes yet you
    you'd you'll you're you've your yours yourself yourselves
    actually basically honestly literally totally definitely exactly pretty bit little
    um uh erm hmm mm mhm ah wow huh hey hi hello bye thanks thank please sorry
    feel feels feeling felt mean means meant guess suppose wonder want wants wanted wanting
    come comes came coming look looks looked looking sounds sound hear hearing heard talk talking
    talked happen happens happened tell telling told ask asked asking start started keep kept
    good great fine nice better best able lot today day week time times last
    """.split()
)

_WORD_RE = re.compile(r"[a-z][a-z'’]*")


# Irregular forms that should count as the same theme.
_ALIASES = {
    "asleep": "sleep",
    "slept": "sleep",
    "sleepless": "sleep",
    "anxious": "anxiety",
    "angry": "anger",
    "guilty": "guilt",
    "ashamed": "shame",
    "panicking": "panic",
    "panicked": "panic",
    "mom": "mum",
    "mummy": "mum",
    "daddy": "dad",
}


def stem(word: str) -> str:
    """A deliberately light stemmer: enough to match "deadline/deadlines" and "sleep/sleeping"
    without pulling in NLTK. Consistency matters more than linguistic accuracy here."""
    w = word.replace("’", "'")
    w = _ALIASES.get(w, w)
    if w.endswith("'s"):
        w = w[:-2]
    w = w.strip("'")
    if len(w) <= 3:
        return w
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith("ied") and len(w) > 4:
        return w[:-3] + "y"
    for suffix in ("ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            base = w[: -len(suffix)]
            if len(base) >= 4 and base[-1] == base[-2] and base[-1] not in "lsz":
                base = base[:-1]  # running -> run
            return base
    if w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 3:
        return w[:-1]
    return w


def words(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


def content_stems(text: str) -> list[str]:
    """Stems of the words that carry meaning, in order."""
    out = []
    for w in words(text):
        w = w.replace("’", "'")
        if w in STOPWORDS or len(w) < 3:
            continue
        s = stem(w)
        if s in STOPWORDS or len(s) < 3:
            continue
        out.append(s)
    return out
