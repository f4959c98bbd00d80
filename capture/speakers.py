"""Who speaks when on one microphone (in-person sessions): two voices on one channel.

Why classic features (MFCC means) and not a neural speaker model: bench/speakers.py --compare
measured the candidates on the same mixes (1 s blocks, nearest centroid). MFCC means: 100 / 92 / 86%
(espeak / espeak-similar / jfk-vs-left) at 0.0006-0.003 CPU-s per audio second, numpy only. The
Whisper tiny.en encoder output, pooled: 97 / 66 / 86% for an extra 0.017-0.07 CPU-s per audio second
(a second encode call: half of transcription's own 0.04). faster-whisper's log-mel means: 84 / 66 /
100%. Resemblyzer needs torch (a 539 MB wheel, more installed) against a budget of 0.005 CPU-s/s.

How a window is segmented:
1. 19 MFCCs (c1..c19; c0 is loudness, which says more about the distance to the phone than about the
   voice) every 10 ms; frames within ~30 dB of the window's loud frames count as speech.
2. The window is cut into 0.25 s cells; each cell is described by the mean MFCC of the speech around
   it (1.25 s of context: shorter means are too noisy to tell two voices apart, longer ones blur a
   turn change).
3. Each cell is scored against the session's two voice centroids (Gaussian, one shared spread), and a
   two-state HMM (forward-backward) with a switch penalty smooths the labels: a voice does not change
   every quarter second. The posterior of the chosen voice is the confidence.
4. Cells the HMM is sure of update the centroids, so later windows, possibly transcribed by another
   worker process, use everything heard so far. The state is a few hundred bytes of JSON (to_bytes).

Identity: the optional voice check (the client reads a sentence) names the voices: the one nearest
to it is the client's (SessionVoices.start says why it does not seed a voice). Without it nothing
acoustic says which voice is whose; see identity_from_questions.

This module is pure (numpy + stdlib): no Django, no Redis; the caller stores SessionVoices.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

SAMPLE_RATE = 16000
FRAME = 400  # 25 ms analysis frame
HOP = 160  # 10 ms
NFFT = 512
N_MELS = 40
N_CEPS = 20  # c0..c19; c0 is dropped
FRAMES_PER_CELL = 25  # 0.25 s: the resolution of a speaker change
CELL_S = FRAMES_PER_CELL * HOP / SAMPLE_RATE
CONTEXT_CELLS = 2  # 2 cells either side: a cell is described by 1.25 s of audio around it
# A frame is speech when its energy is within ~30 dB (7 nats of power) of the window's loud frames
# (95th percentile) and above -60 dBFS: the window already went through webrtcvad, but it keeps
# pauses up to 0.5 s and a 0.5 s pre-roll, which would otherwise pull every centroid towards silence.
SPEECH_BELOW_LOUD = 7.0
SPEECH_FLOOR = float(np.log(FRAME * 10 ** (-60 / 10)))
MIN_CELL_SPEECH_FRAMES = 30  # a cell with less than 0.3 s of speech in its context is not scored

# Per-coefficient scale of c1..c19 so that every coefficient counts about equally in a distance: the
# spread of 1 s means across six espeak-ng voices and three real speakers (bench/speakers.py
# --calibrate prints it). Without it c1-c2 (spectral tilt) would outweigh the rest ten to one.
SCALE = np.array(
    [15.7, 12.5, 9.2, 11.0, 8.6, 9.3, 8.0, 3.6, 3.1, 2.9, 4.3, 3.8, 4.3, 3.9, 3.5, 4.7, 2.7, 1.9, 2.8]
)
DIMS = len(SCALE)

# Within-voice variance (per scaled dimension) of a cell's 1.25 s mean around its voice's centroid,
# before the session has measured its own (bench/speakers.py --calibrate).
PRIOR_WITHIN_VAR = 0.25
PRIOR_WITHIN_WEIGHT = 20.0  # cells' worth of trust in the prior against the session's own estimate
# Cost in nats of a change of voice between two cells: with ~60 cells a window, one change costs
# about as much as two cells of evidence, so a single noisy cell cannot flip, but a real turn of
# 0.75 s or more is found.
SWITCH_COST = 8.0
# Cells whose posterior is below this do not move the centroids (a turn boundary, a laugh, overlap).
UPDATE_POSTERIOR = 0.9
# A second voice is opened from cells whose squared scaled distance to the first voice, divided by
# DIMS * within variance, is above NEW_VOICE_RATIO (about 4x what a voice's own cells show on
# average), and it takes at least NEW_VOICE_MIN_S of such speech, so a cough does not become a
# person. 2.5 and 6 gave the same results on the mixes that work; 4 opened fewer wrong voices.
NEW_VOICE_RATIO = 4.0
NEW_VOICE_MIN_S = 1.0
MIN_VOICE_CHECK_S = 1.5  # below this the voice check is too short to describe a voice

# session_confident thresholds, calibrated on bench/speakers.py mixes (see its docstring).
CONFIDENT_MIN_VOICE_S = 3.0
CONFIDENT_SEPARATION = 3.0  # centroid distance^2 / (DIMS * within variance)
CONFIDENT_CHECK_MARGIN = 3.0  # SessionVoices.check_margin()
CONFIDENT_MEAN_POSTERIOR = 0.9

CLIENT = "client"
THERAPIST = "therapist"


def _mel_filterbank() -> np.ndarray:
    def hz_to_mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def mel_to_hz(m):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    edges = mel_to_hz(np.linspace(hz_to_mel(60.0), hz_to_mel(7600.0), N_MELS + 2))
    bins = np.fft.rfftfreq(NFFT, 1.0 / SAMPLE_RATE)
    bank = np.zeros((N_MELS, bins.size))
    for i in range(N_MELS):
        left, centre, right = edges[i : i + 3]
        bank[i] = np.clip(
            np.minimum((bins - left) / (centre - left), (right - bins) / (right - centre)), 0, None
        )
    return bank.T.astype(np.float32)


_MEL = _mel_filterbank()
_DCT = np.cos(np.pi / N_MELS * (np.arange(N_MELS)[:, None] + 0.5) * np.arange(N_CEPS)[None, :]).astype(
    np.float32
)
_WINDOW = np.hamming(FRAME).astype(np.float32)


def pcm_to_float(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def frame_features(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(scaled c1..c19 per 10 ms frame, speech mask per frame) of float32 16 kHz mono."""
    if audio.size < FRAME:
        return np.zeros((0, DIMS), np.float32), np.zeros(0, bool)
    emphasised = np.append(audio[:1], audio[1:] - 0.97 * audio[:-1]).astype(np.float32)
    count = 1 + (emphasised.size - FRAME) // HOP
    strided = np.lib.stride_tricks.sliding_window_view(emphasised, FRAME)[::HOP][:count] * _WINDOW
    power = np.abs(np.fft.rfft(strided, NFFT)) ** 2
    ceps = np.log(power @ _MEL + 1e-8) @ _DCT
    energy = np.log(np.einsum("ij,ij->i", strided, strided) + 1e-10)
    loud = np.percentile(energy, 95)
    speech = (energy > loud - SPEECH_BELOW_LOUD) & (energy > SPEECH_FLOOR)
    return (ceps[:, 1:] / SCALE).astype(np.float32), speech


