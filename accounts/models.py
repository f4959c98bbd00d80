from django.conf import settings
from django.db import models


class Notification(models.Model):
    """Account events the person should know about (e.g. "New device linked"). No session content."""

    class Kind(models.TextChoices):
        DEVICE_LINKED = "device_linked", "Device linked"
        DEVICE_REVOKED = "device_revoked", "Device revoked"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    message = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
