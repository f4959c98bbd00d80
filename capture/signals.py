"""What capture tells the apps above it, without importing them (docs/architecture.md)."""

from django.dispatch import Signal

# A stopped session has every window transcribed: its transcript is ready to be handed over
# (capture.services.session_handoff). Sent after the commit that made it so; kwargs: session_id.
session_ready = Signal()

# A window's transcript was stored and the commit moved on; kwargs: session_id. Sent after the commit
# (capture.services.capture_window_done), from the worker that transcribed it.
transcript_committed = Signal()
