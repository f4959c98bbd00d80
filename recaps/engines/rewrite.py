"""Light, faithful templating: turning what was said into second-person recap sentences.

The recap talks to the person ("You said you want to…", "Your therapist suggested…"). Swapping
pronouns is only done when it is safe: a sentence that addresses the therapist ("you"), or reports
someone else's words ("she said I…", "saying let me check my calendar"), would come out wrong, so it
is quoted verbatim instead. Nothing is paraphrased beyond pronouns, agreement and a few fixed
lead-ins ("I'd like you to …" becomes "…").
"""

from __future__ import annotations

import re

from .text import STOPWORDS

_COMMON_STARTS = frozenset(
    "being saying part panic work sleep everything nothing something someone everyone going try write "
    "put keep practise practice set take use book start plan give notice leave".split()
)

_LEAD = re.compile(
    r"^(?:(?:and|so|but|yeah|yes|okay|ok|oh|well|honestly|wow|hmm|right|um|uh|actually|also|then|huh)\b[,.!]?\s+)+",
    re.IGNORECASE,
)
_HEDGE_BEFORE_I = re.compile(r"^(?:i (?:think|guess|suppose|feel like)|i mean,?)\s+(?=i\b)", re.IGNORECASE)
_SECOND_PERSON = re.compile(
    r"\b(?:you|your|yours|yourself|yourselves|you're|you've|you'd|you'll)\b", re.IGNORECASE
)
_FIRST_PERSON = re.compile(r"\b(?:i|me|my|mine|myself|i'm|i've|i'd|i'll)\b", re.IGNORECASE)
# Direct speech keeps its speaker's own "I": "saying let me check my calendar", "he goes, I can't".
# Indirect speech ("she said I was…") swaps correctly, so only the direct forms block the swap.
_REPORTED = re.compile(
    r"\b(?:say|says|saying|said|tell|tells|telling|told|ask|asks|asked|asking|thought|thinking|wrote|texted)"
    r"(?:\s+(?:him|her|them|myself|to myself))?(?:\s*[,:]\s*|\s+(?=let me\b|let's\b))"
    r"|\b(?:was|is|am|i'm|were) like,|\bgoes,",
    re.IGNORECASE,
)
_SWAPS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"\b[Aa]m I\b", "are you"),
        (r"\b[Ww]as I\b", "were you"),
        (r"\bI was\b", "you were"),
        (r"\bI wasn['’]t\b", "you weren't"),
        (r"\bI am\b", "you are"),
        (r"\bI['’]m\b", "you're"),
        (r"\bI['’](ve|d|ll)\b", r"you'\1"),
        (r"\bI\b", "you"),
        (r"\b[Mm]yself\b", "yourself"),
        (r"\b[Mm]ine\b", "yours"),
        (r"\b[Mm]y\b", "your"),
        (r"\b[Mm]e\b", "you"),
    )
)


def strip_lead(text: str) -> str:
    """Drop discourse openers ("And so, yeah,") that make a quote read like a fragment."""
    stripped = _LEAD.sub("", text.strip())
    return capitalise(stripped) if stripped else text.strip()


