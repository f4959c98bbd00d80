# Pattern tables read best one pattern per line, even when a pattern is long.
# ruff: noqa: E501
"""Conversational cues that tell the local engine what a sentence *does* in a therapy session.

Each detector returns a strength in 0..1 (0: not this kind). The patterns come from how therapists
and clients commonly talk: reflective listening ("it sounds like…"), homework ("for this week, try…"),
change talk in motivational interviewing ("I'm going to…", "maybe I need to…") and realisations ("I
never noticed…"). They are deliberately conservative: a missed item is better than a recap that
claims the person decided something they did not.
"""

from __future__ import annotations

import re


def norm(text: str) -> str:
    return text.replace("’", "'").replace("‘", "'").lower().strip()


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


# --- therapist ------------------------------------------------------------------------------------

_REFLECTION_STRONG = _rx(
    r"\b(?:it )?sounds like\b",
    r"\bsounds as if\b",
    r"\bwhat i(?:'m| am) hearing\b",
    r"\bwhat i hear\b",
    r"\bi(?:'m| am) hearing\b",
    r"^so,? you(?:'re| are)? (?:feel|felt|feeling)\b",
    r"^so,? (?:what )?you(?:'re| are) saying\b",
    r"\bit seems (?:like|as if|that)\b",
    r"\bi(?:'m| am)? notic(?:e|ing) (?:that )?you\b",
    r"\bpart of you\b",
    r"\byou(?:'ve| have) become the\b",
)
# "So the phone becomes part of the loop." A therapist statement that opens with "So" is nearly
# always a summary or reflection of what the client just said.
_REFLECTION_SO = re.compile(r"^so,? (?!to recap|for this week|let's|what|how|why|when|where|do|did|are|is)\w")
_TO_RECAP = re.compile(r"^(?:so,? )?(?:to recap|to sum up|so for this week|for this week)\b")

_SUGGEST_STRONG = _rx(
    r"\bhomework\b",
    r"\bi(?:'d| would) (?:really |also |just )?like you to\b",
    r"\bi (?:really |also )?want you to\b",
    r"\bi(?:'d| would) (?:really |also )?(?:suggest|encourage|invite|recommend)\b",
    r"\bi(?:'d| would) like to suggest\b",
    r"\bmy suggestion\b",
    r"\bbetween now and\b",
    r"\bbefore (?:our |the )?next (?:session|time|week|appointment)\b",
    r"\b(?:this|next|over the next) (?:week|few days|couple of weeks|fortnight)\b.{0,40}\b(?:try|practi[cs]e|notice|write|do|keep|put|set|book|take)\b",
    r"^(?:and )?(?:first|second|third|also|finally),? (?:this week,? )?(?:try|practi[cs]e|put|keep|write|set|use)\b",
    r"^(?:and )?(?:for|with) (?:the|your) [\w' -]{1,25}, (?:this week,? )?(?:try|practi[cs]e|do|put|keep|write|i'd)\b",
)
_SUGGEST_MEDIUM = _rx(
    r"\bwhat if you\b(?! (?:were|are|'re|had|did|didn't|could)\b)",
    r"\b(?:could|can|would) you (?:try|use|do|put|start|keep|write|give|bring|set|book|ask|practi[cs]e)\b",
    r"\bwould you be (?:willing|open|able) to\b",
    r"\bwould it be possible (?:for you )?to\b",
    r"\byou (?:could|might|can) (?:also )?(?:try|start|use|write|keep|put|ask|give|practi[cs]e|set|book|plan)\b",
    r"\bnext time you\b",
    r"\bif (?:you|a [\w -]{1,20}|panic|it) (?:wake|wakes|notice|feel|start|starts|come|comes|catch)\b.{0,80}\b(?:try|do|write|use|remind|breathe|tell yourself)\b",
    r"\bone (?:more )?thing (?:you could|to try|i'd like you to)\b",
    r"\bgive (?:it|that|this) a (?:try|go)\b",
)
# An imperative opener ("Put the pill box next to the kettle") is a suggestion only with a marker of
# when to do it; in-session instructions ("Put one hand on your chest") have none.
_IMPERATIVE = re.compile(
    r"^(?:and |so |then |just )?(?:try|practi[cs]e|write|put|keep|set|take|use|do|give|pick|book|"
    r"remember|plan|start|make|schedule|notice|leave|turn|switch|ask|call|text|bring|go)\b"
)
_WHEN_MARKER = re.compile(
    r"\b(?:this week|each (?:day|night|morning|evening)|every (?:day|night|morning|evening|time)|when you|"
    r"if you|tonight|tomorrow|twice a day|once a day|before (?:bed|work|you)|after (?:work|you)|next time|"
    r"at night|in the morning|the night before|during the week|on (?:monday|tuesday|wednesday|thursday|"
    r"friday|saturday|sunday)s?)\b"
)
_NOT_SUGGESTION = _rx(
    r"\btake your time\b",
    r"^(?:tell|walk|remind|show) me\b",
    r"\btogether now\b",
    r"^(?:come in|have a seat)\b",
    r"^notice that\b",
    r"\bin for (?:four|\d)\b",
    r"\btake care\b",
    r"\bsee you\b",
    r"\bbe gentle with yourself\b",
)

