import uuid

from django.conf import settings
from django.db import models

from undertone_web.crypto import EncryptedJSONField, EncryptedTextField


class TranscriptSegment(models.Model):
    """Short-lived, encrypted: deleted in the transaction that saves the recap, or purged after a TTL."""

    session = models.ForeignKey("capture.CaptureSession", on_delete=models.CASCADE, related_name="segments")
    window = models.ForeignKey("capture.CaptureWindow", on_delete=models.CASCADE, related_name="segments")
    index = (
        models.PositiveIntegerField()
    )  # position within the window: (window, index) makes writes idempotent
    channel = models.PositiveSmallIntegerField()
    start = models.FloatField()
    end = models.FloatField()
    text = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["window", "index"], name="segment_once_per_window")]
        ordering = ["start"]

    @property
    def speaker(self) -> str:
        return "client" if self.channel == 0 else "therapist"


class Recap(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recaps")
    session = models.OneToOneField(
        "capture.CaptureSession", null=True, blank=True, on_delete=models.SET_NULL, related_name="recap"
    )
    number = models.PositiveIntegerField()  # "Session 4": neutral label, per user
    kind = models.CharField(max_length=16, default="session")
    engine = models.CharField(max_length=32)
    data = EncryptedJSONField()
    session_date = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-session_date"]
        constraints = [models.UniqueConstraint(fields=["user", "number"], name="recap_number_per_user")]

    @property
    def label(self) -> str:
        return f"Session {self.number} · {self.session_date:%b %Y}"


class RecapAccess(models.Model):
    """Audit: who did what to which recap, when. Never content."""

    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        EXPORT = "export", "Exported"
        DELETE = "delete", "Deleted"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    recap_id = models.UUIDField()
    action = models.CharField(max_length=16, choices=Action.choices)
    at = models.DateTimeField(auto_now_add=True)