@dataclass(frozen=True)
class Cells:
    """Per 0.25 s cell of a window: context mean (n x DIMS), own frame sums and counts (for centroid
    updates: each frame counted once), and whether the cell has enough speech to be scored."""

    means: np.ndarray
    own_sums: np.ndarray
    own_counts: np.ndarray
    scored: np.ndarray


def window_cells(audio: np.ndarray) -> Cells:
    feats, speech = frame_features(audio)
    n_cells = int(np.ceil(feats.shape[0] / FRAMES_PER_CELL))
    padded = n_cells * FRAMES_PER_CELL
    masked = np.zeros((padded, DIMS), np.float64)
    masked[: feats.shape[0]] = feats * speech[:, None]
    counts = np.zeros(padded)
    counts[: feats.shape[0]] = speech
    own_sums = masked.reshape(n_cells, FRAMES_PER_CELL, DIMS).sum(1)
    own_counts = counts.reshape(n_cells, FRAMES_PER_CELL).sum(1)
    # Context sums by a cumulative sum over cells: O(n), no per-cell Python loop.
    cum_s = np.vstack([np.zeros((1, DIMS)), np.cumsum(own_sums, 0)])
    cum_c = np.concatenate([[0.0], np.cumsum(own_counts)])
    lo = np.clip(np.arange(n_cells) - CONTEXT_CELLS, 0, n_cells)
    hi = np.clip(np.arange(n_cells) + CONTEXT_CELLS + 1, 0, n_cells)
    ctx_c = cum_c[hi] - cum_c[lo]
    means = (cum_s[hi] - cum_s[lo]) / np.maximum(ctx_c, 1.0)[:, None]
    # A cell must hold some speech itself: a silent cell between two turns would borrow its
    # neighbours' voices and is not worth a label anyway.
    scored = (ctx_c >= MIN_CELL_SPEECH_FRAMES) & (own_counts > 0)
    return Cells(means=means, own_sums=own_sums, own_counts=own_counts, scored=scored)


