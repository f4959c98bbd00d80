"""The capture socket: authenticate, decode, delegate to the stream rules (stream.py), perform what they
decide. Every refusal is an error frame or a documented close code (docs/protocol.md, stream.refusal)."""

import asyncio
import json
import logging
import time

from channels.db import database_sync_to_async
from django.conf import settings
from django.urls import reverse
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import RedisError

from . import admission, protocol, services, stream
from .models import CaptureSession
from .pairing.middleware import CAPTURE_DEVICE_SESSION_KEY
from .pairing.selectors import linked_device_active
from .selectors import capture_session_for_actor, capture_windows_left
from .socket_guard import GuardedSocket

log = logging.getLogger(__name__)


# How long a new socket waits for an older one to queue its audio and let go of the session.
TAKEOVER_WAIT_S = 2.0


class CaptureConsumer(GuardedSocket):
    rules = None  # the stream rules of this socket (stream.Stream), from connect on
    superseded = False  # closed for a newer socket or a revoked device: leaves its memory alone
    group = None
    device_group = None
    counted = False  # counted among this process's open sockets (admission.MONITOR)

    async def connect(self):
        await self.accept()  # first, so that a refusal carries a close code the browser can read
        # Admission first: a newcomer turned away while the process is busy costs it no more database
        # work than the sign-in check (bench/ingest.py: a burst of refused connects slowed the acks).
        if not await self._admit():
            return await self.close(code=protocol.CLOSE_BUSY)
        try:
            session = await self._session()
        except stream.DOMAIN_ERRORS as exc:
            return await self._refuse(exc)
        self.session_id = session.id
        max_frames = services.capture_session_max_frames(mode=session.mode)
        self_mode = session.mode == CaptureSession.Mode.SELF
        limits = stream.Limits.of(settings.CAPTURE, max_frames=max_frames, self_mode=self_mode)
        self.rules = stream.Stream(status=session.status, limits=limits)
        self.group = services.session_group(session.id)
        await self.channel_layer.group_add(self.group, self.channel_name)

    async def _session(self) -> CaptureSession:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            raise stream.CloseSocket(protocol.CLOSE_UNAUTHENTICATED, "not signed in")
        device_id = self.scope["session"].get(CAPTURE_DEVICE_SESSION_KEY)
        if device_id is not None:
            device = await database_sync_to_async(linked_device_active)(device_id=device_id, user=user)
            if device is None:
                raise stream.CloseSocket(protocol.CLOSE_FORBIDDEN, "device revoked")
            self.device_group = services.device_group(device.id)
            await self.channel_layer.group_add(self.device_group, self.channel_name)
        session_id = self.scope["url_route"]["kwargs"]["session_id"]
        session = await database_sync_to_async(capture_session_for_actor)(session_id=session_id, user=user)
        if session is None:
            raise stream.CloseSocket(protocol.CLOSE_NOT_FOUND, "no such session")
        services.capture_session_assert_can_stream(session=session)
        return session

    async def _admit(self) -> bool:
        """New sessions are refused at the door while this process is past what it can serve; a
        session that is already recording never is (docs/protocol.md, capture/admission.py)."""
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return True  # _session() closes it with 4401; it never counts
        session_id = self.scope["url_route"]["kwargs"]["session_id"]
        admission.MONITOR.ensure_running()
        why = admission.MONITOR.refusal(admission.Limits.of(settings.WEB_ADMISSION))
        # Counted before any await: a burst of connects must not all pass the check at once.
        admission.MONITOR.sockets += 1
        self.counted = True
        if why is None:
            await asyncio.to_thread(admission.session_admit, session_id=session_id)
            return True
        if await asyncio.to_thread(admission.session_marked, session_id=session_id):
            return True
        if await database_sync_to_async(admission.session_has_audio)(session_id=session_id, user=user):
            return True
        log.info("session %s: new session refused at the door, web process busy (%s)", session_id, why)
        admission.MONITOR.sockets -= 1
        self.counted = False
        return False

    async def disconnect(self, code):
        if self.counted:
            admission.MONITOR.sockets -= 1
            self.counted = False
        log.info("capture socket for session %s closed with %s", self.session_id, code)
        await self._keep_what_was_acked()
        await self._release_writer()
        for group in (self.group, self.device_group):
            if group:
                await self.channel_layer.group_discard(group, self.channel_name)

    async def _keep_what_was_acked(self):
        """A reload or a closed tab takes the browser's copy of the audio with it, so what this socket
        acked but still holds in a windower is queued now, as on Stop; the next hello's `next`
        continues after it. Not when another socket took over (it resends from its own `next`, and
        two writers of the same frames would refuse each other) or the device was revoked."""
        if self.rules is None or self.superseded:
            return
        try:
            await self._perform(self.rules.stop())
        except (*stream.DOMAIN_ERRORS, RedisError, BrokerError, OSError) as exc:
            # The browser, if it is still there, resends these frames after it reconnects.
            log.warning(
                "session %s: audio in memory not queued at close (%s)", self.session_id, type(exc).__name__
            )

    async def _release_writer(self):
        if self.rules is None:
            return
        try:
            await asyncio.to_thread(
                services.capture_writer_release, session_id=self.session_id, channel_name=self.channel_name
            )
        except (RedisError, OSError) as exc:  # the claim expires by itself
            log.warning("session %s: writer claim not released (%s)", self.session_id, type(exc).__name__)

    def writer_claim(self):
        # Refreshed with the socket's own key, every few seconds (socket_guard._Keeper); only a socket
        # that still holds it refreshes it (the Lua check), so a superseded one need not ask.
        return None if self.rules is None or self.superseded else self.session_id

    async def _take_over(self):
        """Asks any older socket of this session to let go, and waits until it has queued what it
        acked (or for at most TAKEOVER_WAIT_S, for a socket that died without a word)."""
        await self.channel_layer.group_send(self.group, {"type": "capture.takeover", "by": self.channel_name})
        deadline = time.monotonic() + TAKEOVER_WAIT_S
        while time.monotonic() < deadline:
            holder = await asyncio.to_thread(services.capture_writer_holder, session_id=self.session_id)
            if holder in (None, self.channel_name):
                break
            await asyncio.sleep(0.05)
        await asyncio.to_thread(
            services.capture_writer_claim, session_id=self.session_id, channel_name=self.channel_name
        )

    async def receive(self, text_data=None, bytes_data=None):
        if self.rules is None or self.closing:
            return
        try:
            if bytes_data is not None:
                await self._audio(bytes_data)
            elif text_data is not None:
                await self._control(text_data)
        except stream.DOMAIN_ERRORS as exc:
            await self._refuse(exc)

    async def _audio(self, data: bytes):
        self.rules.admit(len(data))
        frame = protocol.decode_frame(data)
        await self._perform(self.rules.audio(frame, now=time.monotonic()))

    async def _control(self, text: str):
        self.rules.admit(len(text))
        message = protocol.decode_control(text)
        handler = {"hello": self._hello, "pause": self._pause, "resume": self._pause, "stop": self._stop}
        await handler[message["type"]](message)

    async def _refuse(self, exc: Exception):
        outcome = stream.refusal(exc)
        level = logging.INFO if isinstance(outcome, stream.Close) else logging.DEBUG
        log.log(level, "session %s: refused with %s (%s)", self.session_id, outcome, exc)
        await self._perform([outcome])

    async def _perform(self, outputs: list[stream.Output]):
        for output in outputs:
            match output:
                case stream.Send(message):
                    await self.send(text_data=json.dumps(message))
                case stream.Close(code):
                    await self.close(code=code)
                case stream.Queue(windows):
                    for window in windows:  # StaleWriter (another socket took over) stops the rest
                        await self._db(services.capture_window_close, window=window)
                case stream.Stop():
                    await self._stop({})
                case stream.Progress():
                    left = await self._db(capture_windows_left)
                    await self._perform([stream.progress(left)])

    def _db(self, function, **kwargs):
        return database_sync_to_async(function)(session_id=self.session_id, **kwargs)

    async def _hello(self, message: dict):
        channels = self.rules.hello(message)
        # A newer socket for this session takes over: older ones queue what they hold and close, so
        # only one writer exists and `next` below continues after everything acked so far.
        await self._take_over()
        first = {ch: await self._db(services.capture_resume_point, channel=ch) for ch in channels}
        session = await database_sync_to_async(CaptureSession.objects.get)(id=self.session_id)
        commit = {"0": session.commit_0, "1": session.commit_1}
        welcome = self.rules.welcome(
            first_seq=first, status=session.status, commit=commit, now=time.monotonic()
        )
        await self._perform(welcome)

    async def _pause(self, message: dict):
        status = await self._db(services.capture_session_pause, paused=message["type"] == "pause")
        await self._perform(self.rules.set_status(status))

    async def _stop(self, message: dict):
        await self._perform(self.rules.stop())
        session = await self._db(services.capture_session_stop)
        await self._perform(self.rules.stopped(session.status))

    # Group events -------------------------------------------------------------------------------

    async def capture_commit(self, event):
        try:
            await self._perform(self.rules.committed(event["commit"], windows_left=event["windows_left"]))
        except stream.DOMAIN_ERRORS as exc:  # a held window released to a writer that was taken over
            await self._refuse(exc)

    async def capture_done(self, event):
        url = reverse("recaps:detail", kwargs={"recap_id": event["recap_id"]})
        await self._perform(self.rules.done(url, polishing=bool(event.get("polishing"))))

    async def capture_polishing(self, event):
        await self._perform(self.rules.polishing(event["step"], event["steps"]))

    async def capture_polished(self, event):
        await self._perform(self.rules.polished())

    async def capture_lost(self, event):
        await self.close(code=protocol.CLOSE_RESEND)

    async def capture_takeover(self, event):
        if event["by"] != self.channel_name:
            # What this socket acked is queued first (the newer socket waits for the release below),
            # then it lets go: the older tab's last seconds are kept, not overwritten.
            if event["by"]:
                await self._keep_what_was_acked()
            self.superseded = True
            await self._release_writer()
            await self.close(code=protocol.CLOSE_TAKEN_OVER)

    async def device_revoked(self, event):
        self.superseded = True
        await self.close(code=protocol.CLOSE_FORBIDDEN)
