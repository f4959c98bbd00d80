"""Capacity: how many two-channel capture sessions one machine transcribes with bounded lag.

For each worker layout (--workers: Celery worker processes; whisper threads per process =
--threads or cores / processes) it starts the real stack (bench/_stack.py: redis-server, Daphne,
Celery, the bundled tiny.en model), then for each N in --sessions streams N simulated sessions at
once, at real time, for --duration seconds. Each session is a Python client speaking the real
protocol (bench/protocol_client.py) with an alternating two-channel conversation (bench/_load.py: real speech
from ../shared/audio and espeak-ng sentences). Then every session presses Stop and waits for its
recap.

Measured per N:
- commit lag of every frame (send -> the commit covering it), p50/p95/max. It includes the VAD's
  packing by design (a window closes after a 2 s pause or 25 s of speech).
- queue lag: the commit lag of the *last* frame of each speech window, i.e. the closing pause +
  waiting in the queue + transcription, without the packing. This is what grows when the workers
  cannot keep up, so it decides "bounded": p95 over the last third of the run must stay within
  1.5 x (first third's p95) + 2 s, and under 20 s; and every frame must be committed within
  30 s of the end of the audio.
- worker CPU (share of the whole machine) and peak RSS; Daphne CPU.
- Stop -> recap per session (p50/max), all sessions stopping 0.5 s apart.

BENCH_IN_PERSON=1 consents the sessions as in person, so their microphone channel also goes through
speaker segmentation (capture/speakers.py): its cost under load.

Usage:
    .venv/bin/python bench/capacity.py                       # workers 1 and 2, N = 4 6 8 10 12
    .venv/bin/python bench/capacity.py --workers 1 --sessions 8 --duration 60
Prints a table, then ONE JSON line:
    {"max_sessions_bounded": N, "workers": W, "lag_p95_s": X, ...}
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _load import (  # noqa: E402
    Fleet,
    Sampler,
    Session,
    bench_user_cookie,
    conversation,
    new_sessions,
    percentile,
    speech_seconds,
    utterances,
    wait_for,
)
from _stack import Stack  # noqa: E402
from stream import DECODED_AGAIN  # noqa: E402

TAIL_S = 8.0  # silence after the conversation, so the last windows close before Stop
BOUND_FACTOR, BOUND_SLACK_S, BOUND_MAX_S, DRAIN_MAX_S = 1.5, 2.0, 20.0, 30.0


def run_n(*, stack, user, cookie, pool, n: int, duration: float, seed: int) -> dict:
    from capture.models import CaptureWindow

    ids = new_sessions(user=user, count=n)
    tail = bytes(int(TAIL_S * 16000) * 2)
    sessions = []
    for i, sid in enumerate(ids):
        tracks = conversation(duration, seed=seed * 1000 + i, pool=pool)
        # Starts spread over the first 5 s: N people do not press Record in the same 200 ms.
        sessions.append(Session(i, sid, [t + tail for t in tracks], start_delay=5.0 * i / max(n, 1)))
    speech_s = sum(speech_seconds(t) for s in sessions for t in s.tracks)
    content_last = int(duration / 0.2) - 1  # last frame of the conversation (the tail excluded)

    fleet = Fleet(stack=stack, cookie=cookie, sessions=sessions)
    log_offset = stack.services["worker"].log_path.stat().st_size
    with Sampler(stack) as sampler:
        fleet.start()
        machine0 = _machine_jiffies()
        wait_for(
            fleet.all_recorded, timeout=duration + TAIL_S + 120, what="recording", stack=stack, fleet=fleet
        )
        machine1 = _machine_jiffies()
        t_audio_end = max(s.streamer.first_sent.get((0, content_last), 0) for s in sessions)

        def drained():
            return all(
                s.streamer.result.commit.get(ch, -1) >= content_last for s in sessions for ch in (0, 1)
            )

        drain_deadline = time.monotonic() + 300
        while not drained() and time.monotonic() < drain_deadline and not fleet.errors():
            stack.check_alive()
            time.sleep(0.2)
        t_drained = time.monotonic()
        all_committed = drained()
        t_end = t_drained
        windows = list(
            CaptureWindow.objects.filter(session_id__in=ids, speech_s__gt=0).values_list(
                "session_id", "channel", "seq_last"
            )
        )
        timing = sorted(
            CaptureWindow.objects.filter(
                session_id__in=ids, speech_s__gt=0, done_at__isnull=False
            ).values_list("done_at", "created_at", "speech_s")
        )
        for s in sessions:
            fleet.stop(s)
            time.sleep(0.5)
        wait_for(
            lambda: all(s.streamer.result.recap_url for s in sessions),
            timeout=900,
            what="every recap",
            stack=stack,
            fleet=fleet,
        )
    fleet.close()

    lags, by_third = [], {0: [], 1: [], 2: []}
    index = {s.session_id: s for s in sessions}
    for s in sessions:
        for (ch, seq), sent in s.streamer.first_sent.items():
            if seq > content_last:
                continue
            done = s.streamer.committed_at.get((ch, seq), t_end)
            lags.append(done - sent)
    for sid, ch, seq_last in windows:
        s = index[str(sid)]
        sent = s.streamer.first_sent.get((ch, seq_last))
        done = s.streamer.committed_at.get((ch, seq_last))
        if sent is None or done is None or seq_last > content_last:
            continue
        third = min(2, int(3 * (sent - fleet.t0 - s.start_delay) / duration))
        by_third[max(0, third)].append(done - sent)
    # Service time per window: gaps between consecutive completions while the queue was not empty.
    service = [
        (b[0] - a[0]).total_seconds() for a, b in zip(timing, timing[1:], strict=False) if b[1] <= a[0]
    ]
    q_first, q_last = percentile(by_third[0], 95), percentile(by_third[2], 95)
    drain_s = t_drained - t_audio_end
    bounded = (
        all_committed
        and drain_s <= DRAIN_MAX_S
        and q_last <= BOUND_FACTOR * q_first + BOUND_SLACK_S
        and q_last <= BOUND_MAX_S
    )
    stop_to_recap = [s.streamer.result.done_at - s.streamer.result.stop_sent_at for s in sessions]
    batches = _batches(stack.services["worker"].log_path, log_offset)
    t_from = fleet.t0 + 5
    return {
        "sessions": n,
        "speech_per_session_s": round(speech_s / n, 1),
        "lag_p50_s": round(percentile(lags, 50), 2),
        "lag_p95_s": round(percentile(lags, 95), 2),
        "lag_max_s": round(max(lags), 2),
        # The last frame of each speech window: closing pause + queue + transcription (+ batch wait).
        "queue_lag_p50_s": round(percentile([lag for third in by_third.values() for lag in third], 50), 2),
        "queue_lag_p95_first_s": round(q_first, 2),
        "queue_lag_p95_mid_s": round(percentile(by_third[1], 95), 2),
        "queue_lag_p95_last_s": round(q_last, 2),
        "drain_s": round(drain_s, 2),
        "worker_cpu": round(sampler.cpu_share("worker", t_from, t_audio_end), 3),
        "daphne_cpu": round(sampler.cpu_share("daphne", t_from, t_audio_end), 3),
        # Everything on the machine while recording (the stack, these clients, anything else): how
        # quiet the run was is this minus the stack's and the clients' share.
        "machine_cpu": round(1 - (machine1[1] - machine0[1]) / max(1, machine1[0] - machine0[0]), 3),
        "worker_rss_mb": round(sampler.rss_max("worker")),
        "stop_to_recap_p50_s": round(percentile(stop_to_recap, 50), 2),
        "stop_to_recap_max_s": round(max(stop_to_recap), 2),
        "windows": len(timing),
        "window_speech_s": round(sum(t[2] for t in timing) / max(1, len(timing)), 1),
        "service_p50_s": round(percentile(service, 50), 2),
        # From the worker's per-batch log lines (capture/batching.py): windows per model call, and
        # CPU seconds per window in the model and outside it (claims, database, Redis, encryption).
        "windows_per_call": round(batches["windows"] / max(1, batches["calls"]), 2),
        "model_cpu_per_window_s": round(batches["asr"] / max(1, batches["windows"]), 3),
        "other_cpu_per_window_s": round(batches["other"] / max(1, batches["windows"]), 3),
        # Decoded a second time over Whisper's 30 s (capture/transcription.py: a loop or skipped speech
        # on the window-length encoder input); its CPU is in the model's share above.
        "windows_decoded_again": batches["again"],
        "reconnects": sum(s.streamer.result.reconnects for s in sessions),
        "bounded": bool(bounded),
    }


BATCH_LINE = re.compile(
    r"batch of (\d+) window\(s\): [\d.]+ s of speech; cpu asr ([\d.]+) s, speakers ([\d.]+) s, "
    r"other (-?[\d.]+) s"
)


def _batches(log_path: Path, offset: int) -> dict:
    with open(log_path, "rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    totals = {"calls": 0, "windows": 0, "asr": 0.0, "other": 0.0, "again": 0}
    for n, asr, _speakers, other in BATCH_LINE.findall(text):
        totals["calls"] += 1
        totals["windows"] += int(n)
        totals["asr"] += float(asr)
        totals["other"] += float(other)
    totals["again"] = sum(int(n) for n in DECODED_AGAIN.findall(text))
    return totals


def _machine_jiffies() -> tuple[int, int]:
    """(all, idle + iowait) jiffies of every core since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]


