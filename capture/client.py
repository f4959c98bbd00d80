"""A Python capture client that speaks the real protocol (docs/protocol.md), like the browser does:
keeps every frame until it is committed, reconnects and resends, paces at real time or faster.
Used by the integration tests and by bench/ to simulate capture sessions."""

import asyncio
import json
import time
from dataclasses import dataclass, field

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from .protocol import FRAME_BYTES, FRAME_SECONDS, encode_frame

FATAL_CODES = {4401, 4403, 4404, 4409, 4412, 4413}


def split_frames(pcm: bytes) -> list[bytes]:
    if len(pcm) % FRAME_BYTES:
        pcm += bytes(FRAME_BYTES - len(pcm) % FRAME_BYTES)
    return [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]


@dataclass
class StreamResult:
    recap_url: str | None = None
    closed_code: int | None = None
    acked: dict[int, set] = field(default_factory=dict)
    commit: dict[int, int] = field(default_factory=dict)
    commit_lags: list[float] = field(default_factory=list)  # seconds from a frame's send to its commit
    ack_lags: list[float] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    reconnects: int = 0
    stop_sent_at: float | None = None
    done_at: float | None = None


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

    # Recording side: frames appear at `speed` x real time, as a microphone would produce them.
    async def record(self, pcm_by_channel: dict[int, bytes], *, speed: float = 1.0, stop: bool = True):
        frames = {ch: split_frames(pcm) for ch, pcm in pcm_by_channel.items()}
        for ch in frames:
            self.kept[ch] = {}
            self.generated[ch] = 0
            self.result.acked[ch] = set()
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
            await self._pump()
        self.recording_done = True
        if stop:
            self.stopping = True
            await self._pump()

    async def _pump(self):
        """Send what the server does not hold yet, in order, if connected."""
        if self.ws is None or not self.connected.is_set():
            return
        try:
            for ch in self.kept:
                while self.next.get(ch, 0) < self.generated[ch]:
                    seq = self.next[ch]
                    payload = self.kept[ch].get(seq)
                    self.next[ch] = seq + 1
                    if payload is None:
                        continue
                    self.sent_at.setdefault((ch, seq), time.monotonic())
                    await self.ws.send(encode_frame(channel=ch, seq=seq, pcm=payload))
            if self.stopping and all(self.next.get(ch, 0) >= self.generated[ch] for ch in self.kept):
                if self.result.stop_sent_at is None:
                    self.result.stop_sent_at = time.monotonic()
                await self.ws.send(json.dumps({"type": "stop"}))
                self.stopping = "sent"
        except ConnectionClosed:
            pass

    async def connection_loop(self, *, timeout: float):
        deadline = time.monotonic() + timeout
        backoff = 0.3
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
            except OSError:
                pass
            finally:
                self.ws = None
                self.connected.clear()
            if self.result.recap_url or self.result.closed_code in FATAL_CODES:
                return self.result
            self.result.reconnects += 1
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5)
        return self.result

    async def _listen(self, ws, deadline):
        async for raw in ws:
            message = json.loads(raw)
            kind = message["type"]
            now = time.monotonic()
            if kind == "welcome":
                self._apply_commit(message["commit"], now)
                self.next = {int(ch): seq for ch, seq in message["next"].items()}
                if self.stopping == "sent":
                    self.stopping = True
                self.connected.set()
                await self._pump()
            elif kind == "ack":
                self.result.acked[message["ch"]].add(message["seq"])
                sent = self.sent_at.get((message["ch"], message["seq"]))
                if sent is not None:
                    self.result.ack_lags.append(now - sent)
            elif kind == "commit":
                self._apply_commit(message["commit"], now)
            elif kind == "error":
                self.result.errors.append(message)
                if message["code"] == "seq_gap":
                    self.next[message["ch"]] = message["expected"]
                    await self._pump()
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
    for ch in pcm_by_channel:
        streamer.kept[ch] = {}
        streamer.generated[ch] = 0
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
