from django.urls import include, path

from recaps import views as recap_views

from . import views

urlpatterns = [
    path("", recap_views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("capture/", include("capture.urls")),
    path("recaps/", include("recaps.urls")),
]