@dataclass(frozen=True)
class VoicePrint:
    """The voice check's description: mean scaled MFCC and how much speech it came from. Serialisable
    (to_json/from_json) to live in Redis with a TTL; never in the database."""

    mean: tuple[float, ...]
    speech_s: float

    def to_json(self) -> str:
        return json.dumps({"v": 1, "mean": [round(x, 5) for x in self.mean], "speech_s": self.speech_s})

    @classmethod
    def from_json(cls, raw: str | bytes) -> VoicePrint:
        data = json.loads(raw)
        return cls(mean=tuple(float(x) for x in data["mean"]), speech_s=float(data["speech_s"]))


def embed_voice_check(pcm: bytes) -> VoicePrint | None:
    """PCM16LE 16 kHz mono of the voice check -> its VoicePrint, or None when it holds less than
    MIN_VOICE_CHECK_S of speech (the caller should ask to read the sentence again)."""
    feats, speech = frame_features(pcm_to_float(pcm))
    speech_s = float(speech.sum()) * HOP / SAMPLE_RATE
    if speech_s < MIN_VOICE_CHECK_S:
        return None
    return VoicePrint(mean=tuple(float(x) for x in feats[speech].mean(0)), speech_s=round(speech_s, 2))


@dataclass
class Voice:
    """A running centroid: sum and count of speech frames attributed to this voice."""

    total: np.ndarray
    frames: float

    @property
    def centroid(self) -> np.ndarray:
        return self.total / max(self.frames, 1.0)

    @property
    def speech_s(self) -> float:
        return self.frames * HOP / SAMPLE_RATE


@dataclass
class SessionVoices:
    """The per-session state shared by every window's task (to_bytes/from_bytes, for Redis).

    With ``has_check``, the voice nearest ``check_mean`` is the client's (client_voice). ``within_*`` is the
    running within-voice spread; ``posterior_*`` the running mean of the chosen labels' posteriors,
    which session_confident reads."""

    voices: list[Voice] = field(default_factory=list)
    has_check: bool = False
    check_mean: np.ndarray | None = None
    within_sum: float = 0.0
    within_n: float = 0.0
    posterior_sum: float = 0.0
    posterior_n: float = 0.0

    @classmethod
    def start(cls, voice_check: VoicePrint | None = None) -> SessionVoices:
        # Why the check does not seed a voice: a 4-6 s sentence has other phonemes than the rest of
        # the session, and on jfk-vs-left its centroid sat as far from the client's later phrases as
        # the novelty threshold, so segmentation seeded by it split the client in two. Segmenting
        # blind and naming the voices by their distance to the check was right on every mix.
        state = cls()
        if voice_check is not None:
            state.set_check(voice_check)
        return state

    def set_check(self, voice_check: VoicePrint) -> None:
        """The voice check names the voices (the nearest is the client's); a later one replaces it."""
        self.has_check = True
        self.check_mean = np.asarray(voice_check.mean, np.float64)

    def client_voice(self) -> int | None:
        """Index of the voice nearest the voice check, or None (no check, or no voice yet)."""
        if self.check_mean is None or not self.voices:
            return None
        dists = [float(((v.centroid - self.check_mean) ** 2).sum()) for v in self.voices[:2]]
        return int(np.argmin(dists))

    def check_margin(self) -> float:
        """How much nearer the check is to the client's voice than to the other, in the units of
        separation(): (d_other - d_client) / (DIMS * within variance); 0 without both voices."""
        if self.check_mean is None or len(self.voices) < 2:
            return 0.0
        dists = sorted(float(((v.centroid - self.check_mean) ** 2).sum()) for v in self.voices[:2])
        return (dists[1] - dists[0]) / (DIMS * self.within_var)

    @property
    def within_var(self) -> float:
        """Per-dimension variance of a cell mean around its centroid; the prior until measured."""
        return (PRIOR_WITHIN_VAR * PRIOR_WITHIN_WEIGHT + self.within_sum) / (
            PRIOR_WITHIN_WEIGHT + self.within_n
        )

    def separation(self) -> float:
        if len(self.voices) < 2:
            return 0.0
        gap = self.voices[0].centroid - self.voices[1].centroid
        return float(gap @ gap) / (DIMS * self.within_var)

    def to_bytes(self) -> bytes:
        data = {
            "v": 1,
            "voices": [
                {"total": [round(x, 3) for x in v.total.tolist()], "frames": v.frames} for v in self.voices
            ],
            "has_check": self.has_check,
            "check_mean": None
            if self.check_mean is None
            else [round(x, 5) for x in self.check_mean.tolist()],
            "within": [round(self.within_sum, 5), self.within_n],
            "posterior": [round(self.posterior_sum, 3), self.posterior_n],
        }
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes | str | None) -> SessionVoices:
        if not raw:
            return cls()
        data = json.loads(raw)
        return cls(
            voices=[
                Voice(total=np.asarray(v["total"], np.float64), frames=float(v["frames"]))
                for v in data["voices"]
            ],
            has_check=bool(data["has_check"]),
            check_mean=None if data["check_mean"] is None else np.asarray(data["check_mean"], np.float64),
            within_sum=float(data["within"][0]),
            within_n=float(data["within"][1]),
            posterior_sum=float(data["posterior"][0]),
            posterior_n=float(data["posterior"][1]),
        )


