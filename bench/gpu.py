"""Batched transcription on a GPU worker: windows per second by batch size, and the largest batch.

For the day a GPU machine is available; CI and the default stack are CPU-only. The worker switches
by setting alone (no code change): WHISPER_DEVICE=cuda, WHISPER_COMPUTE_TYPE=float16 (or
int8_float16), TRANSCRIBE_BATCH_SIZE=<the batch this prints>, and a larger model if wanted
(WHISPER_MODEL=<a CTranslate2 model directory>). This script runs the worker's own code path,
capture/transcription.py `transcribe_many`, on the conversation windows of bench/batch_cost.py (real
speech from ../shared/audio and espeak-ng sentences, one to three utterances each, as capture/vad.py
packs a turn).

For each batch size (doubling from 1 until the device runs out of memory or throughput stops
growing): windows/s, audio seconds per wall second, wall time per batch, and the GPU memory in use
(nvidia-smi, when present). The largest batch that ran is the ceiling for TRANSCRIBE_BATCH_SIZE; the
best windows/s says how many live sessions one GPU worker can hold (a two-channel session produces
about 0.09 windows/s of conversation, bench/capacity.py).

Usage (one short command; about a minute on a GPU):
    .venv/bin/python bench/gpu.py                       # cuda, float16, tiny.en from the wheel
    .venv/bin/python bench/gpu.py --device cpu --compute-type int8 --max-batch 4   # dry run here
    WHISPER_MODEL=/models/whisper-small-ct2 .venv/bin/python bench/gpu.py
Prints a table, then ONE JSON line: {"device": ..., "best_windows_per_s": X, "largest_batch": B, ...}
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from batch_cost import SAMPLE_RATE, conversation_windows  # noqa: E402


def gpu_memory_mb() -> int | None:
    if not shutil.which("nvidia-smi"):
        return None
    done = subprocess.run(
        ["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return int(done.stdout.split()[0])
    except (IndexError, ValueError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--compute-type", default="float16")
    parser.add_argument("--max-batch", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3, help="batches timed per size")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()

    os.environ["WHISPER_DEVICE"] = args.device
    os.environ["WHISPER_COMPUTE_TYPE"] = args.compute_type
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "undertone_web.settings.test")
    import django

    django.setup()
    import logging

    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    from capture import transcription

    pool = conversation_windows(64, seed=args.seed)
    transcription.transcribe_many(pool[:1])  # load the model and warm up
    rows, batch = [], 1
    while batch <= args.max_batch:
        picked = [pool[(i * 7) % len(pool)] for i in range(batch * args.rounds)]
        try:
            started = time.perf_counter()
            for r in range(args.rounds):
                transcription.transcribe_many(picked[r * batch : (r + 1) * batch])
            wall = time.perf_counter() - started
        except Exception as error:  # noqa: BLE001 - out of memory ends the sweep
            print(f"batch {batch}: {type(error).__name__} ({str(error)[:120]}); stopping")
            break
        audio_s = sum(len(p) for p in picked) / 2 / SAMPLE_RATE
        rows.append(
            {
                "batch": batch,
                "windows_per_s": round(len(picked) / wall, 2),
                "audio_x": round(audio_s / wall, 1),
                "s_per_batch": round(wall / args.rounds, 3),
                "memory_mb": gpu_memory_mb(),
            }
        )
        if len(rows) >= 3 and rows[-1]["windows_per_s"] < 1.05 * rows[-3]["windows_per_s"]:
            break  # two doublings without a 5% gain: the device is saturated
        batch *= 2

    print(f"device {args.device}, {args.compute_type}, model {transcription.model_path()}")
    print(f"{'batch':>5} {'windows/s':>10} {'audio x':>8} {'s/batch':>8} {'GPU MB':>7}")
    for r in rows:
        print(
            f"{r['batch']:>5} {r['windows_per_s']:>10} {r['audio_x']:>8} {r['s_per_batch']:>8} "
            f"{r['memory_mb'] if r['memory_mb'] is not None else '-':>7}"
        )
    best = max(rows, key=lambda r: r["windows_per_s"]) if rows else None
    print(
        json.dumps(
            {
                "device": args.device,
                "compute_type": args.compute_type,
                "best_windows_per_s": best["windows_per_s"] if best else None,
                "best_batch": best["batch"] if best else None,
                "largest_batch": rows[-1]["batch"] if rows else 0,
                "rows": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
