"""The language-model recap engine against a real OpenAI-compatible server: a 50-minute two-speaker
transcript (stitched from the recap fixtures, as bench/recap_build.py does) is replayed at a chosen speed
through map (notes on each ~5-minute chunk as soon as it is complete) and reduce (at Stop, from the notes
and the last partial chunk).

Reports the time from Stop to the final recap, prompt and completion tokens per stage, and what the
validator dropped; then ONE JSON line for tooling. Needs a server: see the README's recipe (Ollama or
llama-cpp-python). Nothing of the transcript or the replies is printed except the final recap (--show).

Run: .venv/bin/python bench/llm_recap.py --url http://127.0.0.1:11434/v1 --model llama3.2:3b [--speed 60]
 or: .venv/bin/python bench/llm_recap.py --scripted   (no server: the pipeline against a scripted one)
"""

from __future__ import annotations

import argparse
import contextlib
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


# --- a scripted "model" (--scripted): no model server here, so the pipeline is measured against one ---


def scripted_reply(body: dict) -> dict:
    """What a careful model would write from the acts-tagged lines, plus one invented next step and one
    invented quote in every recap, so the validator's report shows what it drops."""
    from tests.recaps.llm_server import prompt_lines, prompt_notes, prompt_of, schema_name

    prompt = prompt_of(body)
    lines = prompt_lines(prompt)
    client = [(i, acts, text) for i, who, acts, text in lines if who == "CLIENT"]
    change = [(i, t) for i, acts, t in client if acts & {"change talk", "commitment", "realisation"}]
    advice = [(i, t) for i, who, acts, t in lines if who == "THERAPIST" and acts & {"advice", "options"}]
    feeling = [(i, t) for i, acts, t in client if "feeling" in acts]
    if schema_name(body) == "session_notes":
        return {
            "topics": [],
            "client_change": [{"text": f"You said {t}", "cites": [i]} for i, t in change[:6]],
            "therapist_suggestions": [
                {"text": f"Your therapist said {t}", "cites": [i]} for i, t in advice[:4]
            ],
            "agreements": [],
            "open_questions": [],
            "quotes": [{"kind": "feeling", "quote": t, "cites": [i]} for i, t in feeling[:2]],
        }
    noted = [n for part in prompt_notes(prompt) for n in part.get("client_change", ())]
    said = [{"text": n["text"], "cites": n["cites"]} for n in noted] + [
        {"text": f"You said {t}", "cites": [i]} for i, t in change
    ]
    first_cite = said[0]["cites"] if said else [0]
    commitments = [(i, t) for i, acts, t in client if "commitment" in acts]
    return {
        "summary": [{**n, "speaker": "client"} for n in said[:3]],
        "themes": [],
        "insights": [{**n, "speaker": "client"} for n in said[3:5]],
        "next_steps": [{"text": t, "speaker": "client", "cites": [i]} for i, t in commitments[:3]]
        + [{"text": "Call your sister every evening this week.", "speaker": "client", "cites": first_cite}],
        "questions": [],
        "moments": [
            {
                "kind": "feeling",
                "quote": t,
                "reflection": "You named how this feels.",
                "speaker": "client",
                "cites": [i],
            }
            for i, t in feeling[:2]
        ]
        + [
            {
                "kind": "realisation",
                "quote": "I finally understand why I keep doing this.",
                "reflection": "A turning point.",
                "speaker": "client",
                "cites": first_cite,
            }
        ],
        "full_recap": [],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="OpenAI-compatible base URL, e.g. http://127.0.0.1:11434/v1")
    parser.add_argument("--model", default="")
    parser.add_argument(
        "--scripted",
        action="store_true",
        help="no model server: a scripted one on loopback (tests/recaps/llm_server.py) that writes from "
        "the tagged lines and invents one step and one quote per recap; tokens are estimated (chars/4)",
    )
    parser.add_argument("--api-key", default="")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per request")
    parser.add_argument("--minutes", type=int, default=50)
    parser.add_argument(
        "--speed", type=float, default=60.0, help="x real time for the replay (60: 50 min in 50 s)"
    )
    parser.add_argument("--show", action="store_true", help="print the final recap (Markdown)")
    parser.add_argument(
        "--compare-whole",
        action="store_true",
        help="also time the write-up at Stop without the map step (the whole transcript then)",
    )
    args = parser.parse_args()
    if not args.scripted and not (args.url and args.model):
        parser.error("--url and --model, or --scripted")

    with contextlib.ExitStack() as stack:
        if args.scripted:
            from tests.recaps.llm_server import Compute, ScriptedLlm

            server = stack.enter_context(
                ScriptedLlm(*[Compute(scripted_reply, estimate_tokens=True) for _ in range(100)])
            )
            args.url, args.model = server.url, "scripted"
        return run(args)


