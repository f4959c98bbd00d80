# Pattern tables read best one pattern per line, even when a pattern is long.
# ruff: noqa: E501
"""Composition: turn what was said into short, plain clauses written to the person.

The recap speaks to the client in the second person. A client's "I" becomes "you" only after the
hedges and disfluencies are gone ("I mean, maybe I'll have a drink" never becomes "You mean, maybe
you'll…"), and a clause is used only when it is whole: it does not stop on "and" or "your", it is
not interrupted ("-"), it carries no word the recogniser was unsure of, and it is short enough to be
a paraphrase rather than a transcript line. Anything that fails these checks is skipped, never
patched up: a missing line is better than a wrong one.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Words a whole clause never ends on.
DANGLING = frozenset(
    """a an the and or but to of in on at for with from by your my his her their our its which
    because if i um uh like just very than as into over after before when while until then also no
    some any even about we they he she it's i'm you're there's what how why where would could should can will
    might must do does did have has had be get got going gonna wanna kinda""".split()
)

# Multi-word leads come first: the regex tries alternatives in order, and "like" alone would
# otherwise leave "I said," behind from "Like I said,".
_LEAD = re.compile(
    r"^(?:(?:like i said|as i said|like i say|as i say|like you said|as you said|i mean|you know|i guess|"
    r"i (?:have to|must|gotta|'ve got to|have got to) say(?: that)?(?= i\b|,)|"
    r"i suppose|i think|i believe|i feel like|to be honest|i don't know|i dunno|you see|i'd say|i would say|"
    r"kind of|sort of|uh-huh|mm+-?hm+|well|so|and|but|um+|uh+|er+m?|ah|oh|yeah|yes|yep|no(?=[,.!])|nah|okay|ok|"
    r"alright|right|like|honestly|actually|basically|anyway|anyways|now|see|look|listen|hmm+|mhm|then|"
    r"definitely|absolutely|sure|exactly|true|i know)\b[,.!]?\s*)+",
    re.IGNORECASE,
)
_INLINE_HEDGE = re.compile(
    r",?\s*\b(?:i mean|you know|i guess|i suppose|kind of|kinda|sort of|sorta|basically|actually|literally|"
    r"honestly|just|pretty much|or something|or whatever|and stuff|and everything|and all that|"
    r"like i said|as i said|like i say|as i say|like you said|as you said|it sounds like|it seems like|i think)\b,?"
    # "like" only as an aside ("it was, like, awful"): "I like it" and "sounds like" keep it.
    r"|,\s*like\s*,",
    re.IGNORECASE,
)
# "I-I", "th-the", "it's-it's": a fragment repeated by the next word. "over-the-counter" and "ex-wife"
# are words, so only a fragment that the next word starts with goes.
_STUTTER = re.compile(r"\b([\w']+)-+\s?(?=\1)", re.IGNORECASE)
_BRACKETS = re.compile(r"\[[^\]]*\]|\([^)]*\)")

_FIRST_TO_SECOND = {
    "i": "you",
    "me": "you",
    "my": "your",
    "mine": "yours",
    "myself": "yourself",
    "i'm": "you're",
    "i've": "you've",
    "i'll": "you'll",
    "i'd": "you'd",
    "im": "you're",
    "ive": "you've",
}
_BE_AFTER_I = {"am": "are", "was": "were", "wasn't": "weren't", "ain't": "aren't"}
# In a client's mouth these point at the therapist, at people in general, or at a "we" whose members
# the recap cannot name; a clause with them cannot be turned to "you" safely.
_UNSAFE_CLIENT = re.compile(
    r"\b(?:you|your|yours|yourself|you're|you've|you'll|you'd|ya|we|us|our|ours|we're|we've|we'll|we'd|let's)\b",
    re.IGNORECASE,
)
_UNSAFE_THERAPIST = re.compile(
    r"\b(?:i|me|my|mine|myself|i'm|i've|i'll|i'd|we|us|our|we're|we've|we'll|we'd)\b", re.IGNORECASE
)


def tidy(text: str) -> str:
    text = _BRACKETS.sub(" ", text)
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    return text.strip()


def _is_name(word: str) -> bool:
    from lemminflect import getAllLemmas

    return (
        word[:1].isupper()
        and word.isalpha()
        and not getAllLemmas(word.lower())
        and word.lower() not in _NOT_VERBS
    )


def strip_vocatives(text: str) -> str:
    """ "Well, Ruth, it sounds like…" -> "Well, it sounds like…": the person's name is not content."""
    # Lookbehinds, so "Well, " does not consume the comma that "Ruth, " needs.
    text = re.sub(
        r"(?:^|(?<=, )|(?<=\. ))([A-Z][a-z]+), ", lambda m: "" if _is_name(m.group(1)) else m.group(0), text
    )
    text = re.sub(
        r",\s+(?:doc|doctor|ma'am|sir|man|dude|mate|buddy|hon|honey)([.!?]?)$",
        r"\1",
        text,
        flags=re.IGNORECASE,
    )
    return re.sub(
        r",\s+([A-Z][a-z]+)([.!?])$", lambda m: m.group(2) if _is_name(m.group(1)) else m.group(0), text
    )


