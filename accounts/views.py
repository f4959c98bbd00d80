from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from django_ratelimit.decorators import ratelimit

from . import health
from .deletion import AccountDeleteForm, account_delete
from .forms import SignUpForm


@never_cache
def home(request: HttpRequest) -> HttpResponse:
    context = {}
    # Capture-scoped devices see the home page but none of the person's recap content.
    if request.user.is_authenticated and not getattr(request, "capture_device", None):
        from recaps.selectors import brief_for_user, moment_today_for_user

        context["today_moment"] = moment_today_for_user(user=request.user)
        context["brief"] = brief_for_user(user=request.user, with_content=False)
    return render(request, "home.html", context)


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


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"db": health.check_db(), "redis": health.check_redis(), "celery": health.check_celery()}
    status = 200 if all(value == "ok" for value in checks.values()) else 503
    return JsonResponse(checks, status=status)


def ratelimited(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "ratelimited.html", status=429)
