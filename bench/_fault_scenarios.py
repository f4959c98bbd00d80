"""Fault scenarios on the real stack, shared by the slow tests (tests/capture/test_faults.py, one
fresh stack per test) and by bench/faults.py (a PASS/FAIL table).

Each scenario streams espeak-ng speech through the real protocol client (bench/protocol_client.py, which
keeps every frame until it is committed) into a real Daphne, Redis and Celery worker with the bundled
tiny.en model, breaks something mid-session, and then proves the promise "no audio is lost, none is
transcribed twice":

- before Stop: on every channel the windows tile seq 0..M with no gap and no overlap, every one of
  them transcribed (DONE), M at least the last frame with speech in it; and every spoken sentence is
  in the stored transcript exactly once (each has a marker word counted in the segments' text:
  the transcript the recap is built from);
- after Stop: exactly one Recap, the session done, the client's commit mark at the last seq of every
  channel and the recap's recorded time covering seq 0..N (so the windows flushed at Stop finished
  the tiling), and no windows, transcript segments or window audio keys left;
- and that the fault really bit (a reconnect, frames resent, the killed task really mid-window...),
  so a scenario cannot pass by missing its moment.

A scenario raises ScenarioFailed (an AssertionError) with the client's state and the stack's log
tails, or returns a dict of what it observed.

`stack` is a bench/_stack.py Stack (or anything with the same few attributes: ws_url(), web_url,
redis_client(), services["worker"].pid/.log_path, log_tails() and the fault methods a scenario uses).
The calling process must have Django set up on the same database as the stack.
"""

from __future__ import annotations

import asyncio
import re
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.protocol_client import CaptureStreamer, ThreadedSession

FRAME_BYTES = 6400
FRAME_S = 0.2
AUDIO_KEYS = "uw:audio:*"

# Sentences with a marker word that espeak-ng + tiny.en transcribe reliably (checked one by one).
CLIENT = [
    ("The first thing I noticed this week was how tired I felt in the mornings.", "morning"),
    ("Then on Thursday I finally spoke to my sister about the holidays.", "thursday"),
    ("She listened, and I realised I had been dreading that conversation for months.", "conversation"),
    ("After the walk on Sunday I wrote everything down in my notebook.", "notebook"),
]
THERAPIST = [
    ("This week, try a slow breathing exercise before you open your emails.", "breathing"),
    ("Let us come back to the garden next time.", "garden"),
]
VOICE = {0: "en-us", 1: "en-gb"}


# Every stack that runs these: the requeue job (capture.tasks.requeue_stuck_windows) re-enqueues windows
# queued longer than this, instead of 120 s, so worker_sigkill can show it within a test.
# Batches of up to 4 windows (a GPU worker's setting; 1 on a CPU), so that pool_sigkill_mid_batch has a
# batch to kill; a dead batch's claims lapse after 4 s here (15 s by default), so its windows are redone
# sooner.
STACK_ENV = {"CAPTURE_REQUEUE_AFTER_S": "5", "TRANSCRIBE_CLAIM_TTL_S": "4", "TRANSCRIBE_BATCH_SIZE": "4"}
WORKER_LOGLEVEL = "INFO"  # pool_sigkill and worker_sigkill watch for "Task ... received"


class ScenarioFailed(AssertionError):
    pass


@dataclass
class Env:
    """What every scenario gets: the stack, a signed-in user and where espeak-ng may write."""

    stack: Any
    user: Any
    cookie: str
    cookie_name: str
    tmp_dir: Path
    say: Any = print  # progress lines
    session: Any = None  # the scenario's capture session, once made (for failure messages)


# Audio ------------------------------------------------------------------------------------------


