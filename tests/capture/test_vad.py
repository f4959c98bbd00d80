"""capture/vad.py: windows own every seq exactly once, hold only speech, and map back to session time.

Real speech comes from espeak-ng (webrtcvad is tuned for voice, so synthetic tones prove little);
those tests skip where espeak-ng is absent. Noise bursts stand in for speech in the randomized
invariant test so that it always runs.
"""

from __future__ import annotations

import random
import shutil

import numpy as np
import pytest

from capture.vad import FRAME_SAMPLES, SAMPLE_RATE, ChannelWindower, ClosedWindow
from tests.audio import espeak, to_int16

FRAME_BYTES = FRAME_SAMPLES * 2

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")

SENTENCES = (
    "I keep forgetting what we talked about in the last session.",
    "This week I tried the breathing exercise twice, and it helped a little.",
    "I want to bring up my sister next time, because that conversation still bothers me.",
    "When I get overwhelmed at work I shut down and stop answering messages.",
    "You suggested writing down one thing that went well each evening.",
    "I noticed that I apologise even when nothing is my fault.",
)


def _espeak(directory, index: int, text: str) -> np.ndarray:
    return to_int16(espeak(text, work=directory))


def _trim(samples: np.ndarray) -> np.ndarray:
    """espeak pads its output with silence; trim it so placement times are speech onsets."""
    loud = np.flatnonzero(np.abs(samples) > 300)
    return samples[loud[0] : loud[-1] + 1]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[np.ndarray]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    directory = tmp_path_factory.mktemp("espeak")
    return [_trim(_espeak(directory, i, text)) for i, text in enumerate(SENTENCES)]


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(round(seconds * SAMPLE_RATE)), dtype="<i2")


def place(total_s: float, *placements: tuple[float, np.ndarray]) -> np.ndarray:
    """A session of total_s seconds of silence with clips starting at the given times."""
    signal = silence(total_s)
    for start, clip in placements:
        at = int(round(start * SAMPLE_RATE))
        signal[at : at + len(clip)] = clip[: len(signal) - at]
    return signal


