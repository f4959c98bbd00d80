"""The message that asks a therapist for their agreement, built from the five-part ask: the reason,
the format, the privacy plan, the use, and room for their answer.

Pure functions over fixed wording: the same choices always give the same message, on the page
without JavaScript and in the live preview. The privacy paragraph must stay true to what the product
does (README "Promises"): only an encrypted recap is kept; audio is held in memory only until it is
transcribed; the transcript pieces are deleted when the recap is saved; transcription and the recap
happen on Undertone's own server and nothing is sent elsewhere; the person can delete any recap."""

import re
from collections.abc import Sequence
from dataclasses import dataclass

TONES = {"warm": "Warm", "brief": "Brief", "direct": "Direct"}

# Reasons: the form's label, and the sentence in the message (each reason is a sentence of its own).
REASONS = {
    "remember": (
        "I forget a lot of what we talk about",
        "I forget a lot of what we talk about, sometimes within the hour",
    ),
    "adhd": (
        "ADHD or brain fog makes details slip away",
        "ADHD (or brain fog) makes details slip away from me quickly",
    ),
    "processing": (
        "I'd like to go back over things when I'm calmer",
        "I'd like to go back over things later, when I'm calmer",
    ),
    "intense": (
        "Sessions can be intense and things blur afterwards",
        "sessions can feel intense and things blur afterwards",
    ),
    "practice": (
        "I want to keep track of what to practise",
        "I want to keep better track of what we agree I'll practise",
    ),
}

NO_REASON = "it would help me remember what we talk about"

FORMATS = {
    "recap": "A short written recap only (what Undertone keeps)",
    "audio": "Recording the audio",
    "transcript": "A transcript",
    "recommend": "Whatever my therapist recommends",
}

PARTS = (
    ("reason", "Why I'm asking"),
    ("format", "What I'm asking for"),
    ("privacy", "How it's kept private"),
    ("use", "What it's for"),
    ("answer", "Your answer"),
)

# {reasons} is filled in; everything else is fixed wording per tone, written and read aloud.
WRITTEN = {
    "warm": {
        "reason": (
            "I've been getting a lot out of our sessions, and I'd love to hold on to more of them. "
            "{reasons} A short record of each session would really help me."
        ),
        "format": {
            "recap": (
                "What I have in mind is an app called Undertone. It listens during the session and keeps "
                "only a short written recap: what came up, what I realised and what to practise. It doesn't "
                "keep a recording or a transcript."
            ),
            "audio": (
                "I'd like to record the audio of our sessions with an app called Undertone. It turns the "
                "audio into a short written recap as we go, and it doesn't keep the recording itself or a "
                "transcript."
            ),
            "transcript": (
                "I'd like to have our sessions transcribed with an app called Undertone. It uses the "
                "transcript only to make a short written recap and then deletes it, so only the recap is "
                "kept."
            ),
            "recommend": (
                "I'm happy to go with whatever you're comfortable with: a recording, a transcript or just a "
                "summary. For what it's worth, the app I'd use, Undertone, keeps only a short written "
                "recap, with no recording and no transcript."
            ),
        },
        "privacy": (
            "I've checked how it handles privacy. No audio is ever saved: it's held in memory only until "
            "it's turned into text, in short pieces, and that text is deleted as soon as the recap is made. "
            "The only thing kept is the recap, encrypted, on Undertone's own server, until I delete it. "
            "Nothing is sent to any other company."
        ),
        "use": (
            "It's just for me, to look back on between sessions and remember what we worked on. I won't "
            "share it with anyone."
        ),
        "answer": (
            "It's completely okay to say no, or to want to talk about it first. If you'd rather not, I can "
            "write my own notes after the session instead. And if you say yes, you can change your mind at "
            "any point. What do you think?"
        ),
    },
    "brief": {
        "reason": "Could I keep a short record of our sessions? {reasons}",
        "format": {
            "recap": (
                "The app I'd use, Undertone, keeps only a short written recap: no recording, no transcript."
            ),
            "audio": (
                "I'd record the audio with an app called Undertone. It keeps only a short written recap, "
                "not the recording or a transcript."
            ),
            "transcript": (
                "An app called Undertone would transcribe our sessions, keep only a short written recap, "
                "and delete the transcript."
            ),
            "recommend": (
                "Audio, a transcript or just a recap: whatever you prefer. The app I'd use, Undertone, "
                "keeps only a short written recap."
            ),
        },
        "privacy": (
            "Privacy: no audio is saved, the text is deleted once the recap is made, and the recap is "
            "stored encrypted on Undertone's own server, sent nowhere else, until I delete it."
        ),
        "use": "It's only for my own reflection. I won't share it.",
        "answer": (
            "Totally fine if you'd rather not, and you can change your mind any time. Would that be okay "
            "with you?"
        ),
    },
    "direct": {
        "reason": "I'm asking for your agreement to keep a record of our sessions. Reason: {reasons}",
        "format": {
            "recap": (
                "Format: a short written recap of each session, made by an app called Undertone. It does "
                "not keep a recording or a transcript."
            ),
            "audio": (
                "Format: an app called Undertone records the audio during the session, only to produce a "
                "short written recap. Neither the recording nor a transcript is kept."
            ),
            "transcript": (
                "Format: an app called Undertone transcribes the session as it goes and keeps only a short "
                "written recap. The transcript is deleted."
            ),
            "recommend": (
                "Format: I'd like your recommendation: audio, a transcript or a recap only. The app I'd "
                "use, Undertone, keeps only a short written recap."
            ),
        },
        "privacy": (
            "Privacy: no raw audio is stored. Audio is held in memory only until it is transcribed, and the "
            "transcript is deleted when the recap is saved. The recap is encrypted at rest on Undertone's "
            "server, kept until I delete it, and not sent to any third party."
        ),
        "use": "Use: personal reflection only. I won't share it or use it for anything else.",
        "answer": (
            "Please tell me whether you agree, would prefer another format, or would rather I didn't. You "
            "can withdraw your agreement at any time, and I'll stop."
        ),
    },
}

