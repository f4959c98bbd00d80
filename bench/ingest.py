"""Ingest: the WebSocket + VAD path alone, many streams at real time; ack latency and server CPU.

Starts the real stack (bench/_stack.py) with transcription switched off for this benchmark only
(CAPTURE_TRANSCRIBE=0: windows are closed, stored in Redis and queued as rows, but no task is sent,
so the model's CPU does not hide the ingest path's). For each N in --streams, N sessions each send one
channel of speech (bench/_load.py conversation audio) at real time for --duration seconds, from
--procs client processes (the clients' own CPU is reported apart: on 2 cores they compete with
Daphne, which makes the figure pessimistic, not flattering).

Measured per N: ack latency (a frame's send -> its ack) p50/p99/max over every frame, each Daphne's,
HAProxy's and Redis's CPU as a share of the machine, the clients' CPU, reconnects, and apart: streams
refused at the door (4503 before any welcome: admission control turned a NEW session away) and
streams ended by the server (a close or a dropped socket after recording started; never by load).

--web-processes N: N Daphne processes behind HAProxy (bench/_stack.py), as `make run WEB_PROCESSES=N`.

Usage:
    .venv/bin/python bench/ingest.py                    # N = 50 100 200, 60 s each
    .venv/bin/python bench/ingest.py --streams 200 --duration 30
Prints a table, then ONE JSON line: {"streams": N, "ack_p99_ms": X, ...} for the largest N whose
ack p99 stayed under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _load import Sampler, bench_user_cookie, conversation, new_sessions, percentile, utterances  # noqa: E402
from _stack import Stack  # noqa: E402

TARGET_P99_MS = 100.0


async def _one_stream(*, ws_url, cookie, cookie_name, origin, track, start, delay, duration):
    from bench.protocol_client import CaptureStreamer

    length = int(duration / 0.2) * 6400
    pcm = (track[start:] + track * (1 + length // len(track)))[:length]

    await asyncio.sleep(delay)
    streamer = CaptureStreamer(ws_url=ws_url, cookie=cookie, origin=origin, cookie_name=cookie_name)
    streamer.expect_channels([0])
    loop_task = asyncio.create_task(streamer.connection_loop(timeout=duration + 300))
    connected = asyncio.create_task(streamer.connected.wait())
    await asyncio.wait({connected, loop_task}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
    r = streamer.result
    if not streamer.connected.is_set():  # refused at the door (the loop ended), or never connected
        connected.cancel()
        loop_task.cancel()
        return [], r.reconnects, r.closed_code, len(r.errors), 0, r.refused_at_door, False
    await streamer.record({0: pcm}, speed=1.0, stop=False)
    await asyncio.sleep(2.0)  # the last acks
    loop_task.cancel()
    if streamer.ws is not None:
        await streamer.ws.close()
    # Every close the client saw after its first welcome came from the server (or a dropped socket): its
    # own close above comes after the loop stopped listening. Failed connects before it are not counted
    # (nothing was recording yet); they show as reconnects.
    ended = r.closed_while_recording[0] if r.closed_while_recording else False  # None: no close frame
    return r.ack_lags, r.reconnects, r.closed_code, len(r.errors), len(r.acked.get(0, ())), False, ended


def client_process(jobs: list[dict], track: bytes, out) -> None:
    """One client process (spawned, not forked: the parent has threads and open connections): its
    share of the streams in one event loop. Sends back lags and CPU."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

    async def main():
        return await asyncio.gather(
            *(_one_stream(track=track, **job) for job in jobs), return_exceptions=True
        )

    cpu0 = time.process_time()
    results = asyncio.run(main())
    out.put(
        {
            "results": [r if not isinstance(r, BaseException) else repr(r) for r in results],
            "cpu": time.process_time() - cpu0,
        }
    )


