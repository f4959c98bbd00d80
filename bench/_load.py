"""Shared by bench/capacity.py, bench/ingest.py and bench/time_to_recap.py: conversation audio and a
fleet of simulated capture clients.

Conversation audio: a two-channel therapy-like exchange. Turns alternate between the client (channel 0)
and the therapist (channel 1); while one speaks the other channel is silent, as it is on a real call
where the mic and the tab audio are separate. Utterances are real speech from ../shared/audio when it is
there (jfk.flac, both sides of stereo_diarization.wav) and espeak-ng sentences in two voices. Each
simulated session starts at its own random point of its own shuffle, so N sessions do not speak in
lockstep.

The fleet: N protocol clients (bench/protocol_client.py, the same protocol as the browser) in one asyncio loop
in a background thread, each pacing its frames at real time (or --speed). Every frame's send time and
commit time is kept, so lag can be read over time.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from window_cost import ESPEAK_SENTENCES

SAMPLE_RATE = 16000
FRAME_SECONDS = 0.2
ROOT = Path(__file__).resolve().parents[1]
SHARED_AUDIO = ROOT.parent / "shared" / "audio"

# The client's side reuses window_cost.py's sentences; the therapist's lines are its own.
CLIENT_SENTENCES = ESPEAK_SENTENCES[:10]
THERAPIST_SENTENCES = (
    "How did you feel when you noticed that?",
    "Let us practise the grounding exercise again before the next appointment.",
    "What would you say to a friend who made the same mistake?",
    "That sounds like a big step. What made it possible this time?",
    "Could you try leaving the phone outside the bedroom for the next few nights?",
    "I wonder whether that pattern started a long time ago.",
)
SENTENCES = CLIENT_SENTENCES + THERAPIST_SENTENCES


def percentile(values, q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if q < 100 else values[-1]


# Audio ------------------------------------------------------------------------------------------


def _espeak(text: str, voice: str, out: Path) -> np.ndarray:
    from tests.audio import espeak

    return espeak(text, voice=voice, speed=155, work=out.parent)


def utterances() -> dict[int, list[np.ndarray]]:
    """float32 16 kHz utterances per speaking channel (0 client, 1 therapist)."""
    from faster_whisper import decode_audio

    pool: dict[int, list[np.ndarray]] = {0: [], 1: []}
    if (SHARED_AUDIO / "jfk.flac").is_file():
        pool[0].append(decode_audio(str(SHARED_AUDIO / "jfk.flac"), sampling_rate=SAMPLE_RATE))
    if (SHARED_AUDIO / "stereo_diarization.wav").is_file():
        left, right = decode_audio(
            str(SHARED_AUDIO / "stereo_diarization.wav"), sampling_rate=SAMPLE_RATE, split_stereo=True
        )
        pool[0].append(_trim(left))
        pool[1].append(_trim(right))
    if shutil.which("espeak-ng"):
        with tempfile.TemporaryDirectory() as tmp:
            for i, sentence in enumerate(SENTENCES):
                ch = 0 if i < len(CLIENT_SENTENCES) else 1
                voice = "en-us" if ch == 0 else "en-gb+m3"
                pool[ch].append(_espeak(sentence, voice, Path(tmp) / f"{i}.wav"))
    if not pool[0] or not pool[1]:
        raise SystemExit("no speech to stream: install espeak-ng (make test does) or provide ../shared/audio")
    return pool


def _trim(audio: np.ndarray, threshold: float = 0.01) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) > threshold)
    return audio[loud[0] : loud[-1] + 1] if len(loud) else audio


def conversation(duration_s: float, *, seed: int, pool, channels: int = 2) -> list[bytes]:
    """PCM16 tracks (one per channel) of an alternating conversation `duration_s` long. With one
    channel, only the client's side: turns separated by the same pauses."""
    rng = random.Random(seed)
    n = int(duration_s * SAMPLE_RATE)
    tracks = [np.zeros(n, dtype=np.float32) for _ in range(channels)]
    t = int(rng.uniform(0.0, 3.0) * SAMPLE_RATE)
    speaker = rng.randrange(channels)
    while t < n:
        # A turn: one to three utterances with short (in-window) pauses between them.
        for k in range(rng.choice((1, 1, 2, 3))):
            if t >= n:
                break
            clip = rng.choice(pool[speaker if channels == 2 else rng.randrange(2)])
            end = min(n, t + len(clip))
            tracks[speaker][t:end] = clip[: end - t]
            t = end + int(rng.uniform(0.3, 0.9) * SAMPLE_RATE) if k else end
        # The hand-over pause; sometimes a long, reflective one.
        t += int((rng.uniform(0.6, 1.6) if rng.random() < 0.8 else rng.uniform(3.0, 6.0)) * SAMPLE_RATE)
        speaker = (speaker + 1) % channels
    return [(np.clip(tr, -1, 1) * 32767).round().astype("<i2").tobytes() for tr in tracks]