# Read aloud at the start of a session: short spoken sentences, one per line, first person, and it
# ends with a pause for the therapist's answer.
SPOKEN = {
    "warm": {
        "reason": (
            "Before we start, can I ask you something? I'd like to keep a record of our sessions. {reasons}"
        ),
        "format": {
            "recap": (
                "I'd use an app called Undertone. It listens and writes a short recap. It doesn't keep the "
                "recording. It doesn't keep a transcript either."
            ),
            "audio": (
                "I'd record the audio with an app called Undertone. It turns it into a short written recap. "
                "The recording itself isn't kept. Neither is a transcript."
            ),
            "transcript": (
                "An app called Undertone would transcribe as we go. It makes a short written recap. Then it "
                "deletes the transcript."
            ),
            "recommend": (
                "I'm happy with whatever you're comfortable with. Audio, a transcript, or just a summary. "
                "The app I'd use keeps only a short written recap."
            ),
        },
        "privacy": (
            "No audio is ever saved. The text is deleted once the recap is made. The recap is encrypted. It "
            "stays on the app's own server. Nobody else gets it. I can delete it any time."
        ),
        "use": "It's just for me. It helps me look back between sessions. I won't share it.",
        "answer": (
            "It's okay to say no. It's okay to want to think about it. You can change your mind at any "
            "time. What do you think?"
        ),
    },
    "brief": {
        "reason": "Quick question before we start. Could I keep a record of our sessions? {reasons}",
        "format": {
            "recap": (
                "I'd use an app called Undertone. It keeps a short written recap. No recording. No "
                "transcript."
            ),
            "audio": (
                "I'd record with an app called Undertone. It only writes a short recap. The recording isn't "
                "kept."
            ),
            "transcript": (
                "I'd use an app called Undertone. It transcribes, keeps a short recap, and deletes the "
                "transcript."
            ),
            "recommend": (
                "Audio, a transcript or a recap: your call. The app I'd use, Undertone, keeps only a short "
                "recap."
            ),
        },
        "privacy": "No audio is saved. The recap is encrypted. I can delete it any time.",
        "use": "It's only for me.",
        "answer": "Is that okay with you? It's fine to say no.",
    },
    "direct": {
        "reason": "Before we begin, I have a request. I'd like to keep a record of our sessions. {reasons}",
        "format": {
            "recap": (
                "An app called Undertone makes a short written recap. It keeps no recording and no "
                "transcript."
            ),
            "audio": (
                "An app called Undertone records the audio. It uses it only to write a short recap. The "
                "recording is not kept."
            ),
            "transcript": (
                "An app called Undertone transcribes the session. It keeps a short recap. The transcript is "
                "deleted."
            ),
            "recommend": (
                "I'd like your recommendation. Audio, a transcript, or a recap only. The app I'd use keeps "
                "only a short recap."
            ),
        },
        "privacy": (
            "No raw audio is stored. The transcript is deleted when the recap is saved. The recap is "
            "encrypted. I can delete it at any time."
        ),
        "use": "It's for my personal reflection only. I won't share it.",
        "answer": "Do you agree? You can say no, or change your mind later.",
    },
}

