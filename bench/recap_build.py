"""How long the local recap engine takes for 10, 50 and 90 minute sessions.

Transcripts are built from the hand-written fixtures in tests/recaps/transcripts/, repeated with
shifted times (and cycled in a different order each pass, so consecutive stretches differ) until the
session is long enough. Prints a table, then ONE JSON line for tooling:
    {"recap_build_s": {"10": ..., "50": ..., "90": ...}}   (best of 3, seconds)

Run: .venv/bin/python bench/recap_build.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recaps.engines import Segment, get_engine  # noqa: E402

FIXTURES = ROOT / "tests" / "recaps" / "transcripts"
ORDER = ["long_session", "work_sleep", "grief_parent", "adhd_routines"]
MINUTES = (10, 50, 90)
RUNS = 3


def _load(name: str) -> list[Segment]:
    return [Segment.from_dict(d) for d in json.loads((FIXTURES / f"{name}.json").read_text())]


def session(minutes: int) -> list[Segment]:
    """A transcript `minutes` long, stitched from the fixtures with realistic gaps between them."""
    material = {name: _load(name) for name in ORDER}
    target = minutes * 60.0
    out: list[Segment] = []
    t = 0.0
    turn = 0
    while t < target:
        name = ORDER[turn % len(ORDER)]
        segments = material[name]
        # Start each pass at a different point so a 90-minute session is not the long fixture twice.
        offset = (turn * 37) % len(segments) if turn >= len(ORDER) else 0
        for seg in segments[offset:] + segments[:offset]:
            length = seg.end - seg.start
            out.append(
                Segment(speaker=seg.speaker, start=round(t, 2), end=round(t + length, 2), text=seg.text)
            )
            t += length + 0.8
            if t >= target:
                break
        turn += 1
    return out


def main() -> None:
    engine = get_engine("local")
    engine.build(session(1))  # imports and YAKE's stopword list load once, outside the timings
    rows = []
    best_by_minutes: dict[str, float] = {}
    for minutes in MINUTES:
        segments = session(minutes)
        words = sum(len(s.text.split()) for s in segments)
        timings = []
        for _ in range(RUNS):
            start = time.perf_counter()
            result = engine.build(segments)
            timings.append(time.perf_counter() - start)
        best, median = min(timings), statistics.median(timings)
        best_by_minutes[str(minutes)] = round(best, 3)
        rows.append((minutes, len(segments), words, best, median, len(result.themes), len(result.next_steps)))

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(
        f"local recap engine, best and median of {RUNS} runs, {cpus} CPU(s), Python {sys.version.split()[0]}"
    )
    columns = [
        ("minutes", 7),
        ("segments", 8),
        ("words", 7),
        ("best s", 8),
        ("median s", 9),
        ("themes", 6),
        ("steps", 5),
    ]
    header = " ".join(f"{name:>{width}}" for name, width in columns)
    print(header)
    print("-" * len(header))
    for minutes, n_segments, words, best, median, n_themes, n_steps in rows:
        print(
            f"{minutes:>7} {n_segments:>8} {words:>7} {best:>8.3f} {median:>9.3f} {n_themes:>6} {n_steps:>5}"
        )
    print(json.dumps({"recap_build_s": best_by_minutes}))


if __name__ == "__main__":
    main()
