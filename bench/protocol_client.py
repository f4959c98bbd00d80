"""A Python capture client that speaks the real protocol (docs/protocol.md), like the browser does
(static/capture/capture-client.js): keeps every frame until it is committed (not merely acked),
reconnects with a short capped backoff and resends from the server's `next`, and paces what it sends
under the server's rate limit. Recording never waits on the network: a stalled socket grows the
buffer, as a microphone would. Used by the integration and fault tests and by bench/."""

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from capture.protocol import FRAME_BYTES, FRAME_SECONDS, encode_frame

# As the browser: two frames (400 ms) per message, a lone frame only on Stop (docs/protocol.md).
FRAMES_PER_MESSAGE = 2

FATAL_CODES = {4401, 4403, 4404, 4409, 4412, 4413}
# The web tier is busy (docs/protocol.md "Busy"): before the first welcome, the session never started and
# the page says so (refused_at_door); after one, the recording goes on and the client reconnects later.
BUSY = 4503
# Reconnect after 0.3 s, doubling to at most 2 s, and back to 0.3 s after every welcome: so the client
# is back within ~2 s of the server or the network returning, however long the outage was.
BACKOFF_MIN_S = 0.3
BACKOFF_MAX_S = 2.0
# Per channel, in seconds of audio: the server closes with 4429 above 2.5x real time sustained with a
# 30 s burst (settings.CAPTURE), and its bucket starts full on every hello. Staying under both lets a
# long backlog (a 30 s network drop) go out at once up to the burst and then at 2x, instead of being
# refused, and a faster-than-real-time test clip of up to ~40 s is not slowed at all.
SEND_RATE_X = 2.0
SEND_BURST_S = 20.0


def split_frames(pcm: bytes) -> list[bytes]:
    if len(pcm) % FRAME_BYTES:
        pcm += bytes(FRAME_BYTES - len(pcm) % FRAME_BYTES)
    return [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]


@dataclass
class StreamResult:
    recap_url: str | None = None
    closed_code: int | None = None
    acked: dict[int, set] = field(default_factory=dict)  # every seq an ack covered (acks are cumulative)
    acked_upto: dict[int, int] = field(default_factory=dict)
    commit: dict[int, int] = field(default_factory=dict)
    commit_lags: list[float] = field(default_factory=list)  # seconds from a frame's send to its commit
    ack_lags: list[float] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    reconnects: int = 0
    resent: int = 0  # frames sent again after a reconnect or a seq_gap
    resent_after_ack: int = 0  # of those, frames the server had acked: acked is not committed
    resume_points: list[dict[int, int]] = field(default_factory=list)  # `next` of every welcome
    welcomed_at: list[float] = field(default_factory=list)  # time.monotonic() of every welcome
    close_codes: list[int | None] = field(default_factory=list)  # every close (None: no close frame)
    stop_sent_at: float | None = None
    done_at: float | None = None
    refused_at_door: bool = False  # closed with 4503 before any welcome: the session never started
    closed_while_recording: list[int | None] = field(default_factory=list)  # closes after a welcome


