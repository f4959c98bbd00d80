"""The rules of one capture socket's stream (docs/protocol.md), apart from the socket: hello and resume,
sequence numbers per channel, pause, the own-voice limit and the flood limits.

Pure on purpose: no Django, Channels, asyncio or Redis, so every rule is unit-tested without a socket
(tests/capture/test_stream.py). A `Stream` takes decoded inputs and the time, and answers with outputs
for the consumer to perform, in order; a refused input raises a domain error instead, and `refusal()`
is the one place where any domain error becomes an error frame or a close code.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from . import protocol
from .exceptions import CaptureError, ConsentMissing, SessionFinished, StaleWriter
from .vad import DEFAULT_HOLD_PAUSE_S, ChannelWindower, ClosedWindow

# CaptureSession.Status values (capture/models.py), restated because this module imports no Django.
RECORDING, PAUSED, ENDING, DONE = "recording", "paused", "ending", "done"

MIC_ONLY = "a recap in your own voice records the microphone (channel 0) only"


# Outputs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """A JSON text frame to the browser."""

    message: dict


@dataclass(frozen=True)
class Close:
    code: int


@dataclass(frozen=True)
class Queue:
    """Closed VAD windows to queue (services.capture_window_close), in order, before what follows."""

    windows: tuple[ClosedWindow, ...]


@dataclass(frozen=True)
class Stop:
    """Stop the session, exactly as on a "stop" message."""


@dataclass(frozen=True)
class Progress:
    """Tell the browser how many windows are left (it needs the database)."""


Output = Send | Close | Queue | Stop | Progress


# Domain errors of the stream ---------------------------------------------------------------------


class Refused(Exception):
    """An input the browser hears about in an error frame; the socket stays open."""

    def __init__(self, code: str, detail: str, **extra):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extra = extra


class CloseSocket(Exception):
    """An input that ends the socket with a documented close code."""

    def __init__(self, code: int, why: str):
        super().__init__(why)
        self.code = code


DOMAIN_ERRORS = (CaptureError, protocol.FrameError, Refused, CloseSocket)

# Domain errors that end the socket; every other one is an error frame that leaves it open.
CLOSE_CODES = {
    StaleWriter: protocol.CLOSE_TAKEN_OVER,
    ConsentMissing: protocol.CLOSE_CONSENT,
    SessionFinished: protocol.CLOSE_FINISHED,
}


def error_frame(code: str, detail: str, **extra) -> Send:
    return Send({"type": "error", "code": code, "detail": detail, **extra})


def refusal(exc: Exception) -> Send | Close:
    """What the browser hears for a domain error (docs/protocol.md)."""
    if isinstance(exc, CloseSocket):
        return Close(exc.code)
    for kind, code in CLOSE_CODES.items():
        if isinstance(exc, kind):
            return Close(code)
    if isinstance(exc, Refused):
        return error_frame(exc.code, exc.detail, **exc.extra)
    if isinstance(exc, protocol.FrameError):
        return error_frame(exc.code, exc.detail)
    if isinstance(exc, CaptureError):
        return error_frame(exc.code, str(exc))
    raise TypeError(f"not a domain error: {exc!r}")


# The stream ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    max_frame_bytes: int
    rate_x: float  # sustained sending rate, in multiples of real time
    burst_s: float  # seconds of audio that may arrive at once (a reconnect's resend)
    max_frames: int  # per channel (services.capture_session_max_frames)
    self_mode: bool = False  # a "recap in your own voice": microphone only, stopped at max_frames
    self_minutes: int = 5  # the self-mode cap the browser is told about
    # While an earlier window waits for its transcription, short windows stay open up to this pause.
    hold_pause_s: float = DEFAULT_HOLD_PAUSE_S

    @classmethod
    def of(cls, capture: dict, *, max_frames: int, self_mode: bool) -> Limits:
        """From settings.CAPTURE, handed in by the caller."""
        return cls(
            max_frame_bytes=capture["MAX_FRAME_BYTES"],
            rate_x=capture["MAX_RATE_X"],
            burst_s=capture["RATE_BURST_S"],
            max_frames=max_frames,
            self_mode=self_mode,
            self_minutes=round(capture["MAX_SELF_S"] / 60),
            hold_pause_s=capture["HOLD_PAUSE_S"],
        )


class Stream:
    """One socket's view of its session: per announced channel a windower (it knows the seq expected
    next) and a token bucket, and the session's status as this socket last heard it."""

    def __init__(self, *, status: str, limits: Limits):
        self.status = status
        self.limits = limits
        self.windowers: dict[int, ChannelWindower] = {}
        self.buckets: dict[int, protocol.TokenBucket] = {}
        # Kept across hellos: the browser is told only when a channel's speech state changes.
        self.speech: dict[int, bool] = {}
        # Speech windows this stream queued and has not yet seen committed: (channel, last seq).
        # While any waits, a short window is held open for the next turn (capture/vad.py, hold).
        self._waiting: deque[tuple[int, int]] = deque()
        self._commit: dict[int, int] = {}

    def admit(self, size: int) -> None:
        # Control messages are a few dozen bytes and audio at most 32008 (5 frames): a huge message is
        # refused before any parsing (tests/security/test_ws_fuzz.py).
        if size > self.limits.max_frame_bytes:
            raise CloseSocket(protocol.CLOSE_TOO_BIG, "frame over the size limit")

    # Hello and resume.

    def hello(self, message: dict) -> list[int]:
        """The channels a hello announces, checked; the caller then finds where each resumes."""
        channels = message.get("channels", [0])
        if (
            not isinstance(channels, list)
            or not channels
            # type() and not isinstance(): True == 1 and 1.0 == 1 would pass `in` as channels.
            or any(type(c) is not int or c not in protocol.CHANNELS for c in channels)
        ):
            raise Refused("bad_channel", "channels must be a list drawn from [0, 1]")
        if self.limits.self_mode and set(channels) != {0}:
            raise Refused("mic_only", MIC_ONLY)
        return sorted(set(channels))

    def welcome(self, *, first_seq: dict[int, int], status: str, commit: dict, now: float) -> list[Output]:
        """Start over from where the server holds each channel up to (`first_seq`, from the database):
        frames still inside an old windower died with the old socket, so the browser resends them."""
        self.windowers = {
            ch: ChannelWindower(channel=ch, first_seq=seq, hold_pause_s=self.limits.hold_pause_s)
            for ch, seq in first_seq.items()
        }
        for windower in self.windowers.values():
            windower.hold = bool(self._waiting)
        self.buckets = {
            ch: protocol.TokenBucket(rate=self.limits.rate_x, burst=self.limits.burst_s, now=now)
            for ch in first_seq
        }
        self.status = status
        next_seq = {str(ch): w.next_seq for ch, w in self.windowers.items()}
        welcome = Send({"type": "welcome", "status": status, "commit": commit, "next": next_seq})
        return [welcome, Progress()] if status == ENDING else [welcome]

    # Audio.

    def audio(self, frame: protocol.AudioFrame, *, now: float) -> list[Output]:
        """One binary message: its frames in order, then one ack for the last of them (the ack says
        every frame of the channel up to that seq is held). Frames already held (a resend after a
        reconnect) are dropped; the first new frame must be the one expected."""
        if frame.channel != 0 and self.limits.self_mode:
            raise Refused("mic_only", MIC_ONLY)
        windower = self.windowers.get(frame.channel)
        if windower is None:
            raise Refused("hello_first", "send hello with this channel before audio")
        if not self.buckets[frame.channel].take(frame.count * protocol.FRAME_SECONDS, now=now):
            raise CloseSocket(protocol.CLOSE_RATE, "sending too fast")
        if frame.last_seq >= windower.next_seq:
            if frame.seq > windower.next_seq:
                raise Refused(
                    "seq_gap", "resend from the expected frame", ch=frame.channel, expected=windower.next_seq
                )
            self._assert_recording()
        first_new = windower.next_seq
        closed: list[ClosedWindow] = []
        limit: list[Output] = []
        for seq, pcm in frame.frames():
            if seq < windower.next_seq:
                continue  # already held (in memory or queued): a resend after a reconnect, dropped
            if seq >= self.limits.max_frames:
                limit = self._over_the_limit()
                break
            closed += self._hold()
            pushed = windower.push(seq=seq, pcm=pcm)
            self._waiting.extend((w.channel, w.seq_last) for w in pushed if not w.is_silence)
            closed += pushed
        # Acked only once its window is queued: a window refused to a stale writer is never acked.
        outputs: list[Output] = [Queue(tuple(closed))] if closed else []
        held_upto = min(frame.last_seq, windower.next_seq - 1)  # short of the message past the limit
        if held_upto >= frame.seq:
            outputs.append(Send({"type": "ack", "ch": frame.channel, "seq": held_upto}))
        if windower.next_seq > first_new and windower.speech_active != self.speech.get(frame.channel):
            self.speech[frame.channel] = windower.speech_active
            outputs.append(Send({"type": "speech", "ch": frame.channel, "active": windower.speech_active}))
        return outputs + limit

    def _hold(self) -> list[ClosedWindow]:
        """Hold short windows open while one of ours still waits for its transcription; once none
        waits, a window held past its usual pause closes at once (returned, to be queued)."""
        while self._waiting and self._waiting[0][1] <= self._commit.get(self._waiting[0][0], -1):
            self._waiting.popleft()
        released = []
        for windower in self.windowers.values():
            released += windower.set_hold(bool(self._waiting))
        self._waiting.extend((w.channel, w.seq_last) for w in released if not w.is_silence)
        return released

    def _assert_recording(self) -> None:
        if self.status == PAUSED:
            raise Refused("paused", "recording is paused; frame dropped")
        if self.status != RECORDING:
            raise Refused("ended", "the session has stopped; no new audio is accepted")

    def _over_the_limit(self) -> list[Output]:
        if not self.limits.self_mode:
            # An output, not a raise: frames before it in the same message are queued first.
            return [Close(protocol.CLOSE_TOO_LONG)]
        # Past the short cap of self mode: stop here, keeping what was said, so the recap is still
        # made (the page stops itself first; this holds for any client).
        detail = f"a recap in your own voice is {self.limits.self_minutes} min at most"
        return [error_frame("self_limit", detail), Stop()]

    # Pause, resume, stop.

    def stop(self) -> list[Output]:
        """What must be queued before the session may be marked stopping: the audio still in memory."""
        if self.status not in (RECORDING, PAUSED):
            return []
        closed = [tuple(windower.flush()) for windower in self.windowers.values()]
        return [Queue(windows) for windows in closed if windows]

    def set_status(self, status: str) -> list[Output]:
        self.status = status
        return [Send({"type": "state", "status": status})]

    def stopped(self, status: str) -> list[Output]:
        return [*self.set_status(status), Progress()]

    # Events from the rest of the pipeline.

    def committed(self, commit: dict, *, windows_left: int) -> list[Output]:
        for ch, seq in commit.items():
            self._commit[int(ch)] = max(self._commit.get(int(ch), -1), int(seq))
        # A window held for the next turn is queued now rather than at the next frame: the page may
        # send none for a while (paused, or a client at the end of its audio).
        released = self._hold() if self.status == RECORDING else []
        outputs: list[Output] = [Queue(tuple(released))] if released else []
        outputs.append(Send({"type": "commit", "commit": commit}))
        if self.status == ENDING:
            outputs.append(progress(windows_left))
        return outputs

    def done(self, recap_url: str, *, polishing: bool = False) -> list[Output]:
        """The recap is saved. ``polishing``: a language model is writing its final version, and a
        ``polished`` message follows on this socket (the page keeps it open for that)."""
        self.status = DONE
        message = {"type": "done", "recap_url": recap_url}
        if polishing:
            message["polishing"] = True
        return [Send(message)]

    def polishing(self, step: int, steps: int) -> list[Output]:
        """How far the language model has got with the final recap: step of steps (each a model call)."""
        return [Send({"type": "polishing", "step": int(step), "steps": int(steps)})]

    def polished(self) -> list[Output]:
        return [Send({"type": "polished"})]


def progress(windows_left: int) -> Send:
    return Send({"type": "progress", "windows_left": windows_left})