def warm_up(*, stack, user, cookie, pool, workers: int) -> None:
    """Load the model in every pool process: `workers` short sessions at once."""
    ids = new_sessions(user=user, count=workers * 2)
    sessions = [
        Session(i, sid, conversation(12, seed=99 + i, pool=pool), start_delay=0) for i, sid in enumerate(ids)
    ]
    fleet = Fleet(stack=stack, cookie=cookie, sessions=sessions, speed=2.0)
    fleet.start()
    wait_for(fleet.all_recorded, timeout=120, what="warm-up recording", stack=stack, fleet=fleet)
    for s in sessions:
        fleet.stop(s)
    wait_for(
        lambda: all(s.streamer.result.recap_url for s in sessions),
        timeout=300,
        what="warm-up recaps",
        stack=stack,
        fleet=fleet,
    )
    fleet.close()


ROWS_PREFIX = "ROWS "


def run_layout(args, *, workers: int, ns: list[int], cores: int) -> list[dict]:
    threads = args.threads or max(1, cores // workers)
    # INFO, as `make run` logs: the per-batch lines give the model's and the rest's CPU per window.
    stack = Stack(
        worker_concurrency=workers,
        env={"WHISPER_CPU_THREADS": str(threads)},
        worker_loglevel="INFO",
        keep=args.keep,
    )
    stack.setup_django()
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    pool = utterances()
    rows = []
    with stack:
        user, cookie = bench_user_cookie()
        warm_up(stack=stack, user=user, cookie=cookie, pool=pool, workers=workers)
        for n in ns:
            row = run_n(
                stack=stack, user=user, cookie=cookie, pool=pool, n=n, duration=args.duration, seed=args.seed
            )
            row["threads"] = threads
            rows.append(row)
            print(f"  workers={workers} N={n}: {json.dumps(row)}", flush=True)
            if not row["bounded"] and not args.all:
                break
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="Celery worker processes, comma-separated")
    parser.add_argument("--threads", type=int, default=0, help="whisper threads per process (0: cores/W)")
    parser.add_argument("--sessions", default="4,6,8,10,12", help="N values, comma-separated, increasing")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds of conversation per N")
    parser.add_argument("--all", action="store_true", help="keep going past the first unbounded N")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the stack's logs and database")
    parser.add_argument("--rows-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    worker_counts = [int(w) for w in args.workers.split(",")]
    ns = [int(n) for n in args.sessions.split(",")]
    cores = os.cpu_count()

    results: dict[int, list[dict]] = {}
    if len(worker_counts) > 1:
        # Each layout in its own process: Django's settings (database, keys) are read once per process,
        # and every layout gets a fresh stack.
        for workers in worker_counts:
            argv = [sys.executable, "-u", __file__, "--workers", str(workers), "--rows-only"]
            argv += [
                "--threads",
                str(args.threads),
                "--sessions",
                args.sessions,
                "--duration",
                str(args.duration),
            ]
            argv += ["--seed", str(args.seed)] + (["--all"] if args.all else [])
            done = subprocess.run(argv, stdout=subprocess.PIPE, text=True, check=False)
            rows_line = [line for line in done.stdout.splitlines() if line.startswith(ROWS_PREFIX)]
            print("\n".join(line for line in done.stdout.splitlines() if not line.startswith(ROWS_PREFIX)))
            if done.returncode or not rows_line:
                raise SystemExit(f"the run with {workers} worker(s) failed (exit {done.returncode})")
            results[workers] = json.loads(rows_line[-1][len(ROWS_PREFIX) :])
    else:
        workers = worker_counts[0]
        results[workers] = run_layout(args, workers=workers, ns=ns, cores=cores)
        if args.rows_only:
            print(ROWS_PREFIX + json.dumps(results[workers]))
            return

    print()
    print(
        f"machine: {cores} cores; {args.duration:g} s of two-channel conversation per session at real time; "
        "model tiny.en int8, beam 1"
    )
    header = (
        f"{'W':>2} {'thr':>3} {'N':>3} {'speech/s':>8} {'lag p50/p95/max s':>20} "
        f"{'queue p95 1st/mid/last s':>25} {'drain s':>7} {'worker cpu':>10} {'rss MB':>6} "
        f"{'daphne':>6} {'machine':>7} {'windows':>7} {'w/call':>6} {'cpu/w model+other':>17} "
        f"{'qlag p50':>8} {'again':>5} "
        f"{'stop->recap p50/max':>20} {'bounded':>7}"
    )
    print(header)
    print("-" * len(header))
    for workers, rows in results.items():
        for r in rows:
            print(
                f"{workers:>2} {r['threads']:>3} {r['sessions']:>3} {r['speech_per_session_s']:>8} "
                f"{r['lag_p50_s']:>6.1f} /{r['lag_p95_s']:>5.1f} /{r['lag_max_s']:>5.1f} "
                f"{r['queue_lag_p95_first_s']:>8.1f} /{r['queue_lag_p95_mid_s']:>6.1f} "
                f"/{r['queue_lag_p95_last_s']:>6.1f} "
                f"{r['drain_s']:>7.1f} {r['worker_cpu'] * 100:>9.0f}% {r['worker_rss_mb']:>6} "
                f"{r['daphne_cpu'] * 100:>5.0f}% {r['machine_cpu'] * 100:>6.0f}% {r['windows']:>7} "
                f"{r['windows_per_call']:>6.2f} {r['model_cpu_per_window_s']:>8.3f}+"
                f"{r['other_cpu_per_window_s']:<8.3f} "
                f"{r['queue_lag_p50_s']:>8.1f} {r['windows_decoded_again']:>5} "
                f"{r['stop_to_recap_p50_s']:>9.2f} "
                f"/{r['stop_to_recap_max_s']:>6.2f} "
                f"{'yes' if r['bounded'] else 'NO':>7}"
            )
    best = {}
    for workers, rows in results.items():
        ok = [r for r in rows if r["bounded"]]
        best[workers] = max(ok, key=lambda r: r["sessions"]) if ok else None
    top_w = max(best, key=lambda w: (best[w]["sessions"] if best[w] else 0, -w))
    top = best[top_w]
    print(
        json.dumps(
            {
                "max_sessions_bounded": top["sessions"] if top else 0,
                "workers": top_w,
                "lag_p95_s": top["lag_p95_s"] if top else None,
                "queue_lag_p95_s": top["queue_lag_p95_last_s"] if top else None,
                "by_workers": {
                    str(w): {
                        "max_sessions_bounded": b["sessions"] if b else 0,
                        "lag_p95_s": b["lag_p95_s"] if b else None,
                    }
                    for w, b in best.items()
                },
                "duration_s": args.duration,
            }
        )
    )


if __name__ == "__main__":
    main()
