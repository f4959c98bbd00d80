from django import forms

from .edits import SECTIONS, TITLE_MAX, WORD_MAX, WRITABLE, dated_title
from .models import ClientSettings, Recap


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


NOTE_ANSWER_MAX = 1000  # characters per prompt: a note, not a journal; keeps the brief readable


class AfterNoteForm(forms.Form):
    """The after-session note: three guided prompts, each optional, at least one answered."""

    stood_out = forms.CharField(
        label="What stood out",
        help_text="A moment, a feeling, something your therapist said.",
        required=False,
        max_length=NOTE_ANSWER_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    practise = forms.CharField(
        label="What to practise",
        help_text="Something to try before next time. One per line.",
        required=False,
        max_length=NOTE_ANSWER_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    bring_back = forms.CharField(
        label="What to bring back",
        help_text="A question or a topic for your next session. One per line.",
        required=False,
        max_length=NOTE_ANSWER_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    recap = forms.ModelChoiceField(
        label="Which session is it about?",
        queryset=None,
        required=False,
        empty_label="No recording (just this note)",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # Only this person's recaps can be picked: another id is "not one of the choices" (no IDOR).
        # With their data, so each is named by its title.
        self.fields["recap"].queryset = Recap.objects.filter(user=user).order_by("-session_date")
        for name in ("stood_out", "practise", "bring_back"):
            self.fields[name].widget.attrs["aria-describedby"] = f"id_{name}-help"
        self.fields["recap"].label_from_instance = lambda r: (
            dated_title(r) + (" · own voice" if r.is_self else "")
        )

    def clean(self):
        data = super().clean()
        if not any((data.get(key) or "").strip() for key in ("stood_out", "practise", "bring_back")):
            raise forms.ValidationError(
                "Write something in at least one of the three boxes. A few words is plenty.",
                code="empty",
            )
        return data


# Shaping a recap: these render the inputs and read the ids; the wording is checked by recaps/edits.py,
# which says what was wrong in the card that was used.


class RecapTitleForm(forms.Form):
    title = forms.CharField(
        label="Title",
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "maxlength": TITLE_MAX}),
    )


class FixWordForm(forms.Form):
    wrong = forms.CharField(
        label="Replace",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "off",
                "spellcheck": "false",
                "maxlength": WORD_MAX,
            }
        ),
    )
    right = forms.CharField(
        label="with",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "off", "maxlength": WORD_MAX}),
    )


class ItemRemoveForm(forms.Form):
    section = forms.ChoiceField(choices=list(SECTIONS.items()))
    index = forms.IntegerField(min_value=0, max_value=999)
    digest = forms.CharField(max_length=64)


class ItemSaveForm(forms.Form):
    """Which next step or question to reword (index and digest), or none to add one."""

    section = forms.ChoiceField(choices=[(key, SECTIONS[key]) for key in WRITABLE])
    index = forms.IntegerField(min_value=0, max_value=999, required=False)
    digest = forms.CharField(max_length=64, required=False)