class CaptureStreamer:
    def __init__(self, *, ws_url: str, cookie: str, origin: str, cookie_name: str = "sessionid"):
        self.ws_url = ws_url
        self.headers = {"Cookie": f"{cookie_name}={cookie}"}
        self.origin = origin
        self.result = StreamResult()
        self.kept: dict[int, dict[int, bytes]] = {}
        self.sent_at: dict[tuple[int, int], float] = {}
        self.generated: dict[int, int] = {}
        self.next: dict[int, int] = {}
        self.stopping = False
        self.ws = None
        self.connected = asyncio.Event()
        self.drop_next_connection_after: float | None = None
        self.tokens: dict[int, float] = {}
        self.tokens_at: dict[int, float] = {}
        self._send_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._sender_task: asyncio.Task | None = None
        self._welcomed = False

    # Recording side: frames appear at `speed` x real time, as a microphone would produce them.
    def expect_channels(self, channels) -> None:
        """Name the channels before connecting: the hello lists them and the welcome's commit marks
        are applied to them."""
        self.kept = {ch: {} for ch in channels}
        self.generated = dict.fromkeys(channels, 0)

    async def record(self, pcm_by_channel: dict[int, bytes], *, speed: float = 1.0, stop: bool = True):
        frames = {ch: split_frames(pcm) for ch, pcm in pcm_by_channel.items()}
        for ch in frames:
            self.kept[ch] = {}
            self.generated[ch] = 0
            self.result.acked[ch] = set()
            self.result.acked_upto[ch] = -1
            self.result.commit[ch] = -1
        total = max(len(f) for f in frames.values())
        start = time.monotonic()
        for i in range(total):
            for ch, chan_frames in frames.items():
                if i < len(chan_frames):
                    self.kept[ch][i] = chan_frames[i]
                    self.generated[ch] = i + 1
            if speed:
                delay = start + (i + 1) * FRAME_SECONDS / speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            self._kick()
        self.recording_done = True
        if stop:
            self.stopping = True
            self._kick()

    def _kick(self):
        """Have the frames sent without waiting for it: the sender may be stuck on a dead socket or
        pacing a backlog, and neither may hold up recording or reading the server's messages."""
        self._wake.set()

    async def _sender(self, ws):
        """One per connection, from its welcome: sends whenever woken."""
        while ws is self.ws:
            await self._wake.wait()
            self._wake.clear()
            await self._pump()

    def _sendable(self, ch: int) -> int:
        """Frames of `ch` to send in one message now, as the browser does (static/capture/
        capture-client.js `sendable`): two, or a lone one only on Stop; 0 to wait."""
        seq = self.next.get(ch, 0)
        if seq >= self.generated[ch]:
            return 0
        if seq + 1 < self.generated[ch]:
            return FRAMES_PER_MESSAGE
        return 1 if self.stopping else 0

    def _take_token(self, ch: int, now: float, *, frames: int = 1) -> float:
        """0 if `frames` frames of `ch` may go now (and spend their tokens), else the seconds to wait."""
        need = frames * FRAME_SECONDS
        tokens = min(
            SEND_BURST_S,
            self.tokens.get(ch, SEND_BURST_S) + (now - self.tokens_at.get(ch, now)) * SEND_RATE_X,
        )
        self.tokens_at[ch] = now
        if tokens >= need - 1e-9:  # refilled in float steps, a full bucket can read a hair under 0.4
            self.tokens[ch] = tokens - need
            return 0.0
        self.tokens[ch] = tokens
        return (need - tokens) / SEND_RATE_X

    async def _pump(self):
        """Send what the server does not hold yet, in order (channels kept in step), paced, if
        connected; then "stop" once everything is out after Stop. One sender at a time."""
        async with self._send_lock:
            ws = self.ws
            if ws is None or not self.connected.is_set():
                return
            try:
                while ws is self.ws:
                    pending = {ch: n for ch in self.kept if (n := self._sendable(ch))}
                    if not pending:
                        break
                    ch = min(pending, key=lambda c: self.next.get(c, 0))
                    wait = self._take_token(ch, time.monotonic(), frames=pending[ch])
                    if wait:
                        await asyncio.sleep(wait)
                        continue
                    seq = self.next[ch]
                    payloads = [self.kept[ch].get(seq + k) for k in range(pending[ch])]
                    self.next[ch] = seq + pending[ch]
                    if None in payloads:  # committed meanwhile: the server asks again if it needs them
                        continue
                    for k in range(pending[ch]):
                        if (ch, seq + k) in self.sent_at:
                            self.result.resent += 1
                            self.result.resent_after_ack += self.result.acked_upto.get(ch, -1) >= seq + k
                        self.sent_at.setdefault((ch, seq + k), time.monotonic())
                    await ws.send(encode_frame(channel=ch, seq=seq, pcm=b"".join(payloads)))
                if (
                    ws is self.ws
                    and self.stopping is True
                    and all(self.next.get(ch, 0) >= self.generated[ch] for ch in self.kept)
                ):
                    if self.result.stop_sent_at is None:
                        self.result.stop_sent_at = time.monotonic()
                    await ws.send(json.dumps({"type": "stop"}))
                    self.stopping = "sent"
            except ConnectionClosed:
                pass

    async def connection_loop(self, *, timeout: float):
        deadline = time.monotonic() + timeout
        backoff = BACKOFF_MIN_S
        while self.result.recap_url is None and time.monotonic() < deadline:
            try:
                async with connect(
                    self.ws_url, origin=self.origin, additional_headers=self.headers, max_size=2**20
                ) as ws:
                    self.ws = ws
                    await ws.send(json.dumps({"type": "hello", "proto": 1, "channels": sorted(self.kept)}))
                    await self._listen(ws, deadline)
            except ConnectionClosed as exc:
                self.result.closed_code = exc.rcvd.code if exc.rcvd else None
                self.result.close_codes.append(self.result.closed_code)
                if self.result.welcomed_at:
                    self.result.closed_while_recording.append(self.result.closed_code)
            # OSError: refused or timed out (TimeoutError is one); InvalidHandshake: the server or the
            # network went away during the opening handshake, or a starting server refused it.
            except (OSError, InvalidHandshake):
                pass
            finally:
                self.ws = None
                self.connected.clear()
                if self._sender_task is not None:
                    self._sender_task.cancel()
                    self._sender_task = None
            if self.result.recap_url or self.result.closed_code in FATAL_CODES:
                return self.result
            if self.result.closed_code == BUSY and not self.result.welcomed_at:
                self.result.refused_at_door = True
                return self.result
            if self._welcomed:  # that connection worked: a new outage starts from the short wait
                backoff = BACKOFF_MIN_S
                self._welcomed = False
            self.result.reconnects += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX_S)
        return self.result

    async def _listen(self, ws, deadline):
        async for raw in ws:
            message = json.loads(raw)
            kind = message["type"]
            now = time.monotonic()
            if kind == "welcome":
                self._apply_commit(message["commit"], now)
                self.next = {int(ch): seq for ch, seq in message["next"].items()}
                self.result.resume_points.append(dict(self.next))
                self.result.welcomed_at.append(now)
                if self.stopping == "sent":
                    self.stopping = True  # a new connection: stop again once everything is resent
                # The server's rate bucket starts full on every hello; ours too.
                self.tokens, self.tokens_at = {}, {}
                self._welcomed = True
                self.connected.set()
                self._sender_task = asyncio.ensure_future(self._sender(ws))
                self._kick()
            elif kind == "ack":
                ch, seq = message["ch"], message["seq"]
                upto = self.result.acked_upto.get(ch, -1)
                self.result.acked.setdefault(ch, set()).update(range(upto + 1, seq + 1))
                self.result.acked_upto[ch] = max(upto, seq)
                sent = self.sent_at.get((ch, seq))
                if sent is not None:
                    self.result.ack_lags.append(now - sent)
            elif kind == "commit":
                self._apply_commit(message["commit"], now)
            elif kind == "error":
                self.result.errors.append(message)
                if message["code"] == "seq_gap":
                    self.next[message["ch"]] = message["expected"]
                    self._kick()
            elif kind == "done":
                self.result.recap_url = message["recap_url"]
                self.result.done_at = now
                return
            if self.drop_next_connection_after is not None and now >= self.drop_next_connection_after:
                self.drop_next_connection_after = None
                await ws.close()
                return
            if time.monotonic() > deadline:
                return

    def _apply_commit(self, commit: dict, now: float):
        for ch_str, mark in commit.items():
            ch = int(ch_str)
            if ch not in self.kept:
                continue
            previous = self.result.commit.get(ch, -1)
            for seq in range(previous + 1, mark + 1):
                self.kept[ch].pop(seq, None)
                sent = self.sent_at.pop((ch, seq), None)
                if sent is not None:
                    self.result.commit_lags.append(now - sent)
            self.result.commit[ch] = max(previous, mark)


