"""Test-only fault injection: the one place it lives.

`UNDERTONE_FAULT=recap_build,recap_view` in the environment (read once, into settings.FAULT_INJECTION,
by settings/base.py) makes `fault_point(name, detail=...)` raise InjectedFault at the named point.
The message carries `detail`, which the caller passes *content* in (the transcript text, the recap
summary), on purpose: it is what a careless `raise ValueError(f"cannot parse {text!r}")` deep in the
pipeline would look like. `bench/privacy_audit.py --faults` and tests/test_privacy_audit.py then check
that no log line and no error page shows that text.

Off unless the variable names a point. settings/production.py sets FAULT_INJECTION to empty and refuses
to start when UNDERTONE_FAULT is set, so it cannot be switched on in production.
"""

from collections.abc import Callable

from django.conf import settings

FAULT_POINTS = frozenset({"recap_build", "recap_view"})


class InjectedFault(RuntimeError):
    """Raised by fault_point() when its point is switched on. Never raised in production."""


def fault_point(name: str, *, detail: Callable[[], str] | str = "") -> None:
    """Raise InjectedFault at `name` if it is switched on. `detail` may be a callable, so the content
    is only put together when the fault fires, never on the normal path."""
    if name not in FAULT_POINTS:
        raise ValueError(f"unknown fault point {name!r}")  # a typo would silently test nothing
    if name in getattr(settings, "FAULT_INJECTION", ()):
        raise InjectedFault(f"injected fault at {name}: {detail() if callable(detail) else detail}")
