from django.urls import include, path

from . import views

app_name = "capture"

urlpatterns = [
    path("", views.start, name="start"),
    path("s/<uuid:session_id>/", views.session_page, name="session"),
    path("s/<uuid:session_id>/consent/", views.consent, name="consent"),
    path("s/<uuid:session_id>/status/", views.session_status, name="status"),
    path("", include("capture.pairing.urls")),
]
