"""End to end: stream an audio file through the real stack at real time and measure what it costs.

Starts an isolated stack (bench/_stack.py: its own redis-server, a fresh SQLite file, Daphne, one
Celery worker), creates a user and a consented session through Django, and streams the file over the
real WebSocket protocol (bench/protocol_client.py) at --speed x real time: the file on channel 0, or with
--channels 2 a stereo file's left on 0 and right on 1. It then waits until every frame of the file is
committed, reads the (encrypted, short-lived) transcript segments through the ORM, sends Stop and waits
for the recap. Measured:

- cpu_stream_s: user+sys CPU seconds of the Daphne process and the Celery worker's whole process tree
  (/proc/PID/stat, pool child included), from just before the socket opens to the recap being saved,
  minus their idle rate (measured over --idle-s before streaming) times the same wall time. Redis is
  shown apart and not counted. The worker's model is already loaded: a throwaway warm-up session
  (the file's first 3 s) runs first.
- cpu_offline_s: time.process_time() of plain faster-whisper on the same file in this process (same
  model and options as capture/transcription.py: beam_size=WHISPER_BEAM_SIZE, temperature=0.0,
  condition_on_previous_text=False, vad_filter=False, language="en", int8, cpu_threads=
  WHISPER_CPU_THREADS), after a warm-up call on 1 s of silence so model load is not counted; the median
  of 3 runs. Offline faster-whisper encodes Whisper's whole 30 s per chunk, as it always does; the
  worker encodes each window over its own length (capture/transcription.py WindowLengthPipeline). No
  hallucination filter (the stream path drops segments capture/transcription.py flags).
  cpu_ratio = cpu_stream_s / cpu_offline_s.
- cpu_offline_words_s: the same offline call with word_timestamps=True, which the worker also uses
  (word probabilities mark words the recap must not quote; in-person sessions split pieces at words):
  the offline run that computes what the stream computes. cpu_ratio_words = stream / that.
- commit lag: for each frame of the file, seconds from its send to the commit covering it (p50/p95/max,
  both channels pooled). It includes the VAD's packing delay, which is by design: a window closes
  after a ~2 s pause (or at 25 s), and silence is committed in 5 s silence windows.
- stop->recap: from Stop sent to the "done" frame.
- WER (word-level Levenshtein, text lowercased, punctuation stripped) of the streamed and of the
  offline transcript against --reference; with 2 channels, per channel, and pooled (sum of edits over
  sum of reference words) in the JSON line.

--tail-s of silence (default 8 s) is appended to the streamed audio so that the last words' window
closes and the commit passes the end of the file before Stop (the server keeps the last 3 frames
unowned until Stop, so the commit never reaches the very last frame while recording).

Usage:
    .venv/bin/python bench/stream.py --audio ../shared/audio/jfk.flac --reference "And so, my ..."
    .venv/bin/python bench/stream.py --audio ../shared/audio/stereo_diarization.wav --channels 2 \\
        --reference "He began ..." --reference "The horizon seems extremely distant."
    .venv/bin/python bench/stream.py --make-long /tmp/long     # writes long.wav + long.txt (~2 min)
Prints a table, then ONE JSON line. Transcripts are printed only with --show-text.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _stack import Stack, StackError  # noqa: E402

SAMPLE_RATE = 16000
FRAME_SAMPLES = 3200
MAX_RATE_X = 2.5  # settings.CAPTURE["MAX_RATE_X"]: faster sustained sending is closed with 4429
JFK_REFERENCE = (
    "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for "
    "your country."
)


# Audio ------------------------------------------------------------------------------------------


def load_audio(path: Path, channels: int) -> list[np.ndarray]:
    """float32 16 kHz tracks: [mono] (a stereo file is downmixed) or [left, right]."""
    import av
    from faster_whisper import decode_audio

    with av.open(str(path)) as container:
        file_channels = container.streams.audio[0].channels
    if channels == 2:
        if file_channels != 2:
            raise SystemExit(f"--channels 2 needs a stereo file; {path.name} has {file_channels} channel(s)")
        left, right = decode_audio(str(path), sampling_rate=SAMPLE_RATE, split_stereo=True)
        return [left, right]
    return [decode_audio(str(path), sampling_rate=SAMPLE_RATE)]


def to_pcm16(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1.0, 1.0) * 32767).round().astype("<i2").tobytes()


def frame_count(samples: int) -> int:
    return -(-samples // FRAME_SAMPLES)


def make_long(out_dir: Path, *, jfk: Path, target_s: float = 120.0) -> None:
    """~2 minutes: jfk.flac alternating with distinct espeak-ng sentences, pauses short and long."""
    from faster_whisper import decode_audio
    from window_cost import ESPEAK_SENTENCES

    out_dir.mkdir(parents=True, exist_ok=True)
    speech = decode_audio(str(jfk), sampling_rate=SAMPLE_RATE)
    pause = {s: np.zeros(int(s * SAMPLE_RATE), dtype=np.float32) for s in (0.7, 1.2, 3.0)}
    parts, texts, total, i = [], [], 0.0, 0
    with tempfile.TemporaryDirectory() as tmp:
        while total < target_s:
            sentence = ESPEAK_SENTENCES[i % len(ESPEAK_SENTENCES)]
            wav = Path(tmp) / f"s{i}.wav"
            subprocess.run(
                ["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), sentence], check=True, timeout=60
            )
            clip = decode_audio(str(wav), sampling_rate=SAMPLE_RATE)
            # Pauses under 2 s stay inside one VAD window; 3 s closes it.
            block = [speech, pause[1.2], clip, pause[3.0]] if i % 2 == 0 else [clip, pause[0.7]]
            block_texts = [JFK_REFERENCE, sentence] if i % 2 == 0 else [sentence]
            parts += block
            texts += block_texts
            total += sum(len(p) for p in block) / SAMPLE_RATE
            i += 1
    audio = np.concatenate(parts)
    with wave.open(str(out_dir / "long.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(to_pcm16(audio))
    (out_dir / "long.txt").write_text(" ".join(texts) + "\n")
    print(f"wrote {out_dir / 'long.wav'} ({len(audio) / SAMPLE_RATE:.1f} s) and {out_dir / 'long.txt'}")


# A short session in two voices, about work, sleep and family, written for this bench (not from any
# data set): client on the left channel, therapist on the right, as the browser sends them.
DIALOGUE: tuple[tuple[str, str], ...] = (
    ("therapist", "Hello Maya. How have the last two weeks been?"),
    (
        "client",
        "Pretty rough. I have been working late almost every night and I am sleeping maybe five hours.",
    ),
    ("therapist", "Five hours. What keeps you at work so late?"),
    ("client", "My team lead keeps adding tasks and I never say no. Then I lie awake worrying about them."),
    ("therapist", "It sounds like the work follows you home and into bed."),
    ("client", "Yes. And on Sundays I visit my parents, and my father asks why I look so tired."),
    ("therapist", "What do you tell him?"),
    ("client", "I tell him I am fine. I just realised I say that to everyone, even when I am exhausted."),
    ("therapist", "That is an important thing to notice."),
    ("therapist", "This week, I would like you to stop checking work email after eight in the evening."),
    ("client", "Okay. I can do that. I will turn off the notifications on my phone tonight."),
    ("therapist", "And on Sunday, could you tell your father one true thing about how work is going?"),
    ("client", "That feels scary, but yes, I will try to tell him on Sunday."),
    ("client", "Can we talk about my team lead next time? I do not know how to say no to him."),
    ("therapist", "Yes. Let us come back to saying no at work next time."),
)
DIALOGUE_VOICES = {"client": ("en-gb+f3", "155"), "therapist": ("en-us+m3", "145")}


def make_dialogue(out_dir: Path) -> None:
    from faster_whisper import decode_audio

    out_dir.mkdir(parents=True, exist_ok=True)
    gap = np.zeros(int(1.2 * SAMPLE_RATE), dtype=np.float32)
    left: list[np.ndarray] = []
    right: list[np.ndarray] = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (speaker, line) in enumerate(DIALOGUE):
            voice, rate = DIALOGUE_VOICES[speaker]
            wav = Path(tmp) / f"t{i}.wav"
            subprocess.run(
                ["espeak-ng", "-v", voice, "-s", rate, "-w", str(wav), line], check=True, timeout=60
            )
            clip = decode_audio(str(wav), sampling_rate=SAMPLE_RATE)
            quiet = np.zeros_like(clip)
            left += [clip if speaker == "client" else quiet, gap]
            right += [clip if speaker == "therapist" else quiet, gap]
    stereo = np.stack([np.concatenate(left), np.concatenate(right)], axis=1)
    with wave.open(str(out_dir / "dialogue.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(to_pcm16(stereo.reshape(-1)))
    (out_dir / "dialogue.txt").write_text("\n".join(f"{s}: {t}" for s, t in DIALOGUE) + "\n")
    print(
        f"wrote {out_dir / 'dialogue.wav'} ({stereo.shape[0] / SAMPLE_RATE:.1f} s)"
        f" and {out_dir / 'dialogue.txt'}"
    )


# WER --------------------------------------------------------------------------------------------


def normalise(text: str) -> list[str]:
    text = re.sub(r"[-\u2010-\u2015]", " ", text.lower())
    return re.sub(r"[^\w\s]", "", text).split()


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def wer(ref: str, hyp: str) -> tuple[int, int]:
    """(edits, reference words)."""
    ref_words = normalise(ref)
    return edit_distance(ref_words, normalise(hyp)), len(ref_words)


def read_reference(value: str) -> str:
    path = Path(value)
    if len(value) < 4096 and path.is_file():
        return path.read_text()
    return value


# Offline ----------------------------------------------------------------------------------------


def offline_transcribe(
    tracks: list[np.ndarray], *, word_timestamps: bool = False, runs: int = 3
) -> tuple[float, list[str]]:
    """CPU seconds (this process, all threads) and text of plain faster-whisper, per track: the median
    of `runs` runs (on this box one run of the long file ranged 4.2-5.8 CPU-s within an hour, which
    swung the ratio more than the change being measured)."""
    from django.conf import settings
    from faster_whisper import WhisperModel

    from capture.transcription import model_path

    model = WhisperModel(
        model_path(),
        device=settings.WHISPER_DEVICE,
        compute_type=settings.WHISPER_COMPUTE_TYPE,
        cpu_threads=settings.WHISPER_CPU_THREADS,
        local_files_only=True,
    )
    options = {
        "language": "en",
        "beam_size": settings.WHISPER_BEAM_SIZE,
        "condition_on_previous_text": False,
        "temperature": 0.0,
        "vad_filter": False,
        "word_timestamps": word_timestamps,
    }
    list(model.transcribe(np.zeros(SAMPLE_RATE, dtype=np.float32), **options)[0])  # warm-up
    cpus = []
    for _ in range(runs):
        cpu, texts = 0.0, []
        for track in tracks:
            start = time.process_time()
            segments, _info = model.transcribe(track, **options)
            text = " ".join(segment.text.strip() for segment in segments)  # the generator does the work
            cpu += time.process_time() - start
            texts.append(text)
        cpus.append(cpu)
    del model
    return statistics.median(cpus), texts


# Streaming --------------------------------------------------------------------------------------


def make_streamer_class():
    from bench.protocol_client import CaptureStreamer

    class MeasuringStreamer(CaptureStreamer):
        """Keeps each frame's commit lag by (channel, seq), so the appended silence can be left out."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.lag_by_frame: dict[tuple[int, int], float] = {}

        def _apply_commit(self, commit: dict, now: float):
            for ch_str, mark in commit.items():
                ch = int(ch_str)
                if ch in self.kept:
                    for seq in range(self.result.commit.get(ch, -1) + 1, mark + 1):
                        sent = self.sent_at.get((ch, seq))
                        if sent is not None:
                            self.lag_by_frame[(ch, seq)] = now - sent
            super()._apply_commit(commit, now)

    return MeasuringStreamer


