"""Fault injection on the real stack: one PASS/FAIL line per fault, then one JSON line.

Each fault runs on its own fresh stack (bench/_stack.py: its own redis-server with persistence off,
Daphne, one Celery worker with the bundled tiny.en model; one SQLite file shared by the runs) and
streams espeak-ng speech through the real protocol client. The scenarios and what each one proves
are in bench/_fault_scenarios.py (the same code the slow tests in tests/capture/test_faults.py run):

  net_drop_30s    the network black-holes traffic for 30 s mid-sentence while recording goes on in
                  real time; the client reconnects once it is back and resends, paced
  worker_sigkill  the whole Celery worker (process group) is SIGKILLed mid-window; a fresh worker
                  and the requeue job (sent as beat sends it) finish the window
  redis_restart   Redis restarts while a window waits in the queue: audio, task message and channel
                  layer groups are gone; the server asks the client to resend
  daphne_restart  Daphne is SIGKILLed mid-sentence on two channels and started again
  socket_drop     the client's socket closes mid-window (the existing fault test)
  pool_sigkill    only the worker's pool process is SIGKILLed mid-window (the existing fault test)

Every one must end with every seq of every channel in exactly one transcribed window, every spoken
sentence once in the transcript, exactly one recap, and nothing left behind.

Usage:
    .venv/bin/python bench/faults.py                 # all six (about 5 minutes on 2 cores)
    .venv/bin/python bench/faults.py --only redis_restart --only daphne_restart
    .venv/bin/python bench/faults.py --keep          # keep each stack's logs and database
Exit status 1 if any fault failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _fault_scenarios as scenarios  # noqa: E402
from _stack import Stack  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(scenarios.SCENARIOS), default=[])
    parser.add_argument("--keep", action="store_true", help="keep every stack's temp dir (logs, database)")
    args = parser.parse_args()
    names = args.only or list(scenarios.SCENARIOS)

    from cryptography.fernet import Fernet

    work = Path(tempfile.mkdtemp(prefix="undertone-faults-"))
    # One database and one set of keys for every stack: the session cookie made in this process
    # must open on each stack's Daphne, and the recaps must decrypt here.
    shared = {
        "DATABASE_URL": f"sqlite:///{work / 'faults.sqlite3'}",
        "SECRET_KEY": f"faults-{os.urandom(24).hex()}",
        "RECAP_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    rows, outcomes = [], {}
    first = True
    for name in names:
        # The first stack migrates the shared database and sets Django up in this process; later
        # stacks reuse both (Django's settings cannot be loaded twice in one process).
        stack = Stack(
            keep=args.keep,
            env={**scenarios.STACK_ENV, **shared},
            worker_loglevel=scenarios.WORKER_LOGLEVEL,
            migrate=first,
            django_in_process=first,
        )
        first = False
        started = time.monotonic()
        print(f"{name}: starting a fresh stack", flush=True)
        try:
            with stack:
                logging.getLogger("faster_whisper").setLevel(logging.WARNING)
                from django.conf import settings
                from django.contrib.auth import get_user_model
                from django.test import Client

                user = get_user_model().objects.create_user(username=f"faults-{name}-{time.time_ns()}")
                client = Client()
                client.force_login(user)
                env = scenarios.Env(
                    stack=stack,
                    user=user,
                    cookie=client.cookies[settings.SESSION_COOKIE_NAME].value,
                    cookie_name=settings.SESSION_COOKIE_NAME,
                    tmp_dir=stack.dir,
                    say=lambda line: print(line, flush=True),
                )
                observed = scenarios.SCENARIOS[name](env)
            verdict, note = "pass", _note(observed)
        except Exception as exc:  # a failed fault is a FAIL line, not the end of the run
            verdict, note = "fail", str(exc).splitlines()[0][:200] if str(exc) else repr(exc)
            where = "".join(traceback.format_exception(exc, limit=-3)).split("\n" + type(exc).__module__)[0]
            print(f"{name}: FAILED\n{where[:3000]}\n{exc}", flush=True)
        seconds = time.monotonic() - started
        outcomes[name] = verdict
        rows.append((name, verdict.upper(), f"{seconds:.0f} s", note))
        print(f"{name}: {verdict.upper()} in {seconds:.0f} s", flush=True)

    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"{'fault':<16} {'result':<7} {'time':>6}  observed")
    for name, verdict, seconds, note in rows:
        print(f"{name:<16} {verdict:<7} {seconds:>6}  {note}")
    print(json.dumps({"faults": outcomes}))
    return 0 if all(v == "pass" for v in outcomes.values()) else 1


def _note(observed: dict) -> str:
    parts = [
        f"reconnects {observed.get('reconnects', 0)}",
        f"resent {observed.get('resent', 0)} (acked {observed.get('resent_after_ack', 0)})",
        f"stop->recap {observed.get('stop_to_recap_s', 0):.1f} s",
    ]
    for key in ("reconnect_after_restore_s", "lost_windows", "stuck_until_requeue", "close_codes"):
        if key in observed:
            parts.append(f"{key} {observed[key]}")
    return "; ".join(parts)


if __name__ == "__main__":
    sys.exit(main())