_NEXT_TIME = _rx(
    r"\bnext (?:time|week|session)\b,? (?:let's|let us|we(?:'ll| will| can| could| should)|i(?:'d| would) like (?:us )?to)\b",
    r"\b(?:let's|let us|we can|we could|we'll|we will) (?:come back to|return to|pick (?:this|that|it) up|talk about|look at|explore|start)\b.{0,80}\bnext (?:time|week|session)\b",
    r"\b(?:let's|let us|we can|we'll) come back to\b.{0,60}\b(?:as well|too|also)\b",
    r"\b(?:put a pin in|park (?:that|this))\b.{0,40}\bnext\b",
)
_VALIDATION = _rx(
    r"^that(?:'s| is| was| sounds like) (?:a |an )?(?:really |very |such an? )?(?:big|important|significant|powerful|honest|meaningful|huge|key) (?:realisation|realization|connection|insight|shift|thing to (?:notice|see|hear|say))",
    r"^that(?:'s| is) (?:a |an )?(?:really |very )?(?:important|significant|honest) (?:thing|connection)",
    r"^(?:that's|what) an? (?:important|big) (?:thing|realisation|realization)",
)
_DEFERRAL = _rx(
    r"\bnext (?:time|week|session)\b",
    r"\bcome back to\b",
    r"\b(?:don't|do not) (?:think we )?have (?:time|enough time)\b",
    r"\bdeserves (?:proper |more |real )?time\b",
    r"\b(?:good|important|big|great|really good|really important) question\b",
    r"\b(?:let's|let us) hold\b",
    r"\bkeep exploring\b",
    r"\btalk (?:it |that )?through with\b",
    r"\bi (?:don't|do not) know\b",
    r"\bdon't have to (?:untangle|answer|solve|figure)\b",
)

# --- client ---------------------------------------------------------------------------------------