@dataclass(frozen=True)
class Turn:
    """A run of cells with one voice: times in the window's audio, voice index, mean posterior."""

    start: float
    end: float
    voice: int
    confidence: float


def _costs(cells: Cells, state: SessionVoices) -> np.ndarray:
    """n x 2 negative log-likelihoods (Gaussian, shared spherical variance); 0 for unscored cells so
    the HMM carries the neighbours' label across them."""
    var = state.within_var
    costs = np.zeros((cells.means.shape[0], 2))
    for k, voice in enumerate(state.voices[:2]):
        gap = cells.means - voice.centroid
        costs[:, k] = np.einsum("ij,ij->i", gap, gap) / (2.0 * var)
    costs[~cells.scored] = 0.0
    return costs


def _posteriors(costs: np.ndarray) -> np.ndarray:
    """Forward-backward over two states with SWITCH_COST per change; returns n x 2 posteriors."""
    n = costs.shape[0]
    like = np.exp(-(costs - costs.min(1, keepdims=True)))
    stay = 1.0 / (1.0 + np.exp(-SWITCH_COST))
    trans = np.array([[stay, 1.0 - stay], [1.0 - stay, stay]])
    fwd = np.empty((n, 2))
    bwd = np.ones((n, 2))
    prev = np.array([0.5, 0.5])
    for i in range(n):
        cur = (prev @ trans) * like[i]
        fwd[i] = prev = cur / cur.sum()
    for i in range(n - 2, -1, -1):
        nxt = trans @ (like[i + 1] * bwd[i + 1])
        bwd[i] = nxt / nxt.sum()
    post = fwd * bwd
    return post / post.sum(1, keepdims=True)


def _voice_of(cells: Cells, pick: np.ndarray) -> Voice:
    return Voice(total=cells.own_sums[pick].sum(0), frames=float(cells.own_counts[pick].sum()))


def _two_means(means: np.ndarray) -> np.ndarray:
    """Deterministic 2-means of cell means: seeds are the cell farthest from the mean and the cell
    farthest from that one (no random restarts, so a window always gets the same answer)."""
    gap = means - means.mean(0)
    a = int(np.einsum("ij,ij->i", gap, gap).argmax())
    gap = means - means[a]
    b = int(np.einsum("ij,ij->i", gap, gap).argmax())
    centres = means[[a, b]].copy()
    labels = np.zeros(means.shape[0], int)
    for _ in range(10):
        dist = ((means[:, None, :] - centres[None]) ** 2).sum(-1)
        new = dist.argmin(1)
        if (new == labels).all() and _ > 0:
            break
        labels = new
        for k in range(2):
            if (labels == k).any():
                centres[k] = means[labels == k].mean(0)
    return labels


