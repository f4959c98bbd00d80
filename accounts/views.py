from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods
from django_ratelimit.decorators import ratelimit

from .deletion import AccountDeleteForm, account_delete
from .forms import SignUpForm


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
@ratelimit(key="user", rate="10/h", method="POST", block=True)  # password guessing via this form
def account_delete_view(request: HttpRequest) -> HttpResponse:
    form = AccountDeleteForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        user = request.user
        logout(request)
        account_delete(user=user)
        return render(request, "accounts/deleted.html")
    return render(request, "accounts/delete.html", {"form": form})


@ratelimit(key="ip", rate="10/h", method="POST", block=True)
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome. Your account is ready.")
        return redirect("home")
    return render(request, "registration/signup.html", {"form": form})
