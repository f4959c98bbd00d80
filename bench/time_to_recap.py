"""Time to recap: from Stop to the recap saved, after a long session streamed at real time.

Starts the real stack as `make run` lays it out (bench/_stack.py: redis-server, Daphne, one Celery
worker with concurrency 1 and the bundled tiny.en model) and streams --runs two-channel conversations
(bench/_load.py) of --minutes each over the real protocol at --speed x real time. The runs overlap,
started --stagger-s apart, so a 50-minute figure does not take 50 minutes per run; each one presses
Stop as soon as its audio ends (a person pressing Stop when the session ends), while the others are
still streaming, so each Stop also competes with live sessions. Measured per run, on the client:
Stop sent -> the "done" frame, which the server sends after the recap is saved (encrypted) and the
transcript deleted. Also from the database: the windows still queued at Stop.

Usage:
    .venv/bin/python bench/time_to_recap.py                          # 3 x 50 min at real time (~51 min)
    .venv/bin/python bench/time_to_recap.py --minutes 50 --speed 2.5  # quick: ~21 min
Prints a table, then ONE JSON line: {"p50_s": X, "max_s": Y, "runs": N, "minutes": M, "speed": S}.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _load import (  # noqa: E402
    Fleet,
    Session,
    bench_user_cookie,
    conversation,
    new_sessions,
    percentile,
    utterances,
    wait_for,
)
from _stack import Stack  # noqa: E402

TAIL_S = 2.0  # a breath of silence after the last words, then Stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=50.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--speed", type=float, default=1.0, help="x real time (the server allows 2.5)")
    parser.add_argument("--stagger-s", type=float, default=20.0, help="seconds between run starts")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    # The layout `make run` starts: one single-thread worker process per core (Procfile).
    stack = Stack(worker_concurrency=os.cpu_count() or 1, env={"WHISPER_CPU_THREADS": "1"})
    stack.setup_django()
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    pool = utterances()
    seconds = args.minutes * 60
    tail = bytes(int(TAIL_S * 16000) * 2)
    with stack:
        from capture.models import CaptureWindow

        user, cookie = bench_user_cookie()
        ids = new_sessions(user=user, count=args.runs)
        sessions = [
            Session(
                i,
                sid,
                [t + tail for t in conversation(seconds, seed=args.seed + i, pool=pool)],
                start_delay=i * args.stagger_s,
            )
            for i, sid in enumerate(ids)
        ]
        fleet = Fleet(stack=stack, cookie=cookie, sessions=sessions, speed=args.speed)
        t0 = time.monotonic()
        fleet.start()
        queued_at_stop, stopped = {}, set()
        deadline = t0 + seconds / args.speed + args.runs * args.stagger_s + 900
        while len(stopped) < len(sessions):
            for s in sessions:
                if s.index not in stopped and s.recorded_at is not None:
                    queued_at_stop[s.index] = CaptureWindow.objects.filter(
                        session_id=s.session_id, status=CaptureWindow.Status.QUEUED
                    ).count()
                    fleet.stop(s)
                    stopped.add(s.index)
                    print(f"  run {s.index}: Stop after {time.monotonic() - t0:.0f} s", flush=True)
            if fleet.errors():
                raise SystemExit(f"client errors: {fleet.errors()}\n{stack.log_tails()}")
            if time.monotonic() > deadline:
                raise SystemExit(f"runs did not finish recording in time\n{stack.log_tails()}")
            stack.check_alive()
            time.sleep(0.05)
        wait_for(
            lambda: all(s.streamer.result.recap_url for s in sessions),
            timeout=900,
            what="every recap",
            stack=stack,
            fleet=fleet,
        )
        fleet.close()
        rows = []
        for s in sessions:
            result = s.streamer.result
            rows.append(
                {
                    "run": s.index,
                    "stop_to_recap_s": round(result.done_at - result.stop_sent_at, 2),
                    "queued_at_stop": queued_at_stop[s.index],
                    "reconnects": result.reconnects,
                }
            )

    print()
    print(
        f"stack: Daphne + Celery ({os.cpu_count()} single-thread worker processes), tiny.en int8; "
        f"{args.runs} runs of a "
        f"{args.minutes:g}-minute two-channel conversation at {args.speed:g}x real time, "
        f"started {args.stagger_s:g} s apart"
    )
    print(f"{'run':>3} {'stop->recap s':>13} {'windows queued at Stop':>22} {'reconnects':>10}")
    for r in rows:
        print(f"{r['run']:>3} {r['stop_to_recap_s']:>13.2f} {r['queued_at_stop']:>22} {r['reconnects']:>10}")
    values = [r["stop_to_recap_s"] for r in rows]
    p50 = percentile(values, 50)
    print(f"p50 {p50:.2f} s, max {max(values):.2f} s")
    print(
        json.dumps(
            {
                "p50_s": round(p50, 2),
                "max_s": round(max(values), 2),
                "runs": args.runs,
                "minutes": args.minutes,
                "speed": args.speed,
            }
        )
    )


if __name__ == "__main__":
    main()