def _open_voices(cells: Cells, state: SessionVoices) -> None:
    """Give the session its first and second voice from this window when it has fewer than two.

    A new voice needs NEW_VOICE_MIN_S of cells far (NEW_VOICE_RATIO) from every known voice: a
    second person must be heard clearly before the session has two, because a wrong second voice
    (the same person louder, or a cough) would then split one speaker in two."""
    scored = np.flatnonzero(cells.scored)
    if scored.size == 0 or len(state.voices) >= 2:
        return
    if not state.voices:
        # The first split leaves out the cells at the window's ends: their context is cut short, so
        # their means are noisier, and one person's window was split in two at its last half second.
        n = cells.means.shape[0]
        inner = scored[(scored >= CONTEXT_CELLS) & (scored < n - CONTEXT_CELLS)]
        if inner.size * CELL_S >= 2 * NEW_VOICE_MIN_S:
            scored = inner
        labels = _two_means(cells.means[scored]) if scored.size >= 2 else np.zeros(scored.size, int)
        groups = [scored[labels == k] for k in range(2)]
        groups = [g for g in groups if g.size]
        if len(groups) == 2 and min(g.size for g in groups) * CELL_S >= NEW_VOICE_MIN_S:
            first, second = (_voice_of(cells, g) for g in groups)
            gap = first.centroid - second.centroid
            if float(gap @ gap) / (DIMS * state.within_var) > NEW_VOICE_RATIO:
                # Order by first appearance, so "voice 0" is whoever spoke first in the session.
                state.voices += [first, second] if groups[0][0] < groups[1][0] else [second, first]
                return
        state.voices.append(_voice_of(cells, scored))
        return
    gap = cells.means[scored] - state.voices[0].centroid
    ratio = np.einsum("ij,ij->i", gap, gap) / (DIMS * state.within_var)
    novel = scored[ratio > NEW_VOICE_RATIO]
    if novel.size * CELL_S < NEW_VOICE_MIN_S:
        return
    # The far cells may include some of the known voice's own (a phrase unlike the voice check);
    # a few nearest-centroid rounds with the known voice held still hand those back to it.
    second = _voice_of(cells, novel)
    known = state.voices[0].centroid
    for _ in range(5):
        d_known = ((cells.means[scored] - known) ** 2).sum(1)
        d_new = ((cells.means[scored] - second.centroid) ** 2).sum(1)
        mine = scored[d_new < d_known]
        if mine.size * CELL_S < NEW_VOICE_MIN_S:
            return
        second = _voice_of(cells, mine)
    state.voices.append(second)


def segment(pcm: bytes, state: SessionVoices) -> tuple[list[Turn], np.ndarray]:
    """Label a window's speech with voices and update ``state`` in place.

    Returns (turns, per-cell posteriors n x 2) with times relative to the start of ``pcm``; cells
    without speech carry their neighbours' labels. With one voice known and nothing new heard,
    everything is voice 0 at full confidence."""
    cells = window_cells(pcm_to_float(pcm))
    n = cells.means.shape[0]
    if n == 0:
        return [], np.zeros((0, 2))
    # The session's first voices come from the first windows that hold them; from then on every
    # window is scored against the centroids (and moves them).
    _open_voices(cells, state)
    if not state.voices:
        return [], np.zeros((n, 2))
    if len(state.voices) == 1:
        post = np.zeros((n, 2))
        post[:, 0] = 1.0
    else:
        post = _posteriors(_costs(cells, state))
    labels = post.argmax(1)
    _update(cells, state, post, labels)
    return _turns(labels, post, cells.scored), post


def _update(cells: Cells, state: SessionVoices, post: np.ndarray, labels: np.ndarray) -> None:
    sure = cells.scored & (post.max(1) >= UPDATE_POSTERIOR)
    for k, voice in enumerate(state.voices[:2]):
        pick = sure & (labels == k)
        if pick.any():
            gap = cells.means[pick] - voice.centroid
            state.within_sum += float(np.einsum("ij,ij->", gap, gap)) / DIMS
            state.within_n += float(pick.sum())
            voice.total = voice.total + cells.own_sums[pick].sum(0)
            voice.frames += float(cells.own_counts[pick].sum())
    weights = cells.own_counts[cells.scored]
    state.posterior_sum += float((post.max(1)[cells.scored] * weights).sum())
    state.posterior_n += float(weights.sum())


