"""Per-channel VAD windowing: turn a stream of 200 ms wire frames into windows for Whisper.

Why windows are packed rather than sent per utterance: every model call has a fixed cost, and the
encoder never runs on less than WHISPER_ENCODER_MIN_S (10 s; faster-whisper alone pads every call to
30 s), so a 2.5 s clip costs more CPU per second of audio than a 10-25 s one (see
bench/window_cost.py and the brief's dependency notes). Silence is never sent to the model; speech
segments are packed into one window until a real pause or the ~25 s limit.

Why windows *own* sequence ranges: the server may only advance a channel's commit mark (and the
browser may only free frames) once every frame up to that mark is accounted for. Each window owns a
contiguous, non-overlapping run of wire seqs, silence included, so "all windows up to seq N are
stored" is exactly "commit N". Silence-only windows (pcm == b"") let the commit mark move through
long silences without a model call.

Pure Python + webrtcvad + numpy: this runs inside the WebSocket server, so no Django imports and
only per-20 ms-subframe (not per-sample) Python work.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import webrtcvad

FRAME_SAMPLES = 3200  # 200 ms of 16 kHz PCM16 mono per wire frame
SAMPLE_RATE = 16000

FRAME_BYTES = FRAME_SAMPLES * 2
# 20 ms sub-frames divide a 200 ms wire frame exactly, so no remainder is carried between frames
# and every sub-frame belongs to exactly one seq (a window can then own whole seqs only).
SUB_SAMPLES = 320
SUB_BYTES = SUB_SAMPLES * 2
SUBS_PER_FRAME = FRAME_SAMPLES // SUB_SAMPLES
SUB_S = SUB_SAMPLES / SAMPLE_RATE
FRAME_S = FRAME_SAMPLES / SAMPLE_RATE

# Trigger decision window, as in py-webrtcvad's example.py: the last 300 ms of VAD flags.
RING_SUBS = 15
# 12 of 15 voiced (80 %) starts speech: a lone voiced blip (a click, a cough onset) does not,
# but a soft onset still does after ~240 ms. 14 of 15 unvoiced (>90 %) ends it, so short
# intra-word stops and breaths do not cut a segment.
TRIGGER_VOICED = 12
RELEASE_UNVOICED = 14
# Audio kept before the trigger window: the trigger fires ~240 ms after onset, and a further
# 300 ms before that keeps quiet onsets ("h", "f", "s") that webrtcvad flags as unvoiced.
PREROLL_SUBS = 15
LOOKBACK_SUBS = RING_SUBS + PREROLL_SUBS
# Frames a silence commit leaves unowned so a trigger in the next push can still reach back
# for its full pre-roll (lookback spans at most this many earlier frames).
KEEP_UNOWNED_FRAMES = math.ceil(LOOKBACK_SUBS / SUBS_PER_FRAME)
# Pauses up to this long between two segments stay in the window audio: Whisper reads a gap as a
# word or sentence boundary, and dropping it glues words together. Longer pauses are dropped.
KEEP_PAUSE_S = 0.5
# A too-long window is cut at the quietest seq boundary in its last few seconds, not mid-word.
CUT_SEARCH_S = 3.0

# Why 2 s: each channel carries one speaker, so pauses inside a turn (breaths, hesitations,
# searching for a word) are mostly well under a second; a 2 s silence (plus the 0.3 s hangover
# already in the window) usually means the other person has the floor or the thought ended.
# Shorter would cut a thinking pause into expensive short windows; much longer would merge the
# speaker's separate turns, which makes interleaving the two channels' lines coarser.
DEFAULT_PAUSE_CLOSE_S = 2.0
# Why 5 s: long enough that brief gaps between windows never need their own (free but chatty)
# silence window, short enough that the browser's unacknowledged buffer and the commit lag stay
# small during long listening stretches on one channel.
DEFAULT_SILENCE_COMMIT_S = 5.0
# Nagle's rule for windows: while an earlier window of the same socket still waits for its
# transcription (the Stream sets `hold`), a short window reaching its pause is held open through a
# pause of up to this long, so that the speaker's next turn joins it. Closing it would only queue it
# behind the earlier one, and every model call pays a fixed 30 s encoder pass however little speech it
# carries (bench/window_cost.py): fewer, fuller windows are what lets busy workers catch up. Workers
# that keep up never trigger it: the earlier window is committed within a second or so, long before
# the next window's pause. Why 8 s: on a call the silence on one channel between its speaker's turns
# is the other person's turn plus two hand-over pauses, most often 3-10 s (bench/capacity.py).
DEFAULT_HOLD_PAUSE_S = 8.0  # when turned on (settings.CAPTURE["HOLD_PAUSE_S"]; 0, the default, is off)
# A window with this much audio closes at the usual pause even when held: the next turn would mostly
# not fit under the 25 s cap, so holding it would only add lag.
HOLD_FULL_S = 15.0


@dataclass(frozen=True)
class ClosedWindow:
    channel: int
    seq_first: int
    seq_last: int
    # repr=False: a window may end up in a log line or a traceback, and audio must never do so.
    pcm: bytes = field(repr=False)
    pieces: tuple[tuple[float, float, float], ...]

    @property
    def is_silence(self) -> bool:
        return not self.pcm

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / (2 * SAMPLE_RATE)

    def to_session_time(self, t: float) -> float:
        """Session seconds for a time in this window's audio (e.g. a Whisper segment start)."""
        return pieces_to_session_time(self.pieces, t, empty=self.seq_first * FRAME_S)