_REALISE_STRONG = _rx(
    r"\bi (?:just |suddenly |finally )?(?:realis|realiz)(?:e|ed|ing)\b",
    r"\bi(?:'ve| have)? never (?:really )?(?:noticed|realised|realized|thought of it|thought about it|saw|connected)\b",
    r"\bi (?:didn't|did not|hadn't|had not) (?:really |even )?(?:realis|realiz|notic|connect|see it|see that|thought of it|thought about it|think of it)\w*",
    r"\bit (?:just )?(?:hit|struck|dawned on) me\b",
    r"\bi(?:'m| am) (?:starting|beginning) to see\b",
    r"\bi (?:can )?see (?:it|that) now\b",
    r"\bnow i (?:can )?see\b",
    r"\bi get it now\b",
    r"\bmaybe i need to\b",
    r"\bmaybe (?:the|my) (?:real )?(?:problem|issue|thing) is\b",
    r"\bi(?:'ve| have) (?:just )?(?:noticed|figured out|worked out)\b",
    r"\bi never noticed\b",
)
_REALISE_WEAK = _rx(
    r"\bthat (?:actually )?makes (?:a lot of |so much )?sense\b",
    r"\bi think (?:what|the real|that's why)\b",
    r"\bmaybe (?:the way|it's|i'm|i've)\b",
    r"\bi(?:'ve| have) been (?:making|telling|trying|doing|choosing|giving|putting)\b",
    r"\b(?:it's|that's) (?:the same thing|a pattern|how i do)\b",
    r"\bi(?:'m| am) not (?:really )?(?:there|lazy)\b",
)
_COMMIT_STRONG = _rx(
    r"\bi(?:'m| am) (?:going to|gonna)\b(?! (?:be|feel|lie|say|have a|cry|die|miss)\b)",
    r"\bi(?:'ll| will)\b(?! (?:be|never|always|see you|tell you|have to say|admit|miss|probably be)\b)",
    r"\bi (?:plan|intend|promise|commit|decided|have decided|'ve decided) to\b",
    r"\bi(?:'m| am) (?:willing|ready|planning|determined) to\b",
)
_COMMIT_MEDIUM = _rx(
    r"\bi (?:can|could) (?:also |actually |definitely |maybe )?(?:try|start|ask|set|put|use|make|book|call|talk|write|tell|take|buy|clear|bring|swap|give|go|do)\b",
    r"\bi want to (?!(?:say|tell|be honest|ask|talk about|add|mention|go back|know)\b)\w+",
    r"\bi(?:'d| would) like to (?:try|start|get back|stop|ask|talk to)\b",
    r"\bmaybe i (?:can|could) (?:try|start|swap|ask|do)\b",
)
_COMMIT_NEG = _rx(
    r"\bi (?:don't|do not|can't|cannot|won't) (?:want|know|think)\b.{0,20}$",
    r"\b(?:was|were) going to\b",
    r"\bif i\b.{0,30}\bi(?:'ll| will)\b",
)
_VAGUE_OBJECT = re.compile(r"\b(?:do|try|use) (?:that|it|this)\b|\btry\.?$")
_AGREEMENT = re.compile(
    r"^(?:(?:okay|ok|yeah|yes|sure|alright|right)[,.!]?\s*)*(?:i (?:can|could|will|'ll) (?:do|try) (?:that|it|this)|"
    r"i can try|i'll try|i like that|that sounds (?:good|doable|helpful|right)|i could do that|i think i could do that|"
    r"i can do that)\b"
)
_OPEN_THREAD = _rx(
    r"\bi (?:just |still |really )?(?:don't|do not) know (?:how|what|why|whether|if|where)\b",
    r"\bi(?:'m| am) not sure (?:how|what|why|whether|if|yet)\b",
    r"\bi (?:keep )?wonder(?:ing)? (?:if|whether|why|how)\b",
    r"\bi keep going back and forth\b",
)
_CLIENT_NEXT_TIME = _rx(
    r"\b(?:can|could) we (?:talk about|come back to|look at|go over|do)\b.{0,80}\bnext (?:time|week|session)\b",
    r"\b(?:next (?:time|week|session)),? (?:i(?:'d| would) like|i want|can we)\b",
    r"\bi(?:'d| would) like to (?:talk about|bring|come back to)\b.{0,80}\bnext (?:time|week|session)\b",
)
_RHETORICAL = _rx(
    r"\bdoes that make sense\b",
    r"\bcan i ask (?:you )?(?:something|a question)\b",
    r"\bwhat do you mean\b",
    r"\b(?:isn't|is) (?:it|that)(?: \w+)?\?$",
    r"\bright\?$",
    r"\bisn't it\b",
    r"\bdo you know what i mean\b",
    r"\bis that (?:okay|ok|alright)\b",
)