def background_session(*, stack: Stack, cookie: str, session_id, pcm_by_channel: dict, speed: float):
    """The protocol client (measuring lags) in its own thread and event loop; the main thread reads the
    database and asks for Stop (bench.protocol_client.ThreadedSession)."""
    from django.conf import settings

    from bench.protocol_client import ThreadedSession

    streamer = make_streamer_class()(
        ws_url=stack.ws_url(session_id),
        cookie=cookie,
        origin=stack.web_url,
        cookie_name=settings.SESSION_COOKIE_NAME,
    )
    seconds = max(len(p) for p in pcm_by_channel.values()) / (2 * SAMPLE_RATE)
    return ThreadedSession(
        streamer, pcm_by_channel, speed=speed, timeout=seconds / speed + 900, connect_timeout=30
    )


def wait_until(predicate, *, timeout: float, what: str, stack: Stack, session) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if session.error is not None or not session.thread.is_alive() and not predicate():
            break
        stack.check_alive()
        time.sleep(0.05)
    result = session.result
    raise StackError(
        f"timed out or failed waiting for {what} after {timeout:.0f} s "
        f"(client error={session.error!r}, closed={result.closed_code}, errors={result.errors[-3:]}, "
        f"commit={result.commit}, reconnects={result.reconnects})\n{stack.log_tails()}"
    )