def strip_hedges(text: str) -> str:
    """Disfluencies and hedges out; meaning words (including "maybe") stay inside the clause."""
    s = strip_vocatives(tidy(text))
    s = _STUTTER.sub("", s)
    s = re.sub(r"\b(\w+)(?:,?\s+\1\b)+", r"\1", s, flags=re.IGNORECASE)  # "I I I" -> "I"
    # "review with them review with them all the bad things" -> once.
    s = re.sub(r"\b((?:\w+ ){1,3}\w+)(?:,?\s+\1\b)+", r"\1", s, flags=re.IGNORECASE)
    s = _LEAD.sub("", s)
    # A hedge that followed a comma leaves the comma: "Doing the math, I guess no more than 18"
    # keeps its boundary, so the plan can still be cut out of it.
    s = _INLINE_HEDGE.sub(lambda m: ", " if m.group(0).lstrip().startswith(",") else " ", s)
    s = re.sub(r"\b(?:um+|uh+|erm|er|hmm+|mm+)\b,?", " ", s, flags=re.IGNORECASE)
    s = re.sub(r"\s+", " ", s).strip(" ,;:-")
    s = _LEAD.sub("", s)  # a second lead may surface once the first is gone ("Yeah, I mean, …")
    return s.strip(" ,;:-")


def quote(text: str) -> str:
    """The person's own words for a Moment: only the run-up ("Well, yeah, um,") and stutters go;
    hedges inside stay, because a quote must be what they said."""
    s = _STUTTER.sub("", strip_vocatives(tidy(text)))
    s = re.sub(r"\b(\w+)(?:,?\s+\1\b)+", r"\1", s, flags=re.IGNORECASE)
    s = re.sub(
        # "I, yeah, I guess…": a false start on "I" goes with the run-up.
        r"^(?:(?:well|so|and|but|um+|uh+|oh|yeah|yes|okay|ok|i mean|you know|like|i(?=,\s*(?:yeah|well|um|uh|so|i)\b))\b[,.!]?\s*)+",
        "",
        s,
        flags=re.IGNORECASE,
    )
    s = re.sub(r",?\s*\b(?:um+|uh+|erm)\b,?", "", s, flags=re.IGNORECASE)
    return capitalise(s.strip(" ,"))


def ends_whole(text: str) -> bool:
    t = text.strip().rstrip(".!?\"'")
    if (
        not t
        or t.endswith(("-", "—", "–", "…", ",", ":", ";"))
        or text.strip().endswith(("...", "…", "-", "—"))
    ):
        return False
    words = t.split()
    last = words[-1].lower().strip(",;:")
    # "…if there is something going on", "turn it off": a particle after its verb ends a phrase.
    if last in _PARTICLES and len(words) > 1:
        prev = words[-2].lower().strip(",;:")
        if (
            prev in {"it", "them", "him", "her", "this", "that"}
            or (
                prev.endswith("ing")
                and prev not in DANGLING
                and prev not in {"thing", "something", "anything", "nothing", "everything"}
            )
            or _looks_like_verb(prev)
        ):
            return True
    return last not in DANGLING


_PARTICLES = frozenset({"on", "off", "in", "over", "up", "down", "out", "back", "away"})