def run(args) -> int:
    engine = LlmEngine(
        LlmSettings(url=args.url, model=args.model, api_key=args.api_key, timeout_s=args.timeout)
    )
    segments = session(args.minutes)
    chunks = engine._chunks(segments)  # the chunks the map step notes while the session records
    # Map during the replay: a chunk is noted once it is complete (the next one has started); the
    # last, partial one is left to the write-up at Stop, as in recaps.services.recap_notes.
    notes, map_usage, map_s = [], Usage(), []
    t0 = time.monotonic()
    try:
        for chunk in chunks[:-1]:
            due = t0 + (chunk[-1].end / args.speed)
            time.sleep(max(0.0, due - time.monotonic()))
            started = time.monotonic()
            chunk_notes, usage = engine.notes(chunk)
            map_s.append(time.monotonic() - started)
            notes.append(json.loads(json.dumps(chunk_notes)))  # as stored (encrypted JSON) and read back
            map_usage = map_usage + usage
        # Stop: the end of the transcript in replay time; then the polish task's call, as in production.
        time.sleep(max(0.0, t0 + segments[-1].end / args.speed - time.monotonic()))
        stop = time.monotonic()
        recap = engine.build(segments, notes=notes)
        stop_to_recap = time.monotonic() - stop
    except LlmUnavailable as exc:
        print(f"the model server could not be used: {exc.reason}", file=sys.stderr)
        return 1
    reduce_usage = engine.last_usage.get("reduce", Usage())
    report = engine.last_report
    whole = None
    if args.compare_whole:
        started = time.monotonic()
        try:
            engine.build(segments)
        except LlmUnavailable as exc:
            print(f"the model server could not be used: {exc.reason}", file=sys.stderr)
            return 1
        usage = sum(engine.last_usage.values(), Usage())
        whole = {"stop_to_recap_s": round(time.monotonic() - started, 2), "calls": len(engine.last_usage)}
        whole["tokens"] = [usage.prompt_tokens, usage.completion_tokens]
    estimated = " (estimated, chars/4)" if args.scripted else ""
    rows = [
        ("server", "scripted (no model)" if args.scripted else f"{args.url} {args.model}"),
        ("transcript", f"{args.minutes} min, {len(segments)} segments, {len(chunks)} chunks"),
        ("replay speed", f"{args.speed:g}x"),
        ("map calls", f"{len(map_s)} (median {sorted(map_s)[len(map_s) // 2]:.2f} s)" if map_s else "0"),
        ("map tokens" + estimated, tokens(map_usage)),
        ("reduce tokens" + estimated, tokens(reduce_usage)),
        ("stop -> final recap", f"{stop_to_recap:.2f} s"),
        ("validator", json.dumps(report, sort_keys=True)),
    ]
    if whole:
        rows.append(
            (
                "without the map step",
                f"stop -> final recap {whole['stop_to_recap_s']:.2f} s, {whole['calls']} call(s), "
                f"{whole['tokens'][0]} prompt / {whole['tokens'][1]} completion tokens{estimated}",
            )
        )
    width = max(len(name) for name, _ in rows) + 2
    for name, value in rows:
        print(f"{name:<{width}}{value}")
    if args.show:
        print(recap.to_markdown())
    print(
        json.dumps(
            {
                "scripted": bool(args.scripted),
                "stop_to_recap_s": round(stop_to_recap, 2),
                "map_calls": len(map_s),
                "map_tokens": [map_usage.prompt_tokens, map_usage.completion_tokens],
                "reduce_tokens": [reduce_usage.prompt_tokens, reduce_usage.completion_tokens],
                "validator": report,
                "without_map": whole,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
