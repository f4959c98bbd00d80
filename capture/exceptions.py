"""Domain errors of the capture pipeline. The consumer maps each to an error frame or a close code
(docs/protocol.md); views map them to pages."""


class CaptureError(Exception):
    code = "capture_error"


class ConsentMissing(CaptureError):
    code = "consent_missing"


class SessionFinished(CaptureError):
    code = "session_finished"


class InvalidTransition(CaptureError):
    code = "invalid_transition"


class StaleWriter(CaptureError):
    """Another connection already queued this part of the session (a newer socket took over)."""

    code = "stale_writer"
