"""Wire format of the capture socket (docs/protocol.md). Pure functions; no I/O."""

import json
import struct
from dataclasses import dataclass

from .vad import FRAME_SAMPLES

VERSION = 1
HEADER = struct.Struct("<BBHI")
FRAME_BYTES = FRAME_SAMPLES * 2
FRAME_SECONDS = 0.2
# Frames one binary message may carry (consecutive seqs of one channel). The browser sends two, 400 ms:
# every WebSocket message costs Daphne the same Twisted, autobahn and Channels work whatever its size,
# and one frame per message, each with its own ack, made that the web process's main cost
# (bench/stream.py, 124 s of one channel: Daphne 0.49-0.74 CPU-s with one frame per message, 0.33-0.40
# with two). The limit keeps a message at a second of audio.
MAX_FRAMES_PER_MESSAGE = 5
CHANNELS = (0, 1)
CONTROL_TYPES = ("hello", "pause", "resume", "stop")

# Close codes (docs/protocol.md). All ours are 4xxx: an application may only close with 1000 or
# 3000-4999 (RFC 6455 section 7.4.2). Daphne's WebSocket layer (autobahn) raises on anything else, so a
# close with 1009 from the consumer became a server error (1011); 1009 itself is sent only by Daphne,
# for a message over its own 1 MiB limit.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TAKEN_OVER = 4408
CLOSE_FINISHED = 4409
CLOSE_CONSENT = 4412
CLOSE_TOO_LONG = 4413
CLOSE_RATE = 4429
CLOSE_TOO_BIG = 4009  # a frame over CAPTURE["MAX_FRAME_BYTES"] (4000 + the standard 1009)
CLOSE_RESEND = 4500  # server lost queued audio (Redis restart): reconnect and resend
CLOSE_BUSY = 4503  # a new session refused at the door: the web tier is past what it can serve


class FrameError(ValueError):
    def __init__(self, code: str, detail: str):
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """One binary message: `count` consecutive frames of `channel`, the first numbered `seq`."""

    channel: int
    seq: int
    pcm: bytes

    @property
    def count(self) -> int:
        return len(self.pcm) // FRAME_BYTES

    @property
    def last_seq(self) -> int:
        return self.seq + self.count - 1

    def frames(self) -> list[tuple[int, bytes]]:
        """(seq, 200 ms of PCM) of each frame, in order."""
        return [(self.seq + k, self.pcm[k * FRAME_BYTES : (k + 1) * FRAME_BYTES]) for k in range(self.count)]


def decode_frame(data: bytes) -> AudioFrame:
    if len(data) < HEADER.size:
        raise FrameError("bad_header", f"frame shorter than the {HEADER.size}-byte header")
    version, channel, _flags, seq = HEADER.unpack_from(data)
    if version != VERSION:
        raise FrameError("bad_version", f"protocol version {version} is not supported (use {VERSION})")
    if channel not in CHANNELS:
        raise FrameError("bad_channel", f"channel {channel} does not exist (0 or 1)")
    pcm = data[HEADER.size :]
    if not pcm or len(pcm) % FRAME_BYTES or len(pcm) > MAX_FRAMES_PER_MESSAGE * FRAME_BYTES:
        raise FrameError(
            "bad_payload",
            f"payload must be 1 to {MAX_FRAMES_PER_MESSAGE} frames of {FRAME_BYTES} bytes of PCM16, "
            f"got {len(pcm)} bytes",
        )
    return AudioFrame(channel=channel, seq=seq, pcm=bytes(pcm))


def decode_control(text: str) -> dict:
    """A control message: a JSON object whose `type` is one of CONTROL_TYPES."""
    try:
        message = json.loads(text)
        kind = message["type"]
    except (ValueError, TypeError, KeyError, RecursionError):
        # RecursionError: JSON nested deeper than the interpreter's recursion limit ("[[[[...").
        raise FrameError("bad_json", "control messages are JSON objects with a type") from None
    if not isinstance(kind, str):  # not a name at all (a list, a number, null): told apart from a wrong name
        raise FrameError("unknown_type", "the type of a control message is a string")
    if kind not in CONTROL_TYPES:
        raise FrameError("unknown_type", f"unknown message type {kind[:40]!r}")
    return message


def encode_frame(*, channel: int, seq: int, pcm: bytes) -> bytes:
    return HEADER.pack(VERSION, channel, 0, seq) + pcm


class TokenBucket:
    """Sending-rate limit in seconds of audio: refills at `rate` seconds of audio per wall second and
    holds at most `burst`, so a reconnect may resend a backlog quickly but not flood for long."""

    def __init__(self, *, rate: float, burst: float, now: float):
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = now

    def take(self, amount: float, *, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < amount:
            return False
        self.tokens -= amount
        return True
