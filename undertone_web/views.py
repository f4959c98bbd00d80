"""Project-wide pages that belong to no single app: the liveness probe, the rate-limit page, and the
installable web app's files (the manifest, the service worker served from the root so that its scope
is the whole site, and the offline page it shows when the network fails)."""

from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from . import health


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"db": health.check_db(), "redis": health.check_redis(), "celery": health.check_celery()}
    status = 200 if all(value == "ok" for value in checks.values()) else 503
    return JsonResponse(checks, status=status)


def ratelimited(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render(request, "ratelimited.html", status=429)


def _static_file(path: str, content_type: str) -> HttpResponse:
    """A file of static/ served from a fixed URL outside /static/ (the manifest, the service worker)."""
    found = finders.find(path)
    if not found:
        raise Http404(path)
    with open(found, "rb") as f:
        response = HttpResponse(f.read(), content_type=content_type)
    response["Cache-Control"] = "no-cache"  # the browser asks again each time (both are small)
    return response


@require_GET
def manifest(request: HttpRequest) -> HttpResponse:
    return _static_file("app/manifest.webmanifest", "application/manifest+json")


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """static/app/sw.js at /sw.js: a worker's scope is at most the folder it is served from, and
    Service-Worker-Allowed says "/" too. Never kept by the HTTP cache, so a new version is seen at once."""
    response = _static_file("app/sw.js", "application/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    return response


@require_GET
def offline(request: HttpRequest) -> HttpResponse:
    """What the service worker shows when a page cannot be loaded. The same for everyone (the worker
    fetches it without cookies): no name, no navigation for the signed-in, no messages, no form."""
    response = render(request, "offline.html")
    response["Cache-Control"] = "no-cache"
    return response
