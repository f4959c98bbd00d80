import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from undertone_web.crypto import EncryptedJSONField, EncryptedTextField


class Recap(models.Model):
    class Kind(models.TextChoices):
        # The same values as CaptureSession.Mode: recap_build copies the session's mode.
        SESSION = "session", "Therapy session"
        SELF = "self", "Recap in your own voice"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recaps")
    session = models.OneToOneField(
        "capture.CaptureSession", null=True, blank=True, on_delete=models.SET_NULL, related_name="recap"
    )
    number = models.PositiveIntegerField()  # "Session 4": neutral label, per user
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SESSION)
    engine = models.CharField(max_length=32)
    data = EncryptedJSONField()
    session_date = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-session_date"]
        constraints = [models.UniqueConstraint(fields=["user", "number"], name="recap_number_per_user")]

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("recaps:detail", args=[self.id])

    @property
    def label(self) -> str:
        """The session's title as the person sees it everywhere: their own, or one made from its top
        themes ("Sleep and family · 29 Nov"); recaps/edits.py."""
        from .edits import dated_title

        return dated_title(self)

    @property
    def is_self(self) -> bool:
        """Made from the person's own talk-through after the session, not from the session itself."""
        return self.kind == self.Kind.SELF


class RecapAccess(models.Model):
    """Audit: who did what to which recap, when. Never content."""

    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        EXPORT = "export", "Exported"
        DELETE = "delete", "Deleted"
        NOTE = "note", "Note saved"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    recap_id = models.UUIDField()
    action = models.CharField(max_length=16, choices=Action.choices)
    at = models.DateTimeField(auto_now_add=True)


class MomentSchedule(models.Model):
    """When one of a recap's moments (data["moments"][index]) surfaces on the home screen. Holds an index,
    never the moment's text, so nothing here needs encrypting."""

    recap = models.ForeignKey(Recap, on_delete=models.CASCADE, related_name="moment_schedules")
    index = models.PositiveSmallIntegerField()
    surface_at = models.DateTimeField(db_index=True)
    seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["surface_at", "index"]
        constraints = [models.UniqueConstraint(fields=["recap", "index"], name="moment_schedule_once")]


class ClientSettings(models.Model):
    """When the person's next appointment is: one date, or a weekly slot. Drives the Pre-Session Brief."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recap_settings"
    )
    next_appointment = models.DateTimeField(null=True, blank=True)
    weekly_weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, null=True, blank=True)
    weekly_time = models.TimeField(null=True, blank=True)
    brief_hours_before = models.PositiveSmallIntegerField(default=24)
    updated_at = models.DateTimeField(auto_now=True)


class NextStepStatus(models.Model):
    """A next step (data["next_steps"][index]) the person marked done."""

    recap = models.ForeignKey(Recap, on_delete=models.CASCADE, related_name="next_step_statuses")
    index = models.PositiveSmallIntegerField()
    done_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["recap", "index"], name="next_step_status_once")]


class SessionNote(models.Model):
    """The person's own words about a session: content, so encrypted like the recap."""

    recap = models.OneToOneField(Recap, on_delete=models.CASCADE, related_name="note")
    text = EncryptedTextField()
    updated_at = models.DateTimeField(auto_now=True)


class AfterNote(models.Model):
    """A private note written after a session, from three guided prompts. It stands on its own: when
    the therapist said no to recording there is no recap at all. It may point at a recap (SET_NULL:
    deleting a recording does not take the person's own words with it). Its "to practise" and "to bring
    back" answers feed the Pre-Session Brief.

    Content, so encrypted like the recap: the three answers are one Fernet token (one JSON document),
    so not even which prompts were answered shows at rest."""

    FIELDS: tuple[str, ...] = ("stood_out", "practise", "bring_back")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="after_notes")
    recap = models.ForeignKey(
        Recap, null=True, blank=True, on_delete=models.SET_NULL, related_name="after_notes"
    )
    content = EncryptedJSONField()  # {"stood_out": str, "practise": str, "bring_back": str}
    # The note's date, shown as "From your note, 21 Nov"; a default (not auto_now_add) so the brief's
    # time window can be tested with notes of any age.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("recaps:after_note_edit", args=[self.id])

    def answer(self, key: str) -> str:
        return str((self.content or {}).get(key) or "")

    @property
    def stood_out(self) -> str:
        return self.answer("stood_out")

    @property
    def practise(self) -> str:
        return self.answer("practise")

    @property
    def bring_back(self) -> str:
        return self.answer("bring_back")


class ReminderSettings(models.Model):
    """What the person asked to be told between sessions (recaps/reminders.py, recaps/calendar.py). Each
    reminder is opt-in: off until turned on. None of them carries content, so nothing here is encrypted."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reminder_settings"
    )
    email_moments = models.BooleanField(default=False)
    email_brief = models.BooleanField(default=False)
    # The private calendar feed's secret, as sha256 hex only (like the QR tokens of capture/pairing): the
    # URL is shown once when it is made and cannot be read back from the database. Null: no feed.
    calendar_token_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    calendar_created_at = models.DateTimeField(null=True, blank=True)
    calendar_fetched_at = models.DateTimeField(null=True, blank=True)  # "your calendar last asked…"
    updated_at = models.DateTimeField(auto_now=True)


class ReminderSent(models.Model):
    """One reminder email, claimed before it is sent: the unique (user, kind, key) is what makes the
    beat job idempotent. `key` names what it was about without content: a local date for moments, the
    appointment's time for the brief."""

    class Kind(models.TextChoices):
        MOMENT = "moment", "A moment is waiting"
        BRIEF = "brief", "The Pre-Session Brief is ready"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reminders_sent"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    key = models.CharField(max_length=64)
    sent_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind", "key"], name="reminder_sent_once")]
