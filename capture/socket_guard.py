"""What a capture socket needs beneath its own logic (consumers.py): no traceback for a send to a
closing socket, no thread hop per audio frame, and a close the browser reconnects on (4500) whenever
Redis fails under it."""

import asyncio
import contextlib
import logging

from autobahn.exception import Disconnected
from channels.generic.websocket import AsyncWebsocketConsumer
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from . import protocol, services

log = logging.getLogger(__name__)


class GuardedSocket(AsyncWebsocketConsumer):
    session_id = None  # set by the subclass once the socket is admitted
    closing = False  # set once either side closes: nothing more is read or sent

    async def dispatch(self, message):
        # channels hops to a thread for close_old_connections() before every message: for 5 frames a
        # second per channel the largest cost of ingest (bench/ingest.py). database_sync_to_async
        # already closes stale connections around each call, so socket messages skip the hop.
        if message["type"] == "websocket.receive":
            return await self.websocket_receive(message)
        await super().dispatch(message)

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
            await self.redis_tick()

    async def redis_tick(self):
        """Called every REDIS_CHECK_S while Redis answers: keep-alives of the subclass's own keys."""
