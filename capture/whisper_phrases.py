"""What Whisper says when nobody speaks: one list, used where a window is transcribed
(capture/transcription.py drops a segment that is only this) and where a recap is written
(recaps/engines/text.py drops a sentence that is only this). Pure: no Django, no model."""

import re

# Learned from subtitled video, emitted on silence or music. Matched as whole sentences only, so a
# client who says "thank you" to their therapist inside a sentence is never dropped.
HALLUCINATION_RE = re.compile(
    r"^(?:"
    r"(?:thanks?|thank you)(?: (?:so|very) much)? for watching(?: (?:this|the) video)?"
    r"|(?:please |don't forget to )?(?:like and )?subscribe(?: to (?:my|our|the) channel)?"
    r"|please (?:like|share),? (?:comment )?and subscribe"
    r"|(?:subtitles?|captions?|transcription|transcript)(?: \w+){0,2} by\b.*"
    r"|transcribed by\b.*"
    r"|.*\bamara\.org\b.*"
    r"|(?:i'll )?see you (?:in|on) the next (?:video|one|episode)"
    r"|(?:we'll be )?right back after (?:this|the break)"
    r"|you"
    r")$",
    re.IGNORECASE,
)


def is_hallucination_line(text: str) -> bool:
    """True when the whole sentence (punctuation aside) is one of Whisper's inventions."""
    return bool(HALLUCINATION_RE.match(text.strip().strip(" .!?…").strip()))
