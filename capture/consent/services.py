"""Writes of the consent gate: record the consent of one session (the only way a session starts
recording), remember the answers, and start a self-mode session."""

from django.db import transaction
from django.utils import timezone

from capture import services as capture_services
from capture.exceptions import ConsentMissing, InvalidTransition
from capture.models import CaptureSession, ConsentPreference, LinkedDevice

from .records import THERAPIST_NOT_AGREED, consent_record_build, consent_record_validate, therapist_agreed


def consent_give(
    *,
    session: CaptureSession,
    session_type: str,
    client: str,
    therapist: str | None,
    therapist_agreed: bool,
) -> CaptureSession:
    """Store the consent record with the session (which may then record) and remember the answers,
    but not the confirmation, for next time. One transaction: both or neither.

    Raises ConsentRecordInvalid (incomplete, unconfirmed) before anything is written; the capture
    service then guards the state (InvalidTransition when consent was already given)."""
    record = consent_record_build(
        session_type=session_type, client=client, therapist=therapist, therapist_agreed=therapist_agreed
    )
    consent_record_validate(record)
    with transaction.atomic():
        session = consent_record_save(session=session, consent=record)
        consent_preference_save(
            user=session.user, session_type=session_type, client=client, therapist=therapist
        )
    return session


def consent_preference_save(
    *, user, session_type: str, client: str, therapist: str | None
) -> ConsentPreference:
    preference, _ = ConsentPreference.objects.update_or_create(
        user=user,
        defaults={
            "session_type": session_type,
            "client_location": client,
            # Kept for in-person sessions too: the next video session then starts from it.
            **({"therapist_location": therapist} if therapist else {}),
        },
    )
    return preference


def self_session_start(*, user, device: LinkedDevice | None = None) -> CaptureSession:
    """A "recap in your own voice" session, ready to record: created and consented in one step.

    Nobody else is recorded (the person talks the session through afterwards, microphone only), so
    the consent is the person's own confirmation of that; no therapist or jurisdiction rule applies.
    One transaction, so no half-made session waits at a consent step that self mode does not have."""
    with transaction.atomic():
        session = capture_services.capture_session_create(
            user=user, device=device, mode=CaptureSession.Mode.SELF
        )
        return consent_record_save(
            session=session,
            consent={"mode": "self", "own_voice_only": True, "confirmed_at": timezone.now().isoformat()},
        )


def consent_record_save(*, session: CaptureSession, consent: dict) -> CaptureSession:
    if session.status != CaptureSession.Status.CONSENT:
        raise InvalidTransition("consent is recorded once, before recording")
    if session.mode == CaptureSession.Mode.SESSION and not therapist_agreed(consent):
        raise ConsentMissing(THERAPIST_NOT_AGREED)
    session.consent = consent
    session.consent_at = timezone.now()
    session.status = CaptureSession.Status.RECORDING
    session.save(update_fields=["consent", "consent_at", "status"])
    return session