def run(
    signal: np.ndarray, *, first_seq: int = 0, hold: bool = False, **options
) -> tuple[list[ClosedWindow], list[bool]]:
    """Push the signal as wire frames (last one zero-padded, as the browser does), then flush.
    `hold`: an earlier window waits for its transcription throughout (the Stream sets this)."""
    padded = np.concatenate([signal, np.zeros(-len(signal) % FRAME_SAMPLES, dtype="<i2")])
    windower = ChannelWindower(channel=1, first_seq=first_seq, **options)
    windower.hold = hold
    windows: list[ClosedWindow] = []
    active = []
    for i in range(len(padded) // FRAME_SAMPLES):
        frame = padded[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES].tobytes()
        windows += windower.push(seq=first_seq + i, pcm=frame)
        active.append(windower.speech_active)
    windows += windower.flush()
    return windows, active


def assert_invariants(
    windows: list[ClosedWindow], signal: np.ndarray, *, first_seq: int = 0, max_window_s: float = 25.0
) -> None:
    frames = -(-len(signal) // FRAME_SAMPLES)
    padded = np.concatenate([signal, np.zeros(-len(signal) % FRAME_SAMPLES, dtype="<i2")])
    expected_first = first_seq
    for window in windows:
        # Contiguous, non-overlapping, in order, none empty.
        assert window.seq_first == expected_first
        assert window.seq_last >= window.seq_first
        expected_first = window.seq_last + 1
        assert window.channel == 1
        assert window.is_silence == (window.pcm == b"")
        assert len(window.pcm) <= max_window_s * SAMPLE_RATE * 2
        # The pieces describe the pcm exactly, and each piece is the session audio it claims to be,
        # taken only from seqs this window owns.
        total = sum(duration for _, _, duration in window.pieces)
        assert len(window.pcm) == round(total * SAMPLE_RATE) * 2
        cursor = 0.0
        previous_end = None
        for offset, session, duration in window.pieces:
            assert offset == pytest.approx(cursor)
            assert duration > 0
            if previous_end is not None:
                assert session > previous_end  # pieces are separated by dropped silence
            previous_end = session + duration
            assert session >= window.seq_first * 0.2 - 1e-9
            assert session + duration <= (window.seq_last + 1) * 0.2 + 1e-9
            source_at = int(round((session - first_seq * 0.2) * SAMPLE_RATE))
            at = int(round(offset * SAMPLE_RATE))
            n = int(round(duration * SAMPLE_RATE))
            got = np.frombuffer(window.pcm, dtype="<i2")[at : at + n]
            assert np.array_equal(got, padded[source_at : source_at + n])
            cursor += duration
    assert expected_first == first_seq + frames


def speech_windows(windows: list[ClosedWindow]) -> list[ClosedWindow]:
    return [window for window in windows if not window.is_silence]


def test_pure_silence_gives_only_silence_windows():
    rng = np.random.default_rng(1)
    # A quiet room, not digital zero: webrtcvad must not call hiss speech.
    signal = rng.normal(0, 20, 31 * SAMPLE_RATE).astype("<i2")
    windows, active = run(signal)
    assert windows and all(window.is_silence and window.pieces == () for window in windows)
    assert not any(active)
    # Silence commits every ~5 s while recording, not only at Stop.
    assert len(windows) >= 5
    assert_invariants(windows, signal)


def test_flush_with_nothing_pushed_returns_nothing():
    assert ChannelWindower(channel=0).flush() == []


@needs_espeak
def test_short_pause_packs_sentences_into_one_window(clips):
    a, b = clips[0], clips[1]
    gap = 1.2
    signal = place(
        3 + len(a) / SAMPLE_RATE + gap + len(b) / SAMPLE_RATE + 1, (1.0, a), (1.0 + len(a) / 16000 + gap, b)
    )
    windows, _ = run(signal)
    assert len(speech_windows(windows)) == 1
    assert_invariants(windows, signal)


@needs_espeak
def test_mid_pause_is_dropped_from_the_window_audio(clips):
    a, b = clips[0], clips[1]
    a_s, b_s = len(a) / SAMPLE_RATE, len(b) / SAMPLE_RATE
    signal = place(1 + a_s + 2.5 + b_s + 1, (1.0, a), (1.0 + a_s + 2.5, b))
    [window] = speech_windows(run(signal, pause_close_s=4.0)[0])
    assert len(window.pieces) == 2
    # Both sentences with their padding, but not the 2.5 s between them.
    assert a_s + b_s < window.duration_s < a_s + b_s + 2.0


@needs_espeak
@pytest.mark.parametrize(("gap_s", "silence_windows_between"), [(4.0, 0), (9.0, 1)])
def test_long_pause_closes_the_window(clips, gap_s, silence_windows_between):
    a, b = clips[2], clips[3]
    a_s, b_s = len(a) / SAMPLE_RATE, len(b) / SAMPLE_RATE
    signal = place(1 + a_s + gap_s + b_s + 1, (1.0, a), (1.0 + a_s + gap_s, b))
    windows, _ = run(signal)
    assert [window.is_silence for window in windows] == [False] + [True] * silence_windows_between + [False]
    first, second = windows[0], windows[-1]
    assert first.pieces[0][1] == pytest.approx(1.0, abs=0.7)
    assert second.to_session_time(second.pieces[0][0]) == pytest.approx(1 + a_s + gap_s, abs=0.7)
    assert_invariants(windows, signal)


@needs_espeak
@pytest.mark.parametrize(
    ("gap_s", "hold", "windows_expected"), [(5.0, False, 2), (5.0, True, 1), (10.0, True, 2)]
)
def test_while_an_earlier_window_waits_a_short_window_is_held_for_the_next_turn(
    clips, gap_s, hold, windows_expected
):
    """The other person's turn (silence on this channel) of 5 s: with nothing waiting, two windows,
    two model calls; while an earlier window waits, one window holding both turns, the silence between
    them dropped. Past the longest hold (8 s) the window closes anyway."""
    a, b = clips[2], clips[3]
    a_s, b_s = len(a) / SAMPLE_RATE, len(b) / SAMPLE_RATE
    signal = place(1 + a_s + gap_s + b_s + 1, (1.0, a), (1.0 + a_s + gap_s, b))
    windows, _ = run(signal, hold=hold)
    assert len(speech_windows(windows)) == windows_expected
    assert_invariants(windows, signal)
    if windows_expected == 1:
        [window] = speech_windows(windows)
        assert len(window.pieces) == 2
        assert window.duration_s < a_s + b_s + 2.0  # the 5 s between the turns is not in the audio
        assert window.to_session_time(window.pieces[1][0]) == pytest.approx(1 + a_s + gap_s, abs=0.7)


@needs_espeak
def test_a_window_already_long_closes_at_the_usual_pause_even_when_held(clips):
    parts, at = [], 1.0
    while at < 18.0:  # about 17 s of speech with short pauses: past HOLD_FULL_S (15 s)
        clip = clips[len(parts) % len(clips)]
        parts.append((at, clip))
        at += len(clip) / SAMPLE_RATE + 0.3
    follow_up = at + 4.0
    signal = place(follow_up + len(clips[0]) / SAMPLE_RATE + 1, *parts, (follow_up, clips[0]))
    windows, _ = run(signal, hold=True)
    assert len(speech_windows(windows)) == 2
    assert_invariants(windows, signal)


@needs_espeak
def test_continuous_speech_is_cut_at_max_window_at_quiet_points(clips):
    parts = []
    while sum(len(part) for part in parts) < 62 * SAMPLE_RATE:
        for clip in clips:
            parts += [clip, silence(0.15)]  # sentence breaks far shorter than the pause rule
    signal = np.concatenate(parts)[: 62 * SAMPLE_RATE]
    windows, _ = run(signal)
    speech = speech_windows(windows)
    assert len(speech) == 3
    assert all(window.duration_s <= 25.0 for window in speech)
    # Cut within the last few seconds before the limit, not early.
    assert all(window.duration_s > 21.5 for window in speech[:-1])
    rms = np.sqrt(np.convolve(signal.astype(np.float64) ** 2, np.ones(640) / 640, mode="same"))
    for window in speech[:-1]:
        cut = (window.seq_last + 1) * FRAME_SAMPLES
        assert rms[cut] < np.median(rms), "cut mid-word instead of at a quiet point"
    assert_invariants(windows, signal)


@needs_espeak
def test_smaller_max_window_is_respected(clips):
    signal = np.concatenate([clip for clip in clips for _ in range(2)])
    windows, _ = run(signal, max_window_s=8.0)
    assert len(speech_windows(windows)) >= 4
    assert_invariants(windows, signal, max_window_s=8.0)


@needs_espeak
def test_to_session_time_maps_window_audio_back(clips):
    a, b = clips[4], clips[5]
    signal = place(20 + len(b) / SAMPLE_RATE + 1, (3.0, a), (12.0, b))
    # A long pause rule so both bursts land in one window with a dropped gap between them.
    windows, _ = run(signal, pause_close_s=9.0)
    [window] = speech_windows(windows)
    assert len(window.pieces) == 2
    audio = np.frombuffer(window.pcm, dtype="<i2").astype(np.float64)
    block = 160  # 10 ms
    loud = np.sqrt((audio[: len(audio) // block * block].reshape(-1, block) ** 2).mean(axis=1)) > 300
    second_piece_start = window.pieces[1][0]
    onsets = [np.flatnonzero(loud)[0] * 0.01]
    onsets.append(next(i * 0.01 for i in np.flatnonzero(loud) if i * 0.01 >= second_piece_start))
    assert window.to_session_time(onsets[0]) == pytest.approx(3.0, abs=0.4)
    assert window.to_session_time(onsets[1]) == pytest.approx(12.0, abs=0.4)
    assert_invariants(windows, signal)


def test_to_session_time_on_hand_made_pieces():
    window = ClosedWindow(
        channel=0, seq_first=10, seq_last=80, pcm=b"\0\0" * 48000, pieces=((0.0, 2.4, 1.0), (1.0, 9.0, 2.0))
    )
    assert window.to_session_time(0.5) == pytest.approx(2.9)
    assert window.to_session_time(1.0) == pytest.approx(9.0)
    assert window.to_session_time(2.5) == pytest.approx(10.5)
    assert window.to_session_time(3.4) == pytest.approx(11.0)  # past the audio: clamp to its end
    assert window.to_session_time(-0.1) == pytest.approx(2.4)
    silent = ClosedWindow(channel=0, seq_first=10, seq_last=30, pcm=b"", pieces=())
    assert silent.is_silence and silent.to_session_time(1.0) == pytest.approx(2.0)


def test_repr_never_contains_audio():
    window = ClosedWindow(channel=0, seq_first=0, seq_last=0, pcm=b"secret-audio", pieces=((0.0, 0.0, 0.2),))
    assert "secret" not in repr(window)


@needs_espeak
def test_speech_active_follows_the_voice(clips):
    signal = place(10, (3.0, clips[0][: 3 * SAMPLE_RATE]))
    _, active = run(signal)
    assert not any(active[:10])  # 0-2 s
    assert all(active[20:28])  # 4-5.6 s
    assert not any(active[35:])  # from 7 s


@needs_espeak
def test_flush_mid_speech_and_trailing_silence(clips):
    # Stop in the middle of a sentence: the open window is closed and owns the last frame.
    signal = place(3.0, (1.0, clips[1]))
    windows, _ = run(signal)
    assert len(windows) == 1 and not windows[0].is_silence
    assert windows[0].seq_last == 14
    # Stop 3 s after speech: the trailing silence is owned too (no seq is left uncommitted).
    signal = place(1 + len(clips[0]) / SAMPLE_RATE + 3.0, (1.0, clips[0]))
    windows, _ = run(signal)
    assert windows[-1].seq_last == -(-len(signal) // FRAME_SAMPLES) - 1
    assert_invariants(windows, signal)


@needs_espeak
def test_first_seq_other_than_zero(clips):
    signal = place(12, (2.0, clips[2]))
    windows, _ = run(signal, first_seq=1000)
    assert windows[0].seq_first == 1000
    [window] = speech_windows(windows)
    assert window.pieces[0][1] == pytest.approx(200.0 + 2.0, abs=0.7)
    assert_invariants(windows, signal, first_seq=1000)


@needs_espeak
def test_recreated_windower_continues_after_reconnect(clips):
    """The server restarts mid-session and recreates the windower at the seq after its last window."""
    signal = place(40, (1.0, clips[0]), (9.0, clips[1]), (20.0, clips[2]), (30.0, clips[3]))
    frames = np.concatenate([signal, silence(0.2)])[: -(-len(signal) // FRAME_SAMPLES) * FRAME_SAMPLES]
    frames = frames.reshape(-1, FRAME_SAMPLES)
    windower = ChannelWindower(channel=1)
    queued: list[ClosedWindow] = []
    for seq in range(120):  # crash at 24 s; frames after the last window are resent
        queued += windower.push(seq=seq, pcm=frames[seq].tobytes())
    assert queued
    restart = queued[-1].seq_last + 1
    windower = ChannelWindower(channel=1, first_seq=restart)
    for seq in range(restart, len(frames)):
        queued += windower.push(seq=seq, pcm=frames[seq].tobytes())
    queued += windower.flush()
    assert_invariants(queued, signal)
    assert len(speech_windows(queued)) == 4


def test_rejects_wrong_seq_and_payload():
    windower = ChannelWindower(channel=0, first_seq=5)
    frame = bytes(FRAME_BYTES)
    with pytest.raises(ValueError, match="seq"):
        windower.push(seq=0, pcm=frame)
    windower.push(seq=5, pcm=frame)
    with pytest.raises(ValueError, match="seq"):
        windower.push(seq=5, pcm=frame)  # duplicate
    with pytest.raises(ValueError, match="seq"):
        windower.push(seq=7, pcm=frame)  # gap
    for size in (0, FRAME_BYTES - 1, FRAME_BYTES + 2, 2 * FRAME_BYTES):
        with pytest.raises(ValueError, match="bytes"):
            windower.push(seq=6, pcm=bytes(size))
    assert windower.next_seq == 6
    windower.push(seq=6, pcm=bytearray(FRAME_BYTES))
    assert windower.next_seq == 7


@pytest.mark.parametrize(
    "options",
    [
        {"first_seq": -1},
        {"aggressiveness": 4},
        {"max_window_s": 31},
        {"max_window_s": 2},
        {"pause_close_s": 0},
    ],
)
def test_rejects_bad_options(options):
    with pytest.raises(ValueError):
        ChannelWindower(channel=0, **options)


def _random_session(rng: random.Random, clips: list[np.ndarray] | None) -> np.ndarray:
    noise = np.random.default_rng(rng.randrange(2**32))
    parts = []
    total = rng.uniform(20, 70)
    while sum(len(part) for part in parts) < total * SAMPLE_RATE:
        if rng.random() < 0.5:
            parts.append(silence(rng.choice([0.05, 0.3, 0.7, 1.5, 2.5, 6.0, 11.0]) * rng.uniform(0.5, 1.5)))
        elif clips:
            parts.append(rng.choice(clips)[: int(rng.uniform(0.2, 1.0) * 6 * SAMPLE_RATE)])
        else:
            # Loud noise bursts: webrtcvad flags them voiced, which is all the packing logic sees.
            parts.append(noise.normal(0, 3000, int(rng.uniform(0.05, 8.0) * SAMPLE_RATE)).astype("<i2"))
    # Random length: the last frame is usually partial, as at a real Stop.
    return np.concatenate(parts)[: int(total * SAMPLE_RATE)]


def _random_options(rng: random.Random) -> dict:
    return {
        "first_seq": rng.choice([0, 1, 37, 10_000]),
        "aggressiveness": rng.randrange(4),
        "max_window_s": rng.choice([6.0, 10.0, 25.0, 30.0]),
        "pause_close_s": rng.choice([0.5, 1.5, 2.0, 3.0, 8.0]),
        "silence_commit_s": rng.choice([0.2, 1.0, 5.0, 12.0]),
        "hold_pause_s": rng.choice([8.0, 12.0]),
        "hold": rng.random() < 0.5,
    }


@pytest.mark.parametrize("seed", range(12))
def test_invariants_hold_for_random_sessions_noise(seed):
    rng = random.Random(seed)
    signal = _random_session(rng, None)
    options = _random_options(rng)
    windows, _ = run(signal, **options)
    assert_invariants(windows, signal, first_seq=options["first_seq"], max_window_s=options["max_window_s"])


@needs_espeak
@pytest.mark.parametrize("seed", range(12))
def test_invariants_hold_for_random_sessions_speech(seed, clips):
    rng = random.Random(1000 + seed)
    signal = _random_session(rng, clips)
    options = _random_options(rng)
    windows, _ = run(signal, **options)
    assert_invariants(windows, signal, first_seq=options["first_seq"], max_window_s=options["max_window_s"])
