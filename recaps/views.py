from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from .models import RecapAccess
from .selectors import recap_for_user, recap_list_for_user
from .services import recap_access_log


@login_required
def recap_list(request: HttpRequest) -> HttpResponse:
    return render(request, "recaps/list.html", {"recaps": recap_list_for_user(user=request.user)})


@login_required
def recap_detail(request: HttpRequest, recap_id) -> HttpResponse:
    recap = recap_for_user(recap_id=recap_id, user=request.user)
    recap_access_log(user=request.user, recap_id=recap.id, action=RecapAccess.Action.VIEW)
    return render(request, "recaps/detail.html", {"recap": recap, "data": recap.data})
