"""The language-model recap engine against a real OpenAI-compatible server: a 50-minute two-speaker
transcript (stitched from the recap fixtures, as bench/recap_build.py does) is replayed at a chosen speed
through map (notes on each ~5-minute chunk as soon as it is complete) and reduce (at Stop, from the notes
and the last partial chunk).

Reports the time from Stop to the final recap, prompt and completion tokens per stage, and what the
validator dropped; then ONE JSON line for tooling. Needs a server: see the README's recipe (Ollama or
llama-cpp-python). Nothing of the transcript or the replies is printed except the final recap (--show).

Run: .venv/bin/python bench/llm_recap.py --url http://127.0.0.1:11434/v1 --model llama3.2:3b [--speed 60]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from recap_build import session  # noqa: E402

from recaps.engines.llm import LlmEngine  # noqa: E402
from recaps.engines.llm_client import LlmSettings, LlmUnavailable, Usage  # noqa: E402


def tokens(usage: Usage) -> str:
    return f"{usage.prompt_tokens} prompt / {usage.completion_tokens} completion"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--url", required=True, help="OpenAI-compatible base URL, e.g. http://127.0.0.1:11434/v1"
    )
    parser.add_argument("--model", required=True)
    parser.add_argument("--api-key", default="")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per request")
    parser.add_argument("--minutes", type=int, default=50)
    parser.add_argument(
        "--speed", type=float, default=60.0, help="x real time for the replay (60: 50 min in 50 s)"
    )
    parser.add_argument("--show", action="store_true", help="print the final recap (Markdown)")
    args = parser.parse_args()

    engine = LlmEngine(
        LlmSettings(url=args.url, model=args.model, api_key=args.api_key, timeout_s=args.timeout)
    )
    segments = session(args.minutes)
    chunks = engine._chunks(segments)  # the same chunking build() uses
    # Map during the replay: a chunk is complete once the next one has started (the last is the tail).
    notes, map_usage, map_s = [], Usage(), []
    t0 = time.monotonic()
    first_id = 0
    try:
        for chunk in chunks[:-1]:
            due = t0 + (chunk[-1].end / args.speed)
            time.sleep(max(0.0, due - time.monotonic()))
            started = time.monotonic()
            chunk_notes, usage = engine.notes(chunk, first_id=first_id)
            map_s.append(time.monotonic() - started)
            notes.append(chunk_notes)
            map_usage = map_usage + usage
            first_id += len(chunk)
        # Stop: the end of the transcript in replay time.
        time.sleep(max(0.0, t0 + segments[-1].end / args.speed - time.monotonic()))
        stop = time.monotonic()
        recap = engine.reduce(notes, chunks[-1])
        stop_to_recap = time.monotonic() - stop
    except LlmUnavailable as exc:
        print(f"the model server could not be used: {exc.reason}", file=sys.stderr)
        return 1
    reduce_usage = engine.last_usage.get("reduce", Usage())
    report = engine.last_report
    rows = [
        ("transcript", f"{args.minutes} min, {len(segments)} segments, {len(chunks)} chunks"),
        ("replay speed", f"{args.speed:g}x"),
        ("map calls", f"{len(map_s)} (median {sorted(map_s)[len(map_s) // 2]:.1f} s)" if map_s else "0"),
        ("map tokens", f"{map_usage.prompt_tokens} prompt / {map_usage.completion_tokens} completion"),
        (
            "reduce tokens",
            f"{reduce_usage.prompt_tokens} prompt / {reduce_usage.completion_tokens} completion",
        ),
        ("stop -> final recap", f"{stop_to_recap:.1f} s"),
        ("validator", json.dumps(report, sort_keys=True)),
    ]
    for name, value in rows:
        print(f"{name:<22}{value}")
    if args.show:
        print(recap.to_markdown())
    print(
        json.dumps(
            {
                "stop_to_recap_s": round(stop_to_recap, 2),
                "map_calls": len(map_s),
                "map_tokens": [map_usage.prompt_tokens, map_usage.completion_tokens],
                "reduce_tokens": [reduce_usage.prompt_tokens, reduce_usage.completion_tokens],
                "validator": report,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