PAUSE = "(Pause. Let them answer.)"

# (with the therapist's name, without it)
GREETING = {
    "warm": ("Hi {name},", "Hi,"),
    "brief": ("Hi {name},", "Hi,"),
    "direct": ("Dear {name},", "Hello,"),
}
SIGN_OFF = {"warm": "Thank you,", "brief": "Thanks,", "direct": "Thank you,"}


@dataclass(frozen=True)
class ScriptPart:
    key: str
    title: str
    text: str


@dataclass(frozen=True)
class Script:
    parts: tuple[ScriptPart, ...]
    greeting: str  # empty when read aloud
    sign_off: str
    read_aloud: bool

    @property
    def text(self) -> str:
        blocks = [self.greeting] if self.greeting else []
        blocks += [p.text for p in self.parts]
        if self.sign_off:
            blocks.append(self.sign_off)
        return "\n\n".join(blocks)

    def part(self, key: str) -> ScriptPart:
        return next(p for p in self.parts if p.key == key)


def _sentence(clause: str) -> str:
    return clause[0].upper() + clause[1:]


def _lines(paragraph: str) -> str:
    """One spoken sentence per line, easier to read from a phone mid-conversation."""
    return "\n".join(s for s in re.split(r"(?<=[.?!])\s+", paragraph.strip()) if s)


def _clean_name(value: str) -> str:
    return " ".join((value or "").split())[:60]


# With a language-model recap engine configured (RECAP_LLM_URL), the transcript also goes to that model
# server: the privacy paragraph says where, and no longer that nothing goes anywhere else.
MODEL_SENTENCE = {
    False: (
        "To write the recap, the text of our session is also sent to a language model at {host}, which "
        "doesn't keep it."
    ),
    True: "The text also goes to a language model at {host} to write the recap. It isn't kept there.",
}
# "…, sent nowhere else, until I delete it" keeps one comma; the warm sentence goes whole.
_NOWHERE_ELSE = re.compile(r"\s*Nothing is sent to any other company\.|, sent nowhere else(?=,)")


def _privacy(text: str, model_host: str, read_aloud: bool) -> str:
    if not model_host:
        return text
    text = _NOWHERE_ELSE.sub(
        lambda m: "," if m.group(0).startswith(",") and m.group(0).endswith(",") else "", text
    )
    return f"{text} {MODEL_SENTENCE[read_aloud].format(host=model_host)}"


def script_build(
    *,
    reasons: Sequence[str],
    recording_format: str,
    tone: str,
    name: str = "",
    therapist_name: str = "",
    read_aloud: bool = False,
    model_host: str = "",
) -> Script:
    """The five-part message. Unknown keys raise KeyError (the form only offers known ones); no reason
    chosen gives a general one. ``model_host``: where a language model writes the recap, if one does."""
    clauses = [REASONS[r][1] for r in dict.fromkeys(reasons)] or [NO_REASON]
    wording = (SPOKEN if read_aloud else WRITTEN)[tone]
    reasons_text = " ".join(_sentence(c) + "." for c in clauses)
    texts = {
        "reason": wording["reason"].format(reasons=reasons_text),
        "format": wording["format"][recording_format],
        "privacy": _privacy(wording["privacy"], model_host, read_aloud),
        "use": wording["use"],
        "answer": wording["answer"],
    }
    if read_aloud:
        texts = {key: _lines(text) for key, text in texts.items()}
        texts["answer"] += "\n\n" + PAUSE
    parts = tuple(ScriptPart(key=key, title=title, text=texts[key]) for key, title in PARTS)
    name, therapist_name = _clean_name(name), _clean_name(therapist_name)
    if read_aloud:
        return Script(parts=parts, greeting="", sign_off="", read_aloud=True)
    with_name, without = GREETING[tone]
    greeting = with_name.format(name=therapist_name) if therapist_name else without
    sign_off = SIGN_OFF[tone] + (f"\n{name}" if name else "")
    return Script(parts=parts, greeting=greeting, sign_off=sign_off, read_aloud=False)
