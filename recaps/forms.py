from django import forms

from .models import ClientSettings


class AppointmentForm(forms.Form):
    ONCE, WEEKLY = "once", "weekly"

    kind = forms.ChoiceField(
        label="My appointments are",
        choices=[(ONCE, "On a date I set"), (WEEKLY, "Every week at the same time")],
        widget=forms.RadioSelect,
        initial=ONCE,
    )
    next_appointment = forms.DateTimeField(
        label="Next appointment",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    weekly_weekday = forms.TypedChoiceField(
        label="Day",
        required=False,
        choices=[("", "—"), *ClientSettings.Weekday.choices],
        coerce=int,
        empty_value=None,
    )
    weekly_time = forms.TimeField(
        label="Time", required=False, widget=forms.TimeInput(attrs={"type": "time"})
    )
    brief_hours_before = forms.IntegerField(
        label="Open my brief this many hours before", min_value=1, max_value=168, initial=24
    )

    def clean(self):
        data = super().clean()
        if data.get("kind") == self.ONCE:
            if not data.get("next_appointment"):
                self.add_error("next_appointment", "Choose the date and time of your next appointment.")
            data["weekly_weekday"] = data["weekly_time"] = None
        elif data.get("kind") == self.WEEKLY:
            if data.get("weekly_weekday") is None:
                self.add_error("weekly_weekday", "Choose the day.")
            if not data.get("weekly_time"):
                self.add_error("weekly_time", "Choose the time.")
            data["next_appointment"] = None
        return data


class SessionNoteForm(forms.Form):
    text = forms.CharField(
        label="Your note",
        required=False,
        max_length=4000,
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": "Anything you want to remember about this session."}
        ),
    )