def run_n(*, stack, user, cookie, track: bytes, n: int, duration: float, procs: int) -> dict:
    from django.conf import settings

    ids = new_sessions(user=user, count=n)
    frames_in_track = len(track) // 6400
    jobs = []
    for i, sid in enumerate(ids):
        jobs.append(
            {
                "ws_url": stack.ws_url(sid),
                "cookie": cookie,
                "cookie_name": settings.SESSION_COOKIE_NAME,
                "origin": stack.web_url,
                # Each stream starts at its own point of the looped track: windows close at different times.
                "start": (i * 37 % frames_in_track) * 6400,
                "delay": 5.0 * i / n,  # connects spread over 5 s
                "duration": duration,
            }
        )
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    workers = [ctx.Process(target=client_process, args=(jobs[p::procs], track, queue)) for p in range(procs)]
    t0 = time.monotonic()
    for w in workers:
        w.start()
    names = (*stack.web_names(), "redis", *(["haproxy"] if stack.web_processes > 1 else []))
    with Sampler(stack, names=names) as sampler:
        outs = []
        while len(outs) < len(workers):
            try:
                outs.append(queue.get(timeout=5))
            except Exception:
                if not any(w.is_alive() for w in workers) or time.monotonic() > t0 + duration + 300:
                    raise RuntimeError("a client process died or hung; see its traceback above") from None
        t1 = time.monotonic()
        for w in workers:
            w.join(30)
    lags, reconnects, refused, errors, acked, failures = [], 0, 0, 0, 0, []
    door, ended, served, end_codes = 0, 0, 0, {}
    for out in outs:
        for r in out["results"]:
            if isinstance(r, str):
                failures.append(r)
                continue
            lags += r[0]
            reconnects += r[1]
            refused += r[2] not in (None, 1000)
            errors += r[3]
            acked += r[4]
            door += r[5]
            ended += r[6] is not False
            if r[6] is not False:
                end_codes[str(r[6])] = end_codes.get(str(r[6]), 0) + 1
            served += not r[5]
    client_cpu = sum(o["cpu"] for o in outs) / (t1 - t0) / os.cpu_count()
    return {
        "streams": n,
        "frames_acked": acked,
        "frames_expected": served * int(duration / 0.2),
        "ack_p50_ms": round(percentile(lags, 50) * 1000, 1),
        "ack_p99_ms": round(percentile(lags, 99) * 1000, 1),
        "ack_max_ms": round(max(lags) * 1000, 1) if lags else None,
        "daphne_cpu": round(
            sum(sampler.cpu_share(w, t0 + 6, t0 + 5 + duration) for w in stack.web_names()), 3
        ),
        "web_cpu": [round(sampler.cpu_share(w, t0 + 6, t0 + 5 + duration), 3) for w in stack.web_names()],
        "haproxy_cpu": round(sampler.cpu_share("haproxy", t0 + 6, t0 + 5 + duration), 3)
        if stack.web_processes > 1
        else None,
        "redis_cpu": round(sampler.cpu_share("redis", t0 + 6, t0 + 5 + duration), 3),
        "client_cpu": round(client_cpu, 3),
        "daphne_rss_mb": round(max(sampler.rss_max(w) for w in stack.web_names())),
        "reconnects": reconnects,
        "refused": refused,
        "refused_at_door": door,
        "ended_by_server": ended,
        "ended_codes": end_codes,  # close code -> streams ("None": the socket dropped without one)
        "served": served,
        "error_frames": errors,
        "failures": failures[:3],
    }


def _pct(share) -> str:
    return "-" if share is None else f"{share * 100:.0f}%"


def _cpu_cell(row: dict) -> str:
    """Total web CPU, then each process's when there are several (shares of the whole machine)."""
    each = row["web_cpu"]
    total = _pct(row["daphne_cpu"])
    return total if len(each) == 1 else f"{total} ({' '.join(_pct(c) for c in each)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", default="50,100,200", help="N values, comma-separated")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of audio per stream")
    parser.add_argument("--procs", type=int, default=2, help="client processes")
    parser.add_argument(
        "--web-processes", type=int, default=1, help="Daphne processes (behind HAProxy when > 1)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the stack's logs (printed at exit)")
    args = parser.parse_args()

    stack = Stack(env={"CAPTURE_TRANSCRIBE": "0"}, web_processes=args.web_processes, keep=args.keep)
    stack.setup_django()
    pool = utterances()
    track = conversation(60, seed=3, pool=pool, channels=1)[0]
    rows = []
    with stack:
        user, cookie = bench_user_cookie()
        for n in (int(x) for x in args.streams.split(",")):
            row = run_n(
                stack=stack,
                user=user,
                cookie=cookie,
                track=track,
                n=n,
                duration=args.duration,
                procs=args.procs,
            )
            rows.append(row)
            print(f"  N={n}: {json.dumps(row)}", flush=True)

    print()
    print(
        f"machine: {os.cpu_count()} cores; "
        + ("one Daphne process" if args.web_processes == 1 else f"{args.web_processes} Daphne behind HAProxy")
        + "; transcription off; "
        f"{args.duration:g} s of one-channel speech per stream at real time (5 frames/s); "
        f"{args.procs} client processes on the same machine"
    )
    header = (
        f"{'streams':>7} {'frames/s':>8} {'acked':>13} {'ack p50/p99/max ms':>22} "
        f"{'daphne cpu (each)':>20} {'proxy':>6} {'redis':>6} {'clients':>7} {'daphne MB':>9} {'reconn':>6} "
        f"{'at door':>7} {'ended':>5}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['streams']:>7} {r['streams'] * 5:>8} {r['frames_acked']:>6}/{r['frames_expected']:<6} "
            f"{r['ack_p50_ms']:>6.1f} /{r['ack_p99_ms']:>6.1f} /{r['ack_max_ms']:>6.1f} "
            f"{_cpu_cell(r):>20} {_pct(r['haproxy_cpu']):>6} {_pct(r['redis_cpu']):>6} "
            f"{_pct(r['client_cpu']):>7} {r['daphne_rss_mb']:>9} {r['reconnects']:>6} "
            f"{r['refused_at_door']:>7} {r['ended_by_server']:>5}"
        )
    ok = [
        r
        for r in rows
        if r["ack_p99_ms"] < TARGET_P99_MS and r["frames_acked"] == r["frames_expected"] and not r["failures"]
    ]
    best = max(ok, key=lambda r: r["streams"]) if ok else None
    print(
        json.dumps(
            {
                "streams": best["streams"] if best else 0,
                "ack_p99_ms": best["ack_p99_ms"] if best else None,
                "by_streams": {str(r["streams"]): r["ack_p99_ms"] for r in rows},
                "duration_s": args.duration,
            }
        )
    )


if __name__ == "__main__":
    main()