_EMOTION_WORDS = (
    r"anxious|anxiety|scared|afraid|terrified|terrifying|frightened|overwhelmed|exhausted|sad|sadness|"
    r"angry|anger|furious|guilty|guilt|ashamed|shame|lonely|alone|relieved|relief|proud|hopeful|hope|stuck|"
    r"numb|hurt|hurts|frustrated|panic|panicking|cry|cried|crying|tears|grief|grieve|miss|missing|love|"
    r"resent|embarrassed|embarrassing|dread|dreading|lighter|heavy|empty|drowning|failure|worthless|"
    r"lazy|broken|breaking"
)
EMOTION = re.compile(rf"\b(?:{_EMOTION_WORDS})\b")
_FEELING = re.compile(
    rf"\bi (?:feel|felt|was|am|'m|get|got|really|still)\b(?: \w+){{0,3}} (?:{_EMOTION_WORDS})\b|\bmakes? me (?:feel )?(?:\w+ )?(?:{_EMOTION_WORDS})\b"
)


def therapist_reflection(text: str) -> float:
    t = norm(text)
    if t.endswith("?") or _TO_RECAP.search(t):
        return 0.0
    if _REFLECTION_STRONG.search(t):
        return 1.0
    if _REFLECTION_SO.search(t) and len(t.split()) >= 5:
        return 0.6
    return 0.0


def therapist_suggestion(text: str) -> float:
    t = norm(text)
    if _NOT_SUGGESTION.search(t) or _TO_RECAP.search(t):
        return 0.0
    if _SUGGEST_STRONG.search(t):
        return 1.0
    if _SUGGEST_MEDIUM.search(t):
        return 0.7
    if _IMPERATIVE.search(t) and _WHEN_MARKER.search(t):
        return 0.6
    return 0.0


def is_imperative(text: str) -> bool:
    return bool(_IMPERATIVE.search(norm(text)))


def therapist_next_time(text: str) -> float:
    t = norm(text)
    if "next time you" in t:  # "next time you notice…, try…" is advice, not an agenda item
        return 0.0
    return 1.0 if _NEXT_TIME.search(t) else 0.0


def therapist_validates(text: str) -> bool:
    return bool(_VALIDATION.search(norm(text)))


def therapist_defers(text: str) -> bool:
    t = norm(text)
    return t.endswith("?") or bool(_DEFERRAL.search(t))


def client_realisation(text: str) -> float:
    t = norm(text)
    if t.endswith("?"):
        return 0.0
    if _REALISE_STRONG.search(t):
        return 1.0
    if _REALISE_WEAK.search(t):
        return 0.5
    return 0.0


def client_commitment(text: str) -> float:
    t = norm(text)
    if t.endswith("?") or _COMMIT_NEG.search(t):
        return 0.0
    if _COMMIT_STRONG.search(t):
        score = 1.0
    elif _COMMIT_MEDIUM.search(t):
        score = 0.6
    else:
        return 0.0
    # "I can try that" only makes sense next to the suggestion it answers; it is used as agreement.
    if len(t.split()) <= 6 and _VAGUE_OBJECT.search(t):
        return 0.0
    return score


def client_agrees(text: str) -> bool:
    return bool(_AGREEMENT.search(norm(text)))


def client_open_thread(text: str) -> float:
    t = norm(text)
    if _CLIENT_NEXT_TIME.search(t):
        return 1.0
    if _OPEN_THREAD.search(t):
        return 0.6
    return 0.0


def client_real_question(text: str) -> bool:
    t = norm(text)
    return t.endswith("?") and len(t.split()) >= 4 and not _RHETORICAL.search(t)


def client_next_time(text: str) -> bool:
    return bool(_CLIENT_NEXT_TIME.search(norm(text)))


def names_feeling(text: str) -> bool:
    """'I felt guilty…', 'I'm dreading it': the person naming their own feeling."""
    return bool(_FEELING.search(norm(text)))


def emotional(text: str) -> bool:
    return bool(EMOTION.search(norm(text)))
