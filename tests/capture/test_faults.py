"""Faults on the real stack: every sequence number must end up transcribed exactly once, none missing.

The windows a session queued are the proof: they must tile seq 0..last with no gap and no overlap,
each done, and each window's segments stored once."""

import os
import re
import signal
import time
from pathlib import Path

import pytest

from capture.models import CaptureWindow
from recaps.models import Recap, TranscriptSegment
from tests.audio import espeak_pcm, silence
from tests.capture.test_pipeline_integration import BackgroundCapture, _new_session

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SENTENCES = [
    "The first thing I noticed this week was how tired I felt in the mornings.",
    "Then on Thursday I finally spoke to my sister about the holidays.",
    "She listened, and I realised I had been dreading that conversation for months.",
]


def _speech(tmp_path, gap_s=3.0) -> bytes:
    pcm = b""
    for sentence in SENTENCES:
        pcm += espeak_pcm(sentence, tmp_dir=tmp_path) + silence(gap_s)
    return pcm


def _last_seq(pcm: bytes) -> int:
    return -(-len(pcm) // 6400) - 1


def _wait_committed(capture, last: int, timeout=150):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if capture.streamer.result.commit.get(0, -1) >= last:
            return
        time.sleep(0.2)
    raise AssertionError(f"commit stuck at {capture.streamer.result.commit} (want {last})")


def _assert_exactly_once(session, *, spoken_times: int = 1):
    windows = list(CaptureWindow.objects.filter(session=session, channel=0).order_by("seq_first"))
    assert windows, "no windows"
    assert windows[0].seq_first == 0
    for before, after in zip(windows, windows[1:], strict=False):
        assert after.seq_first == before.seq_last + 1, "gap or overlap between windows"
    assert all(w.status == CaptureWindow.Status.DONE for w in windows)
    # Segments: one set per window (the (window, index) constraint), and no sentence twice.
    text = " ".join(s.text for s in TranscriptSegment.objects.filter(session=session)).lower()
    for marker in ("morning", "sister", "thursday"):
        assert len(re.findall(marker, text)) == spoken_times, (marker, text)
    return windows


def test_socket_dropped_mid_stream_resends_and_nothing_is_doubled(
    asgi_server, celery_worker, user, clean_redis, tmp_path
):
    pcm = _speech(tmp_path)
    session = _new_session(user)
    capture = BackgroundCapture(asgi_server, user, session, {0: pcm}, speed=3)
    # Drop the connection abruptly a few seconds in, while speech is still inside an open window.
    capture.streamer.drop_next_connection_after = time.monotonic() + 4.0
    _wait_committed(capture, _last_seq(pcm) - 25)  # all but the trailing, not yet closed silence
    windows = _assert_exactly_once(session)
    result = capture.stop()
    assert result.reconnects >= 1, "the drop did not happen"
    assert result.recap_url
    assert windows[-1].seq_last <= _last_seq(pcm)
    assert Recap.objects.filter(session=session).count() == 1
    assert not TranscriptSegment.objects.filter(session=session).exists()


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


def test_worker_process_killed_mid_window_is_transcribed_after_restart_exactly_once(
    asgi_server, celery_worker, user, clean_redis, tmp_path
):
    # One long window (about 20 s of speech, no long pauses) so the kill lands inside the model call.
    long_speech = espeak_pcm(" ".join(SENTENCES * 2), tmp_dir=tmp_path, speed=140)
    pcm = long_speech + silence(4)
    session = _new_session(user)
    log_size = celery_worker.log_path.stat().st_size
    capture = BackgroundCapture(asgi_server, user, session, {0: pcm}, speed=4)
    killed = None
    deadline = time.monotonic() + 90
    while killed is None and time.monotonic() < deadline:
        log = celery_worker.log_path.read_bytes()[log_size:].decode(errors="replace")
        if "recaps.tasks.transcribe_window" in log and "received" in log:
            time.sleep(0.3)  # into the model call (a 20 s window takes over a second here)
            children = _children(celery_worker.popen.pid)
            assert children, "prefork worker has no pool process"
            killed = children[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.05)
    assert killed, "no transcription task started"
    _wait_committed(capture, _last_seq(pcm) - 25)
    log = celery_worker.log_path.read_bytes()[log_size:].decode(errors="replace")
    assert "signal 9" in log or "SIGKILL" in log or "WorkerLostError" in log, log[-2000:]
    _assert_exactly_once(session, spoken_times=2)
    result = capture.stop()
    assert result.recap_url
    assert Recap.objects.filter(session=session).count() == 1