def clauses(text: str) -> list[str]:
    """A sentence cut at its clause boundaries (commas before a conjunction, semicolons, dashes)."""
    parts = re.split(
        r"\s*[;—–]\s*|\s+-\s+|,\s+(?=(?:and|but|so|because|cause|'cause|although|though|which|whereas|or|then|if|when|unless|while)\b)|\s+(?=(?:but|because|although|though|whereas)\b)"
        # "…every night and I am sleeping five hours": a new subject starts a new clause.
        r"|\s+(?=and (?:i|i'm|i've|i'll|he|she|they|we)\b)",
        text,
        flags=re.IGNORECASE,
    )
    return [p.strip(" ,") for p in parts if p and p.strip(" ,")]


def _swap_word(word: str, prev: str) -> str:
    low = word.lower()
    if low in _FIRST_TO_SECOND:
        return _FIRST_TO_SECOND[low]
    if prev in ("i", "you") and low in _BE_AFTER_I:
        return _BE_AFTER_I[low]
    return word


def second_person(clause: str) -> str | None:
    """A client's first-person clause in the second person, or None when that is not safe."""
    if _UNSAFE_CLIENT.search(clause):
        return None
    out: list[str] = []
    prev = ""
    for token in re.findall(r"[A-Za-z']+|[^A-Za-z'\s]+|\s+", clause):
        if token.strip() and re.match(r"[A-Za-z']+$", token):
            swapped = _swap_word(token, prev)
            prev = swapped.lower() if swapped.lower() == "you" else token.lower()
            out.append(swapped)
        else:
            out.append(token)
    return "".join(out)


def therapist_clause_ok(clause: str) -> bool:
    """The therapist's own "I"/"we" cannot be carried into a line addressed to the client."""
    return not _UNSAFE_THERAPIST.search(clause)


def word_count(text: str) -> int:
    return len(text.split())


def usable(
    clause: str, *, min_words: int = 3, max_words: int = 14, unsure: frozenset[str] = frozenset()
) -> bool:
    if not clause or not min_words <= word_count(clause) <= max_words:
        return False
    if not ends_whole(clause) or not re.search(r"[a-z]", clause):
        return False
    if re.search(r"\[|\]|\(|\)|\"|--|\w-(?:\s|$)", re.sub(r"“[^”]*”", "", clause)):
        return False  # brackets, quotes, or a word broken off ("po- health")
    # A modal or "to" followed by a word no verb can be: a self-correction ("you'd in terms of").
    if re.search(
        r"\b(?:you'd|you'll|i'd|i'll|will|would|could|can|should|might|must)\s+(?:in|of|the|a|an|and|but|or|at|on|with|for|by|from|every|each|this|that|these|those|my|your)\b",
        clause,
        re.IGNORECASE,
    ):
        return False
    return not (unsure and any(w.strip(".,;:!?'\"").lower() in unsure for w in clause.split()))