def speech_seconds(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype="<i2")
    frames = samples[: len(samples) // 320 * 320].reshape(-1, 320)
    return float((np.abs(frames).max(axis=1) > 300).sum() * 0.02)


# Clients ----------------------------------------------------------------------------------------


def make_client_class():
    from bench.protocol_client import CaptureStreamer

    class TimedStreamer(CaptureStreamer):
        """Keeps (send time, commit time) per (channel, seq) instead of only the lags."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.first_sent: dict[tuple[int, int], float] = {}
            self.committed_at: dict[tuple[int, int], float] = {}

        async def _pump(self):
            before = dict(self.next)
            await super()._pump()
            now = time.monotonic()
            for ch, upto in self.next.items():
                for seq in range(before.get(ch, 0), upto):
                    self.first_sent.setdefault((ch, seq), now)

        def _apply_commit(self, commit: dict, now: float):
            for ch_str, mark in commit.items():
                ch = int(ch_str)
                if ch in self.kept:
                    for seq in range(self.result.commit.get(ch, -1) + 1, mark + 1):
                        self.committed_at.setdefault((ch, seq), now)
            super()._apply_commit(commit, now)

    return TimedStreamer


@dataclass
class Session:
    index: int
    session_id: str
    tracks: list[bytes]
    start_delay: float
    streamer: object = None
    task: asyncio.Task | None = None
    recorded_at: float | None = None
    error: BaseException | None = None
    frames: dict[int, int] = field(default_factory=dict)  # channel -> frames in the track


class Fleet:
    """N sessions streaming concurrently from one event loop in a background thread.

    start() begins recording; each session records its whole track then waits (connected) until
    stop_all() sends Stop to every session, staggered by `stop_gap_s`."""

    def __init__(self, *, stack, cookie: str, sessions: list[Session], speed: float = 1.0):
        from django.conf import settings

        self.stack = stack
        self.cookie = cookie
        self.cookie_name = settings.SESSION_COOKIE_NAME
        self.sessions = sessions
        self.speed = speed
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.t0: float | None = None

    def start(self) -> None:
        self.thread.start()
        self.t0 = time.monotonic()
        for s in self.sessions:
            asyncio.run_coroutine_threadsafe(self._run(s), self.loop)

    async def _run(self, s: Session) -> None:
        await asyncio.sleep(s.start_delay)
        try:
            s.streamer = make_client_class()(
                ws_url=self.stack.ws_url(s.session_id),
                cookie=self.cookie,
                origin=self.stack.web_url,
                cookie_name=self.cookie_name,
            )
            pcm = dict(enumerate(s.tracks))
            s.streamer.expect_channels(pcm)
            s.frames = {ch: -(-len(p) // 6400) for ch, p in pcm.items()}
            s.task = asyncio.ensure_future(s.streamer.connection_loop(timeout=6 * 3600))
            await asyncio.wait_for(s.streamer.connected.wait(), 60)
            await s.streamer.record(pcm, speed=self.speed, stop=False)
            s.recorded_at = time.monotonic()
            while not s.task.done() and s.streamer.stopping is False:
                await s.streamer._pump()
                await asyncio.sleep(0.1)
            while not s.task.done():
                await s.streamer._pump()
                await asyncio.sleep(0.05)
            await s.task
        except BaseException as exc:  # reported by the caller with the stack's log tails
            s.error = exc

    def stop(self, s: Session) -> None:
        """Press Stop: the session's own loop sends what is left, then "stop" (stop_sent_at). Not by
        pumping here: that waits for the session's send lock, which a long session's paced tail holds
        for longer than the 10 s this waited (time_to_recap failed so at 10 minutes and more)."""

        async def _stop():
            s.streamer.stopping = True

        asyncio.run_coroutine_threadsafe(_stop(), self.loop).result(10)

    def all_recorded(self) -> bool:
        return all(s.recorded_at is not None for s in self.sessions)

    def errors(self) -> list[str]:
        return [f"session {s.index}: {s.error!r}" for s in self.sessions if s.error is not None]

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def wait_for(predicate, *, timeout: float, what: str, stack, fleet: Fleet | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if fleet is not None and fleet.errors():
            break
        stack.check_alive()
        time.sleep(0.1)
    errors = fleet.errors() if fleet else []
    raise RuntimeError(f"timed out waiting for {what} ({timeout:.0f} s); {errors}\n{stack.log_tails()}")


def new_sessions(*, user, count: int) -> list[str]:
    from capture import services
    from capture.consent.services import consent_record_save

    # BENCH_IN_PERSON=1: consented as in person, so the microphone channel also goes through speaker
    # segmentation (capture/speakers.py) in the transcription task: its cost at load, measured.
    consent = {"therapist_agreed": True}
    if os.environ.get("BENCH_IN_PERSON") == "1":
        consent["session_type"] = "in_person"
    ids = []
    for _ in range(count):
        session = services.capture_session_create(user=user)
        consent_record_save(session=session, consent=consent)
        ids.append(str(session.id))
    return ids


def bench_user_cookie() -> tuple[object, str]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.create_user(username=f"bench-{time.time_ns()}")
    client = Client()
    client.force_login(user)
    return user, client.cookies[settings.SESSION_COOKIE_NAME].value


# Process sampling -------------------------------------------------------------------------------


def tree_pids(root_pid: int) -> list[int]:
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                raw = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(raw[raw.rindex(")") + 2 :].split()[1])
    out, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += [p for p, pp in parents.items() if pp == pid]
    return out


def tree_rss_mb(root_pid: int) -> float:
    total = 0
    for pid in tree_pids(root_pid):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


class Sampler:
    """Samples CPU seconds and RSS of the stack's services once a second in a thread."""

    def __init__(self, stack, names=("daphne", "worker", "redis")):
        self.stack = stack
        self.names = names
        self.samples: list[tuple[float, dict[str, float], dict[str, float]]] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            cpu = self.stack.cpu_seconds()
            rss = {n: tree_rss_mb(self.stack.services[n].pid) for n in self.names}
            self.samples.append((time.monotonic(), cpu, rss))
            self._stop.wait(1.0)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join(5)

    def cpu_share(self, name: str, t_from: float, t_to: float) -> float:
        """Average CPU use of `name` between two times, as a share of the whole machine (all cores)."""
        inside = [s for s in self.samples if t_from <= s[0] <= t_to]
        if len(inside) < 2:
            return float("nan")
        (ta, ca, _), (tb, cb, _) = inside[0], inside[-1]
        return (cb[name] - ca[name]) / (tb - ta) / os.cpu_count()

    def rss_max(self, name: str) -> float:
        return max((s[2][name] for s in self.samples), default=float("nan"))