def pieces_to_session_time(pieces, t: float, *, empty: float = 0.0) -> float:
    """Map a time in packed window audio back to the session clock through its pieces
    (offset_in_window_s, offset_in_session_s, duration_s); `empty` when there are none.

    A time exactly on the joint of two pieces maps to the start of the later piece.
    """
    if not pieces:
        return empty
    offsets = [piece[0] for piece in pieces]
    index = max(bisect.bisect_right(offsets, t) - 1, 0)
    offset, session, duration = pieces[index]
    # Clamp so a segment end that Whisper places past the audio (it can, by a few tens of
    # ms) or a negative start still lands inside the speech this window really holds.
    return session + min(max(t - offset, 0.0), duration)


@dataclass(slots=True)
class _Sub:
    index: int  # global sub-frame index: seq * SUBS_PER_FRAME + position in the frame
    pcm: bytes
    energy: float


class _OpenWindow:
    """Audio of the window being packed, kept per sub-frame so it can be cut at any seq."""

    __slots__ = ("energies", "indices", "pcm")

    def __init__(self) -> None:
        self.indices: list[int] = []
        self.energies: list[float] = []
        self.pcm = bytearray()

    def __len__(self) -> int:
        return len(self.indices)

    def add(self, sub: _Sub) -> None:
        self.indices.append(sub.index)
        self.energies.append(sub.energy)
        self.pcm += sub.pcm

    def split(self, position: int) -> _OpenWindow:
        tail = _OpenWindow()
        tail.indices = self.indices[position:]
        tail.energies = self.energies[position:]
        tail.pcm = self.pcm[position * SUB_BYTES :]
        del self.indices[position:]
        del self.energies[position:]
        del self.pcm[position * SUB_BYTES :]
        return tail

    def pieces(self) -> tuple[tuple[float, float, float], ...]:
        pieces = []
        start = 0
        for position in range(1, len(self.indices) + 1):
            if position == len(self.indices) or self.indices[position] != self.indices[position - 1] + 1:
                pieces.append(
                    (
                        round(start * SUB_S, 6),
                        round(self.indices[start] * SUB_S, 6),
                        round((position - start) * SUB_S, 6),
                    )
                )
                start = position
        return tuple(pieces)


