"""Writes of the consent gate: record the consent of one session and remember the answers."""

from django.db import transaction

from capture import services as capture_services
from capture.models import CaptureSession, ConsentPreference

from .records import consent_record_build, consent_record_validate


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
        session = capture_services.capture_consent_record(session=session, consent=record)
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