async def stream_session(
    *,
    ws_url: str,
    cookie: str,
    origin: str,
    pcm_by_channel: dict[int, bytes],
    speed: float = 1.0,
    timeout: float = 300,
    drop_after_s: float | None = None,
) -> StreamResult:
    streamer = CaptureStreamer(ws_url=ws_url, cookie=cookie, origin=origin)
    streamer.expect_channels(pcm_by_channel)
    if drop_after_s is not None:
        streamer.drop_next_connection_after = time.monotonic() + drop_after_s
    loop_task = asyncio.create_task(streamer.connection_loop(timeout=timeout))
    await asyncio.wait_for(streamer.connected.wait(), timeout=30)
    await streamer.record(pcm_by_channel, speed=speed)
    # Keep pumping while the connection loop waits for the recap (resends after reconnects).
    while not loop_task.done():
        await streamer._pump()
        await asyncio.sleep(0.1)
    return await loop_task


class ThreadedSession:
    """The client in its own thread and event loop: it records `pcm_by_channel` at `speed` x real time,
    then stays connected (resending after any drop) until request_stop(), and ends with the recap.
    The caller's thread is free meanwhile to read the database or break things (tests, bench/)."""

    def __init__(
        self,
        streamer: CaptureStreamer,
        pcm_by_channel: dict[int, bytes],
        *,
        speed: float,
        timeout: float,
        connect_timeout: float = 60,
    ):
        self.streamer = streamer
        streamer.expect_channels(pcm_by_channel)
        self.pcm = pcm_by_channel
        self.speed = speed
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.started_at: float | None = None
        self.recorded = threading.Event()
        self.stop_requested = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def result(self) -> StreamResult:
        return self.streamer.result

    def request_stop(self) -> None:
        self.stop_requested.set()

    def _run(self):
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - the caller reports it, with the server's logs
            self.error = exc

    async def _main(self):
        loop = asyncio.create_task(self.streamer.connection_loop(timeout=self.timeout))
        await asyncio.wait_for(self.streamer.connected.wait(), self.connect_timeout)
        self.started_at = time.monotonic()
        await self.streamer.record(self.pcm, speed=self.speed, stop=False)
        self.recorded.set()
        while not self.stop_requested.is_set() and not loop.done():
            await asyncio.sleep(0.1)
        self.streamer.stopping = True
        while not loop.done():
            self.streamer._kick()
            await asyncio.sleep(0.1)
        await loop
