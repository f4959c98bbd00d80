"""Admission control of the web tier (issue 18, docs/protocol.md "Busy: refused at the door").

A Daphne process past what it can serve refuses NEW capture sessions at the door (close 4503, before
any `welcome`), and never closes a session that is already recording because of load: that one's
frames are only acked later, and the browser keeps them until they are committed anyway. Turning a
newcomer away costs one sentence on a page that has not started; dropping a live recording at random
(what 400 streams did to one process before this) costs someone's session.

Per process, in memory and without I/O, so the decision itself cannot stall the event loop:
- event-loop lag: how late a 50 ms sleep wakes, averaged over the last 2 s. Sustained lag means the loop
  has more work than time; every ack waits behind it;
- sockets: capture sockets open in this process, against a configured cap (a fast ramp of connects is
  admitted before its load shows up as lag: the cap is what holds that).
"Already recording" is decided by the server, never by what the browser says: a Redis key set when the
session was first admitted (`uw:admitted:<session>`), or, should Redis have lost it, audio of the
session already on the server (a window row). The pure part, `refusal()`, is unit-tested apart.
"""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass

# How often the loop's lateness is sampled, and over how long it is averaged: long enough that one
# slow callback (a GC pass, a big JSON) does not turn people away, short enough to react within seconds.
LAG_SAMPLE_S = 0.05
LAG_WINDOW_S = 2.0
# A session admitted once stays admitted this long, whichever process its later sockets reach: its
# reconnects, a reload and a takeover from another tab. As long as a session may be continued (the purge
# job finishes one left longer than CAPTURE["PURGE_AFTER_S"], 6 h).
ADMITTED_TTL_S = 6 * 3600


def _admitted_key(session_id) -> str:
    return f"uw:admitted:{session_id}"


@dataclass(frozen=True)
class Limits:
    max_sockets: int  # per process; 0 = no cap
    max_lag_ms: float  # mean event-loop lag over LAG_WINDOW_S; 0 = not checked

    @classmethod
    def of(cls, web: dict) -> Limits:
        """From settings.WEB_ADMISSION."""
        return cls(max_sockets=web["MAX_SOCKETS_PER_PROCESS"], max_lag_ms=web["MAX_LOOP_LAG_MS"])


def refusal(*, sockets: int, lag_ms: float, limits: Limits) -> str | None:
    """Why a NEW session is turned away now ("sockets" or "lag"), or None when it is admitted."""
    if limits.max_sockets and sockets >= limits.max_sockets:
        return "sockets"
    if limits.max_lag_ms and lag_ms > limits.max_lag_ms:
        return "lag"
    return None


class LoadMonitor:
    """This process's load: open capture sockets and the event loop's recent lateness."""

    def __init__(self) -> None:
        self.sockets = 0
        self.lags: collections.deque[float] = collections.deque(maxlen=round(LAG_WINDOW_S / LAG_SAMPLE_S))
        self._task: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def ensure_running(self) -> None:
        """Starts the lag sampler on the running loop (once per loop: tests run several loops)."""
        loop = asyncio.get_running_loop()
        if self._loop is loop and self._task is not None and not self._task.done():
            return
        self._loop = loop
        self.lags.clear()
        self._task = loop.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            start = time.monotonic()
            await asyncio.sleep(LAG_SAMPLE_S)
            self.lags.append(max(0.0, time.monotonic() - start - LAG_SAMPLE_S))

    @property
    def lag_ms(self) -> float:
        return 1000 * sum(self.lags) / len(self.lags) if self.lags else 0.0

    def refusal(self, limits: Limits) -> str | None:
        return refusal(sockets=self.sockets, lag_ms=self.lag_ms, limits=limits)


MONITOR = LoadMonitor()


# Sessions admitted once (sync: callers hop to a thread, once per socket connect) ----------------------


def session_admit(*, session_id) -> None:
    from . import audio_store

    audio_store.client().set(_admitted_key(session_id), b"1", ex=ADMITTED_TTL_S)


def session_marked(*, session_id) -> bool:
    """Admitted before, by any process (the mark lives as long as the session may be continued)."""
    from . import audio_store

    return bool(audio_store.client().exists(_admitted_key(session_id)))


def session_has_audio(*, session_id, user) -> bool:
    """Audio of this person's session already on the server: it is recording, whatever Redis forgot."""
    from .models import CaptureWindow

    return CaptureWindow.objects.filter(session_id=session_id, session__user=user).exists()
