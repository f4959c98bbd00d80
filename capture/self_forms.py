"""Forms of "recap in your own voice" (self mode). Kept apart from forms.py, whose session-consent form
has its own owner and its own rules (therapist agreement, where the person is)."""

from django import forms


class SelfConsentForm(forms.Form):
    own_voice_only = forms.BooleanField(
        required=True,
        label="Only my voice, recorded after the session. No one else is recorded.",
        error_messages={"required": "Please tick the box to say it's only your voice, then continue."},
    )