@dataclass
class Track:
    """One channel: PCM16 16 kHz mono, and the markers of what was said on it."""

    pcm: bytes = b""
    markers: list[str] = field(default_factory=list)
    speech_last_seq: int = -1  # last wire frame that is clearly speech
    spans: list[tuple[int, int]] = field(default_factory=list)  # (first, last) frame of each sentence

    @property
    def last_seq(self) -> int:
        return -(-len(self.pcm) // FRAME_BYTES) - 1

    def pause(self, seconds: float) -> Track:
        self.pcm += bytes(int(seconds * 16000) * 2)
        return self

    def pause_until(self, seconds: float) -> Track:
        return self.pause(max(0.0, seconds - len(self.pcm) / 32000))

    def say(self, text: str, *markers: str, voice: str, tmp_dir: Path, speed: int = 150) -> Track:
        from tests.audio import espeak_pcm

        first = len(self.pcm) // FRAME_BYTES
        self.pcm += espeak_pcm(text, voice=voice, speed=speed, tmp_dir=tmp_dir)
        self.speech_last_seq = _last_loud_frame(self.pcm)
        self.spans.append((first, self.speech_last_seq))
        self.markers.extend(markers)
        return self

    def seconds(self) -> float:
        return len(self.pcm) / 32000


def _last_loud_frame(pcm: bytes) -> int:
    """The last wire frame that is clearly speech (RMS well above any pause): it lies in the last
    speech window, so once it is committed the whole sentence is transcribed. espeak-ng's soft tail
    after it may fall in the next (silence) window, which only Stop or 5 s more silence closes."""
    import numpy as np

    samples = np.frombuffer(pcm[: len(pcm) // FRAME_BYTES * FRAME_BYTES], dtype="<i2").astype(np.float32)
    rms = np.sqrt((samples.reshape(-1, FRAME_BYTES // 2) ** 2).mean(axis=1))
    loud = np.flatnonzero(rms > 1000)
    return int(loud[-1]) if len(loud) else -1


# The client in a thread -------------------------------------------------------------------------


class BackgroundStream(ThreadedSession):
    """The protocol client in its own thread, recording at `speed` x real time; the caller's thread
    breaks things and reads the database, then asks for Stop."""

    def __init__(self, env: Env, *, ws_url: str, tracks: dict[int, Track], speed: float):
        streamer = CaptureStreamer(
            ws_url=ws_url, cookie=env.cookie, origin=env.stack.web_url, cookie_name=env.cookie_name
        )
        seconds = max(t.seconds() for t in tracks.values())
        pcm = {ch: t.pcm for ch, t in tracks.items()}
        super().__init__(streamer, pcm, speed=speed, timeout=seconds / speed + 400)

    def generated(self, ch: int = 0) -> int:
        return self.streamer.generated.get(ch, 0)

    def stop(self, env: Env, timeout: float = 180):
        self.request_stop()
        wait_until(
            lambda: self.result.recap_url is not None, timeout=timeout, what="the recap", env=env, bg=self
        )
        self.thread.join(30)
        return self.result


def describe(bg: BackgroundStream | None) -> str:
    if bg is None:
        return ""
    r = bg.result
    return (
        f"client: error={bg.error!r} closed={r.closed_code} commit={r.commit} generated="
        f"{bg.streamer.generated} reconnects={r.reconnects} resent={r.resent} "
        f"resume_points={r.resume_points[-6:]} errors={r.errors[-3:]}"
    )


def fail(message: str, env: Env, bg: BackgroundStream | None = None):
    tails = env.stack.log_tails() if hasattr(env.stack, "log_tails") else ""
    raise ScenarioFailed(f"{message}\n{describe(bg)}\n{_server_state(env)}\n{tails}")


def _server_state(env: Env) -> str:
    """Windows of the session and what Redis holds, for a failure message (ids and counts only)."""
    from capture.models import CaptureWindow

    lines = []
    if env.session is not None:
        windows = CaptureWindow.objects.filter(session=env.session).order_by("channel", "seq_first")
        lines.append(
            "windows: "
            + ", ".join(
                f"ch{w.channel} {w.seq_first}-{w.seq_last} {w.status} {w.speech_s:.1f}s" for w in windows
            )
        )
    try:
        redis = env.stack.redis_client()
        keys = sorted(k.decode(errors="replace") for k in redis.keys("*"))
        audio = sum(k.startswith("uw:audio:") for k in keys)
        others = [k for k in keys if not k.startswith("uw:audio:")][:20]
        lines.append(f"redis: {audio} audio keys, celery queue {redis.llen('celery')}, other keys {others}")
    except Exception as exc:  # diagnostics only
        lines.append(f"redis: {exc!r}")
    return "\n".join(lines)


def wait_until(predicate, *, timeout: float, what: str, env: Env, bg: BackgroundStream | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if bg is not None and not bg.thread.is_alive() and not predicate():
            break
        time.sleep(0.05)
    fail(f"timed out or failed waiting for {what} ({timeout:.0f} s)", env, bg)


def check(condition, message: str, env: Env, bg: BackgroundStream | None = None):
    if not condition:
        fail(message, env, bg)


# Proofs -----------------------------------------------------------------------------------------


def new_session(env: Env):
    from capture import services
    from capture.consent.services import consent_record_save

    session = services.capture_session_create(user=env.user)
    consent_record_save(session=session, consent={"therapist_agreed": True})
    env.session = session
    return session


def wait_speech_committed(env: Env, bg: BackgroundStream, tracks: dict[int, Track], timeout: float = 240):
    wait_until(
        lambda: all(bg.result.commit.get(ch, -1) >= t.speech_last_seq for ch, t in tracks.items()),
        timeout=timeout,
        what="every frame with speech to be committed",
        env=env,
        bg=bg,
    )


def check_before_stop(env: Env, bg: BackgroundStream, session, tracks: dict[int, Track], *, times: int = 1):
    """Windows tile 0..M on every channel, all transcribed; every sentence in the transcript once."""
    from capture.models import CaptureWindow, TranscriptSegment

    observed = {}
    for ch, track in tracks.items():
        windows = list(CaptureWindow.objects.filter(session=session, channel=ch).order_by("seq_first"))
        spans = [(w.seq_first, w.seq_last, w.status) for w in windows]
        check(
            windows and windows[0].seq_first == 0, f"ch {ch}: windows do not start at seq 0: {spans}", env, bg
        )
        for before, after in zip(windows, windows[1:], strict=False):
            check(
                after.seq_first == before.seq_last + 1,
                f"ch {ch}: gap or overlap between windows: {spans}",
                env,
                bg,
            )
        check(
            all(w.status == CaptureWindow.Status.DONE for w in windows),
            f"ch {ch}: a window is not transcribed: {spans}",
            env,
            bg,
        )
        check(
            windows[-1].seq_last >= track.speech_last_seq,
            f"ch {ch}: windows end at {windows[-1].seq_last}, speech at {track.speech_last_seq}",
            env,
            bg,
        )
        text = " ".join(
            s.text for s in TranscriptSegment.objects.filter(session=session, channel=ch).order_by("start")
        ).lower()
        for marker in track.markers:
            count = len(re.findall(marker, text))
            check(count == times, f"ch {ch}: {marker!r} {count} times, want {times}: {text!r}", env, bg)
        observed[ch] = {"windows": len(windows), "speech_windows": sum(w.speech_s > 0 for w in windows)}
    return observed


def check_after_stop(env: Env, bg: BackgroundStream, session, tracks: dict[int, Track], result):
    from capture.models import CaptureSession, CaptureWindow, TranscriptSegment
    from recaps.models import Recap

    recaps = list(Recap.objects.filter(session=session))
    check(len(recaps) == 1, f"{len(recaps)} recaps for the session", env, bg)
    check(result.recap_url == f"/recaps/{recaps[0].id}/", f"done pointed at {result.recap_url}", env, bg)
    check(CaptureSession.objects.get(id=session.id).status == "done", "session not done", env, bg)
    for ch, track in tracks.items():
        check(
            result.commit.get(ch) == track.last_seq,
            f"ch {ch}: final commit {result.commit.get(ch)}, last seq {track.last_seq}",
            env,
            bg,
        )
    last = max(t.last_seq for t in tracks.values())
    recorded = recaps[0].data["stats"]["recorded_s"]
    check(
        abs(recorded - round((last + 1) * FRAME_S, 1)) < 0.01,
        f"the recap covers {recorded} s, the session {(last + 1) * FRAME_S:.1f} s",
        env,
        bg,
    )
    check(not CaptureWindow.objects.filter(session=session).exists(), "windows left after the recap", env, bg)
    check(not TranscriptSegment.objects.filter(session=session).exists(), "transcript left", env, bg)
    keys = env.stack.redis_client().keys(AUDIO_KEYS)
    check(keys == [], f"window audio left in Redis: {len(keys)} keys", env, bg)


def finish(env: Env, bg: BackgroundStream, session, tracks: dict[int, Track], *, times: int = 1) -> dict:
    """The common end of every scenario: wait for the speech to be committed, prove exactly once,
    Stop, prove one recap and nothing left."""
    wait_speech_committed(env, bg, tracks)
    windows = check_before_stop(env, bg, session, tracks, times=times)
    t_stop = time.monotonic()
    result = bg.stop(env)
    check_after_stop(env, bg, session, tracks, result)
    return {
        "reconnects": result.reconnects,
        "resent": result.resent,
        "resent_after_ack": result.resent_after_ack,
        "windows": windows,
        "stop_to_recap_s": round(time.monotonic() - t_stop, 2),
    }


# A network that drops ---------------------------------------------------------------------------


class _Conn:
    __slots__ = ("doomed", "writers")

    def __init__(self, writer):
        self.doomed = False  # open when an outage began: reset at restore
        self.writers = [writer]

    def abort(self) -> None:
        for writer in self.writers:
            writer.transport.abort()


class FlakyNetwork:
    """A TCP proxy (127.0.0.1:port -> the web server) in its own thread and event loop.

    outage(): nothing is forwarded any more, either way, on any connection; new connections are
    accepted but go nowhere (their opening handshake hangs, as a SYN into a dead network would).
    restore(): the connections that were open when the outage began are reset (the laptop came back
    with a new address, so nothing can resume them), and everything else flows again: connections
    opened during the outage reach the server now."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.conns: set[_Conn] = set()
        self.server = None
        self.port: int | None = None
        self.open: asyncio.Event | None = None
        self.accepted = 0

    def start(self) -> FlakyNetwork:
        self.thread.start()

        async def _start():
            self.open = asyncio.Event()
            self.open.set()
            self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            return self.server.sockets[0].getsockname()[1]

        self.port = asyncio.run_coroutine_threadsafe(_start(), self.loop).result(10)
        return self

    def _call(self, fn) -> None:
        asyncio.run_coroutine_threadsafe(_as_coroutine(fn), self.loop).result(10)

    def outage(self) -> None:
        def _cut():
            self.open.clear()
            for conn in self.conns:
                conn.doomed = True

        self._call(_cut)

    def restore(self) -> None:
        def _restore():
            for conn in list(self.conns):
                if conn.doomed:
                    conn.abort()
            self.open.set()

        self._call(_restore)

    def close(self) -> None:
        def _close():
            if self.server is not None:
                self.server.close()
            for conn in list(self.conns):
                conn.abort()
            self.open.set()

        self._call(_close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    async def _handle(self, reader, writer):
        conn = _Conn(writer)
        self.conns.add(conn)
        self.accepted += 1
        try:
            await self.open.wait()
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            conn.writers.append(up_writer)
            pipes = [
                asyncio.ensure_future(self._pipe(conn, reader, up_writer)),
                asyncio.ensure_future(self._pipe(conn, up_reader, writer)),
            ]
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
            for pipe in pipes:
                pipe.cancel()
        except OSError:
            pass
        finally:
            conn.abort()
            self.conns.discard(conn)

    async def _pipe(self, conn: _Conn, reader, writer):
        try:
            while True:
                await self.open.wait()
                data = await reader.read(65536)
                if not data:
                    return
                await self.open.wait()  # read just before the cut: held back too
                if conn.doomed:
                    return
                writer.write(data)
                await writer.drain()
        except OSError:
            return


async def _as_coroutine(fn):
    return fn()


# Scenarios --------------------------------------------------------------------------------------


def _client_track(env: Env, plan: list[tuple[float, int]], *, tail_s: float) -> Track:
    """Channel 0: CLIENT[i] starting at each (seconds, i), then `tail_s` of silence."""
    track = Track()
    for at, i in plan:
        text, marker = CLIENT[i]
        track.pause_until(at).say(text, marker, voice=VOICE[0], tmp_dir=env.tmp_dir)
    return track.pause(tail_s)


def _seconds_to_frames(seconds: float) -> int:
    return int(round(seconds / FRAME_S))


def net_drop_30s(env: Env, *, outage_s: float = 30.0) -> dict:
    """The laptop's network drops for 30 s in the middle of a sentence while recording goes on in
    real time (the client's buffer grows); then it comes back and the client reconnects and resends
    what the server did not keep, paced under the server's rate limit."""
    cut_at = 9.0  # inside the second sentence: its window is open in the server's memory
    track = _client_track(env, [(0.5, 0), (7.0, 1), (20.0, 2), (33.0, 3)], tail_s=0)
    track.pause_until(cut_at + outage_s + 5.0)
    tracks = {0: track}
    net = FlakyNetwork(env.stack.web_port).start()
    try:
        session = new_session(env)
        bg = BackgroundStream(
            env, ws_url=f"ws://127.0.0.1:{net.port}/ws/capture/{session.id}/", tracks=tracks, speed=1.0
        )
        wait_until(
            lambda: bg.generated() >= _seconds_to_frames(cut_at), timeout=60, what="the cut", env=env, bg=bg
        )
        acked_before = max(bg.result.acked.get(0, {-1}), default=-1)
        generated_at_cut = bg.generated()
        net.outage()
        env.say(f"  network down at {generated_at_cut * FRAME_S:.1f} s of audio for {outage_s:g} s")
        time.sleep(outage_s)
        generated_at_restore = bg.generated()
        net.restore()
        restored_at = time.monotonic()
        env.say(
            f"  network back; {(generated_at_restore - generated_at_cut) * FRAME_S:.1f} s recorded meanwhile"
        )
        wait_until(
            lambda: any(t > restored_at for t in bg.result.welcomed_at),
            timeout=30,
            what="the client to reconnect after the network came back",
            env=env,
            bg=bg,
        )
        reconnect_s = min(t for t in bg.result.welcomed_at if t > restored_at) - restored_at
        check(
            generated_at_restore - generated_at_cut >= _seconds_to_frames(outage_s - 2),
            "recording did not go on during the outage",
            env,
            bg,
        )
        outcome = finish(env, bg, session, tracks)
    finally:
        net.close()
    result = bg.result
    check(
        4429 not in result.close_codes, f"the resend was refused as too fast: {result.close_codes}", env, bg
    )
    # What was sent into the dead connection is resent. What the server had acked is kept when it
    # notices the dead socket before the client is back (its windower is queued at close); when the
    # client's new socket takes over first, the old one leaves it and the client resends it too.
    check(result.resent > 0, "no frame was resent: the drop did not bite", env, bg)
    check(acked_before >= track.spans[1][0], "the cut came before the second sentence was acked", env, bg)
    check(reconnect_s < 10, f"reconnected {reconnect_s:.1f} s after the network came back", env, bg)
    return {**outcome, "reconnect_after_restore_s": round(reconnect_s, 2), "close_codes": result.close_codes}


def daphne_restart(env: Env) -> dict:
    """Daphne is killed (SIGKILL) and started again mid-sentence on both channels: the frames it had
    acked but not yet packed into a queued window died with it, and must be resent (acked is not
    committed); the resume point is the end of the last queued window, not the last ack."""
    ch0 = _client_track(env, [(0.5, 0), (6.5, 1), (16.0, 3)], tail_s=4.0)
    ch1 = Track()
    text, marker = THERAPIST[0]
    ch1.pause_until(3.0).say(text, marker, voice=VOICE[1], tmp_dir=env.tmp_dir)
    text, marker = THERAPIST[1]
    ch1.pause_until(12.0).say(text, marker, voice=VOICE[1], tmp_dir=env.tmp_dir)
    ch1.pause_until(ch0.seconds())
    tracks = {0: ch0, 1: ch1}
    kill_at = 8.5  # ch 0 mid-sentence, ch 1 just finished one: both windows still open
    session = new_session(env)
    bg = BackgroundStream(env, ws_url=env.stack.ws_url(session.id), tracks=tracks, speed=2.0)
    wait_until(
        lambda: bg.generated() >= _seconds_to_frames(kill_at), timeout=60, what="the kill", env=env, bg=bg
    )
    acked = {ch: max(bg.result.acked.get(ch, {-1}), default=-1) for ch in tracks}
    env.stack.restart_daphne()
    env.say(f"  daphne killed at {kill_at} s of audio (acked up to {acked}) and started again")
    outcome = finish(env, bg, session, tracks)
    result = bg.result
    check(result.reconnects >= 1, "the client never reconnected", env, bg)
    check(result.resent_after_ack > 0, "no acked frame was resent", env, bg)
    back = result.resume_points[-1] if len(result.resume_points) > 1 else {}
    check(
        len(result.resume_points) > 1 and result.resume_points[1][0] <= ch0.spans[1][0] <= acked[0],
        f"the server did not ask for the open sentence again: {result.resume_points}, acked {acked}",
        env,
        bg,
    )
    return {**outcome, "resume_point_after_restart": back, "acked_at_kill": acked}


def redis_restart(env: Env) -> dict:
    """Redis (persistence off) restarts while a transcribed-to-be window waits in the queue (the
    worker is held with SIGSTOP so one does): its audio, its task message and the channel layer's
    groups are gone. The socket must be closed so the client reconnects; the lost window and all
    after it are dropped, and the client resends them from the frames it still holds."""
    track = _client_track(env, [(0.5, 0), (8.0, 1), (16.0, 2)], tail_s=4.0)
    tracks = {0: track}
    from capture.models import CaptureWindow

    session = new_session(env)
    env.stack.pause_worker()
    try:
        bg = BackgroundStream(env, ws_url=env.stack.ws_url(session.id), tracks=tracks, speed=2.0)
        queued = CaptureWindow.objects.filter(session=session, status="queued", speech_s__gt=0)
        wait_until(
            lambda: queued.exists() and bg.generated() >= _seconds_to_frames(10.0),
            timeout=90,
            what="a speech window waiting in the queue",
            env=env,
            bg=bg,
        )
        lost = list(queued.values_list("seq_first", "seq_last"))
        keys_before = len(env.stack.redis_client().keys(AUDIO_KEYS))
        env.stack.restart_redis()
        env.say(f"  redis restarted with {len(lost)} window(s) queued {lost} ({keys_before} audio keys)")
    finally:
        env.stack.resume_worker()
    outcome = finish(env, bg, session, tracks)
    result = bg.result
    first_lost = min(first for first, _last in lost)
    check(result.reconnects >= 1, "the client never reconnected", env, bg)
    check(
        any(point.get(0, 1 << 30) <= first_lost for point in result.resume_points[1:]),
        f"the server never asked again for the lost window from {first_lost}: {result.resume_points}",
        env,
        bg,
    )
    check(result.resent_after_ack > 0, "no acked frame was resent", env, bg)
    return {**outcome, "lost_windows": lost, "close_codes": result.close_codes}


def _log_since(path: Path, offset: int) -> str:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def _wait_task_received(env: Env, bg: BackgroundStream, log_path: Path, offset: int) -> None:
    wait_until(
        lambda: re.search(
            r"capture\.tasks\.transcribe_window\[[^\]]+\] received", _log_since(log_path, offset)
        ),
        timeout=120,
        what="a transcription task to start",
        env=env,
        bg=bg,
    )
    time.sleep(0.3)  # into the model call: a 20 s window takes over a second here


def _long_window_track(env: Env) -> Track:
    """About 20 s of speech without a long pause: one window, so a kill lands inside its model call."""
    text = " ".join(sentence for sentence, _marker in CLIENT[:3] * 2)
    track = Track().pause(0.3)
    track.say(text, *(marker for _s, marker in CLIENT[:3]), voice=VOICE[0], tmp_dir=env.tmp_dir, speed=140)
    return track.pause(4.0)


def worker_sigkill(env: Env) -> dict:
    """The whole Celery worker (main process and pool child: its process group) is SIGKILLed in the
    middle of a window's transcription. Its message stays unacked in Redis until the visibility
    timeout (600 s), so a fresh worker alone does not redo it; the requeue job does (beat runs it
    every minute; here it is sent the way beat sends it, with its age threshold at 5 s)."""
    from capture.models import CaptureWindow

    track = _long_window_track(env)
    tracks = {0: track}
    session = new_session(env)
    worker = env.stack.services["worker"]
    offset = worker.log_path.stat().st_size
    bg = BackgroundStream(env, ws_url=env.stack.ws_url(session.id), tracks=tracks, speed=4.0)
    _wait_task_received(env, bg, worker.log_path, offset)
    env.stack.kill_worker()
    window = CaptureWindow.objects.filter(session=session, speech_s__gt=0).order_by("seq_first").first()
    check(
        window is not None and window.status == "queued",
        "the kill did not land mid-window (the window was done already)",
        env,
        bg,
    )
    env.say("  worker group killed mid-window; starting a fresh worker")
    env.stack.start_worker()
    time.sleep(2.0)
    window.refresh_from_db()
    stuck = window.status == "queued"
    from django.utils import timezone

    # The worker's threshold (its environment), not this process's settings.
    threshold = float(STACK_ENV["CAPTURE_REQUEUE_AFTER_S"])
    wait_until(
        lambda: (timezone.now() - window.created_at).total_seconds() > threshold + 0.5,
        timeout=30,
        what="the window to be older than the requeue threshold",
        env=env,
        bg=bg,
    )
    env.stack.celery_app().send_task("capture.tasks.requeue_stuck_windows")
    outcome = finish(env, bg, session, tracks, times=2)
    return {**outcome, "stuck_until_requeue": stuck}


def socket_drop(env: Env) -> dict:
    """The client's socket closes 4 s in, while speech is inside an open window; it reconnects and
    resends what the server had not queued."""
    track = _client_track(env, [(0.0, 0), (7.5, 1), (15.0, 2)], tail_s=4.0)
    tracks = {0: track}
    session = new_session(env)
    bg = BackgroundStream(env, ws_url=env.stack.ws_url(session.id), tracks=tracks, speed=3.0)
    bg.streamer.drop_next_connection_after = time.monotonic() + 4.0
    outcome = finish(env, bg, session, tracks)
    check(bg.result.reconnects >= 1, "the drop did not happen", env, bg)
    return outcome


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def pool_sigkill(env: Env) -> dict:
    """Only the worker's pool process is SIGKILLed mid-window: the main process sees WorkerLostError
    and, with acks_late + reject_on_worker_lost, requeues the message at once."""
    import os

    track = _long_window_track(env)
    tracks = {0: track}
    session = new_session(env)
    worker = env.stack.services["worker"]
    offset = worker.log_path.stat().st_size
    bg = BackgroundStream(env, ws_url=env.stack.ws_url(session.id), tracks=tracks, speed=4.0)
    _wait_task_received(env, bg, worker.log_path, offset)
    children = _children(worker.pid)
    check(children, "the prefork worker has no pool process", env, bg)
    os.kill(children[0], signal.SIGKILL)
    outcome = finish(env, bg, session, tracks, times=2)
    log = _log_since(worker.log_path, offset)
    check(
        "signal 9" in log or "SIGKILL" in log or "WorkerLostError" in log,
        "no worker-lost in the log",
        env,
        bg,
    )
    return outcome


def pool_sigkill_mid_batch(env: Env) -> dict:
    """Three sessions' windows are queued at once (the worker stopped meanwhile), so one task claims
    them into one batched model call; the pool process is SIGKILLed inside it. The killed task's
    message is requeued at once; the others' messages find the windows claimed and come back when the
    dead batch's claims lapse. Every window of the batch is stored exactly once, in every session."""
    import os

    from capture.models import CaptureWindow

    streams = []
    worker = env.stack.services["worker"]
    offset = worker.log_path.stat().st_size
    env.stack.pause_worker()
    try:
        for _ in range(3):
            tracks = {0: _long_window_track(env)}
            session = new_session(env)
            bg = BackgroundStream(env, ws_url=env.stack.ws_url(session.id), tracks=tracks, speed=4.0)
            streams.append((session, tracks, bg))
        wait_until(
            lambda: all(
                CaptureWindow.objects.filter(session=s, speech_s__gt=0, status="queued").exists()
                for s, _t, _bg in streams
            ),
            timeout=120,
            what="a speech window queued in each session",
            env=env,
            bg=streams[0][2],
        )
    finally:
        env.stack.resume_worker()
    claims = env.stack.redis_client()
    wait_until(
        lambda: len(claims.keys("uw:asr:claim:*")) >= 3,
        timeout=60,
        what="one task to claim the three windows",
        env=env,
        bg=streams[0][2],
    )
    time.sleep(0.3)  # into the batched model call: three 20 s windows take seconds here
    claimed = len(claims.keys("uw:asr:claim:*"))
    queued = CaptureWindow.objects.filter(speech_s__gt=0, status="queued").count()
    children = _children(worker.pid)
    check(children, "the prefork worker has no pool process", env, streams[0][2])
    os.kill(children[0], signal.SIGKILL)
    env.say(f"  pool process killed with {claimed} windows claimed, {queued} speech windows queued")
    check(queued >= 3, "the kill did not land mid-batch (the windows were done already)", env, streams[0][2])
    outcomes = [finish(env, bg, session, tracks, times=2) for session, tracks, bg in streams]
    log = _log_since(worker.log_path, offset)
    check(
        "signal 9" in log or "SIGKILL" in log or "WorkerLostError" in log,
        "no worker-lost in the log",
        env,
        streams[0][2],
    )
    return {"claimed_at_kill": claimed, "sessions": outcomes}


SCENARIOS = {
    "net_drop_30s": net_drop_30s,
    "worker_sigkill": worker_sigkill,
    "redis_restart": redis_restart,
    "daphne_restart": daphne_restart,
    "socket_drop": socket_drop,
    "pool_sigkill": pool_sigkill,
    "pool_sigkill_mid_batch": pool_sigkill_mid_batch,
}


# Several web processes (issue 18): not in SCENARIOS, since it needs a stack with two Daphne behind HAProxy
# (Stack(web_processes=2)); tests/capture/test_faults.py runs it on one.


def daphne_killed_behind_proxy(env: Env) -> dict:
    """Two Daphne behind HAProxy; the one holding the session's socket is SIGKILLed mid-sentence on both
    channels and NOT restarted. The client reconnects through the proxy (the same address), which sends
    it to the surviving process; what died acked but unqueued in the killed one is resent from its copy,
    and the session ends exactly as with one process: every seq once, one recap."""
    ch0 = _client_track(env, [(0.5, 0), (6.5, 1), (16.0, 3)], tail_s=4.0)
    ch1 = Track()
    text, marker = THERAPIST[0]
    ch1.pause_until(3.0).say(text, marker, voice=VOICE[1], tmp_dir=env.tmp_dir)
    ch1.pause_until(ch0.seconds())
    tracks = {0: ch0, 1: ch1}
    kill_at = 8.5  # ch 0 mid-sentence: its window is still open in the process that dies
    session = new_session(env)
    bg = BackgroundStream(env, ws_url=env.stack.ws_url(session.id), tracks=tracks, speed=2.0)
    wait_until(
        lambda: bg.generated() >= _seconds_to_frames(kill_at), timeout=60, what="the kill", env=env, bg=bg
    )
    (victim,) = [name for name, n in env.stack.haproxy_sessions().items() if n]
    acked = {ch: max(bg.result.acked.get(ch, {-1}), default=-1) for ch in tracks}
    env.stack.kill_web(victim)
    env.say(f"  {victim} killed at {kill_at} s of audio (acked up to {acked}); not restarted")
    wait_until(lambda: len(bg.result.welcomed_at) > 1, timeout=30, what="the reconnect", env=env, bg=bg)
    survivors = {name: n for name, n in env.stack.haproxy_sessions().items() if name != victim}
    check(any(survivors.values()), f"the socket is not on a surviving process: {survivors}", env, bg)
    outcome = finish(env, bg, session, tracks)
    result = bg.result
    check(result.resent_after_ack > 0, "no acked frame was resent", env, bg)
    check(
        result.resume_points[1][0] <= ch0.spans[1][0] <= acked[0],
        f"the server did not ask for the open sentence again: {result.resume_points}, acked {acked}",
        env,
        bg,
    )
    return {**outcome, "killed": victim, "acked_at_kill": acked, "reconnects": result.reconnects}