def capitalise(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def lower_first(text: str) -> str:
    # Lower only an ordinary first word ("The", "When"); names ("Bernie", "Jamie") and "I" stay.
    first = re.match(r"[A-Za-z']+", text)
    if first and first.group(0).lower() in STOPWORDS | _COMMON_STARTS and first.group(0) != "I":
        return text[0].lower() + text[1:]
    return text


def ensure_period(text: str) -> str:
    text = text.rstrip()
    return text if text.endswith((".", "!", "?", "…", "”", '"')) else text + "."


def quoted(text: str) -> str:
    return f"“{ensure_period(text.strip())}”"


def second_person(text: str) -> str | None:
    """The client's first-person sentence in second person, or None when a swap could change who
    is meant."""
    s = strip_lead(text)
    s = _HEDGE_BEFORE_I.sub("", s)
    if _SECOND_PERSON.search(s) or '"' in s or "“" in s:
        return None
    if _REPORTED.search(s):
        return None
    if not _FIRST_PERSON.search(s):
        return None
    for pattern, replacement in _SWAPS:
        s = pattern.sub(replacement, s)
    return ensure_period(capitalise(s))


def client_said(text: str) -> str:
    """'You said you …' when the swap is safe, otherwise a verbatim quote."""
    swapped = second_person(text)
    if swapped is None:
        return f"You said: {quoted(strip_lead(text))}"
    if re.match(r"^You (?:said|told|asked|say|tell)\b", swapped):
        return swapped
    if swapped.startswith(("You ", "You'")):
        return f"You said {swapped[0].lower()}{swapped[1:]}"
    return f"You said {lower_first(swapped)}"


_REALISE_LEAD = (
    (
        re.compile(
            r"^I (?:just |finally )?(?:realis|realiz)e[ds]?\b(?:,? (?:just |right )now)?", re.IGNORECASE
        ),
        "You realised",
    ),
    (re.compile(r"^I(?:'ve| have)? never (?:really )?noticed\b", re.IGNORECASE), "You noticed"),
    (
        re.compile(
            r"^I (?:didn't|did not) (?:really )?(?:realis|realiz)e\b(?: until (?:just |right )?now)?",
            re.IGNORECASE,
        ),
        "You realised",
    ),
    (
        re.compile(r"^I (?:didn't|did not) notice\b(?: until (?:just |right )?now)?", re.IGNORECASE),
        "You noticed",
    ),
)


def realisation(text: str) -> str:
    """A realisation in the person's own terms: "I never noticed that I…" -> "You noticed that you…"."""
    s = _HEDGE_BEFORE_I.sub("", strip_lead(text))
    s = re.sub(r"^(?:wow|oh|huh)[,.!]?\s+", "", s, flags=re.IGNORECASE)
    for pattern, replacement in _REALISE_LEAD:
        if pattern.search(s):
            rest = pattern.sub("", s, count=1)
            swapped = second_person("I " + rest.strip()) if rest.strip() else None
            if swapped is not None:
                # second_person("I that you…") is not wanted: re-attach the rest after the lead.
                body = swapped[len("You ") :] if swapped.startswith("You ") else swapped
                return ensure_period(f"{replacement} {body}")
    return client_said(s)


_SUGGEST_LEADS = (
    re.compile(r"\bI(?:'d| would) (?:really |also |just )?like you to\s+", re.IGNORECASE),
    re.compile(r"\bI (?:really |also )?want you to\s+", re.IGNORECASE),
    re.compile(r"\bI(?:'d| would) (?:really |also )?(?:encourage|invite) you to\s+", re.IGNORECASE),
    re.compile(r"\bI(?:'d| would) (?:suggest|recommend)(?: that)?(?: you)?\s+", re.IGNORECASE),
    re.compile(
        r"^(?:could|can|would) you\s+(?=try|use|do|put|start|keep|write|give|bring|set|book|ask|practi)",
        re.IGNORECASE,
    ),
    re.compile(
        r"^you (?:could|might|can) (?:also )?(?=try|start|use|write|keep|put|ask|give|practi|set|book|plan)",
        re.IGNORECASE,
    ),
)


def suggestion(text: str) -> str:
    """A therapist suggestion as a next step: "I'd like you to try X." -> "Try X."."""
    s = strip_lead(text)
    for lead in _SUGGEST_LEADS:
        if lead.search(s):
            start = lead.search(s).start()
            s = s[:start] + s[lead.search(s).end() :]
            if start == 0:
                s = capitalise(s)
            if s.endswith("?"):
                s = s[:-1] + "."
            break
    return ensure_period(s)


_THERAPIST_SELF = re.compile(r"\b(?:I|me|my|I'm|I've|I'd|I'll)\b")


def therapist_suggested(text: str) -> str:
    s = suggestion(text)
    first = s.split(" ", 1)[0].lower().strip(",")
    if _THERAPIST_SELF.search(s):
        return f"Your therapist suggested: {quoted(strip_lead(text))}"
    if first in {
        "try",
        "practise",
        "practice",
        "write",
        "put",
        "keep",
        "set",
        "take",
        "use",
        "book",
        "start",
        "plan",
        "give",
    }:
        return f"Your therapist suggested you {lower_first(s)}"
    return f"Your therapist suggested: {lower_first(s)}"


_REFLECTION_LEADS = (
    re.compile(r"^(?:so,? )?(?:it )?sounds like (?:that )?", re.IGNORECASE),
    re.compile(r"^(?:so,? )?what i(?:'m| am) hearing is(?: that)?,? ", re.IGNORECASE),
    re.compile(r"^(?:so,? )?it seems (?:like|that) ", re.IGNORECASE),
    re.compile(r"^so,? ", re.IGNORECASE),
)


def therapist_reflected(text: str) -> str:
    s = strip_lead(text) if not text.lower().startswith("so ") else text.strip()
    for lead in _REFLECTION_LEADS:
        if lead.search(s):
            rest = lead.sub("", s, count=1)
            if rest and not _THERAPIST_SELF.search(rest):
                return ensure_period(f"Your therapist reflected that {lower_first(rest.rstrip(':'))}")
            break
    return f"Your therapist reflected: {quoted(strip_lead(text))}"


def next_time(text: str) -> str:
    s = strip_lead(text)
    m = re.match(r"^(?:next (?:time|week|session),? )let's (.+)$", s, re.IGNORECASE)
    if m and not _THERAPIST_SELF.search(m.group(1)):
        return ensure_period(f"Next time, you and your therapist plan to {m.group(1).rstrip('.')}")
    m = re.match(r"^let's (.+)$", s, re.IGNORECASE)
    if m and not _THERAPIST_SELF.search(m.group(1)):
        return ensure_period(f"You and your therapist plan to {m.group(1).rstrip('.')}")
    return f"Your therapist said: {quoted(s)}"