class ChannelWindower:
    def __init__(
        self,
        *,
        channel: int,
        first_seq: int = 0,
        aggressiveness: int = 2,
        max_window_s: float = 25.0,
        pause_close_s: float = DEFAULT_PAUSE_CLOSE_S,
        silence_commit_s: float = DEFAULT_SILENCE_COMMIT_S,
        hold_pause_s: float = DEFAULT_HOLD_PAUSE_S,
    ) -> None:
        if first_seq < 0:
            raise ValueError("first_seq must be >= 0")
        if aggressiveness not in (0, 1, 2, 3):
            raise ValueError("aggressiveness must be 0..3")
        # Whisper sees at most 30 s per call; the lower bound leaves room for the cut search.
        if not 2 * CUT_SEARCH_S <= max_window_s <= 30.0:
            raise ValueError(f"max_window_s must be between {2 * CUT_SEARCH_S} and 30")
        if pause_close_s <= 0 or silence_commit_s <= 0:
            raise ValueError("pause_close_s and silence_commit_s must be > 0")

        self._channel = channel
        self._vad = webrtcvad.Vad(aggressiveness)
        self._next_seq = first_seq
        self._owned_upto = first_seq - 1
        self._max_subs = int(round(max_window_s / SUB_S))
        self._pause_close_subs = max(1, int(round(pause_close_s / SUB_S)))
        self._keep_pause_subs = int(round(KEEP_PAUSE_S / SUB_S))
        self._cut_search_subs = int(round(CUT_SEARCH_S / SUB_S))
        self._silence_commit_frames = max(1, math.ceil(silence_commit_s / FRAME_S))
        # Never shorter than the usual pause: holding only ever keeps a window open longer.
        self._hold_pause_subs = max(self._pause_close_subs, int(round(hold_pause_s / SUB_S)))
        self._hold_full_subs = int(round(HOLD_FULL_S / SUB_S))
        # Set by the owner while an earlier window still waits for its transcription (DEFAULT_HOLD_PAUSE_S).
        self.hold = False

        self._triggered = False
        self._ring: deque[bool] = deque(maxlen=RING_SUBS)
        self._lookback: deque[_Sub] = deque()
        self._window: _OpenWindow | None = None
        # Silence since the window's last speech; only the first KEEP_PAUSE_S of it is kept.
        self._gap: list[_Sub] = []
        self._gap_subs = 0
        self._closed: list[ClosedWindow] = []

    @property
    def next_seq(self) -> int:
        return self._next_seq

    @property
    def speech_active(self) -> bool:
        return self._triggered

    def push(self, *, seq: int, pcm: bytes) -> list[ClosedWindow]:
        if seq != self._next_seq:
            raise ValueError(f"expected seq {self._next_seq}, got {seq}")
        if len(pcm) != FRAME_BYTES:
            raise ValueError(f"payload must be {FRAME_BYTES} bytes, got {len(pcm)}")
        pcm = bytes(pcm)
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32).reshape(SUBS_PER_FRAME, SUB_SAMPLES)
        energies = np.einsum("ij,ij->i", samples, samples) / SUB_SAMPLES
        base = seq * SUBS_PER_FRAME
        for k in range(SUBS_PER_FRAME):
            chunk = pcm[k * SUB_BYTES : (k + 1) * SUB_BYTES]
            sub = _Sub(base + k, chunk, float(energies[k]))
            self._step(sub, self._vad.is_speech(chunk, SAMPLE_RATE))
        self._next_seq = seq + 1
        self._maybe_commit_silence()
        closed, self._closed = self._closed, []
        return closed

    def flush(self) -> list[ClosedWindow]:
        # Undecided look-back audio never reached the trigger ratio: it is silence by our rule.
        self._triggered = False
        self._ring.clear()
        self._lookback.clear()
        last = self._next_seq - 1
        if self._window is not None and len(self._window):
            # The last window absorbs the trailing silence: one window fewer for the server.
            self._close_window(seq_last=last)
        self._window = None
        self._reset_gap()
        if self._owned_upto < last:
            self._emit_silence(seq_last=last)
        closed, self._closed = self._closed, []
        return closed

    # VAD state machine (py-webrtcvad example.py, with a longer pre-roll).

    def _step(self, sub: _Sub, voiced: bool) -> None:
        self._ring.append(voiced)
        if self._triggered:
            self._speech(sub)
            if len(self._ring) - sum(self._ring) >= RELEASE_UNVOICED:
                self._triggered = False
                self._ring.clear()
            return
        self._lookback.append(sub)
        if len(self._lookback) > LOOKBACK_SUBS:
            self._silence(self._lookback.popleft())
        if sum(self._ring) >= TRIGGER_VOICED:
            self._triggered = True
            self._ring.clear()
            for held in self._lookback:
                self._speech(held)
            self._lookback.clear()

    # Packing.

    def _speech(self, sub: _Sub) -> None:
        if sub.index // SUBS_PER_FRAME <= self._owned_upto:
            # Pre-roll reaching into a seq an earlier window owns: that audio is accounted for.
            return
        if self._window is None:
            self._window = _OpenWindow()
        elif self._gap_subs:
            if self._gap_subs <= self._keep_pause_subs:
                for held in self._gap:
                    self._append(held)
            self._reset_gap()
        self._append(sub)

    def _silence(self, sub: _Sub) -> None:
        if self._window is None:
            return
        self._gap_subs += 1
        if self._gap_subs <= self._keep_pause_subs:
            self._gap.append(sub)
        if self._gap_subs >= self._pause_close_subs and not self._holding():
            self._close_window(seq_last=self._window.indices[-1] // SUBS_PER_FRAME)
            self._window = None
            self._reset_gap()

    def set_hold(self, hold: bool) -> list[ClosedWindow]:
        """Hold short windows open, or stop: a window held past its usual pause closes at once."""
        self.hold = hold
        if (
            not hold
            and self._window is not None
            and not self._triggered
            and self._gap_subs >= self._pause_close_subs
        ):
            self._close_window(seq_last=self._window.indices[-1] // SUBS_PER_FRAME)
            self._window = None
            self._reset_gap()
        closed, self._closed = self._closed, []
        return closed

    def _holding(self) -> bool:
        """Keep a short window open through a longer pause while an earlier one still waits."""
        return (
            self.hold and self._gap_subs < self._hold_pause_subs and len(self._window) < self._hold_full_subs
        )

    def _reset_gap(self) -> None:
        self._gap = []
        self._gap_subs = 0

    def _append(self, sub: _Sub) -> None:
        assert self._window is not None
        if len(self._window) >= self._max_subs:
            self._cut(before_seq=sub.index // SUBS_PER_FRAME)
        self._window.add(sub)

    def _cut(self, *, before_seq: int) -> None:
        """Close the full window at the quietest seq boundary of its last few seconds."""
        window = self._window
        assert window is not None
        indices = window.indices
        search_from = indices[max(len(indices) - self._cut_search_subs, 1)]
        best: tuple[float, int, int] | None = None
        for boundary in range(search_from // SUBS_PER_FRAME + 1, before_seq + 1):
            first_after = boundary * SUBS_PER_FRAME
            position = bisect.bisect_left(indices, first_after)
            if position == 0:
                continue
            # Energy of the 40 ms either side of the boundary; dropped silence counts as zero,
            # so a boundary inside a dropped pause wins outright.
            lo = max(position - 2, 0)
            score = sum(
                energy
                for index, energy in zip(
                    indices[lo : position + 2], window.energies[lo : position + 2], strict=True
                )
                if first_after - 2 <= index < first_after + 2
            )
            # Ties go to the later boundary: the first window stays as long as possible.
            if best is None or score <= best[0]:
                best = (score, boundary, position)
        assert best is not None
        _, boundary, position = best
        tail = window.split(position)
        self._close_window(seq_last=boundary - 1)
        self._window = tail

    def _close_window(self, *, seq_last: int) -> None:
        window = self._window
        assert window is not None and len(window)
        self._closed.append(
            ClosedWindow(
                channel=self._channel,
                seq_first=self._owned_upto + 1,
                seq_last=seq_last,
                pcm=bytes(window.pcm),
                pieces=window.pieces(),
            )
        )
        self._owned_upto = seq_last

    def _maybe_commit_silence(self) -> None:
        if self._window is not None or self._triggered:
            return
        seq_last = self._next_seq - 1 - KEEP_UNOWNED_FRAMES
        if seq_last - self._owned_upto >= self._silence_commit_frames:
            self._emit_silence(seq_last=seq_last)

    def _emit_silence(self, *, seq_last: int) -> None:
        self._closed.append(
            ClosedWindow(
                channel=self._channel,
                seq_first=self._owned_upto + 1,
                seq_last=seq_last,
                pcm=b"",
                pieces=(),
            )
        )
        self._owned_upto = seq_last