def _turns(labels: np.ndarray, post: np.ndarray, scored: np.ndarray) -> list[Turn]:
    turns = []
    start = 0
    for i in range(1, labels.size + 1):
        if i == labels.size or labels[i] != labels[start]:
            k = int(labels[start])
            run = post[start:i, k][scored[start:i]]
            conf = float(run.mean()) if run.size else 0.5
            turns.append(Turn(round(start * CELL_S, 3), round(i * CELL_S, 3), k, round(conf, 3)))
            start = i
    return turns


# Words and pieces


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str  # as faster-whisper gives it: leading space, punctuation attached
    probability: float = 1.0


@dataclass(frozen=True)
class Attributed:
    """A piece, or the part of a piece one voice spoke (split at word boundaries).

    ``speaker`` is CLIENT/THERAPIST when identity is known (voice check), else None: the caller maps
    ``voice`` later (identity_from_questions) or stays neutral. ``piece_index`` points at the input
    piece it came from; ``words`` are the words it holds (for unsure spans)."""

    start: float
    end: float
    text: str
    voice: int
    speaker: str | None
    confidence: float
    piece_index: int
    words: tuple[Word, ...]


def speaker_of(voice: int, state: SessionVoices) -> str | None:
    """CLIENT/THERAPIST for a voice by the voice check, None without one. The answer can change
    while the centroids settle, so the caller should name voices again at the end (speakers_by_voice)."""
    client = state.client_voice()
    if client is None:
        return None
    return CLIENT if voice == client else THERAPIST


def speakers_by_voice(state: SessionVoices) -> dict[int, str] | None:
    client = state.client_voice()
    if client is None:
        return None
    return {k: CLIENT if k == client else THERAPIST for k in range(len(state.voices))}


def _word_votes(start: float, end: float, post: np.ndarray) -> np.ndarray:
    """Summed posteriors of the cells a time span overlaps, weighted by overlap."""
    if post.shape[0] == 0:
        return np.array([0.5, 0.5])
    first = min(int(start / CELL_S), post.shape[0] - 1)
    last = min(max(int(np.ceil(end / CELL_S)), first + 1), post.shape[0])
    edges = np.arange(first, last + 1) * CELL_S
    overlap = np.clip(np.minimum(edges[1:], end) - np.maximum(edges[:-1], start), 0, None)
    if overlap.sum() <= 0:
        overlap = np.ones_like(overlap)
    return (post[first:last] * overlap[:, None]).sum(0) / overlap.sum()


def assign(pcm: bytes, pieces: Sequence, state: SessionVoices) -> list[Attributed]:
    """Segment one window and attribute its transcript; updates ``state`` in place.

    ``pieces``: objects with ``start``, ``end``, ``text`` and ``words`` (a sequence of Word, or of
    objects/tuples with start, end, word[, probability], as faster-whisper's segment.words), times
    relative to ``pcm`` like capture.transcription.Piece. A piece is split where its words change
    voice; a piece without words is attributed as a whole."""
    _turns, post = segment(pcm, state)
    return attribute(pieces, post, state)


