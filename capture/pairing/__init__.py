"""The QR handoff: a signed-out laptop tab is linked for capture by the person's signed-in phone.

Importing the package connects the login-time receiver (signals.py) that the approval page's re-auth
check reads, whichever of the package's modules is imported first."""

from . import signals  # noqa: F401
