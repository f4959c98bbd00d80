from django import forms


class ConsentForm(forms.Form):
    therapist_agreed = forms.BooleanField(
        required=True,
        label="My therapist agreed to this recording",
        error_messages={"required": "Please confirm your therapist agreed before recording."},
    )
