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
    #   never reach it. A key this socket put in Redis at connect is gone too: checked every few seconds
    #   for every socket of the process at once (_Keeper).

    REDIS_CHECK_S = 3.0

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
                KEEPER.add(self)

    async def websocket_receive(self, message):
        async with self._close_on_redis_trouble():
            await super().websocket_receive(message)

    async def websocket_disconnect(self, message):
        KEEPER.discard(self)
        await super().websocket_disconnect(message)

    async def redis_lost(self):
        log.warning("session %s: Redis lost this socket's key (restarted?), closing", self.session_id)
        await self.close(code=protocol.CLOSE_RESEND)

    def writer_claim(self):
        """The session whose writer claim this socket refreshes with its key, or None (the subclass's)."""
        return None


class _Keeper:
    """Every socket's Redis check, for the whole process: every REDIS_CHECK_S, ONE thread hop and ONE
    pipeline check every socket's key and refresh the writer claims. It used to be a task and two
    thread hops per socket (~130 a second at 200 sockets): the pool threads fought the event loop for
    the GIL while it was acking frames (py-spy, bench/ingest.py; bench/README.md)."""

    def __init__(self) -> None:
        self.sockets: set[GuardedSocket] = set()
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def add(self, socket: GuardedSocket) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._task is None or self._task.done():
            self._loop = loop  # tests run several loops in one process; Daphne runs one
            self.sockets = set()
            self._task = loop.create_task(self._run())
        self.sockets.add(socket)

    def discard(self, socket: GuardedSocket) -> None:
        self.sockets.discard(socket)

    async def _run(self) -> None:
        while True:
            interval = min((s.REDIS_CHECK_S for s in self.sockets), default=GuardedSocket.REDIS_CHECK_S)
            await asyncio.sleep(interval)
            sockets = [s for s in self.sockets if not s.closing]
            if not sockets:
                continue
            entries = [(s.channel_name, s.writer_claim()) for s in sockets]
            try:
                alive = await asyncio.to_thread(services.capture_sockets_keep_alive, entries)
            except (RedisError, OSError):
                alive = [False] * len(sockets)
            for socket, ok in zip(sockets, alive, strict=True):
                if not ok and socket in self.sockets:
                    self.sockets.discard(socket)
                    await socket.redis_lost()


KEEPER = _Keeper()
