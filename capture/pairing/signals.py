"""Remember when this browser's session last proved the password, so the approval page can ask again
when that is older than PAIRING["REAUTH_AFTER_S"]. Per session on purpose: `User.last_login` moves
whenever any browser (the laptop being linked included) logs in, which would hide an old phone login."""

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import timezone

AUTH_AT_SESSION_KEY = "pairing_auth_at"


def session_auth_mark(*, session) -> None:
    session[AUTH_AT_SESSION_KEY] = int(timezone.now().timestamp())


@receiver(user_logged_in, dispatch_uid="capture.pairing.remember_login_time")
def remember_login_time(sender, request, user, **kwargs):
    session = getattr(request, "session", None)
    if session is not None:
        session_auth_mark(session=session)
