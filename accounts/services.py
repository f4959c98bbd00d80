from django.contrib.auth.models import User

from .models import Notification


def notification_create(*, user: User, kind: str, message: str) -> Notification:
    return Notification.objects.create(user=user, kind=kind, message=message[:200])
