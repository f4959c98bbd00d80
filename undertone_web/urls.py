from django.urls import include, path

from recaps import views as recap_views

from . import views

urlpatterns = [
    path("", recap_views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # The installable web app: at the root, so the worker's scope is the whole site.
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("sw.js", views.service_worker, name="service_worker"),
    path("offline/", views.offline, name="offline"),
    path("accounts/", include("accounts.urls")),
    path("capture/", include("capture.urls")),
    path("recaps/", include("recaps.urls")),
]
