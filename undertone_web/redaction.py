"""Keep what was said out of logs, even when code fails while holding it.

Log calls in this project pass ids and counts only, but an *exception* can carry content in its message
(`ValueError(f"cannot parse {text!r}")`, a KeyError on a phrase, a library quoting its input), and two
places print exception messages on their own: every traceback in a log record, and Celery's failure line
(`Task recaps.tasks.recap_build[id] raised unexpected: ValueError('...')`). bench/privacy_audit.py
--faults showed both writing the transcript into the worker log and the recap into Daphne's. So:

- ContentFreeFormatter (the formatter of every log handler, settings LOGGING) prints tracebacks with
  every frame (file, line, function, code) but each exception's message withheld, unless its type is
  about infrastructure and never about content (SAFE_MESSAGE_TYPES: OS and network errors, Redis and
  database errors, configuration, time limits);
- content_free_errors (on every Celery task) re-raises anything else as ContentFreeError, whose message
  names only the original type and where it was raised, so Celery's failure line is clean too. OS and
  network errors pass through unchanged, which keeps `autoretry_for` working.
"""

from __future__ import annotations

import functools
import logging
import traceback
from pathlib import Path

WITHHELD = "(message withheld: it may quote what was said)"
ROOT = Path(__file__).resolve().parent.parent


class ContentFreeError(Exception):
    """A task failed; the message names the original exception's type and place, never its text."""


def _safe_types() -> tuple[type, ...]:
    from django.core.exceptions import ImproperlyConfigured
    from django.db import InterfaceError, OperationalError

    types: list[type] = [OSError, ContentFreeError, ImproperlyConfigured, OperationalError, InterfaceError]
    try:
        from redis.exceptions import RedisError

        types.append(RedisError)
    except ImportError:  # pragma: no cover - redis is a dependency
        pass
    try:
        from billiard.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
        from celery.exceptions import TaskPredicate  # Retry, Ignore, Reject: control flow

        types += [SoftTimeLimitExceeded, TimeLimitExceeded, TaskPredicate]
    except ImportError:  # pragma: no cover - celery is a dependency
        pass
    return tuple(types)


@functools.cache
def safe_message_types() -> tuple[type, ...]:
    return _safe_types()


def message_is_safe(exc: BaseException) -> bool:
    return isinstance(exc, safe_message_types())


def _where(tb) -> str:
    """The last three frames, project files shown relative to the repository: 'a.py:3 f <- b.py:9 g'."""
    frames = traceback.extract_tb(tb)[-3:] if tb is not None else []
    parts = []
    for frame in reversed(frames):
        path = Path(frame.filename)
        name = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name
        parts.append(f"{name}:{frame.lineno} {frame.name}")
    return " <- ".join(parts) or "?"


def exception_summary(exc: BaseException) -> str:
    return f"{type(exc).__module__}.{type(exc).__qualname__} at {_where(exc.__traceback__)}"


def _format(te: traceback.TracebackException, exc: BaseException | None, seen: set[int]) -> list[str]:
    seen.add(id(te))
    lines: list[str] = []
    if te.__cause__ is not None and id(te.__cause__) not in seen:
        cause = exc.__cause__ if exc is not None else None
        lines += _format(te.__cause__, cause, seen)
        lines.append("\nThe above exception was the direct cause of the following exception:\n\n")
    elif te.__context__ is not None and not te.__suppress_context__ and id(te.__context__) not in seen:
        context = exc.__context__ if exc is not None else None
        lines += _format(te.__context__, context, seen)
        lines.append("\nDuring handling of the above exception, another exception occurred:\n\n")
    if te.stack:
        lines.append("Traceback (most recent call last):\n")
        lines += te.stack.format()
    name = f"{te.exc_type.__module__}.{te.exc_type.__qualname__}" if te.exc_type else "Exception"
    if exc is not None and message_is_safe(exc):
        lines += list(te.format_exception_only())
    else:
        lines.append(f"{name}: {WITHHELD}\n")
    return lines


def format_exception_content_free(exc_type, exc, tb) -> str:
    te = traceback.TracebackException(exc_type, exc, tb, capture_locals=False)
    return "".join(_format(te, exc, set()))


class ContentFreeFormatter(logging.Formatter):
    """logging.Formatter whose tracebacks keep every frame and drop every unsafe exception message."""

    def formatException(self, ei) -> str:  # noqa: N802 - logging's name
        return format_exception_content_free(*ei).rstrip("\n")

    def format(self, record: logging.LogRecord) -> str:
        # exc_text is a cache shared by every handler: never reuse another formatter's (full) text, and
        # never leave ours behind for another handler.
        saved, record.exc_text = record.exc_text, None
        try:
            return super().format(record)
        finally:
            record.exc_text = saved


def content_free_errors(func):
    """For Celery tasks: an unexpected exception leaves the task as ContentFreeError (type and place,
    no message, no chained original), so Celery's failure line and traceback hold no content."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if message_is_safe(exc):
                raise
            raise ContentFreeError(exception_summary(exc)) from None

    wrapper.content_free = True
    return wrapper
