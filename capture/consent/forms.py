"""Forms of the consent gate: the session consent (where everyone is, the rule there, the therapist's
agreement), the message builder, and the own-voice confirmation of self mode."""

from django import forms

from ..models import ConsentPreference
from .law import VIDEO, RuleDecision, consent_rule_for, law_table
from .script import FORMATS, REASONS, TONES


def location_choices() -> list:
    """Grouped for the <select>: United States, Canada, elsewhere. Read from the law table, so a bad
    table fails when this module is imported (start-up), not in front of a person."""
    return [("", "Choose a place…")] + [
        (group, [(j.code, j.name) for j in places]) for group, places in law_table().grouped()
    ]


class ConsentForm(forms.Form):
    """The consent gate. `shown_for` says which answers the rule on the page was shown for: the
    confirmation only counts once the person has seen the rule for the places they chose."""

    session_type = forms.ChoiceField(
        label="How is this session happening?",
        choices=ConsentPreference.SessionType.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Please choose how this session happens."},
    )
    client_location = forms.ChoiceField(
        label="Where are you?",
        choices=location_choices,
        error_messages={
            "required": "Please choose where you are.",
            "invalid_choice": "Please choose a place from the list.",
        },
    )
    therapist_location = forms.ChoiceField(
        label="Where is your therapist?",
        choices=location_choices,
        required=False,
        error_messages={"invalid_choice": "Please choose a place from the list."},
    )
    therapist_agreed = forms.BooleanField(
        label="My therapist agreed to me recording this session to make a private recap",
        error_messages={
            "required": "Please confirm that your therapist agreed. Nothing is recorded until you do."
        },
    )
    shown_for = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, check_only: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        # "Show the rule" (no JavaScript) and the live rule only need the places.
        self.check_only = check_only
        if check_only:
            self.fields["therapist_agreed"].required = False

    def clean(self):
        data = super().clean()
        video = data.get("session_type") == VIDEO
        if video and not data.get("therapist_location") and "therapist_location" not in self.errors:
            self.add_error(
                "therapist_location",
                "For a video session, please choose where your therapist is: their rule counts too.",
            )
        if not video:
            data["therapist_location"] = ""
        decision = self.rule_decision()
        if (
            not self.check_only
            and decision is not None
            and data.get("therapist_agreed")
            and data.get("shown_for") != decision.shown_for()
        ):
            self.add_error(
                "therapist_agreed",
                "Here is the rule for the places you chose. Please read it, then confirm again.",
            )
        return data

    def answers(self) -> dict:
        """Keyword arguments for consent_give()."""
        data = self.cleaned_data
        return {
            "session_type": data["session_type"],
            "client": data["client_location"],
            "therapist": data["therapist_location"] or None,
            "therapist_agreed": data["therapist_agreed"],
        }

    def answer(self, name: str) -> str:
        value = self.data.get(name) if self.is_bound else self.initial.get(name)
        return value or ""

    def rule_decision(self) -> RuleDecision | None:
        """The rule for the places as answered so far (also on a form with other errors); None until
        the places are known."""
        session_type = self.answer("session_type")
        try:
            return consent_rule_for(
                session_type=session_type,
                client=self.answer("client_location"),
                therapist=self.answer("therapist_location") if session_type == VIDEO else None,
            )
        except (KeyError, ValueError):
            return None


class ScriptForm(forms.Form):
    """The message builder's choices. A GET form: the page works without JavaScript."""

    reasons = forms.MultipleChoiceField(
        label="Why you'd like a record",
        choices=[(key, label) for key, (label, _) in REASONS.items()],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    recording_format = forms.ChoiceField(
        label="What you're asking for",
        choices=list(FORMATS.items()),
        widget=forms.RadioSelect,
    )
    tone = forms.ChoiceField(label="Tone", choices=list(TONES.items()), widget=forms.RadioSelect)
    name = forms.CharField(label="Your name", max_length=60, required=False)
    therapist_name = forms.CharField(label="Your therapist's name", max_length=60, required=False)
    read_aloud = forms.BooleanField(label="I'll read it aloud at the start of a session", required=False)

    @staticmethod
    def defaults() -> dict:
        return {
            "reasons": ["remember"],
            "recording_format": "recap",
            "tone": "warm",
            "name": "",
            "therapist_name": "",
            "read_aloud": False,
        }

    def __init__(self, data=None, **kwargs):
        # A form sent with only some choices (a hand-made link) keeps the defaults for the rest.
        if data is not None:
            data = data.copy()
            for key in ("recording_format", "tone"):
                data.setdefault(key, self.defaults()[key])
        super().__init__(data, initial=self.defaults(), **kwargs)

    def choices(self) -> dict:
        """Keyword arguments for script_build()."""
        return dict(self.cleaned_data)


class SelfConsentForm(forms.Form):
    """Self mode ("recap in your own voice"): nobody else is recorded, so no therapist or jurisdiction
    rule applies; the person confirms only that."""

    own_voice_only = forms.BooleanField(
        required=True,
        label="Only my voice, recorded after the session. No one else is recorded.",
        error_messages={"required": "Please tick the box to say it's only your voice, then continue."},
    )
