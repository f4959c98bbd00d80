"""Batched transcription in one process: CPU per window by batch size and threads, and whether the
words change. Why TRANSCRIBE_BATCH_SIZE, WHISPER_CPU_THREADS and the worker layout are what they are.

Windows like the ones capture/vad.py packs from a conversation (one to three utterances of real
speech from ../shared/audio and espeak-ng sentences, 0.3-0.9 s apart, at most 25 s), transcribed:
- one by one, with plain faster-whisper (`WhisperModel.transcribe`, the worker's options before
  batching: beam 1, temperature 0, no previous text, word timestamps);
- in batches of B through the worker's own path, capture/transcription.py `transcribe_many`
  (faster-whisper's BatchedInferencePipeline, each window its own clip).
Per row: CPU seconds per window (process_time, all threads), the ratio to one by one with the same
threads, and the word difference from one by one (word edits / words, text lowercased).

Usage: .venv/bin/python bench/batch_cost.py [--windows 24] [--threads 1,2] [--batches 1,2,4,8]
Prints a table, then ONE JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from window_cost import TRANSCRIBE_OPTIONS  # noqa: E402

SAMPLE_RATE = 16000


def conversation_windows(count: int, *, seed: int) -> list[bytes]:
    import numpy as np
    from _load import utterances

    pool = utterances()
    clips = pool[0] + pool[1]
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        parts = []
        for _k in range(rng.choice((1, 1, 2, 3))):
            parts += [rng.choice(clips), np.zeros(int(rng.uniform(0.3, 0.9) * SAMPLE_RATE), np.float32)]
        audio = np.concatenate(parts)[: 25 * SAMPLE_RATE]
        out.append((np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes())
    return out


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


def edits(a: list[str], b: list[str]) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--windows", type=int, default=24)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--batches", default="1,2,4,8")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "undertone_web.settings.test")
    import django

    django.setup()
    import logging

    import numpy as np
    from django.test import override_settings
    from faster_whisper import WhisperModel

    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    from capture import transcription

    windows = conversation_windows(args.windows, seed=args.seed)
    mean_s = sum(len(w) for w in windows) / 2 / SAMPLE_RATE / len(windows)
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        with override_settings(WHISPER_CPU_THREADS=threads):
            transcription.get_model.cache_clear()
            transcription.get_pipeline.cache_clear()
            plain = WhisperModel(
                transcription.model_path(), device="cpu", compute_type="int8", cpu_threads=threads
            )
            # window_cost.py's options, as the worker decodes (no temperature fallback, word timestamps).
            options = {**TRANSCRIBE_OPTIONS, "temperature": 0.0, "word_timestamps": True}
            audio = [np.frombuffer(w, "<i2").astype(np.float32) / 32768 for w in windows]
            list(plain.transcribe(audio[0], **options)[0])  # warm-up
            started = time.process_time()
            single = [" ".join(s.text.strip() for s in plain.transcribe(a, **options)[0]) for a in audio]
            single_cpu = (time.process_time() - started) / len(windows)
            reference = sum(len(words(t)) for t in single)
            rows.append(
                {"threads": threads, "batch": "one by one", "cpu_per_window_s": round(single_cpu, 3)}
                | {"ratio": 1.0, "word_diff": 0.0}
            )
            transcription.transcribe_many(windows[:1])  # load and warm up
            for batch in [int(b) for b in args.batches.split(",")]:
                started = time.process_time()
                texts = []
                for i in range(0, len(windows), batch):
                    for pieces in transcription.transcribe_many(windows[i : i + batch]):
                        texts.append(" ".join(p.text for p in pieces))
                cpu = (time.process_time() - started) / len(windows)
                diff = sum(edits(words(a), words(b)) for a, b in zip(single, texts, strict=True))
                rows.append(
                    {
                        "threads": threads,
                        "batch": batch,
                        "cpu_per_window_s": round(cpu, 3),
                        "ratio": round(cpu / single_cpu, 2),
                        "word_diff": round(diff / max(1, reference), 3),
                    }
                )
    print(f"{len(windows)} windows, {mean_s:.1f} s of audio on average; tiny.en int8, beam 1")
    print(f"{'threads':>7} {'batch':>10} {'cpu s/window':>12} {'vs one by one':>13} {'word diff':>9}")
    for r in rows:
        print(
            f"{r['threads']:>7} {r['batch']!s:>10} {r['cpu_per_window_s']:>12.3f} {r['ratio']:>13.2f} "
            f"{r['word_diff']:>9.3f}"
        )
    print(json.dumps({"windows": len(windows), "mean_window_s": round(mean_s, 1), "rows": rows}))


if __name__ == "__main__":
    main()