def attribute(pieces: Sequence, post: np.ndarray, state: SessionVoices) -> list[Attributed]:
    """assign() after segment(): the per-cell posteriors applied to the pieces' words."""
    out: list[Attributed] = []
    for index, piece in enumerate(pieces):
        words = tuple(_as_words(getattr(piece, "words", ()) or ()))
        if not state.voices or post.shape[0] == 0:
            out.append(Attributed(piece.start, piece.end, piece.text, 0, None, 0.0, index, words))
            continue
        if not words:
            votes = _word_votes(piece.start, piece.end, post)
            voice = int(votes.argmax())
            conf = round(float(votes[voice]), 3)
            out.append(
                Attributed(
                    piece.start, piece.end, piece.text, voice, speaker_of(voice, state), conf, index, ()
                )
            )
            continue
        votes = [_word_votes(w.start, w.end, post) for w in words]
        labels = _absorb_short_runs([int(v.argmax()) for v in votes], words)
        run_start = 0
        for i in range(1, len(words) + 1):
            if i == len(words) or labels[i] != labels[run_start]:
                chunk = words[run_start:i]
                voice = labels[run_start]
                conf = float(np.mean([votes[j][voice] for j in range(run_start, i)]))
                out.append(
                    Attributed(
                        # The first and last runs keep the piece's own edges (Whisper's segment times
                        # can start before the first word's); inner edges are the words'.
                        start=chunk[0].start if run_start else piece.start,
                        end=chunk[-1].end if i < len(words) else piece.end,
                        text="".join(w.word for w in chunk).strip(),
                        voice=voice,
                        speaker=speaker_of(voice, state),
                        confidence=round(conf, 3),
                        piece_index=index,
                        words=chunk,
                    )
                )
                run_start = i
    return out


def _absorb_short_runs(labels: list[int], words: Sequence[Word]) -> list[int]:
    """A run of one or two words shorter than 0.5 s between two runs of the other voice is that other
    voice: turns that short are below what the 1.25 s cell context can resolve, so such a run is
    noise far more often than a real interjection."""
    labels = list(labels)
    i = 0
    while i < len(labels):
        j = i
        while j < len(labels) and labels[j] == labels[i]:
            j += 1
        if 0 < i and j < len(labels) and j - i <= 2 and words[j - 1].end - words[i].start < 0.5:
            for k in range(i, j):
                labels[k] = labels[i - 1]
        i = j
    return labels


def _as_words(items: Iterable) -> Iterable[Word]:
    for w in items:
        if isinstance(w, Word):
            yield w
        elif isinstance(w, tuple | list):
            yield Word(float(w[0]), float(w[1]), str(w[2]), float(w[3]) if len(w) > 3 else 1.0)
        else:
            yield Word(float(w.start), float(w.end), str(w.word), float(getattr(w, "probability", 1.0)))


# Session level


def voices_apart(state: SessionVoices) -> bool:
    """Two voices heard long enough, well apart, and the HMM sure of most speech: the segmentation can
    be trusted. Naming the voices is a separate question (the voice check, or identity_from_questions)."""
    if len(state.voices) < 2 or min(v.speech_s for v in state.voices) < CONFIDENT_MIN_VOICE_S:
        return False
    if state.separation() < CONFIDENT_SEPARATION:
        return False
    mean_post = state.posterior_sum / state.posterior_n if state.posterior_n else 0.0
    return mean_post >= CONFIDENT_MEAN_POSTERIOR


def session_confident(state: SessionVoices) -> bool:
    """True only when the attribution can be shown as "client"/"therapist": there was a voice check
    and it is clearly nearer one voice, both voices were heard long enough, they are well apart, and
    the HMM was sure of most speech. Otherwise the recap should use neutral wording.

    Thresholds (bench/speakers.py): the mixes attributed >= 99% right had separation 5.3-6.1 and
    check margin 6.5-7.1; the one that failed with two voices (espeak-similar, 55-65%) had 0-1.5
    and 0-0.9. 3.0 sits between; five mixes are few, so it errs towards "not confident"."""
    if not state.has_check or not voices_apart(state):
        return False
    return state.check_margin() >= CONFIDENT_CHECK_MARGIN


def identity_from_questions(questions: dict[int, int]) -> dict[int, str] | None:
    """Without a voice check: the voice that asks clearly more questions is the therapist's.

    ``questions``: voice -> number of its sentences ending in "?" over the whole session. On the 30
    AnnoMI counselling transcripts the therapist asked more questions in 28; the rule below (at least
    4 questions and three times the other voice's) decided 25 sessions and was right in 23 (92%;
    bench/speakers.py --identity). "Who talks more" was the client in only 12 of 30, and the
    therapist spoke first in 24: both too weak to name anyone. Returns None when undecided: stay
    neutral then. Measured on reference transcripts, not on Whisper's punctuation."""
    a, b = questions.get(0, 0), questions.get(1, 0)
    if max(a, b) >= 4 and max(a, b) >= 3 * min(a, b):
        return {0: THERAPIST, 1: CLIENT} if a > b else {0: CLIENT, 1: THERAPIST}
    return None
