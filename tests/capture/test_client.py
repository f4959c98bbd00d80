"""The Python protocol client (bench/protocol_client.py) on its own, against fake sockets: it paces a
backlog under the server's rate limit, recording never waits on a stalled socket, and reconnects back
off to a short cap and start over after every welcome."""

import asyncio
import json
import time

import pytest

from bench import protocol_client as client_module
from bench.protocol_client import BACKOFF_MAX_S, BACKOFF_MIN_S, CaptureStreamer
from capture.protocol import FRAME_BYTES, HEADER, TokenBucket
from tests.audio import silence


def _streamer(frames: int) -> CaptureStreamer:
    streamer = CaptureStreamer(ws_url="ws://unused/", cookie="c", origin="http://127.0.0.1")
    streamer.kept = {0: {seq: silence(0.2) for seq in range(frames)}}
    streamer.generated = {0: frames}
    streamer.next = {0: 0}
    return streamer


class RecordingSocket:
    def __init__(self):
        self.sent: list[tuple[float, int]] = []  # (time, seq) of every frame
        self.messages: list[int] = []  # frames per binary message

    async def send(self, data):
        if isinstance(data, bytes):
            count = (len(data) - HEADER.size) // FRAME_BYTES
            self.messages.append(count)
            seq = HEADER.unpack_from(data)[3]
            self.sent += [(time.monotonic(), seq + k) for k in range(count)]


def test_a_backlog_is_paced_under_the_servers_rate_limit(monkeypatch):
    # Scaled 10x faster so the test is short: the client sends at 20x with a 2 s burst; a server
    # allowing 25x with a 3 s burst (the real ones: 2x/20 s against 2.5x/30 s) must take every frame.
    monkeypatch.setattr(client_module, "SEND_RATE_X", 20.0)
    monkeypatch.setattr(client_module, "SEND_BURST_S", 2.0)
    streamer = _streamer(frames=100)  # 20 s of audio after a long drop
    ws = RecordingSocket()

    async def scenario():
        streamer.ws = ws
        streamer.connected.set()
        await streamer._pump()

    asyncio.run(scenario())
    assert [seq for _t, seq in ws.sent] == list(range(100))
    assert ws.messages == [2] * 50, "two frames per message, as the browser sends"
    server = TokenBucket(rate=25.0, burst=3.0, now=ws.sent[0][0])
    refused = [seq for t, seq in ws.sent if not server.take(0.2, now=t)]
    assert refused == []
    # Paced, not all at once: after the burst, the rest went at the client's rate.
    assert ws.sent[-1][0] - ws.sent[0][0] > (20.0 - 2.0) / 20.0 * 0.8


def test_recording_goes_on_while_the_socket_is_stalled():
    class StalledSocket:
        async def send(self, data):
            await asyncio.Event().wait()  # a dead network: the send never completes

    streamer = CaptureStreamer(ws_url="ws://unused/", cookie="c", origin="http://127.0.0.1")

    async def scenario():
        streamer.ws = StalledSocket()
        streamer.connected.set()
        streamer._sender_task = asyncio.ensure_future(streamer._sender(streamer.ws))
        await asyncio.wait_for(streamer.record({0: silence(4.0)}, speed=100, stop=False), timeout=10)
        streamer._sender_task.cancel()

    asyncio.run(scenario())
    assert streamer.generated == {0: 20}
    assert sorted(streamer.kept[0]) == list(range(20))  # every frame kept until it is committed


class _Refused:
    async def __aenter__(self):
        raise OSError("connection refused")

    async def __aexit__(self, *exc):
        return False


class _WelcomeThenClose:
    """Sends a welcome, then the server goes away."""

    def __init__(self):
        self.messages = [json.dumps({"type": "welcome", "status": "recording", "commit": {}, "next": {}})]

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return False

    async def send(self, data):
        pass

    def __aiter__(self):
        return self

    async def __anext__(self):
        if not self.messages:
            raise StopAsyncIteration
        return self.messages.pop(0)


def test_reconnects_back_off_to_a_short_cap_and_start_over_after_a_welcome(monkeypatch):
    streamer = CaptureStreamer(ws_url="ws://unused/", cookie="c", origin="http://127.0.0.1")
    attempts = []

    def fake_connect(*args, **kwargs):
        attempts.append(len(attempts) + 1)
        if len(attempts) == 7:
            return _WelcomeThenClose()
        if len(attempts) == 10:
            streamer.result.recap_url = "/recaps/done/"  # ends the loop
        return _Refused()

    delays = []
    real_sleep = asyncio.sleep

    async def fake_sleep(seconds, *args):
        delays.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(client_module, "connect", fake_connect)
    monkeypatch.setattr(client_module.asyncio, "sleep", fake_sleep)
    asyncio.run(streamer.connection_loop(timeout=60))

    assert len(attempts) == 10
    cap, low = BACKOFF_MAX_S, BACKOFF_MIN_S
    assert delays == pytest.approx([low, 2 * low, 4 * low, cap, cap, cap, low, 2 * low, 4 * low])


def test_a_lone_frame_waits_for_the_next_one_and_goes_alone_only_on_stop():
    streamer = _streamer(frames=3)
    ws = RecordingSocket()

    async def scenario():
        streamer.ws = ws
        streamer.connected.set()
        await streamer._pump()
        sent_before_stop = list(ws.messages)
        streamer.stopping = True
        await streamer._pump()
        return sent_before_stop

    assert asyncio.run(scenario()) == [2]
    assert ws.messages == [2, 1]
    assert [seq for _t, seq in ws.sent] == [0, 1, 2]
