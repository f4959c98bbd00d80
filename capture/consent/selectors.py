from capture.models import ConsentPreference

from .law import law_table


def consent_preference_initial(*, user) -> dict:
    """The gate's initial answers from last time; places no longer in the law table are dropped.
    Never the confirmation: it is asked every session."""
    preference = ConsentPreference.objects.filter(user=user).first()
    if preference is None:
        return {}
    table = law_table()
    initial = {"session_type": preference.session_type}
    for field, code in (
        ("client_location", preference.client_location),
        ("therapist_location", preference.therapist_location),
    ):
        if table.get(code) is not None:
            initial[field] = code
    return initial
