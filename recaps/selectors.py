from django.http import Http404

from .models import Recap


def recap_for_user(*, recap_id, user) -> Recap:
    """Owner only; anyone else gets 404 (not 403) so ids reveal nothing."""
    recap = Recap.objects.filter(id=recap_id, user=user).first()
    if recap is None:
        raise Http404
    return recap


def recap_list_for_user(*, user):
    return Recap.objects.filter(user=user).order_by("-session_date")
