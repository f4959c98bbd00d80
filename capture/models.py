import uuid

from django.conf import settings
from django.db import models

from undertone_web.crypto import EncryptedJSONField, EncryptedTextField


class PairingRequest(models.Model):
    """A laptop tab asking to be signed in for capture through a QR code scanned by the phone.

    Only hashes are stored: the token (in the QR) and the binding secret (in the laptop's HttpOnly
    cookie). A relayed QR approved on the phone therefore signs in nobody who lacks the cookie."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        DECLINED = "declined", "Declined"
        COMPLETED = "completed", "Completed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    token_hash = models.CharField(max_length=64, unique=True)
    binding_hash = models.CharField(max_length=64)
    number = models.PositiveSmallIntegerField()
    user_agent = models.CharField(max_length=400, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    decided_at = models.DateTimeField(null=True, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)


class LinkedDevice(models.Model):
    """A browser signed in for capture only. Revoking it ends its session and closes its sockets."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="linked_devices"
    )
    name = models.CharField(max_length=120)
    user_agent = models.CharField(max_length=400, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]


class CaptureSession(models.Model):
    class Status(models.TextChoices):
        CONSENT = "consent", "Waiting for consent"
        RECORDING = "recording", "Recording"
        PAUSED = "paused", "Paused"
        ENDING = "ending", "Making the recap"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Mode(models.TextChoices):
        SESSION = "session", "Therapy session"
        SELF = "self", "Recap in your own voice"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="capture_sessions"
    )
    device = models.ForeignKey(LinkedDevice, null=True, blank=True, on_delete=models.SET_NULL)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.SESSION)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CONSENT)
    consent = models.JSONField(null=True, blank=True)  # what was confirmed, where, the rule shown; no content
    consent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    # Per channel: highest wire seq whose audio is transcribed and stored (-1: none yet).
    commit_0 = models.IntegerField(default=-1)
    commit_1 = models.IntegerField(default=-1)
    # Set when nobody pressed Stop and the purge job finished the session from what was saved
    # (capture.services.transcript_purge_stale); the recap says so.
    finished_automatically = models.BooleanField(default=False)
    # The key the capture page encrypts its not-yet-committed audio with in the browser (IndexedDB),
    # so a reload loses nothing. Held here, never in the browser, and blanked when the recap is made:
    # whatever a browser still holds is unreadable from then on. See docs/protocol.md.
    backlog_key = EncryptedTextField(null=True, blank=True, default=None)
    # The recap is saved but a language model is still writing its final version from the transcript,
    # which therefore lives on (encrypted) until then, and no longer (recaps.services.recap_polish).
    transcript_held_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    @property
    def in_person(self) -> bool:
        return self.is_in_person(self.mode, self.consent)

    @classmethod
    def is_in_person(cls, mode: str, consent: dict | None) -> bool:
        """Both people in one room: the microphone's channel holds both voices (capture/speakers.py)."""
        from .consent.law import IN_PERSON

        return mode == cls.Mode.SESSION and (consent or {}).get("session_type") == IN_PERSON


class CaptureWindow(models.Model):
    """A packed window of speech queued for transcription. Audio lives only in Redis (key by id);
    this row carries where it sits in the session, never audio or text."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        DONE = "done", "Done"
        LOST = "lost", "Lost"  # audio vanished from Redis before transcription; the browser resends

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(CaptureSession, on_delete=models.CASCADE, related_name="windows")
    channel = models.PositiveSmallIntegerField()
    seq_first = models.IntegerField()
    seq_last = models.IntegerField()
    pieces = models.JSONField(default=list)
    speech_s = models.FloatField(default=0.0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["channel", "seq_first"]
        indexes = [
            models.Index(fields=["session", "channel", "status"]),
            # A transcription task looks for the oldest queued windows of any session to batch.
            models.Index(fields=["status", "created_at"], name="window_queue_age"),
        ]
        # Two sockets racing for one session cannot queue the same audio twice.
        constraints = [
            models.UniqueConstraint(fields=["session", "channel", "seq_first"], name="window_once_per_seq")
        ]


class TranscriptSegment(models.Model):
    """Short-lived, encrypted: deleted in the transaction that saves the recap, or purged after a TTL."""

    session = models.ForeignKey(CaptureSession, on_delete=models.CASCADE, related_name="segments")
    window = models.ForeignKey(CaptureWindow, on_delete=models.CASCADE, related_name="segments")
    index = (
        models.PositiveIntegerField()
    )  # position within the window: (window, index) makes writes idempotent
    channel = models.PositiveSmallIntegerField()
    start = models.FloatField()
    end = models.FloatField()
    text = EncryptedTextField()
    # The recogniser's confidence, so the recap never quotes words it was unsure of. Null on rows
    # written before it was kept. `unsure` holds [start, end) character offsets into `text`, no words:
    # offsets say nothing about what was said, so unlike `text` they need no encryption.
    avg_logprob = models.FloatField(null=True)
    no_speech_prob = models.FloatField(null=True)
    unsure = models.JSONField(default=list, blank=True)
    # In-person sessions (both voices on the microphone's channel): which of the session's two voices
    # spoke (capture/speakers.py) and how sure the segmentation was; at the handoff the voices are named
    # in speaker_label ("client", "therapist", or "unknown" when the session could not tell them
    # apart with confidence). Null on two-channel sessions, where the channel says who spoke.
    voice = models.PositiveSmallIntegerField(null=True, blank=True)
    speaker_confidence = models.FloatField(null=True, blank=True)
    speaker_label = models.CharField(max_length=16, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The table keeps the name it had when the model lived in recaps: moving it was a code move
        # (capture writes and reads the short-lived transcript), not a data migration.
        db_table = "recaps_transcriptsegment"
        constraints = [models.UniqueConstraint(fields=["window", "index"], name="segment_once_per_window")]
        ordering = ["start"]

    @property
    def speaker(self) -> str:
        if self.speaker_label:
            return self.speaker_label
        return "client" if self.channel == 0 else "therapist"


class TranscriptNotes(models.Model):
    """A language model's structured notes on one chunk of a session's transcript (the map step of
    recaps/engines/llm.py), written while the session records so that Stop has only the reduce left.
    Content derived from the transcript: encrypted like it, and deleted with it (capture.services
    deletes both together). Capture stores them opaquely; recaps writes and reads them."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"  # the model could not: the chunk's lines go to the reduce as they are

    session = models.ForeignKey(CaptureSession, on_delete=models.CASCADE, related_name="notes")
    chunk = models.PositiveIntegerField()  # session time [chunk * size, (chunk + 1) * size)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    data = EncryptedJSONField(null=True, blank=True, default=None)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["chunk"]
        # A chunk's notes task is queued once, however many windows commit after it is due.
        constraints = [models.UniqueConstraint(fields=["session", "chunk"], name="notes_once_per_chunk")]


class ConsentPreference(models.Model):
    """The consent gate's answers, prefilled next time: how sessions happen and where everyone is.
    Never the confirmation that the therapist agreed: that is asked afresh every session."""

    class SessionType(models.TextChoices):
        VIDEO = "video", "By video"
        IN_PERSON = "in_person", "In person"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consent_preference"
    )
    session_type = models.CharField(max_length=16, choices=SessionType.choices)
    client_location = models.CharField(max_length=16)  # a code of capture/consent/jurisdictions.json
    therapist_location = models.CharField(max_length=16, blank=True)  # video sessions only
    updated_at = models.DateTimeField(auto_now=True)