def new_session(user):
    from capture import services
    from capture.consent.records import consent_record_build
    from capture.consent.services import consent_record_save

    session = services.capture_session_create(user=user)
    record = consent_record_build(session_type="in_person", client="US-NY", therapist_agreed=True)
    consent_record_save(session=session, consent=record)
    return session


def stream_once(*, stack, user, cookie, tracks_pcm, speed, tail_s, measure_cpu=None) -> dict:
    """Stream one session; return lags, segments and timing. measure_cpu(phase) snapshots CPU."""
    from capture.models import CaptureWindow, TranscriptSegment

    session = new_session(user)
    tail = bytes(int(tail_s * SAMPLE_RATE) * 2)
    pcm_by_channel = {ch: pcm + tail for ch, pcm in enumerate(tracks_pcm)}
    file_last = {ch: frame_count(len(pcm) // 2) - 1 for ch, pcm in enumerate(tracks_pcm)}
    total_s = max(len(p) for p in pcm_by_channel.values()) / (2 * SAMPLE_RATE)

    cpu0 = measure_cpu() if measure_cpu else None
    t0 = time.monotonic()
    bg = background_session(
        stack=stack, cookie=cookie, session_id=session.id, pcm_by_channel=pcm_by_channel, speed=speed
    )
    wait_until(bg.recorded.is_set, timeout=total_s / speed + 60, what="recording", stack=stack, session=bg)
    wait_until(
        lambda: all(bg.result.commit.get(ch, -1) >= last for ch, last in file_last.items()),
        timeout=300,
        what="the commit to pass the end of the file",
        stack=stack,
        session=bg,
    )
    # Read the transient transcript before Stop: the recap deletes it. Kept in memory only, for
    # --compare-engine (never written anywhere).
    segments = [
        (s.speaker, s.start, s.end, s.text)
        for s in TranscriptSegment.objects.filter(session=session).order_by("start", "channel")
    ]
    texts = [
        " ".join(
            s.text for s in TranscriptSegment.objects.filter(session=session, channel=ch).order_by("start")
        )
        for ch in range(len(tracks_pcm))
    ]
    windows = list(
        CaptureWindow.objects.filter(session=session).values_list("speech_s", "channel", "seq_last")
    )
    bg.request_stop()
    wait_until(
        lambda: bg.result.recap_url is not None, timeout=300, what="the recap", stack=stack, session=bg
    )
    cpu1 = measure_cpu() if measure_cpu else None
    wall = time.monotonic() - t0
    bg.thread.join(30)
    result = bg.result
    lags = sorted(lag for (ch, seq), lag in bg.streamer.lag_by_frame.items() if seq <= file_last.get(ch, -1))
    return {
        "session": session,
        "texts": texts,
        "segments": segments,
        "speech_windows": sum(1 for s, _ch, _last in windows if s > 0),
        "silence_windows": sum(1 for s, _ch, _last in windows if s == 0),
        # The last frame of each speech window: its lag is the pause that closes the window plus
        # queueing and transcription, without the time spent packing the window.
        "window_end_lags": sorted(
            bg.streamer.lag_by_frame[(ch, last)]
            for s, ch, last in windows
            if s > 0 and (ch, last) in bg.streamer.lag_by_frame
        ),
        "lags": lags,
        "ack_lags": sorted(result.ack_lags),
        "stop_to_recap_s": result.done_at - result.stop_sent_at,
        "reconnects": result.reconnects,
        "errors": result.errors,
        "cpu0": cpu0,
        "cpu1": cpu1,
        "wall_s": wall,
    }


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if q < 100 else max(values)


# Main -------------------------------------------------------------------------------------------


# The worker's log line when it decodes windows a second time (capture/transcription.py
# transcribe_many); bench/capacity.py and bench/encoder_length.py count it too.
DECODED_AGAIN = re.compile(r"decoding (\d+) of \d+ windows again over 30 s")


def decoded_again_count(log_path: Path, offset: int) -> int:
    """Windows the worker decoded a second time over Whisper's 30 s (capture/transcription.py)."""
    with open(log_path, "rb") as f:
        f.seek(offset)
        return sum(int(n) for n in DECODED_AGAIN.findall(f.read().decode(errors="replace")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", type=Path)
    parser.add_argument(
        "--reference",
        action="append",
        default=[],
        help="reference text or a path to a text file; with --channels 2 give it twice (left, right)",
    )
    parser.add_argument("--speed", type=float, default=1.0, help="x real time (the server allows 2.5)")
    parser.add_argument("--channels", type=int, choices=(1, 2), default=1)
    parser.add_argument("--tail-s", type=float, default=8.0, help="silence appended after the file")
    # 30 s, not 5: /proc counts CPU in 10 ms ticks, and one tick more or less over 5 s of idle became
    # 0.27 CPU-s once scaled to a 133 s stream (the worker's idle read 0 in one run and 0.53 in the
    # next, which swung cpu_ratio by 0.15 on the long file).
    parser.add_argument("--idle-s", type=float, default=30.0, help="idle CPU baseline measurement")
    parser.add_argument("--show-text", action="store_true", help="print the transcripts")
    parser.add_argument(
        "--show-recap", action="store_true", help="print the recap the stack saved (Markdown)"
    )
    parser.add_argument(
        "--compare-engine",
        metavar="ENGINE",
        help="with --show-recap: also the recap another engine makes of the same segments (old, rev:REV)",
    )
    parser.add_argument(
        "--make-dialogue",
        type=Path,
        metavar="DIR",
        help="write DIR/dialogue.wav (stereo, two espeak-ng voices: client left, therapist right), then exit",
    )
    parser.add_argument("--keep", action="store_true", help="keep the stack's temp dir (logs, database)")
    parser.add_argument(
        "--make-long",
        type=Path,
        metavar="DIR",
        help="write DIR/long.wav (~2 min: jfk.flac + espeak-ng sentences) and DIR/long.txt, then exit",
    )
    parser.add_argument(
        "--jfk", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "audio" / "jfk.flac"
    )
    args = parser.parse_args()

    if args.make_long:
        make_long(args.make_long, jfk=args.jfk)
        return
    if args.make_dialogue:
        make_dialogue(args.make_dialogue)
        return
    if args.audio is None:
        parser.error("--audio is required")
    if not args.audio.is_file():
        raise SystemExit(f"no such file: {args.audio}")
    if args.reference and len(args.reference) != args.channels:
        parser.error(f"give --reference {args.channels} time(s), one per channel, or not at all")
    if args.speed <= 0:
        parser.error("--speed must be > 0")
    if args.speed > MAX_RATE_X:
        print(
            f"warning: --speed {args.speed} is over the server's {MAX_RATE_X}x limit (4429 after the burst)"
        )
    references = [read_reference(r) for r in args.reference]

    tracks = load_audio(args.audio, args.channels)
    duration_s = max(len(t) for t in tracks) / SAMPLE_RATE
    tracks_pcm = [to_pcm16(t) for t in tracks]

    # INFO, as `make run` logs: the worker says when it decodes a window a second time over 30 s.
    stack = Stack(keep=args.keep, worker_loglevel="INFO")
    stack.setup_django()
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    # Offline first, before the stack runs, so nothing else of ours competes for the CPU.
    cpu_offline_s, offline_texts = offline_transcribe(tracks)
    cpu_offline_words_s, _texts = offline_transcribe(tracks, word_timestamps=True)

    with stack:
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django.test import Client

        user = get_user_model().objects.create_user(username=f"bench-{time.time_ns()}")
        client = Client()
        client.force_login(user)
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value

        # Warm-up session: loads the model in the worker's pool child and warms every code path.
        warm = [pcm[: 3 * SAMPLE_RATE * 2] for pcm in tracks_pcm]
        stream_once(stack=stack, user=user, cookie=cookie, tracks_pcm=warm, speed=2.0, tail_s=8.0)

        counted = ("daphne", "worker")
        idle0, t_idle = stack.cpu_seconds(), time.monotonic()
        time.sleep(args.idle_s)
        idle1, idle_wall = stack.cpu_seconds(), time.monotonic() - t_idle
        idle_rate = {name: (idle1[name] - idle0[name]) / idle_wall for name in idle1}

        worker_log = stack.dir / "worker.log"
        log_offset = worker_log.stat().st_size
        run = stream_once(
            stack=stack,
            user=user,
            cookie=cookie,
            tracks_pcm=tracks_pcm,
            speed=args.speed,
            tail_s=args.tail_s,
            measure_cpu=stack.cpu_seconds,
        )
        decoded_again = decoded_again_count(worker_log, log_offset)
        recap_markdown = ""
        if args.show_recap:
            from recaps.engines.base import RecapResult
            from recaps.models import Recap

            saved = Recap.objects.get(session=run["session"])
            recap_markdown = RecapResult.from_dict(saved.data).to_markdown(title=saved.label)
            if args.compare_engine:
                # The same segments through another engine (e.g. the one before schema 2), in memory.
                from recap_quality import load_engine

                other = load_engine(args.compare_engine)
                built = other.engine.build([other.package.Segment(*s) for s in run["segments"]])
                recap_markdown = (
                    f"{built.to_markdown(title=f'{saved.label} ({other.label})')}\n{recap_markdown}"
                )

    used = {name: run["cpu1"][name] - run["cpu0"][name] for name in run["cpu1"]}
    idle = {name: idle_rate[name] * run["wall_s"] for name in used}
    cpu_stream_s = sum(used[n] - idle[n] for n in counted)
    cpu_ratio = cpu_stream_s / cpu_offline_s if cpu_offline_s > 0 else float("nan")
    cpu_ratio_words = cpu_stream_s / cpu_offline_words_s if cpu_offline_words_s > 0 else float("nan")

    wer_rows = []
    for ch, ref in enumerate(references):
        stream_edits, n = wer(ref, run["texts"][ch])
        offline_edits, _ = wer(ref, offline_texts[ch])
        wer_rows.append((ch, n, stream_edits, offline_edits))
    total_ref = sum(r[1] for r in wer_rows)
    wer_stream = sum(r[2] for r in wer_rows) / total_ref if total_ref else None
    wer_offline = sum(r[3] for r in wer_rows) / total_ref if total_ref else None

    lags, end_lags = run["lags"], run["window_end_lags"]
    summary = {
        "audio": args.audio.name,
        "channels": args.channels,
        "duration_s": round(duration_s, 2),
        "speed": args.speed,
        "cpu_stream_s": round(cpu_stream_s, 2),
        "cpu_offline_s": round(cpu_offline_s, 2),
        "cpu_ratio": round(cpu_ratio, 2),
        "cpu_offline_words_s": round(cpu_offline_words_s, 2),
        "cpu_ratio_words": round(cpu_ratio_words, 2),
        "lag_p50_s": round(percentile(lags, 50), 2),
        "lag_p95_s": round(percentile(lags, 95), 2),
        "lag_max_s": round(max(lags), 2) if lags else None,
        "window_end_lag_p50_s": round(percentile(end_lags, 50), 2),
        "stop_to_recap_s": round(run["stop_to_recap_s"], 2),
        "wer_stream": None if wer_stream is None else round(wer_stream, 3),
        "wer_offline": None if wer_offline is None else round(wer_offline, 3),
        "windows": run["speech_windows"],
        "windows_decoded_again": decoded_again,
    }

    rows = [
        (
            "file",
            args.audio.name,
            f"{args.channels} channel(s); +{args.tail_s:g} s silence streamed after it",
        ),
        ("duration", f"{duration_s:.1f} s", f"streamed at {args.speed:g}x real time"),
        (
            "cpu_stream_s",
            f"{cpu_stream_s:.2f}",
            f"daphne {used['daphne'] - idle['daphne']:.2f} + worker {used['worker'] - idle['worker']:.2f}"
            f" (raw {used['daphne']:.2f} + {used['worker']:.2f}, minus idle over {run['wall_s']:.1f} s)",
        ),
        ("  redis (not counted)", f"{used['redis'] - idle['redis']:.2f}", f"raw {used['redis']:.2f}"),
        ("cpu_offline_s", f"{cpu_offline_s:.2f}", "plain faster-whisper, model load + warm-up excluded"),
        ("cpu_ratio", f"{cpu_ratio:.2f}", "stream / offline"),
        (
            "cpu_offline_words_s",
            f"{cpu_offline_words_s:.2f}",
            "the same with word_timestamps=True, as the worker decodes",
        ),
        ("cpu_ratio_words", f"{cpu_ratio_words:.2f}", "stream / offline with word timestamps"),
        (
            "commit lag p50/p95/max",
            f"{summary['lag_p50_s']:.2f} / {summary['lag_p95_s']:.2f} / {summary['lag_max_s']:.2f} s",
            f"{len(lags)} frames of the file; includes the VAD pause (2 s) / silence (5 s) packing",
        ),
        (
            "window-end lag p50/max",
            f"{percentile(end_lags, 50):.2f} / {max(end_lags, default=float('nan')):.2f} s",
            "last frame of each speech window: 2 s closing pause + queue + transcription",
        ),
        (
            "ack lag p50/max",
            f"{percentile(run['ack_lags'], 50) * 1000:.1f} / {max(run['ack_lags']) * 1000:.1f} ms",
            "",
        ),
        ("stop->recap", f"{run['stop_to_recap_s']:.2f} s", "Stop sent to the done frame"),
        (
            "windows",
            str(run["speech_windows"]),
            f"speech windows (model calls); {run['silence_windows']} silence",
        ),
        (
            "decoded again",
            str(decoded_again),
            "windows decoded a second time over 30 s (a loop or skipped speech on the shorter input)",
        ),
        ("reconnects / errors", f"{run['reconnects']} / {len(run['errors'])}", ""),
    ]
    for ch, n, stream_edits, offline_edits in wer_rows:
        label = f"WER ch{ch} stream/offline" if len(wer_rows) > 1 else "WER stream/offline"
        rows.append((label, f"{stream_edits / n:.3f} / {offline_edits / n:.3f}", f"{n} reference words"))
    if len(wer_rows) > 1:
        rows.append(
            (
                "WER pooled stream/offline",
                f"{wer_stream:.3f} / {wer_offline:.3f}",
                "sum of edits / sum of words",
            )
        )
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    print(
        f"stack: Daphne + 1 Celery worker (concurrency 1), model {Path(settings.WHISPER_MODEL).name}, "
        f"{settings.WHISPER_COMPUTE_TYPE}, cpu_threads={settings.WHISPER_CPU_THREADS}, "
        f"beam_size={settings.WHISPER_BEAM_SIZE}"
    )
    print(f"{'metric':<{width}}  {'value':>{value_width}}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>{value_width}}  {note}".rstrip())
    if args.show_text:
        for ch in range(args.channels):
            print(f"stream  ch{ch}: {run['texts'][ch]}")
            print(f"offline ch{ch}: {offline_texts[ch]}")
    if recap_markdown:
        print("\n" + recap_markdown)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
