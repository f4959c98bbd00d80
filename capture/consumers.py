"""The capture socket: authenticate, decode, validate, delegate. Domain work lives in services.py and
the VAD windower; every refusal is an error frame or a documented close code (docs/protocol.md)."""

import asyncio
import contextlib
import json
import logging
import time

from autobahn.exception import Disconnected
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.urls import reverse
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from . import protocol, services
from .exceptions import CaptureError, ConsentMissing, InvalidTransition, SessionFinished, StaleWriter
from .models import CaptureSession
from .pairing.middleware import CAPTURE_DEVICE_SESSION_KEY
from .pairing.selectors import linked_device_active
from .selectors import capture_session_for_actor, capture_windows_left
from .vad import ChannelWindower

log = logging.getLogger(__name__)


class CaptureConsumer(AsyncWebsocketConsumer):
    session_id = None
    group = None
    device_group = None
    closing = False  # set once either side closes: nothing more is read or sent

    async def dispatch(self, message):
        # channels hops to a thread for close_old_connections() before *every* message. For audio
        # frames (5 a second per channel) that hop was the largest single cost of ingest (py-spy under
        # bench/ingest.py). Frames rarely touch the database, and database_sync_to_async already
        # closes stale connections around each call that does, so frames skip the hop.
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
            return
        await super().dispatch(message)

    async def connect(self):
        # Accept first so that the refusal carries a close code the browser can read.
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=protocol.CLOSE_UNAUTHENTICATED)
            return
        device_id = self.scope["session"].get(CAPTURE_DEVICE_SESSION_KEY)
        if device_id is not None:
            device = await database_sync_to_async(linked_device_active)(device_id=device_id, user=user)
            if device is None:
                await self.close(code=protocol.CLOSE_FORBIDDEN)
                return
            self.device_group = services.device_group(device.id)
            await self.channel_layer.group_add(self.device_group, self.channel_name)
        session_id = self.scope["url_route"]["kwargs"]["session_id"]
        session = await database_sync_to_async(capture_session_for_actor)(session_id=session_id, user=user)
        if session is None:
            await self.close(code=protocol.CLOSE_NOT_FOUND)
            return
        try:
            services.capture_session_assert_can_stream(session=session)
        except ConsentMissing:
            await self.close(code=protocol.CLOSE_CONSENT)
            return
        except SessionFinished:
            await self.close(code=protocol.CLOSE_FINISHED)
            return
        self.session_id = session.id
        self.status = session.status
        self.windowers: dict[int, ChannelWindower] = {}
        self.speech: dict[int, bool] = {}
        self.buckets: dict[int, protocol.TokenBucket] = {}
        self.mode = session.mode
        self.max_frames = services.capture_session_max_frames(mode=session.mode)
        self.group = services.session_group(session.id)
        await self.channel_layer.group_add(self.group, self.channel_name)

    async def disconnect(self, code):
        log.info("capture socket for session %s closed with %s", self.session_id, code)
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.device_group:
            await self.channel_layer.group_discard(self.device_group, self.channel_name)
        # Frames still inside a windower are dropped on purpose: they are not committed, so the
        # browser still holds them and resends them after it reconnects.

    async def close(self, code=None, reason=None):
        self.closing = True
        await super().close(code=code, reason=reason)

    async def send(self, text_data=None, bytes_data=None, close=False):
        # Frames queued behind the one that made us close, or a reply racing the browser's own close,
        # have nobody to answer. Daphne's WebSocket layer (autobahn) raises Disconnected on a send to a
        # closing socket, which ended as a traceback and a 1011 (tests/security/test_ws_fuzz.py).
        if self.closing:
            return
        try:
            await super().send(text_data=text_data, bytes_data=bytes_data, close=close)
        except Disconnected:
            self.closing = True

    async def receive(self, text_data=None, bytes_data=None):
        if self.session_id is None or self.closing:
            return
        if bytes_data is not None:
            await self._receive_audio(bytes_data)
        elif text_data is not None:
            await self._receive_control(text_data)

    async def _error(self, code: str, detail: str, **extra):
        log.debug("session %s: error frame %s", self.session_id, code)
        await self.send(text_data=json.dumps({"type": "error", "code": code, "detail": detail, **extra}))

    async def _receive_audio(self, data: bytes):
        if len(data) > settings.CAPTURE["MAX_FRAME_BYTES"]:
            await self.close(code=protocol.CLOSE_TOO_BIG)
            return
        try:
            frame = protocol.decode_frame(data)
        except protocol.FrameError as exc:
            await self._error(exc.code, exc.detail)
            return
        if frame.channel != 0 and self.mode == CaptureSession.Mode.SELF:
            await self._error("mic_only", "a recap in your own voice records the microphone (channel 0) only")
            return
        windower = self.windowers.get(frame.channel)
        if windower is None:
            await self._error("hello_first", "send hello with this channel before audio")
            return
        if not self.buckets[frame.channel].take(protocol.FRAME_SECONDS, now=time.monotonic()):
            log.info("session %s: sending too fast, closing", self.session_id)
            await self.close(code=protocol.CLOSE_RATE)
            return
        if frame.seq < windower.next_seq:
            # Already held (in memory or queued): a resend after a reconnect. Ack and drop.
            await self._ack(frame)
            return
        if frame.seq > windower.next_seq:
            await self._error(
                "seq_gap", "resend from the expected frame", ch=frame.channel, expected=windower.next_seq
            )
            return
        if self.status == CaptureSession.Status.PAUSED:
            await self._error("paused", "recording is paused; frame dropped")
            return
        if self.status != CaptureSession.Status.RECORDING:
            await self._error("ended", "the session has stopped; no new audio is accepted")
            return
        if frame.seq >= self.max_frames:
            if self.mode == CaptureSession.Mode.SELF:
                # Past the short cap of self mode: stop here, keeping what was said, so the recap is
                # still made (the page stops itself first; this holds for any client).
                minutes = round(settings.CAPTURE["MAX_SELF_S"] / 60)
                await self._error("self_limit", f"a recap in your own voice is {minutes} min at most")
                await self._stop({})
                return
            await self.close(code=protocol.CLOSE_TOO_LONG)
            return
        closed = windower.push(seq=frame.seq, pcm=frame.pcm)
        if not await self._queue_windows(closed):
            return
        await self._ack(frame)
        if windower.speech_active != self.speech.get(frame.channel):
            self.speech[frame.channel] = windower.speech_active
            await self.send(
                text_data=json.dumps(
                    {"type": "speech", "ch": frame.channel, "active": windower.speech_active}
                )
            )

    async def _ack(self, frame):
        await self.send(text_data=json.dumps({"type": "ack", "ch": frame.channel, "seq": frame.seq}))

    async def _queue_windows(self, closed) -> bool:
        for window in closed:
            try:
                await database_sync_to_async(services.capture_window_close)(
                    session_id=self.session_id, window=window
                )
            except StaleWriter:
                await self.close(code=protocol.CLOSE_TAKEN_OVER)
                return False
        return True

    async def _receive_control(self, text: str):
        if len(text) > settings.CAPTURE["MAX_FRAME_BYTES"]:
            # Control messages are a few dozen bytes: a huge one is refused like a huge audio frame,
            # before any parsing (tests/security/test_ws_fuzz.py).
            await self.close(code=protocol.CLOSE_TOO_BIG)
            return
        try:
            message = json.loads(text)
            kind = message["type"]
        except (ValueError, TypeError, KeyError, RecursionError):
            # RecursionError: JSON nested deeper than the interpreter's recursion limit ("[[[[...").
            await self._error("bad_json", "control messages are JSON objects with a type")
            return
        if not isinstance(kind, str):  # a list or an object is unhashable: no handler lookup with it
            await self._error("unknown_type", "the type of a control message is a string")
            return
        handler = {
            "hello": self._hello,
            "pause": self._pause,
            "resume": self._resume,
            "stop": self._stop,
        }.get(kind)
        if handler is None:
            await self._error("unknown_type", f"unknown message type {str(kind)[:40]!r}")
            return
        try:
            await handler(message)
        except InvalidTransition as exc:
            await self._error(exc.code, str(exc))
        except CaptureError as exc:
            await self._error(exc.code, str(exc))

    async def _hello(self, message: dict):
        channels = message.get("channels", [0])
        if (
            not isinstance(channels, list)
            or not channels
            # type() and not isinstance(): True == 1 and 1.0 == 1 would pass `in` as channels.
            or any(type(c) is not int or c not in protocol.CHANNELS for c in channels)
        ):
            await self._error("bad_channel", "channels must be a list drawn from [0, 1]")
            return
        if self.mode == CaptureSession.Mode.SELF and set(channels) != {0}:
            await self._error("mic_only", "a recap in your own voice records the microphone (channel 0) only")
            return
        # A newer socket for this session takes over: older ones close, so only one writer exists.
        await self.channel_layer.group_send(self.group, {"type": "capture.takeover", "by": self.channel_name})
        self.windowers = {}
        now = time.monotonic()
        self.buckets = {
            ch: protocol.TokenBucket(
                rate=settings.CAPTURE["MAX_RATE_X"], burst=settings.CAPTURE["RATE_BURST_S"], now=now
            )
            for ch in channels
        }
        for ch in sorted(set(channels)):
            first = await database_sync_to_async(services.capture_resume_point)(
                session_id=self.session_id, channel=ch
            )
            self.windowers[ch] = ChannelWindower(channel=ch, first_seq=first)
        session = await database_sync_to_async(CaptureSession.objects.get)(id=self.session_id)
        self.status = session.status
        await self.send(
            text_data=json.dumps(
                {
                    "type": "welcome",
                    "status": session.status,
                    "commit": {"0": session.commit_0, "1": session.commit_1},
                    "next": {str(ch): w.next_seq for ch, w in self.windowers.items()},
                }
            )
        )
        if session.status == CaptureSession.Status.ENDING:
            await self._send_progress()

    async def _pause(self, message: dict):
        self.status = await database_sync_to_async(services.capture_session_pause)(
            session_id=self.session_id, paused=True
        )
        await self.send(text_data=json.dumps({"type": "state", "status": self.status}))

    async def _resume(self, message: dict):
        self.status = await database_sync_to_async(services.capture_session_pause)(
            session_id=self.session_id, paused=False
        )
        await self.send(text_data=json.dumps({"type": "state", "status": self.status}))

    async def _stop(self, message: dict):
        if self.status in (CaptureSession.Status.RECORDING, CaptureSession.Status.PAUSED):
            for windower in self.windowers.values():
                if not await self._queue_windows(windower.flush()):
                    return
        session = await database_sync_to_async(services.capture_session_stop)(session_id=self.session_id)
        self.status = session.status
        await self.send(text_data=json.dumps({"type": "state", "status": self.status}))
        await self._send_progress()

    async def _send_progress(self):
        left = await database_sync_to_async(capture_windows_left)(session_id=self.session_id)
        await self.send(text_data=json.dumps({"type": "progress", "windows_left": left}))

    # Redis trouble ------------------------------------------------------------------------------
    # Redis (no persistence) holds the channel layer, the Celery queue and window audio. When it
    # restarts, the browser must hear at once, with a code it reconnects on (4500): its resend is what
    # replaces the audio that died with Redis (capture_resume_point). Two ways it would not hear:
    # - a channel-layer or Redis call in a handler raises, and channels' clean-up then cancels the
    #   consumer's channel receive, which can hang for good on the broken connection: an open socket
    #   that never answers (bench/faults.py redis_restart found it). So close first, then raise.
    # - channels_redis reconnects without a word: the socket's group is gone, so commits and "done"
    #   never reach it. A key this socket put in Redis at connect is gone too: checked every few seconds.

    REDIS_CHECK_S = 3.0
    redis_watch = None

    @contextlib.asynccontextmanager
    async def _close_on_redis_trouble(self):
        try:
            yield
        except (RedisError, BrokerError):
            log.warning("session %s: Redis failed under the socket, closing with 4500", self.session_id)
            await self.close(code=protocol.CLOSE_RESEND)
            raise

    async def websocket_connect(self, message):
        async with self._close_on_redis_trouble():
            await super().websocket_connect(message)
            if self.session_id is not None:
                await asyncio.to_thread(services.capture_socket_canary_put, channel_name=self.channel_name)
                self.redis_watch = asyncio.ensure_future(self._watch_redis())

    async def websocket_receive(self, message):
        async with self._close_on_redis_trouble():
            await super().websocket_receive(message)

    async def websocket_disconnect(self, message):
        if self.redis_watch is not None:
            self.redis_watch.cancel()
        await super().websocket_disconnect(message)

    async def _watch_redis(self):
        while True:
            await asyncio.sleep(self.REDIS_CHECK_S)
            try:
                alive = await asyncio.to_thread(
                    services.capture_socket_canary_alive, channel_name=self.channel_name
                )
            except (RedisError, OSError):
                alive = False
            if not alive:
                log.warning("session %s: Redis lost this socket's key (restarted?), closing", self.session_id)
                await self.close(code=protocol.CLOSE_RESEND)
                return

    # Group events -------------------------------------------------------------------------------

    async def capture_commit(self, event):
        await self.send(text_data=json.dumps({"type": "commit", "commit": event["commit"]}))
        if self.status == CaptureSession.Status.ENDING:
            await self.send(text_data=json.dumps({"type": "progress", "windows_left": event["windows_left"]}))

    async def capture_done(self, event):
        self.status = CaptureSession.Status.DONE
        url = reverse("recaps:detail", kwargs={"recap_id": event["recap_id"]})
        await self.send(text_data=json.dumps({"type": "done", "recap_url": url}))

    async def capture_lost(self, event):
        await self.close(code=protocol.CLOSE_RESEND)

    async def capture_takeover(self, event):
        if event["by"] != self.channel_name:
            await self.close(code=protocol.CLOSE_TAKEN_OVER)

    async def device_revoked(self, event):
        await self.close(code=protocol.CLOSE_FORBIDDEN)