def capitalise(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def lower_first(text: str) -> str:
    if not text:
        return text
    first = text.split(" ", 1)[0]
    if first == "I" or first.startswith("I'") or (len(first) > 1 and first.isupper()):
        return text
    return text[:1].lower() + text[1:]


def sentence(text: str) -> str:
    text = text.strip().rstrip(",;:")
    text = capitalise(text)
    if text and text[-1] not in ".!?":
        text += "."
    return text


@lru_cache(maxsize=2048)
def base_verb(word: str) -> str | None:
    """ "drinking" -> "drink": lemminflect's lexicon, so irregular forms come out right."""
    from lemminflect import getLemma

    lemmas = getLemma(word.lower(), upos="VERB")
    return lemmas[0] if lemmas else None


_TO_INF = re.compile(r"^(?:to|try to|trying to|start to|starting to|begin to)\s+", re.IGNORECASE)
_SUGGEST_LEADS = (
    r"(?:i (?:really |do |just |also )?(?:think|feel|believe|guess) (?:that )?)?(?:we|you and i) (?:should|could|can|need to|might|will|'ll) (?:maybe |perhaps |also |really |just )?",
    r"i (?:really |do |just |also )?(?:think|feel|believe|guess) (?:that )?(?=you )",
    r"(?:so |and )?what i(?:'d| would) (?:suggest|recommend|encourage|like you to do|want you to do)(?: is)?(?: that)?(?: you)?(?: to)? ",
    # "I'd suggest you…", and the plain present "I suggest you…", "I also recommend that you…".
    r"i(?:'d| would)? (?:really |strongly |also |just )?(?:suggest|recommend|encourage|advise|urge|invite) (?:that )?(?:you )?(?:to )?",
    r"i (?:really |also )?(?:want|need) you to ",
    r"i(?:'d| would) (?:really |also |just )?(?:like|love) (?:for )?you to ",
    r"my (?:recommendation|advice|suggestion) (?:would be|is) (?:that |to )?(?:you )?",
    r"(?:one|another|a|the other) (?:good |other |possible |useful |helpful |simple )?(?:option|idea|thing you (?:could|can|might) (?:do|try)) (?:would be|could be|might be|is) (?:to )?(?:just )?",
    r"i(?:'m| am) wondering if (?:we|you) (?:can|could|might) (?:kind of |maybe |perhaps |just )?",
    r"(?:i think |so |and |maybe |perhaps |then )*you (?:really |just |probably |definitely )?(?:need|have|'ve got|got|gotta|ought) to ",
    r"(?:i think |so |and |maybe |perhaps |then )*you (?:could|might|should|may|can) (?:also |maybe |perhaps |always |even |really |probably |just )?(?:want to |try to |try and )?",
    r"make sure (?:that )?you ",
    r"(?:so |and |maybe |perhaps )*(?:it )?(?:might|may|could|would|will|can) (?:be (?:helpful|useful|a good idea|worth|good) )?(?:to |if you )",
    r"it(?:'s| is) (?:a good idea|worth|helpful|important|best|better) (?:to |if you |that you )",
    r"it (?:often )?helps (?:if you |to )",
    r"would you be (?:willing|open|able|ready|up for) (?:to )?",
    r"would you (?:like|want|care) to ",
    r"are you (?:willing|open|ready|up for) (?:to )?",
    r"how about (?:if )?(?:you |we )?",
    r"(?:what (?:would|do) you think|how (?:would|do) you feel) (?:about|of) (?:if )?(?:you |we )?",
    r"what if you ",
    r"have you (?:thought about|considered|tried) ",
    r"let(?:'s| us) ",
    r"(?:could|can|would) you ",
    r"(?:so |and |now |then |okay )+",
    r"(?:remember|try) to ",
)
_SUGGEST_LEAD_RE = re.compile(r"^(?:" + "|".join(_SUGGEST_LEADS) + r")", re.IGNORECASE)


def imperative(clause: str) -> str | None:
    """A suggestion as something to do: "I'd like you to write it down" -> "Write it down"."""
    s = strip_hedges(clause).rstrip("?.! ")
    # "…getting up an hour earlier and, um-- You know, 'cause…": the ask ends where the speaker
    # broke off and started again.
    s = re.split(r"\s*(?:--|—|–)\s*", s, maxsplit=1)[0].rstrip(" ,")
    s = re.sub(r"(?:,\s*|\s+)(?:and|but|or|so)$", "", s, flags=re.IGNORECASE)
    # "for say two or three months": "say" there is a hedge, not an ask.
    s = re.sub(r"\b(for|in|of|to|about|like) say\b,?", r"\1", s, flags=re.IGNORECASE)
    # "…that's what I'd like you to do is to experiment with…": the ask is after the lead.
    # "…some of the things that I would recommend since you're interested are carrying around…" and
    # "my suggestion is that you put…" too.
    m = re.search(
        r"\bwhat i(?:'d| would) (?:like|want|love) (?:for )?you to do (?:is )?(?:to )?|"
        r"\b(?:(?:the )?things?|what) (?:that )?i(?:'d| would) (?:recommend|suggest)(?: [^,]{1,30}?)?,? (?:are|is) (?:that you )?(?:to )?|"
        r"\bmy (?:suggestion|recommendation|advice) (?:would be|is)(?: that you| for you to| to)?\s+",
        s,
        re.IGNORECASE,
    )
    if m:
        s = s[m.end() :]
    # "If you could bring your tablets in, we can look at them": the if-clause is the ask.
    m = re.match(
        r"^(?:(?:and|so|but)\s+)?(?:perhaps |maybe )?if you could (?:also |maybe |just |perhaps )?([^,]{6,90})(?:,|$)",
        s,
        re.IGNORECASE,
    )
    if m:
        s = m.group(1)
    # "For the nights, this week, try…": the lead names what the ask is for, the ask comes after it.
    s = re.sub(
        r"^(?:(?:and|so|now|then|okay|ok|first|firstly|second|secondly|third|finally|also)\b,?\s+)*(?:(?:for|with|about|as for|when it comes to) [\w' -]{1,30},\s*)?(?:(?:this|next) week,?\s*|tonight,?\s*|today,?\s*)?",
        "",
        s,
        flags=re.IGNORECASE,
    )
    # "If you need to relax, go for a walk" -> "Go for a walk, if you need to relax".
    condition = ""
    m = re.match(
        r"^(?:(?:and|so|but|then)\s+)?((?:if|when|whenever|next time|at|by|after|before|every|each|once|on) [^,]{2,60}),\s*(.+)$",
        s,
        re.IGNORECASE,
    )
    if m:
        condition, s = m.group(1), m.group(2)
        if not therapist_clause_ok(condition):
            condition = ""
    # "instead of reaching for the phone, do the breathing" -> "do the breathing".
    s = re.sub(r"^instead of [^,]{3,60},\s*", "", s, flags=re.IGNORECASE)
    for _ in range(3):
        new = _SUGGEST_LEAD_RE.sub("", s, count=1)
        if new == s:
            break
        s = new.strip()
    s = _TO_INF.sub("", s)
    s = re.sub(
        r"^(?:(?:maybe|perhaps|just|also|really|probably|actually|definitely|then|even|at least|first|firstly)\b,?\s*)+",
        "",
        s,
        flags=re.IGNORECASE,
    )
    s = re.sub(
        r"^(?:you(?:'re| are) (?:willing|going|planning|committed|ready) to|you(?:'ll| will)|you said you(?:'re| are) going to)\s+",
        "",
        s,
        flags=re.IGNORECASE,
    )
    # "turning the lights off and making sure it's dark" -> "turn … and make sure …"
    s = re.sub(
        r"\b(and|or|then) (\w+ing)\b", lambda m: f"{m.group(1)} {base_verb(m.group(2)) or m.group(2)}", s
    )
    past_lead = bool(
        re.match(r"^\w+ed\b|^(?:kept|took|made|wrote|put|set|went|gave|got)\b", s, re.IGNORECASE)
    )
    if not s:
        return None
    first, _, rest = s.partition(" ")
    low = first.lower()
    # "To tell you, it sounds terrible": an aside to the listener, not something for them to do.
    if re.match(r"^(?:tell|ask|give|show|let|help|thank|remind|warn|promise) you\b", s, re.IGNORECASE):
        return None
    # "Panic has become the engine…": a noun subject, not an instruction.
    if re.match(
        r"^(?:is|are|was|were|has|had|does|did|'s|becomes|became|seems|makes|gets|goes|feels)\b",
        rest,
        re.IGNORECASE,
    ):
        return None
    if low.endswith("ing") or low in {
        "tried",
        "started",
        "stopped",
        "took",
        "made",
        "wrote",
        "kept",
        "used",
        "put",
        "called",
        "asked",
        "set",
    }:
        base = base_verb(low)
        if not base:
            return None
        first = base
        low = base
    # Only a clause that starts with a plain verb reads as an instruction; "you could get into a
    # crash" is a warning, not a suggestion.
    if not _looks_like_verb(low) or re.match(
        r"^(?:get (?:into|hurt|sick|arrested|caught|in trouble|worse)|lose|die|end up|hurt|become|be|feel|crash|fall|wreck|kill|damage|miss|risk)\b",
        f"{low} {rest}",
    ):
        return None
    # What the therapist suggests the client say is the client's own words: quote it, so its "me"
    # and "my" stay the client's ("try saying 'let me check my calendar' before you agree").
    quote = re.search(
        r"\bsay(?:ing)?,?\s+((?:let me|i'll|i will|i need|i can't|i'm|i am|no\b|not right now|maybe later)[^,;]*?)(?=\s(?:before|when|if|whenever|instead|to your|to them|to him|to her)\b|[,;]|$)",
        rest,
        re.IGNORECASE,
    )
    if quote:
        rest = rest[: quote.start(1)] + "“" + capitalise(quote.group(1)) + "”" + rest[quote.end(1) :]
    # "the breathing we practised today" is the client's too.
    rest = re.sub(
        r"\bwe (practised|practiced|talked about|discussed|did|tried|went over|looked at)\b",
        r"you \1 together",
        rest,
        flags=re.IGNORECASE,
    )
    unquoted = re.sub(r"“[^”]*”", "", rest)
    if not therapist_clause_ok(unquoted):
        # "Come back in a week when we have the check-up": keep the ask, drop the tail that speaks
        # for the therapist.
        head = re.split(
            r"\s(?:when|so that|so we|because|and then|and you can|and let|where|which|and we|and i)\b",
            rest,
            maxsplit=1,
        )[0]
        if head == rest or not therapist_clause_ok(head):
            return None
        rest = head
    rest = re.sub(
        r"\b(and )?then you(?:'re| are) (?:going to|gonna)\s+", r"\1then ", rest, flags=re.IGNORECASE
    )
    if past_lead:
        # "what if you kept your phone out and used a timer" -> "keep … and use a timer"
        rest = re.sub(
            r"\b(and|or|then) (\w+ed|kept|took|made|wrote|put|set|went|gave|got)\b",
            lambda m: f"{m.group(1)} {base_verb(m.group(2)) or m.group(2)}",
            rest,
        )
    out = f"{first} {rest}".strip()
    if condition:
        out = f"{out}, {lower_first(condition)}"
    return capitalise(out)


_NOT_VERBS = frozenset(
    """the a an you your i it this that there they he she we my his her their our what how why when where
    which who if so and but or because some any one all more less very really just maybe probably""".split()
)


# "Do ten minutes of breathing" is an instruction, so "do" is not among them.
_AUXILIARIES = frozenset(
    "is are was were be been am does did have has had can could would should will may might must shall".split()
)


def _looks_like_verb(word: str) -> bool:
    if word in _NOT_VERBS or word in _AUXILIARIES or not word.isalpha():
        return False
    from lemminflect import getAllLemmas

    return "VERB" in getAllLemmas(word)


def unsure_words(text: str, spans: tuple[tuple[int, int], ...]) -> frozenset[str]:
    """Lower-cased words of ``text`` that fall in the recogniser's unsure spans. A word unsure in one
    place makes the same word unsure everywhere in that segment: the engine works on cleaned
    sentences whose offsets no longer match, and erring towards "unsure" only costs a quote."""
    out = set()
    for a, b in spans:
        for w in text[a:b].split():
            w = w.strip(".,;:!?'\"").lower()
            if w:
                out.add(w)
    return frozenset(out)


def unsure_by_sentence(
    text: str, spans: tuple[tuple[int, int], ...], cleaned: list[str]
) -> list[frozenset[str]]:
    """The unsure words of each cleaned sentence, taken from the raw sentence it came from: an unsure
    "I" in one sentence of a segment must not make every "I" of the next one unsure too."""
    if not spans:
        return [frozenset()] * len(cleaned)
    from segtok.segmenter import split_multi

    raw: list[tuple[int, int, set[str]]] = []
    cursor = 0
    for piece in split_multi(text):
        at = text.find(piece, cursor)
        if at < 0:
            continue
        cursor = at + len(piece)
        raw.append((at, cursor, {w.lower() for w in re.findall(r"[\w']+", piece)}))
    out = []
    for sentence in cleaned:
        words = {w.lower() for w in re.findall(r"[\w']+", sentence)}
        best = max(raw, key=lambda r: len(words & r[2]) / (len(words | r[2]) or 1), default=None)
        if best is None:
            out.append(unsure_words(text, spans))  # cannot place it: the whole segment's doubts
            continue
        a, b, _ = best
        out.append(unsure_words(text, tuple(s for s in spans if s[0] < b and s[1] > a)))
    return out


def content_only(words: frozenset[str]) -> frozenset[str]:
    """Unsure words that carry meaning. A composed clause is the engine's own paraphrase, not a
    quote: a doubtful "the" or "my" in it changes nothing a reader relies on, a doubtful "drinks"
    does. Quotes (Moments) still refuse every unsure word."""
    from .text import STOPWORDS

    return frozenset(w for w in words if len(w) > 2 and w not in STOPWORDS)
