from django import forms


class ApprovalForm(forms.Form):
    """The phone's answer: which of three numbers the laptop shows, and the password again when the
    phone's login is old (PAIRING["REAUTH_AFTER_S"]). Declining needs neither (see views.approve)."""

    choice = forms.TypedChoiceField(
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": "Pick the number shown on that screen."},
    )
    password = forms.CharField(
        required=False, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )

    def __init__(self, *args, choices: list[int], user, needs_password: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.needs_password = needs_password
        self.fields["choice"].choices = [(n, str(n)) for n in choices]
        self.fields["password"].required = needs_password

    def clean_password(self) -> str:
        password = self.cleaned_data.get("password", "")
        if self.needs_password and not self.user.check_password(password):
            raise forms.ValidationError("That password is not right.")
        return ""  # never kept in cleaned_data
